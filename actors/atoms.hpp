#pragma once

// The words of agentmesh's messages: atoms and the error enum. The types
// that travel, their `inspect` overloads and their registration are in
// vocabulary.hpp.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace am {

// -- atoms (at most 10 characters in CAF 0.17) --------------------------------

using start_atom = caf::atom_constant<caf::atom("start")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using enqueue_atom = caf::atom_constant<caf::atom("enqueue")>;
using process_atom = caf::atom_constant<caf::atom("process")>;
using state_atom = caf::atom_constant<caf::atom("state")>;
using task_atom = caf::atom_constant<caf::atom("task")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using put_atom = caf::atom_constant<caf::atom("put")>;
using update_atom = caf::atom_constant<caf::atom("update")>;
using erase_atom = caf::atom_constant<caf::atom("erase")>;
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using head_atom = caf::atom_constant<caf::atom("head")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using conflict_atom = caf::atom_constant<caf::atom("conflict")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using replicate_atom = caf::atom_constant<caf::atom("replicate")>;
using peer_up_atom = caf::atom_constant<caf::atom("peer_up")>;
using peer_down_atom = caf::atom_constant<caf::atom("peer_down")>;
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using gossip_atom = caf::atom_constant<caf::atom("gossip")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using info_atom = caf::atom_constant<caf::atom("info")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using resolve_atom = caf::atom_constant<caf::atom("resolve")>;
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using abort_atom = caf::atom_constant<caf::atom("abort")>;
using locate_atom = caf::atom_constant<caf::atom("locate")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using rpc_atom = caf::atom_constant<caf::atom("rpc")>;
using store_atom = caf::atom_constant<caf::atom("store")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using retire_atom = caf::atom_constant<caf::atom("retire")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
using handoff_atom = caf::atom_constant<caf::atom("handoff")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using move_atom = caf::atom_constant<caf::atom("move")>;
using drained_atom = caf::atom_constant<caf::atom("drained")>;
using seed_atom = caf::atom_constant<caf::atom("seed")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using failover_atom = caf::atom_constant<caf::atom("failover")>;
using backup_atom = caf::atom_constant<caf::atom("backup")>;
using decide_atom = caf::atom_constant<caf::atom("decide")>;
using quorum_atom = caf::atom_constant<caf::atom("quorum")>;
using suspend_atom = caf::atom_constant<caf::atom("suspend")>;

// -- errors ---------------------------------------------------------------

/// agentmesh's own error codes (category `agentmesh`), rendered to JSON-RPC
/// errors only at the edge.
enum class errc : uint8_t {
  /// No agent with this name.
  agent_not_found = 1,
  /// No task with this id (or not queued, for cancel).
  task_not_found,
  /// The agent died while running the task.
  agent_crashed,
  /// A request argument was malformed.
  invalid_argument,
  /// The node is shutting down.
  shutting_down,
  /// A cluster handshake failed (wrong cookie, stale challenge).
  unauthorized,
  /// The task exists but cannot be cancelled (finished, or running an
  /// action that cannot stop).
  not_cancelable,
  /// The task has already finished (SubscribeToTask).
  task_finished,
  /// The store could not keep a change (the change is not acknowledged).
  store_failed,
  /// This node is cut off from the majority of the cluster: it does not
  /// acknowledge changes (the other side may run its agents).
  no_quorum,
  /// The agent holds `agents.max-inbox` unfinished tasks already.
  inbox_full,
};

const char* to_string(errc x);

caf::error make_error(errc x);

caf::error make_error(errc x, std::string context);

/// Returns the agentmesh code of `err`, or 0 for errors of other categories.
uint8_t code_of(const caf::error& err);

/// The context text of an agentmesh error (what make_error got), or "".
std::string context_of(const caf::error& err);

} // namespace am
