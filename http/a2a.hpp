#pragma once

// The standard A2A 1.0 family of JSON-RPC methods (SPEC 9): parameter
// parsing and routing, result encoding, and the agent cards. Pure: no
// sockets and no actors.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/messages.hpp"
#include "http/jsonrpc.hpp"

namespace am::a2a {

/// True for every method name of the standard family.
bool is_method(const std::string& method);

/// True for SendStreamingMessage and SubscribeToTask.
bool is_stream_method(const std::string& method);

/// Parses SendMessage / SendStreamingMessage params and routes them: the
/// endpoint's agent, else `message.metadata.agent`, else the `agent` of the
/// first data part; the action and params likewise (SPEC 9). The message
/// moves out of `params` into the result.
rpc::outcome<rpc::send_params> parse_send(json& params,
                                          const std::string& endpoint_agent);

/// `historyLength` of params: nothing when absent.
rpc::outcome<std::optional<size_t>> parse_history_length(const json& params);

/// ListTasks params as a query plus how to render the page.
struct list_request {
  task_query query;
  std::optional<size_t> history_length;
  bool include_artifacts = false;
};

rpc::outcome<list_request> parse_list(const json& params);

/// The page token continuing after `t`.
std::string page_token(const task_view& t);

/// Reads a page token into the query's cursor; false if malformed.
bool read_page_token(const std::string& token, task_query& q);

/// The ListTasks result for one page.
json list_result(const task_page& page, const list_request& req);

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac]Z` into microseconds since the epoch.
std::optional<int64_t> parse_timestamp(const std::string& text);

/// The result of a call as JSON text, or its failure.
using result_fn = std::function<void(rpc::outcome<std::string>)>;

/// Runs a non-streaming standard method. `endpoint_agent` is the agent of
/// `POST /agents/<name>/a2a` ("" for `POST /a2a`). `params` may be
/// taken apart.
void dispatch(rpc::backend& b, const std::string& method, json& params,
              const std::string& endpoint_agent, result_fn k);

/// Runs a streaming method; `k` gets true once the stream started.
void dispatch_stream(rpc::backend& b, const std::string& method,
                     json& params, const std::string& endpoint_agent,
                     const std::string& rpc_id,
                     std::function<void(rpc::outcome<bool>)> k);

/// One action as the cards list it.
struct skill_row {
  std::string name;
  std::string description;
};

/// The card of the node as a whole: interface `http://<authority>/a2a`.
/// With `bearer`, the cards declare the bearer token scheme (SPEC 11).
json node_card(const std::string& name, const std::string& node,
               const std::string& version, const std::string& authority,
               const std::vector<skill_row>& skills, bool bearer = false);

/// The card of one agent: interface `http://<authority>/agents/<name>/a2a`.
json agent_card(const agent_info& info, const std::string& version,
                const std::string& authority, bool bearer = false);

/// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
std::string encode_segment(const std::string& segment);

} // namespace am::a2a
