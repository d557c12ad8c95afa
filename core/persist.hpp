#pragma once
// What the store keeps of an agent, and the changes an agent hands to it.
// Plain data: the same types go to the local store writer, to a replica on
// another node and into a handoff (their `inspect` overloads are in
// actors/vocabulary.hpp).

#include <cstdint>
#include <string>
#include <vector>

namespace am {

/// One task as stored: JSON members as text (dumped once, by the agent).
struct stored_task {
  std::string id;
  /// Per-agent stamp of the task's last change: queued tasks are restored
  /// in this order, finished ones enter the history in it.
  uint64_t seq = 0;
  std::string status; // to_string(task_status)
  bool standard = false;
  std::string action;
  std::string params; // JSON text
  std::string context_id;
  std::string message_id;
  std::string message; // JSON text, "" when none
  std::string result;  // JSON text, "" until finished
  int64_t updated_us = 0;
  std::string trace_id; // W3C trace id, "" when none
  /// False: only `seq`, `status`, `result` and `updated_us` are set (the
  /// task's other fields never change, and an earlier change carried them).
  bool full = true;
};

/// An agent's own fields.
struct agent_header {
  std::string name;
  std::string default_action;
  std::string memory; // JSON text
  uint64_t processed = 0;
  int64_t started_at = 0; // microseconds since the epoch
  /// Incremented by every move (handoff, failover); a higher generation of
  /// the same name wins.
  uint64_t generation = 0;
  uint64_t seq = 0; // the agent's last task stamp
};

/// Everything about one agent: what a restart, a handoff or a failover
/// starts from.
struct agent_snapshot {
  agent_header header;
  std::vector<stored_task> tasks;
};

/// The changes of one agent since it last handed any over.
struct agent_delta {
  std::string name;
  /// The agent is gone: drop everything kept of it.
  bool removed = false;
  /// The upserts are the whole agent: drop rows of it not among them.
  bool replace = false;
  bool has_header = false;
  agent_header header;
  std::vector<stored_task> upserts; // in change order; a later one wins
  std::vector<std::string> deletes; // task ids
};

/// The change that makes a store (or a replica) forget agent `name`.
inline agent_delta removal(const std::string& name) {
  agent_delta result;
  result.name = name;
  result.removed = true;
  return result;
}

inline bool empty(const agent_delta& x) {
  return !x.removed && !x.has_header && x.upserts.empty() && x.deletes.empty();
}

} // namespace am
