#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/actions.hpp"
#include "core/agent_board.hpp"
#include "core/json.hpp"
#include "core/node_metrics.hpp"
#include "core/persist.hpp"

namespace am {

enum class task_status { queued, running, completed, failed, cancelled };

const char* to_string(task_status x);

/// True for completed, failed and cancelled.
bool is_terminal(task_status x);

/// A unit of work: a dialect task (SendMessage with `agent`, run by
/// ProcessNext) or a standard A2A task (run by the agent on its own).
struct task {
  std::string id;
  std::string action;
  shared_json params;
  /// The A2A context; a dialect task is its own.
  std::string context_id;
  /// The W3C trace the task belongs to (32 hex characters; "" for tasks
  /// kept before trace ids existed).
  std::string trace_id;
  // Standard A2A tasks only:
  bool standard = false;
  std::string message_id;
  shared_json message; // the user message, first entry of the task's history
};

/// A task together with its status and, once finished, its result.
struct task_record {
  task t;
  task_status status = task_status::queued;
  shared_json result; // null until the task finished
  int64_t updated_us = 0; // when `status` last changed
  uint64_t seq = 0; // the agent's stamp of this change (see stored_task)
};

/// Parses a status name; queued for anything unknown.
task_status status_from_string(const std::string& x);

/// What `agent_state::cancel_task` did.
enum class cancel_outcome { cancelled, not_cancelable, not_found };

/// Everything an agent knows: name, memory, its two queues (the dialect
/// inbox and the standard tasks), the tasks running, counters and a bounded
/// history of finished tasks. Plain data and logic, no actors: the agent
/// actor drives it and the supervisor keeps it alive across restarts.
class agent_state {
public:
  static constexpr size_t default_history_limit = 1000;

  explicit agent_state(std::string name, json memory = json::object(),
                       size_t history_limit = default_history_limit,
                       std::string default_action = "search");

  /// Rebuilds an agent from what the store kept. Tasks that were running
  /// stay running: the caller decides their fate (see `fail_running`).
  agent_state(const agent_snapshot& x, size_t history_limit);

  // -- observers --------------------------------------------------------------

  const std::string& name() const {
    return name_;
  }

  /// The action of standard messages that name none.
  const std::string& default_action() const {
    return default_action_;
  }

  /// True while an action runs.
  bool busy() const {
    return !tr().running.empty();
  }

  const json& memory() const {
    return memory_;
  }

  std::vector<std::string> memory_keys() const;

  /// Tasks in the dialect inbox.
  size_t inbox_count() const {
    return tr().inbox.size();
  }

  /// Standard tasks waiting to run.
  size_t standard_count() const {
    return tr().standard.size();
  }

  uint64_t processed_count() const {
    return processed_count_;
  }

  /// Tasks queued (both queues) or running.
  size_t unfinished_count() const {
    return tr().inbox.size() + tr().standard.size() + tr().running.size();
  }

  /// True if a standard message with this id made a task still known.
  bool knows_message(const std::string& message_id) const {
    return !message_id.empty() && tr().message_ids.count(message_id) > 0;
  }

  /// Looks up a queued, running or finished task.
  std::optional<task_record> find(const std::string& id) const;

  /// Ids of every task this agent still knows (queued, running, history).
  std::vector<std::string> task_ids() const;

  /// The id of the standard task running, if any.
  std::optional<std::string> running_standard() const;

  int64_t started_at() const {
    return started_at_;
  }

  uint64_t generation() const {
    return generation_;
  }

  /// Counts tasks created and ended from now on in `xs` (a node's metrics;
  /// must outlive this state). Nothing is counted without.
  void count_tasks(task_counters* xs) {
    counters_ = xs;
  }

  /// What GetAgentState shows, readable from any thread; kept up to date
  /// on every change (the agent actor opens and closes it).
  agent_board& board() {
    return board_;
  }

  /// Opens the board with the current figures for the actor `owner`.
  void open_board(uint64_t owner);

  // -- persistence ------------------------------------------------------------

  /// Records every change from now on for `take_changes` (off by default:
  /// a node without a store pays nothing). With `everything`, the whole
  /// agent counts as changed (a new agent, or one moving to a new store).
  void track_changes(bool on, bool everything = true);

  /// Calls `f(record)` for every task this agent knows.
  template <class F>
  void for_each_task(F f) const {
    for (auto* xs : {&tr().running, &tr().inbox, &tr().standard})
      for (auto& r : *xs)
        f(r);
    for (auto& kvp : tr().history)
      f(kvp.second);
  }

  /// Sets the start time and generation (a moved agent's new incarnation).
  void incarnate(int64_t started_at, uint64_t generation);

  /// Returns and forgets the changes recorded since the last call.
  agent_delta take_changes();

  /// True if `take_changes` would return something to keep.
  bool has_changes() const {
    return header_dirty_ || !tr().upserts.empty() || !tr().deletes.empty();
  }

  /// Everything about this agent, for a store, a replica or a handoff.
  agent_snapshot snapshot() const;

  // -- dialect ------------------------------------------------------------

  /// Appends a task with a fresh id to the inbox and returns that id.
  std::string enqueue(std::string action, json params,
                      std::string trace_id = {});

  /// The task `enqueue` appended last (valid until the inbox changes).
  const task_record& last_enqueued() const {
    return tr().inbox.back();
  }

  /// Moves the inbox head to the running tasks; `nullopt` on an empty inbox.
  std::optional<task_record> begin_next();

