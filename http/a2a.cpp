#include "http/a2a.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <set>

#include "core/a2a_task.hpp"

namespace am::a2a {

using rpc::failure;
using rpc::outcome;

bool is_method(const std::string& method) {
  static const std::set<std::string> names{
    "SendMessage",
    "SendStreamingMessage",
    "GetTask",
    "ListTasks",
    "CancelTask",
    "SubscribeToTask",
    "GetExtendedAgentCard",
    "CreateTaskPushNotificationConfig",
    "GetTaskPushNotificationConfig",
    "ListTaskPushNotificationConfigs",
    "DeleteTaskPushNotificationConfig"};
  return names.count(method) > 0;
}

bool is_stream_method(const std::string& method) {
  return method == "SendStreamingMessage" || method == "SubscribeToTask";
}

namespace {

/// Reads an optional string member of `obj`: absent or null leaves `out`.
std::optional<failure> read_string(const json& obj, const char* key,
                                   const std::string& where,
                                   std::string& out) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null())
    return std::nullopt;
  if (!i->is_string())
    return failure::invalid_params(where + key + " must be a string");
  out = i->get<std::string>();
  return std::nullopt;
}

/// Reads an optional object member of `obj`: absent or null leaves `out`.
std::optional<failure> read_object(const json& obj, const char* key,
                                   const std::string& where, json& out) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null())
    return std::nullopt;
  if (!i->is_object())
    return failure::invalid_params(where + key + " must be an object");
  out = *i;
  return std::nullopt;
}

std::optional<failure> read_bool(const json& obj, const char* key, bool& out) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null())
    return std::nullopt;
  if (!i->is_boolean())
    return failure::invalid_params(std::string{key} + " must be a boolean");
  out = i->get<bool>();
  return std::nullopt;
}

/// The id member that GetTask, CancelTask and SubscribeToTask require.
outcome<std::string> read_id(const json& params) {
  auto i = params.find("id");
  if (i == params.end() || i->is_null())
    return failure::invalid_params("Missing required: id");
  if (!i->is_string())
    return failure::invalid_params("id must be a string");
  return i->get<std::string>();
}

} // namespace

outcome<rpc::send_params> parse_send(json& params,
                                     const std::string& endpoint_agent) {
  auto m = params.find("message");
  if (m == params.end() || m->is_null())
    return failure::invalid_params("Missing required: message");
  if (!m->is_object())
    return failure::invalid_params("message must be an object");
  rpc::send_params p;
  auto& msg = *m;
  auto mid = msg.find("messageId");
  if (mid == msg.end() || !mid->is_string() || mid->get_ref<const std::string&>().empty())
    return failure::invalid_params("message.messageId must be a non-empty string");
  p.message_id = mid->get<std::string>();
  auto parts = msg.find("parts");
  if (parts == msg.end() || !parts->is_array() || parts->empty())
    return failure::invalid_params("message.parts must be a non-empty array");
  std::string task_id;
  if (auto f = read_string(msg, "taskId", "message.", task_id))
    return *f;
  if (!task_id.empty())
    return failure::unsupported("messages that continue a task (taskId)");
  if (auto f = read_string(msg, "contextId", "message.", p.context_id))
    return *f;
  json meta = json::object();
  if (auto f = read_object(params, "metadata", "", meta))
    return *f;
  if (auto f = read_object(msg, "metadata", "message.", meta))
    return *f;
  json data = json::object();
  bool first_text = true;
  for (auto& part : *parts) {
    if (!part.is_object())
      return failure::invalid_params("message.parts must hold objects");
    if (auto t = part.find("text"); t != part.end() && t->is_string()) {
      if (!first_text)
        p.text += '\n';
      p.text += t->get<std::string>();
      first_text = false;
    } else if (auto d = part.find("data");
               d != part.end() && d->is_object() && data.empty()) {
      data = *d;
    }
  }
  // Each of agent, action and params: metadata first, then the data part.
  for (auto* src : {&meta, &data}) {
    auto where = src == &meta ? "metadata." : "data.";
    if (p.agent.empty() && endpoint_agent.empty())
      if (auto f = read_string(*src, "agent", where, p.agent))
        return *f;
    if (p.action.empty())
      if (auto f = read_string(*src, "action", where, p.action))
        return *f;
    if (p.params.is_null())
      if (auto f = read_object(*src, "params", where, p.params))
        return *f;
  }
  if (!endpoint_agent.empty())
    p.agent = endpoint_agent;
  if (p.agent.empty())
    return failure::invalid_params(
      "missing agent: set message.metadata.agent or use /agents/<name>/a2a");
  json config = json::object();
  if (auto f = read_object(params, "configuration", "", config))
    return *f;
  if (auto f = read_bool(config, "returnImmediately", p.return_immediately))
    return *f;
  p.message = std::move(msg);
  return p;
}

