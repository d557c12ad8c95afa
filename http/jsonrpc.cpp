#include "http/jsonrpc.hpp"

#include <algorithm>
#include <type_traits>
#include <map>
#include <memory>
#include <set>

#include "core/names.hpp"
#include "http/a2a.hpp"

namespace am::rpc {

// -- failures -----------------------------------------------------------------

failure::failure(int code, std::string message, json data)
  : code(code), message(std::move(message)), data(std::move(data)) {
  // nop
}

failure failure::parse_error() {
  return {-32700, "Parse error"};
}

failure failure::invalid_request(std::optional<std::string> detail) {
  return {-32600, "Invalid Request",
          detail ? json(std::move(*detail)) : json{}};
}

failure failure::method_not_found(const std::string& method) {
  return {-32601, "Method not found: " + method};
}

failure failure::invalid_params(std::string detail) {
  return {-32602, "Invalid params", std::move(detail)};
}

failure failure::internal(std::string reason) {
  return {-32603, "Internal error", std::move(reason)};
}

failure failure::agent_not_found(const std::string& name) {
  return {-32001, "Agent not found: " + name};
}

failure failure::task_not_found(const std::string& id) {
  return {-32002, "Task not found: " + id};
}

failure failure::inbox_full(const std::string& agent) {
  return {-32029, "Inbox full: " + agent};
}

namespace {

json error_info(const char* reason) {
  return json::array({json{{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
                           {"reason", reason},
                           {"domain", "a2a-protocol.org"}}});
}

} // namespace

failure failure::a2a_task_not_found(const std::string& id) {
  return {-32001, "Task not found: " + id, error_info("TASK_NOT_FOUND")};
}

failure failure::not_cancelable(const std::string& id) {
  return {-32002, "Task not cancelable: " + id,
          error_info("TASK_NOT_CANCELABLE")};
}

failure failure::push_not_supported() {
  return {-32003, "Push notifications are not supported",
          error_info("PUSH_NOTIFICATION_NOT_SUPPORTED")};
}

failure failure::unsupported(const std::string& what) {
  return {-32004, "Unsupported operation: " + what,
          error_info("UNSUPPORTED_OPERATION")};
}

failure failure::extended_card_not_configured() {
  return {-32007, "Extended agent card is not configured",
          error_info("EXTENDED_AGENT_CARD_NOT_CONFIGURED")};
}

failure failure::version_not_supported(const std::string& version) {
  return {-32009,
          "The requested A2A protocol version '" + version
            + "' is not supported. Supported versions: 1.0",
          error_info("VERSION_NOT_SUPPORTED")};
}

void backend::flush() {
  // nop
}

backend::~backend() {
  // nop
}

json error_response(const failure& f, const json& id) {
  json err{{"code", f.code}, {"message", f.message}};
  if (!f.data.is_null())
    err["data"] = f.data;
  return json{{"jsonrpc", "2.0"}, {"error", std::move(err)}, {"id", id}};
}

size_t nesting_depth(const std::string& text) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

namespace {

/// Receives a method's result as JSON text (the envelope goes around it
/// without parsing it again), or its failure. Not `wanted` for a
/// notification: a result is then not rendered at all.
struct result_fn {
  template <class F, class = std::enable_if_t<
                       !std::is_same_v<std::decay_t<F>, result_fn>>>
  result_fn(F fn, bool is_wanted = true)
    : f(std::move(fn)), wanted(is_wanted) {
    // nop
  }

  void operator()(outcome<std::string> x) const {
    f(std::move(x));
  }