  /// Runs the inbox head synchronously through `actions` (begin_next plus
  /// complete). An exception thrown by the action propagates and leaves the
  /// task running (see `fail_running`).
  std::optional<task_record> process_next(const action_registry& actions);

  /// Removes a queued task of either queue. Returns the cancelled record,
  /// or nothing if `id` is not queued.
  std::optional<task_record> cancel(const std::string& id);

  // -- standard A2A ------------------------------------------------------

  /// Queues a standard task under a fresh id. A `message_id` this agent
  /// already accepted (while the task is known) creates nothing: returns
  /// the existing task and false.
  std::pair<task_record, bool> submit(task t);

  /// Starts the next standard task unless one is running: moves the queue
  /// head to the running tasks and returns it.
  std::optional<task_record> begin_standard();

  /// Cancels a queued task, or a running one when `running_cancelable`.
  cancel_outcome cancel_task(const std::string& id, bool running_cancelable,
                             task_record& out);

  // -- both ---------------------------------------------------------------

  /// Finishes a running task with `result`: memory["last_result"], the
  /// history, processed_count + 1. A standard task with an `error` member
  /// fails. Returns nothing if `id` is not running (cancelled meanwhile).
  std::optional<task_record> complete(const std::string& id, json result);

  /// Marks every running task failed with `{"error": reason}` and returns
  /// them. Called after a crash.
  std::vector<task_record> fail_running(const std::string& reason);

  /// Returns and forgets the ids that dropped out of the bounded history.
  std::vector<std::string> take_evicted();

private:
  /// Moves the head of `queue` to the running tasks.
  task_record& start_head(std::list<task_record>& queue);

  void finish(task_record& rec);

  /// Gives `rec` the next stamp and records it as changed: all of it when
  /// `created`, else its status and result.
  void stamp(task_record& rec, bool created);

  agent_header header() const;

  /// Writes the current figures to the board.
  void show();

  std::string name_;
  json memory_;
  size_t history_limit_;
  std::string default_action_;
  uint64_t processed_count_ = 0;
  using task_list = std::list<task_record>;
  /// Where each queued or running task is (list iterators stay valid when
  /// a task moves between lists by splice): finding one must not walk a
  /// queue of 200,000.
  struct location {
    task_list* list;
    task_list::iterator pos;
  };
  using location_map = std::unordered_map<std::string, location>;
  /// The index points into the lists of the state that built it: a copy (or
  /// a moved-to state) starts without one and builds its own on first use.
  struct live_index {
    location_map map;
    const agent_state* owner = nullptr;
    live_index() = default;
    live_index(const live_index&) {
      // nop
    }
    live_index& operator=(const live_index&) {
      map.clear();
      owner = nullptr;
      return *this;
    }
    // The source's lists moved away: its index must go too.
    live_index(live_index&& other) noexcept {
      other.map.clear();
      other.owner = nullptr;
    }
    live_index& operator=(live_index&& other) noexcept {
      map.clear();
      owner = nullptr;
      other.map.clear();
      other.owner = nullptr;
      return *this;
    }
  };
  /// Everything about tasks. Allocated with the first task or change: an
  /// agent that never had one (most of a node's agents, and every dormant
  /// one) holds a null pointer instead of about 350 bytes of empty
  /// containers.
  struct task_part {
    // Lists, not deques: an empty std::deque allocates about 600 bytes.
    task_list inbox;
    task_list standard;
    task_list running;
    live_index live;
    std::unordered_map<std::string, task_record> history;
    std::list<std::string> history_order;
    /// message id -> task id of the standard tasks this agent knows.
    std::unordered_map<std::string, std::string> message_ids;
    std::vector<std::string> evicted;
    // Changes since `take_changes` (only while tracking).
    std::vector<stored_task> upserts;
    std::vector<std::string> deletes;
  };
  /// Owns the task part; a copy of the state copies it.
  struct task_box {
    std::unique_ptr<task_part> ptr;
    task_box() = default;
    task_box(const task_box& other)
      : ptr(other.ptr ? std::make_unique<task_part>(*other.ptr) : nullptr) {
      // nop
    }
    task_box& operator=(const task_box& other) {
      ptr = other.ptr ? std::make_unique<task_part>(*other.ptr) : nullptr;
      return *this;
    }
    task_box(task_box&&) noexcept = default;
    task_box& operator=(task_box&&) noexcept = default;
  };
  task_box tasks_;
  /// The task part, made on first use.
  task_part& tw() {
    if (!tasks_.ptr)
      tasks_.ptr = std::make_unique<task_part>();
    return *tasks_.ptr;
  }
  /// An empty task part, for reading an agent that has none.
  static const task_part& no_tasks();
  /// The task part for reading: an empty one if there is none yet.
  const task_part& tr() const {
    return tasks_.ptr ? *tasks_.ptr : no_tasks();
  }
  /// The index of `t`, (re)built if it is not ours.
  location_map& live(task_part& t) const;
  /// Appends to `xs` and indexes it.
  void push_live(task_list& xs, task_record rec);
  /// Takes a queued or running task out of its list (and the index).
  task_record take_live(location_map::iterator i);
  int64_t started_at_ = 0;
  uint64_t generation_ = 0;
  uint64_t seq_ = 0;
  bool tracking_ = false;
  bool header_dirty_ = false;
  bool replace_ = false; // the next delta is the whole agent
  task_counters* counters_ = nullptr;
  agent_board board_;
};

} // namespace am