outcome<std::optional<size_t>> parse_history_length(const json& params) {
  auto i = params.find("historyLength");
  if (i == params.end() || i->is_null())
    return std::optional<size_t>{};
  if (!i->is_number_integer() || i->get<int64_t>() < 0)
    return failure::invalid_params("historyLength must be a non-negative "
                                   "integer");
  return std::optional<size_t>{i->get<size_t>()};
}

std::optional<int64_t> parse_timestamp(const std::string& text) {
  int y, mo, d, h, mi, s, n = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h,
                  &mi, &s, &n)
        != 6
      || n != 19)
    return std::nullopt;
  int64_t frac = 0;
  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    int64_t scale = 100000;
    for (++pos; pos < text.size() && std::isdigit(text[pos]); ++pos) {
      frac += (text[pos] - '0') * scale;
      scale /= 10;
    }
  }
  if (pos + 1 != text.size() || text[pos] != 'Z')
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000000 + frac;
}

std::string page_token(const task_view& t) {
  return std::to_string(t.updated_us) + "." + t.task_id;
}

bool read_page_token(const std::string& token, task_query& q) {
  auto dot = token.find('.');
  if (dot == std::string::npos || dot == 0 || dot > 18
      || token.find_first_not_of("0123456789") != dot)
    return false;
  q.cursor_us = std::stoll(token.substr(0, dot));
  q.cursor_id = token.substr(dot + 1);
  return true;
}

outcome<list_request> parse_list(const json& params) {
  list_request r;
  if (auto f = read_string(params, "contextId", "", r.query.context_id))
    return *f;
  // Unknown or unspecified states filter nothing (the SDK sends
  // "UNRECOGNIZED" for an unset filter).
  if (auto i = params.find("status"); i != params.end() && i->is_string())
    r.query.status = status_of_state(i->get<std::string>());
  if (auto i = params.find("pageSize"); i != params.end() && !i->is_null()) {
    if (!i->is_number_integer() || i->get<int64_t>() < 1
        || i->get<int64_t>() > 100)
      return failure::invalid_params("pageSize must be an integer in 1..100");
    r.query.page_size = i->get<uint32_t>();
  }
  std::string token;
  if (auto f = read_string(params, "pageToken", "", token))
    return *f;
  if (!token.empty() && !read_page_token(token, r.query))
    return failure::invalid_params("invalid pageToken");
  std::string after;
  if (auto f = read_string(params, "statusTimestampAfter", "", after))
    return *f;
  if (!after.empty()) {
    auto us = parse_timestamp(after);
    if (!us)
      return failure::invalid_params("statusTimestampAfter must be an "
                                     "ISO-8601 UTC timestamp");
    r.query.updated_after_us = *us;
  }
  auto hl = parse_history_length(params);
  if (auto f = std::get_if<failure>(&hl))
    return *f;
  r.history_length = std::get<std::optional<size_t>>(hl);
  if (auto f = read_bool(params, "includeArtifacts", r.include_artifacts))
    return *f;
  return r;
}

json list_result(const task_page& page, const list_request& req) {
  auto tasks = json::array();
  for (auto& t : page.tasks)
    tasks.push_back(task_json(t, req.history_length, req.include_artifacts));
  std::string next;
  if (!page.tasks.empty() && page.remaining > page.tasks.size())
    next = page_token(page.tasks.back());
  return json{{"tasks", std::move(tasks)},
              {"nextPageToken", next},
              {"pageSize", req.query.page_size},
              {"totalSize", page.total}};
}

namespace {

/// Calls `k` with the failure in `x`, or `f(value)`.
template <class T, class F>
void with(outcome<T> x, const result_fn& k, F f) {
  if (auto fail = std::get_if<failure>(&x))
    return k(*fail);
  f(std::get<T>(x));
}

rpc::callback<task_view> task_result(result_fn k,
                                     std::optional<size_t> history,
                                     bool wrap) {
  return [k{std::move(k)}, history, wrap](outcome<task_view> x) {
    if (auto f = std::get_if<failure>(&x))
      return k(*f);
    if (!wrap)
      return k(task_text(std::get<task_view>(x), history));
    std::string out = "{\"task\":";
    append_task_text(out, std::get<task_view>(x), history);
    out += '}';
    k(std::move(out));
  };
}

} // namespace

