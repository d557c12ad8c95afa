#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <vector>
#include <memory>
#include <string>
#include <unordered_map>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/agent.hpp"
#include "core/agent_state.hpp"
#include "actors/vocabulary.hpp"
#include "actors/node_context.hpp"

namespace am {

/// An agent that holds no task and has no actor (`agents.passivate`): its
/// state and the backup that keeps its copy, until a message needs it.
struct dormant_agent {
  std::shared_ptr<agent_state> st;
  cluster_view::keeper_ref backup;
};

/// One supervised agent. Its state belongs to its actor; a crashing actor
/// hands it back (`agent_parcel`) for the restart.
struct supervised_agent {
  /// Invalid while the agent's start or restart waits for the store, and
  /// while it is dormant.
  agent_actor handle;
  /// Set while the agent is dormant (then `handle` is invalid): its actor
  /// starts on the first message (`resolve_atom`), a stop or a move.
  std::unique_ptr<dormant_agent> dormant;
  /// The agent's board (see dir_entry), part of its state.
  std::shared_ptr<const agent_board> board;
  int64_t started_at = 0;
  uint64_t generation = 0;
  /// Handing off to another node, and what to call when that is over.
  bool moving = false;
  std::function<void(bool)> moved;
  /// The member that kept its replica (known once it handed over).
  std::string backup;
  /// Times of recent restarts, oldest first, within the restart window.
  std::vector<caf::actor_clock::time_point> restarts;
};

/// Restarts within the sliding window, as a plain rule for unit tests:
/// drops restarts older than `window` and answers whether one more restart
/// is allowed.
bool may_restart(std::vector<caf::actor_clock::time_point>& restarts,
                 caf::actor_clock::time_point now,
                 std::chrono::milliseconds window, size_t max_restarts);

struct supervisor_state {
  std::unordered_map<std::string, supervised_agent> agents;
  /// Live agent actors this supervisor restarts when they crash.
  std::unordered_map<caf::actor_addr, std::string> names;
  /// What terminated agents left, until their down_msg arrives; and
  /// down_msgs that arrived first.
  std::unordered_map<caf::actor_addr, agent_parcel> remains;
  std::unordered_map<caf::actor_addr, caf::error> downs;
  /// Supervisors of the cluster's members, and members that announced
  /// they are leaving (they take no agents).
  std::map<std::string, supervisor_actor> peers;
  std::set<std::string> leaving;
  /// This node hands its agents off and takes none.
  bool leaving_self = false;
  /// The node is shutting down: terminated agents stay down.
  bool stopping = false;
  /// Where agents of this node moved (for callers that resolve late).
  std::unordered_map<std::string, agent_actor> moved_to;
  /// Callers waiting for the restart of an agent whose old handle failed.
  std::unordered_multimap<std::string, caf::typed_response_promise<agent_actor>>
    waiting;
  static inline const char* name = "supervisor";
};

using supervisor_pointer = supervisor_actor::stateful_pointer<supervisor_state>;

/// Spawns agents, monitors them, restarts crashed ones on the same state
/// (failing the task in flight), and stops an agent for good once it crashed
/// more than `max_restarts` times within `restart_window`.
supervisor_actor::behavior_type supervisor(supervisor_pointer self,
                                           node_context_ptr ctx,
                                           directory_actor directory,
                                           event_bus_actor bus);

} // namespace am
