#pragma once

#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "actors/json.hpp"
#include "actors/messages.hpp"

/// JSON-RPC 2.0 for POST /a2a: decoding, validation, dispatch to a backend
/// and encoding. Pure: no sockets and no actors, so every row of SPEC 7 is
/// tested with a fake backend.
namespace am::rpc {

/// A JSON-RPC error object.
struct failure {
  int code;
  std::string message;
  std::optional<std::string> data;

  static failure parse_error();
  static failure invalid_request(std::optional<std::string> detail = {});
  static failure method_not_found(const std::string& method);
  static failure invalid_params(std::string detail);
  static failure internal(std::string reason);
  static failure agent_not_found(const std::string& name);
  static failure task_not_found(const std::string& id);
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

/// The operations behind the methods. Implementations call the callback
/// exactly once, synchronously or later.
class backend {
public:
  virtual ~backend();

  virtual void start_agent(const std::string& name, const json& memory,
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

  virtual void list_agents(callback<std::vector<agent_location>> cb) = 0;

  virtual void get_cluster_info(callback<cluster_info> cb) = 0;

  virtual void get_task(const std::string& task_id, callback<task_view> cb)
    = 0;

  virtual void cancel_task(const std::string& agent, const std::string& task_id,
                           callback<bool> cb)
    = 0;
};

/// Deepest nesting of arrays and objects accepted in a request.
constexpr size_t max_nesting = 64;

/// Receives the response body, or `nullopt` when there is nothing to send
/// (a notification, or a batch of notifications): HTTP 204.
using done_fn = std::function<void(std::optional<std::string>)>;

/// Handles one request body. Calls `done` exactly once.
void handle(backend& b, const std::string& body, done_fn done);

/// The nesting depth of arrays and objects in `text`, which need not be valid
/// JSON (strings are skipped).
size_t nesting_depth(const std::string& text);

/// Encodes an error response.
json error_response(const failure& f, const json& id);

} // namespace am::rpc
