#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "core/actions.hpp"
#include "actors/cluster_view.hpp"
#include "actors/vocabulary.hpp"
#include "core/node_metrics.hpp"
#include "core/sharded_map.hpp"

namespace am {

/// name -> entry. Read from any thread on every request; written only by
/// the directory actor: read-mostly (readers write no shared memory).
using directory_map
  = sharded_map<std::string, dir_entry, 64, std::hash<std::string>, true>;

/// What a node knows of each task of its agents without asking them.
struct task_entry {
  std::string agent;
  std::string status; // task_view status
  std::string context_id;
  int64_t updated_us = 0;
};

/// task id -> entry, for GetTask, CancelTask and ListTasks. Written by the
/// agents (and their supervisor), read by anyone.
using task_index = sharded_map<std::string, task_entry>;

/// Supervision and history settings (`[agents]`).
struct agent_settings {
  size_t max_restarts = 5;
  std::chrono::milliseconds restart_window{60000};
  size_t history_limit = 1000;
  /// How long a moving agent lets its running task finish; then the task
  /// fails with "node_shutdown".
  std::chrono::milliseconds handoff_drain{3000};
  /// Unfinished tasks an agent takes; more are refused (-32029).
  size_t max_inbox = 10000;
  /// A started (or recovered) agent that holds no task is dormant: a
  /// record in its supervisor and an entry without a handle, until a
  /// message, a stop or a move needs its actor.
  bool passivate = true;
};

/// What every actor of a node shares: immutable settings plus the two
/// concurrent maps.
struct node_context {
  std::string node_name = "nonode@nohost";
  std::shared_ptr<directory_map> directory = std::make_shared<directory_map>();
  std::shared_ptr<task_index> tasks = std::make_shared<task_index>();
  std::shared_ptr<const action_registry> actions
    = std::make_shared<action_registry>(action_registry::builtin());
  agent_settings agents;
  /// Requests of a JSON-RPC batch at most (`http.max-batch`).
  size_t max_batch = 1000;
  /// `http.auth-token` is set: the cards declare the bearer scheme.
  bool bearer = false;
  /// The store writer; invalid when the node keeps agents in memory only.
  store_actor store;
  /// Set when agents have a backup on another member (`agents.replicas`
  /// with clustering on): who that is, and whether this node holds the
  /// quorum.
  std::shared_ptr<cluster_view> cluster;
  /// What `GET /metrics` shows; every actor counts into it in place.
  std::shared_ptr<node_metrics> metrics = std::make_shared<node_metrics>();
  /// Who would receive an agent event published now: local subscribers
  /// of agent topics plus connected peers (kept by the event bus). At 0,
  /// agents and the supervisor skip building events nobody gets.
  std::shared_ptr<std::atomic<size_t>> event_audience
    = std::make_shared<std::atomic<size_t>>(0);

  /// True if an agent event published now reaches anyone. Counts it as
  /// published when it does not (the bus counts the others).
  bool wants_agent_events() const {
    if (event_audience->load() > 0)
      return true;
    if (metrics->enabled)
      metrics->events_published.inc();
    return false;
  }

  /// Agents hand their changes on (to the store, to a backup) before they
  /// acknowledge them.
  bool keeps_changes() const {
    return static_cast<bool>(store) || static_cast<bool>(cluster);
  }
};

using node_context_ptr = std::shared_ptr<const node_context>;

} // namespace am
