#pragma once

#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include "actors/vocabulary.hpp"
#include "actors/node_context.hpp"
#include "app/config.hpp"
#include "http/server.hpp"

namespace am::app {

class cluster_gate;

/// The actors of one running node.
struct node {
  node_context_ptr ctx;
  event_bus_actor bus;
  caf::actor logger;
  directory_actor directory;
  supervisor_actor supervisor;
  membership_actor membership; // only with cluster.enabled
  replica_actor keeper;         // only with cluster.enabled and replicas
  std::shared_ptr<cluster_gate> gate; // owns the cluster port
  caf::actor connector;               // dials peers through the gate
  uint16_t cluster_port = 0;
  bool handoff = false; // move agents away on shutdown
  std::vector<http::worker_actor> workers;
  http::server http;
};

/// Spawns the node's actors and opens its HTTP port.
caf::expected<node> start_node(caf::actor_system& sys, const config& cfg,
                               action_registry actions);

/// Stops accepting, answers in-flight requests (bounded wait), then stops
/// every actor of the node.
void stop_node(caf::actor_system& sys, node& n);

} // namespace am::app
