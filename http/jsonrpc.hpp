#pragma once

#include <algorithm>

#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/json.hpp"
#include "core/messages.hpp"

/// JSON-RPC 2.0 for POST /a2a: decoding, validation, dispatch to a backend
/// and encoding. Pure: no sockets and no actors, so every row of SPEC 7 is
/// tested with a fake backend.
namespace am::rpc {

/// A JSON-RPC error object.
struct failure {
  int code;
  std::string message;
  json data; // null: no `data` member

  failure(int code, std::string message, json data = nullptr);

  static failure parse_error();
  static failure invalid_request(std::optional<std::string> detail = {});
  static failure method_not_found(const std::string& method);
  static failure invalid_params(std::string detail);
  static failure internal(std::string reason);
  static failure agent_not_found(const std::string& name);
  static failure task_not_found(const std::string& id);
  /// -32029: the agent's queue is full (SPEC 11).
  static failure inbox_full(const std::string& agent);

  // -- standard A2A errors (data: one google.rpc.ErrorInfo) -----------------
  static failure a2a_task_not_found(const std::string& id);
  static failure not_cancelable(const std::string& id);
  static failure push_not_supported();
  static failure unsupported(const std::string& what);
  static failure extended_card_not_configured();
  static failure version_not_supported(const std::string& version);
};

template <class T>
using outcome = std::variant<T, failure>;

template <class T>
using callback = std::function<void(outcome<T>)>;

/// Answer to SendMessage once the task is queued.
struct task_ack {
  std::string task_id;
  std::string node;
};

/// A standard SendMessage / SendStreamingMessage, parsed and routed.
struct send_params {
  std::string agent;  // the target agent
  std::string action; // "" = the agent's default action
  json params;        // null = the text, as the action's one parameter
  std::string text;   // text parts joined
  shared_json message; // the user message as received
  std::string context_id;
  std::string message_id;
  bool return_immediately = false;
};

/// The largest ListAgents page, and the size of one asked by cursor only.
constexpr size_t max_page = 10000;
constexpr size_t default_page = 1000;

/// ListAgents paging (SPEC 11): names after `cursor`, at most `limit` of
/// them (0: every agent).
struct list_query {
  size_t limit = 0;
  std::string cursor;
};

/// One page of ListAgents, sorted by name.
struct agent_page {
  std::vector<agent_location> agents;
  size_t total = 0; // agents in the directory
  bool more = false; // agents after the last one of this page
};

/// Selects the page of `q` from `for_each(visit)`, which calls
/// `visit(name, node)` for every agent. A page of `limit` keeps only
/// `limit` names while it scans (no copy of the whole directory).
template <class ForEach>
agent_page select_page(const list_query& q, ForEach for_each) {
  agent_page result;
  auto by_name = [](const agent_location& x, const agent_location& y) {
    return x.name < y.name;
  };
  auto& xs = result.agents;
  size_t after = 0;
  for_each([&](const std::string& name, const std::string& node) {
    ++result.total;
    if (q.limit == 0) {
      xs.push_back(agent_location{name, node});
      return;
    }
    if (!q.cursor.empty() && !(q.cursor < name))
      return;
    ++after;
    if (xs.size() < q.limit) {
      xs.push_back(agent_location{name, node});
      std::push_heap(xs.begin(), xs.end(), by_name);
    } else if (name < xs.front().name) {
      std::pop_heap(xs.begin(), xs.end(), by_name);
      xs.back() = agent_location{name, node};
      std::push_heap(xs.begin(), xs.end(), by_name);
    }
  });
  std::sort(xs.begin(), xs.end(), by_name);
  result.more = q.limit > 0 && after > xs.size();
  return result;
}

/// The operations behind the methods. Implementations call the callback
/// exactly once, synchronously or later.
class backend {
public:
  virtual ~backend();

  /// `handle` calls this once it handed every call of a request to the
  /// backend, and before any call that is not a StartAgent: a backend may
  /// hold StartAgent calls back until then, to start them as a group.
  virtual void flush();

  virtual void start_agent(const std::string& name, const json& memory,
                           const std::string& default_action,
                           callback<start_result> cb)
    = 0;

  virtual void stop_agent(const std::string& agent, callback<bool> cb) = 0;

  virtual void send_message(const std::string& agent, const std::string& action,
                            const json& params, callback<task_ack> cb)
    = 0;

  virtual void get_agent_state(const std::string& agent,
                               callback<agent_status> cb)
    = 0;

  virtual void process_next(const std::string& agent,
                            callback<process_result> cb)
    = 0;

  /// The directory's agents, sorted by name: all of them, or one page.
  virtual void list_agents(const list_query& q, callback<agent_page> cb) = 0;

  virtual void get_cluster_info(callback<cluster_info> cb) = 0;

  virtual void get_task(const std::string& task_id, callback<task_view> cb)
    = 0;

  virtual void cancel_task(const std::string& agent, const std::string& task_id,
                           callback<bool> cb)
    = 0;

  // -- standard A2A ---------------------------------------------------------

  /// Creates a task; answers once it is terminal (or the wait ends), or at
  /// once with `return_immediately`.
  virtual void a2a_send(const send_params& p, callback<task_view> cb) = 0;

  /// Creates a task whose events stream to the client; answers true once
  /// the stream started (the events then come from the agent).
  virtual void a2a_stream(const send_params& p, const std::string& rpc_id,
                          callback<bool> cb)
    = 0;

  virtual void a2a_get_task(const std::string& id, callback<task_view> cb) = 0;

  virtual void a2a_list_tasks(const task_query& q, callback<task_page> cb) = 0;

  virtual void a2a_cancel_task(const std::string& id, callback<task_view> cb)
    = 0;

  /// Streams the events of a running task; answers true once started.
  virtual void a2a_subscribe(const std::string& id, const std::string& rpc_id,
                             callback<bool> cb)
    = 0;
};

/// Where a request arrived and with which A2A version.
struct call_context {
  /// The `A2A-Version` header (or query parameter); "" when absent.
  std::string version;
  /// The agent of `POST /agents/<name>/a2a`; "" for `POST /a2a`.
  std::string agent;
  /// Larger batches get one -32600 "batch too large" (SPEC 11).
  size_t max_batch = 1000;
};

/// What to send back for one HTTP request.
struct response_body {
  enum kind_t { json_text, empty, stream } kind = json_text;
  std::string text; // for json_text
};

/// Deepest nesting of arrays and objects accepted in a request.
constexpr size_t max_nesting = 64;

/// Receives the response: JSON text, nothing (a notification or a batch of
/// notifications: HTTP 204), or a stream that the backend started.
using done_fn = std::function<void(response_body)>;

/// Handles one request body. Calls `done` exactly once. The backend's
/// methods are called before `handle` returns (their callbacks may come
/// later).
void handle(backend& b, const std::string& body, const call_context& cx,
            done_fn done);

/// Which family serves `method` with these params (SPEC 9): true for the
/// standard A2A family, false for the dialect.
bool is_standard(const std::string& method, const json& params);

/// The nesting depth of arrays and objects in `text`, which need not be valid
/// JSON (strings are skipped).
size_t nesting_depth(const std::string& text);

/// Encodes an error response.
json error_response(const failure& f, const json& id);

} // namespace am::rpc
