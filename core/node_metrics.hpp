#pragma once
// What one node counts for Prometheus (SPEC 12): the families, who updates
// them, and the exposition `GET /metrics` serves. Every value is an atomic
// that its writer updates in place; a scrape reads them without asking any
// actor.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/metrics.hpp"

namespace am {

/// The `route` label of `agentmesh_http_requests_total`: the route
/// template, never the raw path (agent names would make the label set
/// unbounded).
enum class http_route : uint8_t {
  health,
  agent_json,        // GET /.well-known/agent.json
  agent_card,        // GET /.well-known/agent-card.json
  a2a,               // POST /a2a
  agent_a2a,         // POST /agents/{name}/a2a
  agent_agent_card,  // GET /agents/{name}/.well-known/agent-card.json
  events,            // GET /events (counted when the stream starts)
  metrics,           // GET /metrics
  page,              // GET /
  unknown,           // a 404
  invalid,           // malformed or oversized requests, refused connections
};

constexpr size_t http_route_count = 11;

static_assert(static_cast<size_t>(http_route::invalid) + 1 == http_route_count);

/// The label value of `x`.
const char* label_of(http_route x);

/// Tasks that reached an end on this node, by status (agent_state counts).
struct task_counters {
  metrics::counter created;
  metrics::counter completed;
  metrics::counter failed;
  metrics::counter cancelled;
};

/// The HTTP front end's counts: per route, every status code and the
/// latency. Only the multiplexer thread writes them.
class http_metrics {
public:
  http_metrics();

  void observe(http_route route, int status, double seconds);

  uint64_t requests(http_route route, int status) const;

  const metrics::histogram& duration(http_route route) const {
    return routes_[static_cast<size_t>(route)].duration;
  }

  /// Calls `f(route, status, count)` for every non-zero count.
  void for_each(const std::function<void(http_route, int, uint64_t)>& f) const;

private:
  static constexpr int min_status = 100;
  static constexpr int max_status = 599;

  struct per_route {
    std::array<metrics::counter, max_status - min_status + 1> codes;
    metrics::histogram duration{metrics::latency_buckets()};
  };

  std::array<per_route, http_route_count> routes_;
};

/// Every metric of a node. Shared by its actors and its HTTP brokers.
struct node_metrics {
  node_metrics();

  std::string node_name;
  std::string version;
  /// False (`metrics.enabled=false`): nothing is counted and `GET /metrics`
  /// is a 404 (for measuring what counting costs).
  bool enabled = true;

  /// Agents hosted here: agent actors alive on this node (each counts
  /// itself; a restart is a moment without) plus dormant agents.
  metrics::gauge agents;
  /// Agents hosted here that are dormant: a record, no actor (the
  /// supervisor counts them; they are in `agents` too).
  metrics::gauge dormant_agents;
  /// Members including this node (set by the membership).
  metrics::gauge cluster_nodes;
  task_counters tasks;
  /// Agents restarted after a crash.
  metrics::counter agent_restarts;
  /// Events this node published (not those it forwarded from peers).
  metrics::counter events_published;
  /// The counters agents count their tasks into; null when off.
  task_counters* task_counts() {
    return enabled ? &tasks : nullptr;
  }

  /// One group commit of the store writer; only shown with a store.
  bool has_store = false;
  metrics::histogram store_commit{metrics::latency_buckets()};
  http_metrics http;

  /// When this process started, seconds since the epoch.
  double start_time = 0;

  /// The whole exposition, text format 0.0.4.
  std::string exposition() const;
};

/// The content type of `node_metrics::exposition`.
inline constexpr const char* exposition_content_type
  = "text/plain; version=0.0.4; charset=utf-8";

/// Seconds between two steady time points, as a double.
inline double seconds_between(std::chrono::steady_clock::time_point from,
                              std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

} // namespace am