void dispatch(rpc::backend& b, const std::string& method, json& params,
              const std::string& endpoint_agent, result_fn k) {
  if (method == "SendMessage") {
    return with(parse_send(params, endpoint_agent), k, [&](auto& p) {
      json config = params.value("configuration", json::object());
      auto hl = parse_history_length(config.is_object() ? config
                                                        : json::object());
      with(hl, k, [&](auto& history) {
        b.a2a_send(p, task_result(k, history, true));
      });
    });
  }
  if (method == "GetTask") {
    return with(read_id(params), k, [&](auto& id) {
      with(parse_history_length(params), k, [&](auto& history) {
        b.a2a_get_task(id, task_result(k, history, false));
      });
    });
  }
  if (method == "CancelTask") {
    return with(read_id(params), k, [&](auto& id) {
      b.a2a_cancel_task(id, task_result(k, std::nullopt, false));
    });
  }
  if (method == "ListTasks") {
    return with(parse_list(params), k, [&](auto& req) {
      b.a2a_list_tasks(req.query, [k, req](outcome<task_page> x) {
        if (auto f = std::get_if<failure>(&x))
          return k(*f);
        k(dump(list_result(std::get<task_page>(x), req)));
      });
    });
  }
  if (method == "GetExtendedAgentCard")
    return k(failure::extended_card_not_configured());
  if (method.find("PushNotificationConfig") != std::string::npos)
    return k(failure::push_not_supported());
  k(failure::method_not_found(method));
}

void dispatch_stream(rpc::backend& b, const std::string& method,
                     json& params, const std::string& endpoint_agent,
                     const std::string& rpc_id,
                     std::function<void(rpc::outcome<bool>)> k) {
  if (method == "SendStreamingMessage") {
    auto p = parse_send(params, endpoint_agent);
    if (auto f = std::get_if<failure>(&p))
      return k(*f);
    return b.a2a_stream(std::get<rpc::send_params>(p), rpc_id, std::move(k));
  }
  auto id = read_id(params);
  if (auto f = std::get_if<failure>(&id))
    return k(*f);
  b.a2a_subscribe(std::get<std::string>(id), rpc_id, std::move(k));
}

// -- cards --------------------------------------------------------------------

namespace {

json skills_json(const std::vector<skill_row>& rows) {
  auto result = json::array();
  for (auto& r : rows)
    result.push_back(json{{"id", r.name},
                          {"name", r.name},
                          {"description", r.description.empty()
                                            ? "Runs the action " + r.name + "."
                                            : r.description},
                          {"tags", {"agentmesh", r.name}}});
  return result;
}

json card(const std::string& name, const std::string& description,
          const std::string& version, const std::string& url,
          const std::vector<skill_row>& skills, bool bearer) {
  auto result = json{
    {"name", name},
    {"description", description},
    {"version", version},
    {"supportedInterfaces",
     {{{"url", url}, {"protocolBinding", "JSONRPC"}, {"protocolVersion", "1.0"}}}},
    {"capabilities",
     {{"streaming", true},
      {"pushNotifications", false},
      {"extendedAgentCard", false}}},
    {"defaultInputModes", {"text/plain", "application/json"}},
    {"defaultOutputModes", {"application/json", "text/plain"}},
    {"skills", skills_json(skills)}};
  if (bearer) {
    result["securitySchemes"]
      = json{{"bearer", {{"httpAuthSecurityScheme", {{"scheme", "Bearer"}}}}}};
    result["securityRequirements"]
      = json::array({{{"schemes", {{"bearer", {{"list", json::array()}}}}}}});
  }
  return result;
}

} // namespace

std::string encode_segment(const std::string& segment) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0x0F];
    }
  }
  return out;
}

json node_card(const std::string& name, const std::string& node,
               const std::string& version, const std::string& authority,
               const std::vector<skill_row>& skills, bool bearer) {
  return card(name,
              "agentmesh node " + node
                + ": supervised agents with a task inbox and memory. Route a "
                  "message with message.metadata.agent (and optionally "
                  "action and params), or use an agent's own card at "
                  "/agents/<name>/.well-known/agent-card.json.",
              version, "http://" + authority + "/a2a", skills, bearer);
}

json agent_card(const agent_info& info, const std::string& version,
                const std::string& authority, bool bearer) {
  std::vector<skill_row> skills;
  for (size_t i = 0; i < info.actions.size(); ++i)
    skills.push_back(skill_row{info.actions[i], i < info.descriptions.size()
                                                  ? info.descriptions[i]
                                                  : std::string{}});
  return card(info.name,
              "agentmesh agent " + info.name + " on " + info.node
                + ". A text message runs its default action "
                + info.default_action
                + "; message.metadata.action and params pick another.",
              version,
              "http://" + authority + "/agents/" + encode_segment(info.name)
                + "/a2a",
              skills, bearer);
}

} // namespace am::a2a
