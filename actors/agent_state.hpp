#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/actions.hpp"
#include "actors/json.hpp"

namespace am {

enum class task_status { queued, completed, failed, cancelled };

const char* to_string(task_status x);

/// A unit of work in an agent's inbox.
struct task {
  std::string id;
  std::string action;
  json params;
};

/// A task together with its status and, once finished, its result.
struct task_record {
  task t;
  task_status status = task_status::queued;
  json result; // null until the task finished
};

/// Everything an agent knows: name, memory, inbox, counters, the task in
/// flight and a bounded history of finished tasks. Plain data and logic, no
/// actors: the agent actor drives it and the supervisor keeps it alive across
/// restarts.
class agent_state {
public:
  static constexpr size_t default_history_limit = 1000;

  explicit agent_state(std::string name, json memory = json::object(),
                       size_t history_limit = default_history_limit);

  // -- observers --------------------------------------------------------------

  const std::string& name() const {
    return name_;
  }

  /// True while an action runs.
  bool busy() const {
    return in_flight_.has_value();
  }

  const json& memory() const {
    return memory_;
  }

  std::vector<std::string> memory_keys() const;

  size_t inbox_count() const {
    return inbox_.size();
  }

  uint64_t processed_count() const {
    return processed_count_;
  }

  /// Looks up a queued, in-flight or finished task.
  std::optional<task_record> find(const std::string& id) const;

  /// Ids of every task this agent still knows (queued or in history).
  std::vector<std::string> task_ids() const;

  // -- mutators ---------------------------------------------------------------

  /// Appends a task with a fresh id to the inbox and returns that id.
  std::string enqueue(std::string action, json params);

  /// Runs the inbox head through `actions`: the result goes to
  /// `memory["last_result"]` and the history; `processed_count` grows by one.
  /// Returns `nullopt` on an empty inbox. An exception thrown by the action
  /// propagates and leaves the task in flight (see `fail_in_flight`).
  std::optional<task_record> process_next(const action_registry& actions);

  /// Removes a queued task. Returns false if `id` is not queued.
  bool cancel(const std::string& id);

  /// Marks the task in flight (if any) as failed with
  /// `{"error": reason}` and returns it. Called after a crash.
  std::optional<task_record> fail_in_flight(const std::string& reason);

  /// Returns and forgets the ids that dropped out of the bounded history.
  std::vector<std::string> take_evicted();

private:
  void finish(task_record rec);

  std::string name_;
  json memory_;
  size_t history_limit_;
  uint64_t processed_count_ = 0;
  // Lists, not deques: an empty std::deque allocates about 600 bytes, and
  // most of a node's agents have empty inboxes.
  std::list<task> inbox_;
  std::optional<task> in_flight_;
  std::unordered_map<std::string, task_record> history_;
  std::list<std::string> history_order_;
  std::vector<std::string> evicted_;
};

} // namespace am
