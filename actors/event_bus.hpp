#pragma once

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include <caf/group.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/vocabulary.hpp"
#include "core/node_metrics.hpp"

namespace am {

struct event_bus_state {
  /// One local group per topic that has (or had) a subscriber.
  std::unordered_map<std::string, caf::group> groups;
  /// Buses of the connected nodes, by node name.
  std::map<std::string, event_bus_actor> peers;
  /// Subscribers and their groups, to leave them when they terminate.
  std::unordered_map<caf::actor_addr,
                     std::pair<caf::actor, std::vector<caf::group>>>
    subscribers;
  /// Subscribers with at least one agent topic.
  std::set<caf::actor_addr> agent_listeners;
  /// Agent events published since the last flush, for the peers: one
  /// message per peer for a burst of events instead of one per event.
  std::vector<event> outgoing;
  /// A `flush_atom` is on its way to the bus.
  bool flush_pending = false;
  static inline const char* name = "event_bus";
};

using event_bus_pointer = event_bus_actor::stateful_pointer<event_bus_state>;

/// The node's event bus: publishes each event to the local groups of its
/// topics and forwards agent events once to every peer's bus, which only
/// delivers them locally. Cluster events are each node's own observation and
/// stay local. Subscribers stay subscribed until they terminate.
/// Forwarding is batched: the first event of a burst sends the bus a
/// `flush_atom`, which queues behind the publications already in its
/// mailbox; the flush (or 512 events, a change of peers, or an exit other
/// than a kill) sends them.
/// Every event published here counts in `metrics` (may be null).
/// `audience` (may be null) is kept at the number of subscribers of agent
/// topics plus peers; it is raised before a subscription is confirmed.
event_bus_actor::behavior_type
event_bus(event_bus_pointer self, std::shared_ptr<node_metrics> metrics,
          std::shared_ptr<std::atomic<size_t>> audience);

/// Logs every agent and cluster event it receives with the exact lines of
/// SPEC 5. Whoever spawns it subscribes it to `event_logger_topics()` and
/// waits for the bus's confirmation, so no early event is missed.
caf::behavior event_logger(caf::event_based_actor* self);

/// The topics the event logger listens to at the current log level: agent
/// events only when info lines are written.
std::vector<std::string> event_logger_topics();

} // namespace am
