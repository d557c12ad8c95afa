#include "http/jsonrpc.hpp"

#include <algorithm>
#include <map>
#include <memory>

namespace am::rpc {

// -- failures -----------------------------------------------------------------

failure failure::parse_error() {
  return {-32700, "Parse error", std::nullopt};
}

failure failure::invalid_request(std::optional<std::string> detail) {
  return {-32600, "Invalid Request", std::move(detail)};
}

failure failure::method_not_found(const std::string& method) {
  return {-32601, "Method not found: " + method, std::nullopt};
}

failure failure::invalid_params(std::string detail) {
  return {-32602, "Invalid params", std::move(detail)};
}

failure failure::internal(std::string reason) {
  return {-32603, "Internal error", std::move(reason)};
}

failure failure::agent_not_found(const std::string& name) {
  return {-32001, "Agent not found: " + name, std::nullopt};
}

failure failure::task_not_found(const std::string& id) {
  return {-32002, "Task not found: " + id, std::nullopt};
}

backend::~backend() {
  // nop
}

json error_response(const failure& f, const json& id) {
  json err{{"code", f.code}, {"message", f.message}};
  if (f.data)
    err["data"] = *f.data;
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

using result_fn = std::function<void(outcome<json>)>;

/// Adapts a typed backend callback to a JSON result.
template <class T, class F>
callback<T> shaped(result_fn k, F shape) {
  return [k{std::move(k)}, shape](outcome<T> x) {
    if (auto f = std::get_if<failure>(&x))
      k(*f);
    else
      k(shape(std::get<T>(x)));
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
  if (args[0].empty())
    return k(failure::invalid_params("name must not be empty"));
  if (auto f = optional_object(p, "memory", memory))
    return k(*f);
  b.start_agent(args[0], memory,
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
                   return json{{"status", "created"},
                               {"agent", name},
                               {"task_id", a.task_id},
                               {"result", nullptr},
                               {"node", a.node}};
                 }));
}

void get_agent_state(backend& b, const json& p, result_fn k) {
  std::vector<std::string> args;
  if (auto f = require_strings(p, {"agent"}, "Missing required: agent", args))
    return k(*f);
  b.get_agent_state(args[0], shaped<agent_status>(
                               std::move(k), [](const agent_status& s) {
                                 return json{
                                   {"name", s.name},
                                   {"status", s.status},
                                   {"inbox_count", s.inbox_count},
                                   {"processed_count", s.processed_count},
                                   {"memory_keys", s.memory_keys},
                                   {"node", s.node}};
                               }));
}

/// Parses JSON text produced by the node itself; null when empty.
json parse_own(const std::string& text) {
  if (text.empty())
    return nullptr;
  auto result = json::parse(text, nullptr, false);
  return result.is_discarded() ? json{} : result;
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
                                       {"result", parse_own(r.result)}};
                         }));
}

void list_agents(backend& b, const json&, result_fn k) {
  b.list_agents(shaped<std::vector<agent_location>>(
    std::move(k), [](std::vector<agent_location> xs) {
      std::sort(xs.begin(), xs.end(), [](auto& x, auto& y) {
        return x.name < y.name;
      });
      auto names = json::array();
      auto detail = json::array();
      for (auto& x : xs) {
        names.push_back(x.name);
        detail.push_back(json{{"name", x.name}, {"node", x.node}});
      }
      return json{{"agents", std::move(names)},
                  {"agents_detail", std::move(detail)},
                  {"count", xs.size()}};
    }));
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
                           {"params", parse_own(t.params)},
                           {"status", t.status}};
               if (!t.result.empty())
                 result["result"] = parse_own(t.result);
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

/// Handles one request object; `k` gets the response, or nullopt for a
/// notification.
void handle_one(backend& b, const json& req,
                std::function<void(std::optional<json>)> k) {
  if (!req.is_object())
    return k(error_response(failure::invalid_request(), nullptr));
  auto id_it = req.find("id");
  bool notification = id_it == req.end();
  json id = notification ? json{} : *id_it;
  if (!valid_id(id))
    return k(error_response(
      failure::invalid_request("id must be a string, number or null"),
      nullptr));
  auto version = req.find("jsonrpc");
  if (version == req.end() || *version != "2.0")
    return k(error_response(
      failure::invalid_request("jsonrpc must be exactly \"2.0\""), id));
  auto method = req.find("method");
  if (method == req.end() || !method->is_string())
    return k(error_response(
      failure::invalid_request("method must be a string"), id));
  auto reply = [k, id, notification](outcome<json> x) {
    if (notification)
      return k(std::nullopt);
    if (auto f = std::get_if<failure>(&x))
      return k(error_response(*f, id));
    k(json{{"jsonrpc", "2.0"}, {"result", std::get<json>(x)}, {"id", id}});
  };
  auto name = method->get<std::string>();
  auto m = methods().find(name);
  if (m == methods().end())
    return reply(failure::method_not_found(name));
  auto params = req.find("params");
  if (params == req.end() || params->is_null())
    return m->second(b, json::object(), reply);
  if (!params->is_object())
    return reply(failure::invalid_params("params must be an object"));
  m->second(b, *params, reply);
}

} // namespace

void handle(backend& b, const std::string& body, done_fn done) {
  // nlohmann's parser keeps its own stack (no recursion), so parse first:
  // malformed input is a parse error however deep it is.
  auto req = json::parse(body, nullptr, false);
  if (req.is_discarded())
    return done(dump(error_response(failure::parse_error(), nullptr)));
  if (nesting_depth(body) > max_nesting)
    return done(dump(error_response(
      failure::invalid_request("nesting deeper than "
                               + std::to_string(max_nesting)),
      nullptr)));
  if (!req.is_array()) {
    return handle_one(b, req, [done](std::optional<json> res) {
      if (res)
        done(dump(*res));
      else
        done(std::nullopt);
    });
  }
  if (req.empty())
    return done(dump(error_response(
      failure::invalid_request("empty batch"), nullptr)));
  struct batch {
    std::vector<std::optional<json>> results;
    size_t pending;
    done_fn done;
  };
  auto st = std::make_shared<batch>();
  st->results.resize(req.size());
  st->pending = req.size();
  st->done = std::move(done);
  for (size_t i = 0; i < req.size(); ++i) {
    handle_one(b, req[i], [st, i](std::optional<json> res) {
      st->results[i] = std::move(res);
      if (--st->pending > 0)
        return;
      auto out = json::array();
      for (auto& r : st->results)
        if (r)
          out.push_back(std::move(*r));
      if (out.empty())
        st->done(std::nullopt);
      else
        st->done(dump(out));
    });
  }
}

} // namespace am::rpc
