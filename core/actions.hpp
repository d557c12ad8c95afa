#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"

namespace am {

/// A synchronous action computes a task's result from its parameters.
/// Throwing an exception crashes the agent: its supervisor restarts it and
/// reports the task in flight as failed.
using action_fn = std::function<json(const json& params)>;

/// Completes an asynchronous action with its result (`{"ok": ...}` or
/// `{"error": ...}`). May be called from any thread; only the first call
/// counts, and a call after the task ended (cancelled, crashed) is ignored.
using action_done = std::function<void(json result)>;

/// What an asynchronous action may ask of the agent that runs it.
class action_env {
public:
  virtual ~action_env();

  /// Runs `fn` on the agent after `delay` without holding a thread, unless
  /// the task ended first (for example, it was cancelled).
  virtual void after(std::chrono::milliseconds delay, std::function<void()> fn)
    = 0;
};

/// An asynchronous action starts its work and returns at once; it calls
/// `done` later (after a timer, an outgoing call, ...). Throwing crashes the
/// agent, as for synchronous actions.
using async_action_fn
  = std::function<void(const json& params, action_env& env, action_done done)>;

/// Checks parameters before a task is created: returns what is wrong, or
/// nothing. A task whose check fails is refused (-32602).
using action_check = std::function<std::optional<std::string>(const json&)>;

/// How an action presents itself and what it accepts.
struct action_info {
  /// One line for the agent cards.
  std::string description;
  /// The parameter that a plain text message fills (standard A2A messages
  /// without explicit params).
  std::string text_param = "text";
  /// Refuses bad parameters up front (optional).
  action_check check;
  /// A running task of this action may be cancelled.
  bool cancelable = false;
};

/// Maps action names (exact, case-sensitive) to their implementation. Users
/// extend a node by adding their own actions before the node starts.
class action_registry {
public:
  /// A registry with the built-in actions `search`, `analyze`, `summarize`
  /// and `sleep`.
  static action_registry builtin();

  /// Adds or replaces a synchronous action.
  void add(std::string name, action_fn fn, action_info info = {});

  /// Adds or replaces an asynchronous action.
  void add_async(std::string name, async_action_fn fn, action_info info = {});

  bool contains(const std::string& name) const;

  /// True if `name` is an asynchronous action.
  bool is_async(const std::string& name) const;

  /// The description and options of `name`, or null if unknown.
  const action_info* info(const std::string& name) const;

  /// Runs `check` of `action`; unknown actions pass (they fail when run).
  std::optional<std::string> check(const std::string& action,
                                   const json& params) const;

  /// Runs a synchronous `action`; an unknown action yields
  /// `{"error": "unknown_action: <action>"}`. An asynchronous one yields
  /// an error too (use `start`).
  json run(const std::string& action, const json& params) const;

  /// Starts `action`: a synchronous one calls `done` before returning, an
  /// asynchronous one whenever it finishes.
  void start(const std::string& action, const json& params, action_env& env,
             action_done done) const;

  std::vector<std::string> names() const;

private:
  struct entry {
    action_fn sync;
    async_action_fn async;
    action_info info;
  };
  std::map<std::string, entry> actions_;
};

/// Reads a parameter as text: missing is "", a string is itself, any other
/// JSON value is its compact JSON text.
std::string param_text(const json& params, const std::string& key);

/// The first `n` Unicode code points of the UTF-8 string `str`.
std::string utf8_prefix(const std::string& str, size_t n);

/// The longest `sleep` accepted, in milliseconds.
constexpr int64_t max_sleep_ms = 60000;

/// The `ms` parameter of `sleep` (an integer, or a string of digits, in
/// 0..max_sleep_ms), or nothing.
std::optional<int64_t> sleep_ms(const json& params);

} // namespace am