  std::function<void(outcome<std::string>)> f;
  bool wanted = true;
};

/// Adapts a typed backend callback to a JSON result. `shape` returns the
/// result as a json value or, for the hottest methods, already as text.
template <class T, class F>
callback<T> shaped(result_fn k, F shape) {
  return [k{std::move(k)}, shape](outcome<T> x) {
    if (auto f = std::get_if<failure>(&x)) {
      k(*f);
    } else if (!k.wanted) {
      k(std::string{}); // a notification: nobody reads it
    } else {
      auto result = shape(std::get<T>(x));
      if constexpr (std::is_same_v<decltype(result), std::string>)
        k(std::move(result));
      else
        k(dump(result));
    }
  };
}

/// Reads the required string members `names` from `params`. On a missing
/// member answers `missing`; on a non-string member a type error.
std::optional<failure> require_strings(const json& params,
                                       std::initializer_list<const char*> names,
                                       const std::string& missing,
                                       std::vector<std::string>& out) {
  for (auto name : names) {
    auto i = params.find(name);
    if (i == params.end() || i->is_null())
      return failure::invalid_params(missing);
  }
  for (auto name : names) {
    auto& x = params[name];
    if (!x.is_string())
      return failure::invalid_params(std::string{name} + " must be a string");
    out.push_back(x.get<std::string>());
  }
  return std::nullopt;
}

/// Reads an optional object member; absent or null is `{}`.
std::optional<failure> optional_object(const json& params, const char* name,
                                       json& out) {
  auto i = params.find(name);
  if (i == params.end() || i->is_null()) {
    out = json::object();
    return std::nullopt;
  }
  if (!i->is_object())
    return failure::invalid_params(std::string{name} + " must be an object");
  out = *i;
  return std::nullopt;
}

using method_fn = void (*)(backend&, const json&, result_fn);

void start_agent(backend& b, const json& p, result_fn k) {
  std::vector<std::string> args;
  json memory;
  if (auto f = require_strings(p, {"name"}, "Missing required: name", args))
    return k(*f);
  if (!valid_agent_name(args[0]))
    return k(failure::invalid_params("invalid name"));
  if (auto f = optional_object(p, "memory", memory))
    return k(*f);
  std::string default_action;
  if (auto i = p.find("default_action"); i != p.end() && !i->is_null()) {
    if (!i->is_string())
      return k(failure::invalid_params("default_action must be a string"));
    default_action = i->get<std::string>();
  }
  b.start_agent(args[0], memory, default_action,
                shaped<start_result>(std::move(k), [](const start_result& r) {
                  return json{{"status", r.status},
                              {"agent", r.agent},
                              {"node", r.node}};
                }));
}

void stop_agent(backend& b, const json& p, result_fn k) {
  std::vector<std::string> args;
  if (auto f = require_strings(p, {"agent"}, "Missing required: agent", args))
    return k(*f);
  auto name = args[0];
  b.stop_agent(name, shaped<bool>(std::move(k), [name](bool) {
                 return json{{"status", "stopped"}, {"agent", name}};
               }));
}

void send_message(backend& b, const json& p, result_fn k) {
  std::vector<std::string> args;
  json params;
  if (auto f = require_strings(p, {"agent", "action"},
                               "Missing required: agent, action", args))
    return k(*f);
  if (auto f = optional_object(p, "params", params))
    return k(*f);
  auto name = args[0];
  b.send_message(name, args[1], params,
                 shaped<task_ack>(std::move(k), [name](const task_ack& a) {
                   // {"agent","node","result":null,"status","task_id"}
                   std::string out = "{\"agent\":";
                   append_text(out, name);
                   out += ",\"node\":";
                   append_text(out, a.node);
                   out += ",\"result\":null,\"status\":\"created\",\"task_id\":";
                   append_text(out, a.task_id);
                   out += '}';
                   return out;
                 }));
}

void get_agent_state(backend& b, const json& p, result_fn k) {
  std::vector<std::string> args;
  if (auto f = require_strings(p, {"agent"}, "Missing required: agent", args))
    return k(*f);
  b.get_agent_state(
    args[0], shaped<agent_status>(std::move(k), [](const agent_status& s) {
      // The members in nlohmann's (sorted) order.
      std::string out = "{\"inbox_count\":";
      out += std::to_string(s.inbox_count);
      out += ",\"memory_keys\":[";
      for (size_t i = 0; i < s.memory_keys.size(); ++i) {
        if (i > 0)
          out += ',';
        append_text(out, s.memory_keys[i]);
      }
      out += "],\"name\":";
      append_text(out, s.name);
      out += ",\"node\":";
      append_text(out, s.node);
      out += ",\"processed_count\":";
      out += std::to_string(s.processed_count);
      out += ",\"status\":";
      append_text(out, s.status);
      out += '}';
      return out;
    }));
}

void process_next(backend& b, const json& p, result_fn k) {
  std::vector<std::string> args;
  if (auto f = require_strings(p, {"agent"}, "Missing required: agent", args))
    return k(*f);
  auto name = args[0];
  b.process_next(name, shaped<process_result>(
                         std::move(k), [name](const process_result& r) {
                           if (r.empty)
                             return json{{"status", "empty"},
                                         {"message", "No tasks in inbox"}};
                           return json{{"status", "completed"},
                                       {"agent", name},
                                       {"task_id", r.task_id},
                                       {"result", r.result.value}};
                         }));
}

/// ListAgents' result as text: 200,000 agents take one string instead of
/// a million JSON nodes (the same bytes nlohmann would write).
std::string render_page(const agent_page& p, bool paged) {
  std::string out;
  out.reserve(96 + p.agents.size() * (3 * 24 + 40));
  out += "{\"agents\":[";
  for (size_t i = 0; i < p.agents.size(); ++i) {
    if (i > 0)
      out += ',';
    append_text(out, p.agents[i].name);
  }
  out += "],\"agents_detail\":[";
  for (size_t i = 0; i < p.agents.size(); ++i) {
    out += i > 0 ? ",{\"name\":" : "{\"name\":";
    append_text(out, p.agents[i].name);
    out += ",\"node\":";
    append_text(out, p.agents[i].node);
    out += '}';
  }
  out += "],\"count\":";
  out += std::to_string(p.agents.size());
  if (paged) {
    out += ",\"next_cursor\":";
    append_text(out, p.more ? p.agents.back().name : std::string{});
    out += ",\"total\":";
    out += std::to_string(p.total);
  }
  out += '}';
  return out;
}

/// Without `limit` and `cursor`: every agent, as before. With either: a
/// page (`limit` 1 to 10000, default 1000) after `cursor` (the
/// `next_cursor` of the page before; "" or absent: from the start).
void list_agents(backend& b, const json& p, result_fn k) {
  list_query q;
  bool paged = false;
  if (auto i = p.find("limit"); i != p.end() && !i->is_null()) {
    if (!i->is_number_integer() || *i < 1 || *i > max_page)
      return k(failure::invalid_params("limit must be an integer from 1 to "
                                       + std::to_string(max_page)));
    q.limit = i->get<size_t>();
    paged = true;
  }
  if (auto i = p.find("cursor"); i != p.end() && !i->is_null()) {
    if (!i->is_string())
      return k(failure::invalid_params("cursor must be a string"));
    q.cursor = i->get<std::string>();
    paged = true;
  }
  if (paged && q.limit == 0)
    q.limit = default_page;
  b.list_agents(q, [k, paged](outcome<agent_page> x) {
    if (auto f = std::get_if<failure>(&x))
      return k(*f);
    k(render_page(std::get<agent_page>(x), paged));
  });
}

void get_cluster_info(backend& b, const json&, result_fn k) {
  b.get_cluster_info(
    shaped<cluster_info>(std::move(k), [](cluster_info info) {
      std::sort(info.connected.begin(), info.connected.end());
      return json{{"self", info.self},
                  {"connected", info.connected},
                  {"total_nodes", info.connected.size() + 1}};
    }));
}

void get_task(backend& b, const json& p, result_fn k) {
  std::vector<std::string> args;
  if (auto f = require_strings(p, {"task_id"}, "Missing required: task_id",
                               args))
    return k(*f);
  b.get_task(args[0],
             shaped<task_view>(std::move(k), [](const task_view& t) {
               json result{{"task_id", t.task_id}, {"agent", t.agent},
                           {"node", t.node},       {"action", t.action},
                           {"params", *t.params},
                           {"status", t.status}};
               if (!t.result.is_null())
                 result["result"] = *t.result;
               if (!t.trace_id.empty())
                 result["trace_id"] = t.trace_id;
               return result;
             }));
}

void cancel_task(backend& b, const json& p, result_fn k) {
  std::vector<std::string> args;
  if (auto f = require_strings(p, {"agent", "task_id"},
                               "Missing required: agent, task_id", args))
    return k(*f);
  auto id = args[1];
  b.cancel_task(args[0], id, shaped<bool>(std::move(k), [id](bool) {
                  return json{{"task_id", id}, {"status", "cancelled"}};
                }));
}

const std::map<std::string, method_fn>& methods() {
  static const std::map<std::string, method_fn> table{
    {"StartAgent", start_agent},     {"StopAgent", stop_agent},
    {"SendMessage", send_message},   {"GetAgentState", get_agent_state},
    {"ProcessNext", process_next},   {"ListAgents", list_agents},
    {"GetClusterInfo", get_cluster_info}, {"GetTask", get_task},
    {"CancelTask", cancel_task},
  };
  return table;
}

bool valid_id(const json& id) {
  return id.is_string() || id.is_number() || id.is_null();
}

/// What one request of a body produced.
struct one_result {
  std::optional<std::string> text; // the response; nothing for a notification
  bool stream = false;             // the backend started a stream
};

/// An error response as text.
one_result error_text(const failure& f, const json& id) {
  return {dump(error_response(f, id))};
}

using one_fn = std::function<void(one_result)>;

/// Handles one request object. Takes `req` apart (a standard message moves
/// into its task): nothing reads it after this call.
void handle_one(backend& b, json& req, const call_context& cx,
                bool in_batch, one_fn k) {
  if (!req.is_object())
    return k(error_text(failure::invalid_request(), nullptr));
  auto id_it = req.find("id");
  bool notification = id_it == req.end();
  json id = notification ? json{} : *id_it;
  if (!valid_id(id))
    return k(error_text(
      failure::invalid_request("id must be a string, number or null"),
      nullptr));
  auto version = req.find("jsonrpc");
  if (version == req.end() || *version != "2.0")
    return k(error_text(
      failure::invalid_request("jsonrpc must be exactly \"2.0\""), id));
  auto method = req.find("method");
  if (method == req.end() || !method->is_string())
    return k(error_text(
      failure::invalid_request("method must be a string"), id));
  auto reply = [k, id, notification](outcome<std::string> x) {
    if (notification)
      return k({});
    if (auto f = std::get_if<failure>(&x))
      return k(error_text(*f, id));
    // The bytes nlohmann writes for the envelope (keys in its order).
    auto& result = std::get<std::string>(x);
    std::string out;
    out.reserve(result.size() + 64);
    out += "{\"id\":";
    out += dump(id);
    out += ",\"jsonrpc\":\"2.0\",\"result\":";
    out += result;
    out += '}';
    k({std::move(out)});
  };
  auto name = method->get<std::string>();
  auto params_it = req.find("params");
  json none; // no params: an empty object, made only then
  json& params = params_it == req.end() || params_it->is_null()
                   ? (none = json::object())
                   : *params_it;
  if (!cx.agent.empty() || is_standard(name, params)) {
    if (!a2a::is_method(name))
      return reply(failure::method_not_found(name));
    if (!cx.version.empty() && cx.version != "1.0")
      return reply(failure::version_not_supported(cx.version));
    if (!params.is_object())
      return reply(failure::invalid_params("params must be an object"));
    if (!a2a::is_stream_method(name))
      return a2a::dispatch(b, name, params, cx.agent, reply);
    if (in_batch)
      return reply(failure::unsupported("streaming inside a batch"));
    if (notification)
      return reply(failure::unsupported("streaming notification"));
    return a2a::dispatch_stream(b, name, params, cx.agent, dump(id),
                                [k, reply](outcome<bool> x) {
                                  if (auto f = std::get_if<failure>(&x))
                                    return reply(*f);
                                  k({std::nullopt, true});
                                });
  }
  auto m = methods().find(name);
  if (m == methods().end())
    return reply(failure::method_not_found(name));
  if (!params.is_object())
    return reply(failure::invalid_params("params must be an object"));
  m->second(b, params, result_fn{reply, !notification});
}

} // namespace

bool is_standard(const std::string& method, const json& params) {
  if (!a2a::is_method(method))
    return false;
  auto has = [&](const char* key) {
    return params.is_object() && params.contains(key);
  };
  if (method == "SendMessage")
    return has("message");
  if (method == "SendStreamingMessage")
    return has("message") || !has("agent");
  if (method == "GetTask" || method == "CancelTask")
    return has("id") && !has("task_id");
  return true; // no such method in the dialect
}

void handle(backend& b, const std::string& body, const call_context& cx,
            done_fn done) {
  // nlohmann's parser keeps its own stack (no recursion), so parse first:
  // malformed input is a parse error however deep it is.
  auto req = json::parse(body, nullptr, false);
  auto text = [](const json& x) {
    return response_body{response_body::json_text, dump(x)};
  };
  if (req.is_discarded())
    return done(text(error_response(failure::parse_error(), nullptr)));
  if (nesting_depth(body) > max_nesting)
    return done(text(error_response(
      failure::invalid_request("nesting deeper than "
                               + std::to_string(max_nesting)),
      nullptr)));
  if (!req.is_array()) {
    handle_one(b, req, cx, false, [done](one_result r) {
      if (r.stream)
        done(response_body{response_body::stream, {}});
      else if (r.text)
        done(response_body{response_body::json_text, std::move(*r.text)});
      else
        done(response_body{response_body::empty, {}});
    });
    b.flush();
    return;
  }
  if (req.empty())
    return done(text(error_response(failure::invalid_request("empty batch"),
                                    nullptr)));
  if (req.size() > cx.max_batch)
    return done(text(error_response(
      failure::invalid_request("batch too large"), nullptr)));
  struct batch {
    std::vector<one_result> results;
    size_t pending;
    done_fn done;
  };
  auto st = std::make_shared<batch>();
  st->results.resize(req.size());
  st->pending = req.size();
  st->done = std::move(done);
  for (size_t i = 0; i < req.size(); ++i) {
    // StartAgent calls may be held back to go as a group; any other call
    // goes after the ones before it.
    auto m = req[i].is_object() ? req[i].find("method") : req[i].end();
    if (m == req[i].end() || !m->is_string()
        || m->get_ref<const std::string&>() != "StartAgent")
      b.flush();
    handle_one(b, req[i], cx, true, [st, i](one_result r) {
      st->results[i] = std::move(r);
      if (--st->pending > 0)
        return;
      std::string out;
      for (auto& x : st->results) {
        if (!x.text)
          continue;
        out += out.empty() ? '[' : ',';
        out += *x.text;
      }
      if (out.empty())
        st->done(response_body{response_body::empty, {}});
      else
        st->done(response_body{response_body::json_text, out + "]"});
    });
  }
  b.flush();
}

} // namespace am::rpc
