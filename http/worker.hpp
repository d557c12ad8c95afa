#pragma once

#include <caf/error.hpp>

// The request worker: JSON-RPC and agent cards on the scheduler. Its
// contract is "body in, JSON or a stream out": the connection broker keeps
// all HTTP framing and hands over only what a call needs.

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

namespace am::http {

/// One call from a connection.
struct call {
  enum kind_t : uint8_t { rpc = 0, agent_card = 1 };
  uint8_t kind = rpc;
  /// The endpoint's agent: `POST /agents/<name>/a2a` and agent cards.
  std::string agent;
  std::string body;
  /// `A2A-Version` of the request ("" when absent).
  std::string version;
  /// `host:port` the client used, for URLs in cards.
  std::string host;
  /// The connection and the request's number on it: events of a stream go
  /// there as `stream_event`s.
  caf::actor sink;
  uint64_t seq = 0;
};

/// What the worker answers.
struct call_result {
  /// 200, 204 (nothing to send: notifications) or 404 (no such agent).
  int status = 200;
  std::string body; // JSON
  /// A stream started: its events come from the agent, the last one ends
  /// it.
  bool stream = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call& x) {
  return f(caf::meta::type_name("am::http::call"), x.kind, x.agent, x.body,
           x.version, x.host, x.sink, x.seq);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_result& x) {
  return f(caf::meta::type_name("am::http::call_result"), x.status, x.body,
           x.stream);
}

using worker_actor
  = caf::typed_actor<caf::replies_to<rpc_atom, call>::with<call_result>>;

/// Handles of the node's actors that serve requests.
struct node_handles {
  supervisor_actor supervisor;
  directory_actor directory;
  event_bus_actor bus;
  membership_actor membership; // invalid without clustering
};

/// Spawns a request worker. `timeout` bounds one call to an actor; a
/// blocking SendMessage waits that long for its task to end.
worker_actor spawn_worker(caf::actor_system& sys, node_context_ptr ctx,
                          node_handles handles,
                          std::chrono::milliseconds timeout,
                          std::string version);

/// What a worker does when a remote agent it waits for ended before it
/// answered (CAF 0.17 drops requests sent to a dead proxy without an error).
enum class down_action {
  /// It quit on purpose (moved, retired) after answering what it took:
  /// the request was not taken, send it again through the directory.
  retry,
  /// Its node stopped it: the agent is gone.
  not_found,
  /// Its node is unreachable: the request may have run there.
  node_down,
  /// It crashed: the request may have run.
  crashed,
};

down_action down_action_of(const caf::error& reason);

} // namespace am::http
