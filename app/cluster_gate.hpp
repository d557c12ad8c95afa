#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/membership.hpp"

namespace am::app {

/// Settings of the cluster port's gate.
struct gate_config {
  /// The cluster cookie both sides prove before CAF sees a byte.
  std::string cookie;
  std::string host = "127.0.0.1";
  uint16_t port = 0; // 0: any free port
  /// A peer that has not finished the handshake by then is dropped.
  std::chrono::milliseconds handshake_timeout{5000};
  /// Connections in the handshake at once, in all and per remote address;
  /// more are closed at once.
  size_t max_pending = 64;
  size_t max_pending_per_host = 16;
  /// After the cookie, the connection speaks TLS (`openssl.*` settings).
  bool tls = false;
};

/// Listens on the cluster port in place of CAF's own acceptor. Each
/// connection first runs the gate handshake of `auth::gate` on a socket
/// CAF does not know about, in fixed-size frames with a deadline; only a
/// peer that proved the cookie is handed to CAF's node protocol (BASP), as
/// a connection to `published`. So nobody who lacks the cookie can make
/// the node reserve more than `auth::gate::answer_size` bytes per
/// connection, or hold a connection longer than the handshake timeout.
///
/// One thread polls the listener and the connections in the handshake.
class cluster_gate {
public:
  struct impl;

  /// Opens the port and starts the thread.
  static caf::expected<std::unique_ptr<cluster_gate>>
  start(caf::actor_system& sys, gate_config cfg,
        caf::strong_actor_ptr published, std::set<std::string> sigs);

  /// Closes the port and every connection still in the handshake.
  ~cluster_gate();

  uint16_t port() const;

  /// Connections in the handshake right now.
  size_t pending() const;

  /// Connections handed over to BASP, refused for a wrong cookie, and
  /// dropped (timeout, limits, garbage) since the start.
  uint64_t admitted() const;
  uint64_t refused() const;
  uint64_t dropped() const;

private:
  explicit cluster_gate(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

/// Spawns the actor membership dials peers through: it connects (with the
/// handshake timeout as deadline), runs the gate handshake as the client,
/// and only then hands the connection to BASP, answering like CAF's
/// middleman actor. A peer with another cookie gives `errc::unauthorized`.
connector_actor spawn_connector(caf::actor_system& sys, gate_config cfg);

} // namespace am::app
