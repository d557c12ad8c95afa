#pragma once

// Every typed actor interface of agentmesh, in CAF 0.17 syntax.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/vocabulary.hpp"

namespace am {

/// An agent: a task inbox and a memory, driven by its supervisor's state.
using agent_actor = caf::typed_actor<
  // Queues a task (action, params as JSON text); answers its id.
  caf::replies_to<enqueue_atom, std::string, std::string>::with<std::string>,
  // Runs the inbox head.
  caf::replies_to<process_atom>::with<process_result>,
  // Describes the agent.
  caf::replies_to<state_atom>::with<agent_status>,
  // Looks up one of the agent's tasks by id.
  caf::replies_to<task_atom, std::string>::with<task_view>,
  // Removes a queued task by id.
  caf::replies_to<cancel_atom, std::string>::with<bool>,
  // Stops the agent for good (delegated to its supervisor).
  caf::replies_to<stop_atom>::with<bool>>;

/// Spawns, watches and restarts the agents of one node.
using supervisor_actor = caf::typed_actor<
  // Starts an agent (name, memory as JSON text).
  caf::replies_to<start_atom, std::string, std::string>::with<start_result>,
  // Stops a local agent by name; false if there is none.
  caf::replies_to<stop_atom, std::string>::with<bool>>;

/// A directory entry: where an agent lives and how to reach it.
struct dir_entry {
  std::string name;
  std::string node;
  agent_actor handle;
  int64_t started_at = 0; // microseconds since the epoch
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dir_entry& x) {
  return f(caf::meta::type_name("dir_entry"), x.name, x.node, x.handle,
           x.started_at);
}

/// The only writer of the node's directory map.
using directory_actor = caf::typed_actor<
  // Inserts an entry; answers "" on success, else the node holding the name.
  caf::replies_to<put_atom, dir_entry>::with<std::string>,
  // Inserts or replaces an entry (a restarted agent's new handle).
  caf::reacts_to<update_atom, dir_entry>,
  // Removes an entry; false if it was absent.
  caf::replies_to<erase_atom, std::string>::with<bool>>;

/// Delivers events to local subscribers, one CAF group per topic.
using event_bus_actor = caf::typed_actor<
  // Publishes an event to its topics.
  caf::reacts_to<publish_atom, event>,
  // Subscribes an actor to topics until it terminates.
  caf::replies_to<subscribe_atom, std::vector<std::string>,
                  caf::actor>::with<bool>>;

} // namespace am
