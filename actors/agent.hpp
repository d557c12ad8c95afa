#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/typed_response_promise.hpp>

#include "core/agent_state.hpp"
#include "actors/vocabulary.hpp"
#include "actors/node_context.hpp"

namespace am {

/// A blocking SendMessage waiting for its task to end.
struct task_waiter {
  /// When it gets the task as it stands, finished or not.
  caf::actor_clock::time_point deadline;
  caf::typed_response_promise<task_view> rp;
};

/// A stream (SendStreamingMessage, SubscribeToTask) following a task.
struct task_watcher {
  caf::actor sink;
  uint64_t seq = 0;
  std::string rpc_id;
};

/// Everyone waiting for tasks of one agent. Shared by the agent actor and
/// its supervisor, so that the supervisor answers them after a crash and
/// the restarted actor keeps serving them.
struct agent_observers {
  std::unordered_map<std::string, std::vector<task_waiter>> waiters;
  /// When the waiters' waits end, earliest first, with their task: a
  /// firing of the agent's timer visits only what is due. Entries of
  /// waiters answered before remain until their time (then skipped): at
  /// most the waiters of one wait's length. (A list: an empty std::deque
  /// allocates about 600 bytes, on every agent.)
  std::list<std::pair<caf::actor_clock::time_point, std::string>> expiries;
  std::unordered_map<std::string, std::vector<task_watcher>> watchers;
  /// Dialect ProcessNext calls waiting for an asynchronous action.
  std::unordered_map<std::string, caf::typed_response_promise<process_result>>
    processing;
  uint64_t next_token = 0;
};

/// The task as the outside sees it.
task_view view_of(const node_context& ctx, const agent_state& st,
                  const task_record& rec);

/// Makes a change of `rec` visible: the node's task index, stream events,
/// blocking senders and ProcessNext callers of a finished task. `crashed`:
/// the agent died running it (ProcessNext callers get agent_crashed).
void announce(const node_context& ctx, agent_state& st, agent_observers& obs,
              const task_record& rec, bool crashed = false);

/// The agent is gone for good: every waiter and stream gets an error.
void abandon(agent_observers& obs, const std::string& agent);

/// The agent leaves this node for good: `abandon` plus its tasks leave the
/// node's task index.
void forget(const node_context& ctx, agent_state& st, agent_observers& obs);

/// One change handed on and not yet kept everywhere.
struct pending_commit {
  uint64_t id = 0;
  std::function<void(const caf::error&)> then;
  bool stored = false;
  bool replicated = false;
  caf::error err;
};

/// What an agent actor holds: its state (it alone touches it; a crash hands
/// it to the supervisor) plus the handles it needs. One small struct instead of captures in every
/// handler keeps an idle agent cheap.
struct agent_actor_state {
  std::shared_ptr<agent_state> st;
  std::shared_ptr<agent_observers> obs;
  node_context_ptr ctx;
  supervisor_actor supervisor;
  event_bus_actor bus;
  /// What the actor leaves to its supervisor when it terminates (emptied
  /// when it retires).
  std::shared_ptr<agent_parcel> remains;
  /// Changes handed on (store, backup) and not yet kept by both, oldest
  /// first: their callbacks run in this order.
  std::list<pending_commit> pending;
  uint64_t next_commit = 0;
  /// The commit gathering changes until the agent's next `flush_atom`
  /// (0: none open). Every change a burst of messages makes goes to the
  /// store and the backup in one write.
  uint64_t open_commit = 0;
  /// The member holding this agent's replica (invalid when none), its
  /// incarnation in the cluster view, and which seed's answers count.
  replica_actor backup;
  std::string backup_node;
  uint64_t backup_incarnation = 0;
  uint64_t seed_epoch = 0;
  /// Moving to another node: no task starts and no change is accepted
  /// (such requests wait in the mailbox and bounce to the new node).
  bool draining = false;
  /// Stopped for good; it quits once the store forgot it.
  bool retired = false;
  caf::typed_response_promise<agent_snapshot, std::string> leaving;
  /// When the agent's one timer for blocking senders fires (none: not
  /// armed); it is armed for the earliest wait that ends.
  std::optional<caf::actor_clock::time_point> expiry_at;
  /// Timers of running asynchronous actions: token -> (task id, callback).
  std::unordered_map<uint64_t, std::pair<std::string, std::function<void()>>>
    timers;
  static inline const char* name = "agent";
};

using agent_pointer = agent_actor::stateful_pointer<agent_actor_state>;

/// The agent actor: a thin driver over an `agent_state` that only it
/// touches. Standard tasks run one at a time in arrival order; asynchronous
/// actions run without holding a thread. With a store, every reply that
/// reports a change goes out once the change is committed. An exception
/// thrown by an action hands the state to the supervisor and terminates
/// the actor with `errc::agent_crashed`; the supervisor then restarts it on
/// the same state.
agent_actor::behavior_type agent(agent_pointer self,
                                 std::shared_ptr<agent_state> st,
                                 std::shared_ptr<agent_observers> obs,
                                 node_context_ptr ctx,
                                 supervisor_actor supervisor,
                                 event_bus_actor bus,
                                 cluster_view::keeper_ref backup = {});

} // namespace am
