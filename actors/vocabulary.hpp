#pragma once

// The vocabulary of agentmesh's actors: atoms, the error enum, and the
// `inspect` overloads that let messages cross node boundaries. Every type
// here is registered once, in `register_types`, on every node.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/messages.hpp"

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
using http_atom = caf::atom_constant<caf::atom("http")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
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
};

const char* to_string(errc x);

caf::error make_error(errc x);

caf::error make_error(errc x, std::string context);

/// Returns the agentmesh code of `err`, or 0 for errors of other categories.
uint8_t code_of(const caf::error& err);

// -- inspect overloads --------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, start_result& x) {
  return f(caf::meta::type_name("start_result"), x.status, x.agent, x.node);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_status& x) {
  return f(caf::meta::type_name("agent_status"), x.name, x.status,
           x.inbox_count, x.processed_count, x.memory_keys, x.node);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, process_result& x) {
  return f(caf::meta::type_name("process_result"), x.empty, x.task_id,
           x.result);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_view& x) {
  return f(caf::meta::type_name("task_view"), x.task_id, x.agent, x.node,
           x.action, x.params, x.status, x.result);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_location& x) {
  return f(caf::meta::type_name("agent_location"), x.name, x.node);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_info& x) {
  return f(caf::meta::type_name("cluster_info"), x.self, x.connected);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("event"), x.name, x.agent, x.node, x.json);
}

/// Registers every message type and the error category with `cfg`.
void register_types(caf::actor_system_config& cfg);

} // namespace am
