#pragma once

// Standard A2A 1.0 JSON for tasks: the Task object, its status and artifact,
// and the stream events. Pure: used by agents (stream events) and by the
// HTTP codec (results).

#include <cstddef>
#include <optional>
#include <string>

#include "core/json.hpp"
#include "core/messages.hpp"

namespace am::a2a {

/// `TASK_STATE_*` of a task_view status (queued -> SUBMITTED, ...).
const char* state_name(const std::string& status);

/// The task_view status of a `TASK_STATE_*` string; "" for unknown or
/// unspecified states (no filter).
std::string status_of_state(const std::string& state);

/// `{"state", "timestamp"}`, plus an agent message for a failure.
json status_json(const task_view& t);

/// The result as one artifact (a data part with the result object, plus a
/// text part when `ok` is a string); null while there is no result.
json artifact_json(const task_view& t);

/// The user message as the task keeps it (a dialect task's action and
/// params as one data part).
json history_message(const task_view& t);

/// The A2A Task. `history_length`: nothing = all, 0 = none, n = the n
/// latest messages.
json task_json(const task_view& t, std::optional<size_t> history_length = {},
               bool include_artifacts = true);

/// `dump(task_json(t, history_length, include_artifacts))`, written
/// directly (no JSON tree for the task on the request path).
std::string task_text(const task_view& t,
                      std::optional<size_t> history_length = {},
                      bool include_artifacts = true);

/// Appends task_text to `out` (a reply is written into one buffer).
void append_task_text(std::string& out, const task_view& t,
                      std::optional<size_t> history_length = {},
                      bool include_artifacts = true);

/// `{"statusUpdate": {...}}` for the current status.
json status_update(const task_view& t);

/// `{"artifactUpdate": {...}}` for the result.
json artifact_update(const task_view& t);

/// A JSON-RPC success response around a result, both given as JSON text
/// (an event is rendered once and sent to several streams).
std::string rpc_result_text(const std::string& id_text,
                            const std::string& result_text);

} // namespace am::a2a
