#pragma once

// Plain data that travels between actors and, later, between nodes. No CAF
// here: the pure JSON-RPC layer uses these types too. Their `inspect`
// overloads and registration live in vocabulary.hpp.

#include <cstdint>
#include <string>
#include <vector>

namespace am {

/// Answer to StartAgent: `status` is "started" or "already_exists"; `node`
/// hosts the agent.
struct start_result {
  std::string status;
  std::string agent;
  std::string node;
};

/// Answer to GetAgentState.
struct agent_status {
  std::string name;
  std::string status;
  uint64_t inbox_count = 0;
  uint64_t processed_count = 0;
  std::vector<std::string> memory_keys;
  std::string node;
};

/// Answer to ProcessNext. `empty` means the inbox had no task.
struct process_result {
  bool empty = true;
  std::string task_id;
  std::string result; // JSON text
};

/// Answer to GetTask.
struct task_view {
  std::string task_id;
  std::string agent;
  std::string node;
  std::string action;
  std::string params; // JSON text
  std::string status;
  std::string result; // JSON text; empty while queued or when cancelled
};

/// One row of ListAgents.
struct agent_location {
  std::string name;
  std::string node;
};

/// Answer to GetClusterInfo: this node and the members it is connected to.
struct cluster_info {
  std::string self;
  std::vector<std::string> connected;
};

/// An event as the bus carries it. The JSON text is serialised once by the
/// publisher; the other fields let subscribers route and log without parsing.
struct event {
  std::string name;  // agent_started, node_down, ...
  std::string agent; // empty for cluster events
  std::string node;  // the agent's host, or the node that joined / left
  std::string json;  // the whole event object
};

/// The bus topic for all agent events.
inline const std::string agent_events_topic = "agent:events";

/// The bus topic for cluster membership events.
inline const std::string cluster_events_topic = "cluster:events";

/// The bus topic for the events of one agent.
inline std::string agent_topic(const std::string& agent) {
  return agent_events_topic + ":" + agent;
}

} // namespace am
