#include "http/router.hpp"

#include <algorithm>
#include <cstdio>

#include "core/auth.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"

namespace am::http {

std::string normalize_path(std::string path) {
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  return path;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& in, bool plus_is_space = true) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0
               && hex_value(in[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

json skill(const char* id, const char* name, const char* description,
           const char* param) {
  return json{{"id", id},
              {"name", name},
              {"description", description},
              {"inputSchema",
               {{"type", "object"},
                {"properties", {{param, {{"type", "string"}}}}},
                {"required", {param}}}}};
}

} // namespace

std::string decode_segment(const std::string& in) {
  return percent_decode(in, false);
}

std::string authority_of(const request& req, const site& s) {
  auto host = req.header("host");
  return host.empty() ? s.authority : host;
}

std::string a2a_version(const request& req) {
  auto v = req.header("a2a-version");
  if (!v.empty())
    return v;
  auto xs = query_values(req.query, "A2A-Version");
  return xs.empty() ? std::string{} : xs.front();
}

response card_response(std::string body, const std::string& if_none_match) {
  // FNV-1a over the body: the card changes with the Host header and the
  // agents, so the tag comes from the bytes themselves.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char tag[24];
  std::snprintf(tag, sizeof(tag), "\"%016llx\"",
                static_cast<unsigned long long>(h));
  std::string headers = "ETag: ";
  headers += tag;
  headers += "\r\nCache-Control: public, max-age=5\r\n";
  if (if_none_match == tag)
    return response{304, "", "", std::move(headers)};
  return response{200, "application/json", std::move(body),
                  std::move(headers)};
}

std::vector<std::string> query_values(const std::string& query,
                                      const std::string& key) {
  std::vector<std::string> result;
  size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    auto part = query.substr(pos, amp == std::string::npos ? std::string::npos
                                                           : amp - pos);
    auto eq = part.find('=');
    if (eq != std::string::npos && percent_decode(part.substr(0, eq)) == key)
      result.push_back(percent_decode(part.substr(eq + 1)));
    if (amp == std::string::npos)
      break;
    pos = amp + 1;
  }
  return result;
}

std::optional<std::string> check_topics(std::vector<std::string>& topics) {
  const std::string agent_prefix = "agent:events:";
  std::vector<std::string> result;
  bool all_agents = false;
  for (auto& t : topics) {
    if (t == "agent:events")
      all_agents = true;
    else if (t != "cluster:events"
             && !(t.size() > agent_prefix.size() && t.size() <= 256
                  && t.compare(0, agent_prefix.size(), agent_prefix) == 0))
      return t;
  }
  for (auto& t : topics) {
    // agent:events already carries every agent's events: no duplicates.
    if (all_agents && t.compare(0, agent_prefix.size(), agent_prefix) == 0)
      continue;
    if (std::find(result.begin(), result.end(), t) == result.end())
      result.push_back(t);
  }
  topics = std::move(result);
  return std::nullopt;
}

std::string agent_card(const site& s, const std::string& host) {
  json card{
    {"name", s.card_name},
    {"description", "agentmesh node " + s.node_name
                      + ": supervised agents with a task inbox and memory"},
    {"version", s.version},
    {"url", "http://" + host},
    {"capabilities", {{"streaming", false}, {"pushNotifications", false}}},
    {"skills",
     {skill("search", "Search", "Searches for a query.", "query"),
      skill("analyze", "Analyze", "Analyzes data.", "data"),
      skill("summarize", "Summarize",
            "Summarizes text (first 50 characters).", "text")}}};
  return dump(card);
}

namespace {

/// The agent name of `/agents/<name><suffix>`, percent-decoded.
std::optional<std::string> agent_path(const std::string& path,
                                      const std::string& suffix) {
  static const std::string prefix = "/agents/";
  if (path.size() <= prefix.size() + suffix.size()
      || path.compare(0, prefix.size(), prefix) != 0
      || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  auto name = decode_segment(
    path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()));
  if (name.empty())
    return std::nullopt;
  return name;
}

} // namespace

route route_request(const request& req, const site& s) {
  auto path = normalize_path(req.path);
  bool get = req.method == "GET" || req.method == "HEAD";
  route result;
  if (get && path == "/") {
    result.label = http_route::page;
    result.res = response{200, "text/html; charset=utf-8", live_page(),
                          "Cache-Control: no-cache\r\n"};
  } else if (get && path == "/metrics") {
    result.label = http_route::metrics;
    result.kind = route::metrics;
  } else if (get && path == "/health") {
    result.label = http_route::health;
    // Written by hand (the busiest route; the key order is nlohmann's).
    thread_local std::pair<std::string, std::string> node{"", "\"\""};
    if (node.first != s.node_name)
      node = {s.node_name, dump(json(s.node_name))};
    std::string body = "{\"node\":";
    body.reserve(96);
    body += node.second;
    body += ",\"status\":\"healthy\",\"timestamp\":\"";
    body += iso8601_now();
    body += "\"}";
    result.res = response{200, "application/json", std::move(body)};
  } else if (get && path == "/.well-known/agent.json") {
    result.label = http_route::agent_json;
    result.res = response{200, "application/json",
                          agent_card(s, authority_of(req, s))};
  } else if (get && path == "/.well-known/agent-card.json") {
    result.label = http_route::agent_card;
    result.res = card_response(
      dump(a2a::node_card(s.card_name, s.node_name, s.version,
                          authority_of(req, s), s.skills,
                          !s.auth_token.empty())),
      req.header("if-none-match"));
  } else if (req.method == "POST" && path == "/a2a") {
    result.label = http_route::a2a;
    result.kind = route::rpc;
  } else if (auto name = agent_path(path, "/a2a");
             req.method == "POST" && name) {
    result.label = http_route::agent_a2a;
    result.kind = route::rpc;
    result.agent = std::move(*name);
  } else if (auto name = agent_path(path, "/.well-known/agent-card.json");
             get && name) {
    result.label = http_route::agent_agent_card;
    result.kind = route::agent_card;
    result.agent = std::move(*name);
  } else if (req.method == "GET" && path == "/events") {
    result.label = http_route::events;
    auto topics = query_values(req.query, "topic");
    if (auto bad = check_topics(topics)) {
      result.res = error_response(400, "Unknown topic");
      return result;
    }
    result.kind = route::events;
    result.topics = std::move(topics);
  } else if (req.method == "HEAD" && path == "/events") {
    result.label = http_route::events;
    result.res = response{200, "text/event-stream", {}};
  } else {
    result.res = error_response(404, "Not Found");
  }
  auto open = result.label == http_route::health
              || result.label == http_route::agent_json
              || result.label == http_route::agent_card
              || result.label == http_route::agent_agent_card;
  if (!s.auth_token.empty() && !open
      && !auth::bearer_matches(req.header("authorization"), s.auth_token)) {
    result.kind = route::respond;
    result.res = error_response(401, "Unauthorized");
    result.res.extra_headers += "WWW-Authenticate: Bearer\r\n";
  }
  return result;
}

} // namespace am::http
