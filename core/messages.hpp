#pragma once

// Plain data that travels between actors and, later, between nodes. No CAF
// here: the pure JSON-RPC layer uses these types too. Their `inspect`
// overloads and registration live in actors/vocabulary.hpp.

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.hpp"

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
  json_box result;
};

/// A task as seen from outside the agent: answer to GetTask (both
/// families), snapshots for blocking sends and streams, ListTasks rows.
struct task_view {
  std::string task_id;
  std::string agent;
  std::string node;
  std::string action;
  shared_json params;
  /// queued, running, completed, failed or cancelled.
  std::string status;
  shared_json result; // null while queued or running, and when cancelled
  /// A standard A2A task (else a dialect task from SendMessage/ProcessNext).
  bool standard = false;
  std::string context_id;
  shared_json message; // the user message (standard tasks)
  /// When the status last changed (microseconds since the epoch).
  int64_t updated_us = 0;
  /// The W3C trace of the request that created the task.
  std::string trace_id;
};

/// The filter and page of a ListTasks call, applied on every node.
struct task_query {
  std::string context_id; // empty: any
  std::string status;     // a task_view status; empty: any
  int64_t updated_after_us = 0; // 0: any
  uint32_t page_size = 50;
  /// Continue after this position of the newest-first order (0 and "" for
  /// the first page).
  int64_t cursor_us = 0;
  std::string cursor_id;
};

/// One node's (or the cluster's) answer to a task_query.
struct task_page {
  uint64_t total = 0;     // matching tasks, ignoring the cursor
  uint64_t remaining = 0; // matching tasks after the cursor
  std::vector<task_view> tasks; // the first page_size of those, newest first
};

/// What an agent's card shows.
struct agent_info {
  std::string name;
  std::string node;
  std::string default_action;
  std::vector<std::string> actions;
  std::vector<std::string> descriptions; // parallel to `actions`
};

/// One event of a task stream, sent by the agent to the HTTP connection
/// that asked for it: `data` is a whole JSON-RPC response; `last` closes
/// the stream.
struct stream_event {
  uint64_t seq = 0; // the request's sequence number on its connection
  std::string data;
  bool last = false;
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
