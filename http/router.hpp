#pragma once

#include <optional>
#include <string>
#include <vector>

#include "http/a2a.hpp"
#include "core/node_metrics.hpp"
#include "http/message.hpp"

namespace am::http {

/// What the router needs to know about the node.
struct site {
  std::string node_name;
  std::string card_name = "agentmesh";
  std::string version;
  /// `host:port` for the agent card when a request has no Host header.
  std::string authority;
  /// The node's actions, for the standard card.
  std::vector<a2a::skill_row> skills;
  /// `http.auth-token`: when set, every route but /health and the agent
  /// cards needs `Authorization: Bearer <token>` (SPEC 11).
  std::string auth_token;
};

/// The router's decision for one request.
struct route {
  /// `metrics`: the server answers with the node's exposition.
  enum kind_t { respond, rpc, events, agent_card, metrics } kind = respond;
  /// The `route` label of the request's metrics.
  http_route label = http_route::unknown;
  response res;                    // for `respond`
  std::vector<std::string> topics; // for `events`; empty = all
  /// For `rpc` at /agents/<name>/a2a and for `agent_card`: the agent's
  /// name, percent-decoded.
  std::string agent;
};

/// Routes a request: trailing slashes are ignored, HEAD works on every GET
/// route, unknown routes and verbs get 404 JSON.
route route_request(const request& req, const site& s);

/// Removes trailing slashes (keeps a lone "/").
std::string normalize_path(std::string path);

/// Values of every `key=` parameter in a query string, percent-decoded.
std::vector<std::string> query_values(const std::string& query,
                                      const std::string& key);

/// Checks event stream topics (`agent:events`, `cluster:events`,
/// `agent:events:<name>` up to 256 characters) and drops duplicates,
/// including per-agent topics covered by `agent:events`. Returns the first
/// unknown topic, if any.
std::optional<std::string> check_topics(std::vector<std::string>& topics);

/// The agent card (SPEC 6) as JSON text.
std::string agent_card(const site& s, const std::string& host);

/// The `host:port` a request was sent to: its Host header, else the
/// configured address.
std::string authority_of(const request& req, const site& s);

/// The A2A version a request asks for: the `A2A-Version` header, else the
/// `A2A-Version` query parameter, else "".
std::string a2a_version(const request& req);

/// A card reply with an ETag and a short max-age, or 304 Not Modified when
/// the request's If-None-Match names the same ETag.
response card_response(std::string body, const std::string& if_none_match);

/// The live cluster page (http/page/index.html, embedded at build time).
const std::string& live_page();

/// Decodes %XX escapes of a path segment ('+' stays).
std::string decode_segment(const std::string& in);

} // namespace am::http
