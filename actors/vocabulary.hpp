#pragma once

// The vocabulary of agentmesh's actors in one place: every type that
// travels in a message, with its `inspect` overload, and `register_types`,
// which registers all of them (and the error category) once, on every
// node. The types themselves are plain data (core/messages.hpp,
// core/persist.hpp) or carry actor handles (actors/interfaces.hpp); the
// atoms and error codes are in actors/atoms.hpp.

#include <string>
#include <type_traits>

#include <caf/fwd.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/none.hpp>

#include "actors/interfaces.hpp"

namespace am {

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

/// A JSON value (json_box, shared_json) travels as its text; within a node
/// it is never serialised. Malformed text arrives as null.
inline std::string wire_text(const json_box& x) {
  return dump(x.value);
}

inline std::string wire_text(const shared_json& x) {
  return x.is_null() ? std::string{} : dump(*x);
}

inline void from_wire(json_box& x, json value) {
  x.value = std::move(value);
}

inline void from_wire(shared_json& x, json value) {
  x = std::move(value);
}

template <class T>
constexpr bool is_json_field
  = std::is_same_v<T, json_box> || std::is_same_v<T, shared_json>;

template <class Inspector, class T>
typename std::enable_if<Inspector::reads_state && is_json_field<T>,
                        typename Inspector::result_type>::type
inspect(Inspector& f, T& x) {
  auto text = wire_text(x);
  return f(caf::meta::type_name("json"), text);
}

template <class Inspector, class T>
typename std::enable_if<Inspector::writes_state && is_json_field<T>,
                        typename Inspector::result_type>::type
inspect(Inspector& f, T& x) {
  std::string text;
  auto load = caf::meta::load_callback([&]() -> caf::error {
    auto value = text.empty() ? json{} : json::parse(text, nullptr, false);
    from_wire(x, value.is_discarded() ? json{} : std::move(value));
    return caf::none;
  });
  return f(caf::meta::type_name("json"), text, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_view& x) {
  return f(caf::meta::type_name("task_view"), x.task_id, x.agent, x.node,
           x.action, x.params, x.status, x.result, x.standard, x.context_id,
           x.message, x.updated_us, x.trace_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_query& x) {
  return f(caf::meta::type_name("task_query"), x.context_id, x.status,
           x.updated_after_us, x.page_size, x.cursor_us, x.cursor_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_page& x) {
  return f(caf::meta::type_name("task_page"), x.total, x.remaining, x.tasks);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_info& x) {
  return f(caf::meta::type_name("agent_info"), x.name, x.node,
           x.default_action, x.actions, x.descriptions);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_event& x) {
  return f(caf::meta::type_name("stream_event"), x.seq, x.data, x.last);
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

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_task& x) {
  return f(caf::meta::type_name("stored_task"), x.id, x.seq, x.status,
           x.standard, x.action, x.params, x.context_id, x.message_id,
           x.message, x.result, x.updated_us, x.trace_id, x.full);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_header& x) {
  return f(caf::meta::type_name("agent_header"), x.name, x.default_action,
           x.memory, x.processed, x.started_at, x.generation, x.seq);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_snapshot& x) {
  return f(caf::meta::type_name("agent_snapshot"), x.header, x.tasks);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_delta& x) {
  return f(caf::meta::type_name("agent_delta"), x.name, x.removed, x.replace,
           x.has_header, x.header, x.upserts, x.deletes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, submit_request& x) {
  return f(caf::meta::type_name("submit_request"), x.action, x.params, x.text,
           x.message, x.context_id, x.message_id, x.trace_id, x.wait_ms,
           x.sink, x.seq, x.rpc_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dir_entry& x) {
  return f(caf::meta::type_name("dir_entry"), x.name, x.node, x.handle,
           x.started_at, x.generation);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hello_msg& x) {
  return f(caf::meta::type_name("hello_msg"), x.node, x.address, x.nonce);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, challenge_msg& x) {
  return f(caf::meta::type_name("challenge_msg"), x.node, x.nonce, x.mac);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_info& x) {
  return f(caf::meta::type_name("peer_info"), x.node, x.address, x.directory,
           x.bus, x.supervisor, x.replicas, x.durable);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, welcome_msg& x) {
  return f(caf::meta::type_name("welcome_msg"), x.info, x.members);
}

namespace http {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call& x) {
  return f(caf::meta::type_name("am::http::call"), x.kind, x.agent, x.body,
           x.version, x.host, x.trace_id, x.sink, x.seq);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_result& x) {
  return f(caf::meta::type_name("am::http::call_result"), x.status, x.body,
           x.stream);
}

} // namespace http

/// Registers every message type above and the error category with `cfg`.
void register_types(caf::actor_system_config& cfg);

} // namespace am
