#pragma once

#include <caf/error.hpp>

// The request worker: JSON-RPC and agent cards on the scheduler. Its
// contract is "body in, JSON or a stream out": the connection broker keeps
// all HTTP framing and hands over only what a call needs.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/vocabulary.hpp"
#include "actors/node_context.hpp"

namespace am::http {

/// Handles of the node's actors that serve requests.
struct node_handles {
  supervisor_actor supervisor;
  directory_actor directory;
  event_bus_actor bus;
  membership_actor membership; // invalid without clustering
};

/// Spawns a request worker. `timeout` bounds one call to an actor; a
/// blocking SendMessage waits that long for its task to end. With
/// `read_boards`, GetAgentState of a local agent reads the agent's board
/// instead of asking the agent (`http.inline-reads`).
worker_actor spawn_worker(caf::actor_system& sys, node_context_ptr ctx,
                          node_handles handles,
                          std::chrono::milliseconds timeout,
                          std::string version, bool read_boards = true);

/// How many request workers a node runs: one per core, at least two.
unsigned worker_count();

/// Answers a JSON-RPC body at /a2a on the calling thread (the HTTP loop)
/// when everything it asks is readable there without a message: today
/// GetAgentState of a local agent whose board is open (single or batched;
/// malformed requests in it get their errors). Bodies over
/// `max_inline_body` bytes are not tried. Returns nothing, having changed
/// nothing, for every other body: a worker then handles it as usual.
using inline_rpc_fn = std::function<std::optional<call_result>(
  const std::string& body, const std::string& a2a_version)>;

inline_rpc_fn inline_rpc(node_context_ptr ctx);

/// The largest body `inline_rpc` parses (the HTTP thread serves every
/// connection: a large body goes to a worker).
constexpr size_t max_inline_body = 4096;

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
