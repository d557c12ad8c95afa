#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/vocabulary.hpp"
#include "actors/node_context.hpp"
#include "http/message.hpp"
#include "http/request_parser.hpp"
#include "http/router.hpp"
#include "http/worker.hpp"

namespace am::http {


/// Settings of the HTTP front end (`[http]`).
struct server_config {
  std::string host = "127.0.0.1";
  uint16_t port = 4000;
  limits lim;
  std::chrono::milliseconds idle_timeout{30000};
  /// A request head (request line and headers) must be complete this long
  /// after the connection opened or the head's first byte arrived: else
  /// 408 and close (slow-header attacks).
  std::chrono::milliseconds header_timeout{10000};
  size_t max_connections = 1024;
  /// Upper bound for one request's backend work (JSON-RPC calls).
  std::chrono::milliseconds request_timeout{5000};
  /// Pipelined requests a connection may have outstanding before it stops
  /// reading.
  size_t max_pipeline = 64;
  /// What the static routes (health, agent card) report.
  site info;
  /// Where requests are counted and what `GET /metrics` shows.
  std::shared_ptr<node_metrics> metrics = std::make_shared<node_metrics>();
  /// Calls to /a2a this thread may answer itself (see `inline_rpc`); none
  /// when empty.
  inline_rpc_fn inline_rpc;
};

/// A running HTTP server.
struct server {
  /// The acceptor broker. Send it `drain_atom` to stop accepting and close
  /// every connection once its in-flight requests are answered; it quits
  /// when the last connection is gone.
  caf::actor acceptor;
  uint16_t port;
};

/// Binds `cfg.host:cfg.port` (0 = ephemeral) and starts accepting.
caf::expected<server> start_server(caf::actor_system& sys,
                                   const server_config& cfg,
                                   std::vector<worker_actor> workers,
                                   event_bus_actor bus);

} // namespace am::http
