#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/timespan.hpp>

namespace am::app {

/// Every option of an agentmesh node. CAF reads them from the INI file given
/// with `--config-file` (or `caf-application.ini`) and from the command line;
/// `load` then applies `PORT` and validates what CAF silently ignores.
class config : public caf::actor_system_config {
public:
  // -- [node] ---------------------------------------------------------------
  std::string node_name;

  // -- [http] ---------------------------------------------------------------
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 4000;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  caf::timespan idle_timeout = std::chrono::seconds(30);
  caf::timespan header_timeout = std::chrono::seconds(10);
  size_t max_connections = 1024;
  caf::timespan request_timeout = std::chrono::seconds(5);
  size_t max_batch = 1000;
  std::string card_name = "agentmesh";
  std::string auth_token; // "" = no token needed
  /// GetAgentState of a local agent answered on the HTTP thread from the
  /// agent's board (false: through a worker and the agent, as calls to
  /// remote agents go).
  bool inline_reads = true;

  // -- [cluster] ------------------------------------------------------------
  bool cluster_enabled = false;
  std::string cluster_host = "127.0.0.1";
  uint16_t cluster_port = 5000;
  std::vector<std::string> cluster_seeds;
  std::string cluster_cookie;
  caf::timespan cluster_handshake_timeout = std::chrono::seconds(5);
  bool cluster_handoff = true;

  // -- [agents] -------------------------------------------------------------
  size_t max_restarts = 5;
  caf::timespan restart_window = std::chrono::seconds(60);
  size_t task_history = 1000;
  caf::timespan handoff_drain = std::chrono::seconds(3);
  /// Backups per agent with clustering on (0 or 1).
  size_t replicas = 1;
  size_t max_inbox = 10000;
  /// Agents without tasks start dormant (no actor until a message).
  bool passivate = true;

  // -- [store] --------------------------------------------------------------
  std::string store_path; // "" = memory only
  bool store_fsync = false;

  // -- [metrics] ------------------------------------------------------------
  bool metrics_enabled = true;

  // -- [log] ----------------------------------------------------------------
  std::string log_level = "info";
  std::string log_format = "text";

  config();

  /// True if any `openssl.*` option is set: the cluster port then speaks
  /// mutually authenticated TLS.
  bool tls() const;

  /// The node's full name: `<name>@<hostname>`, or `nonode@nohost` without a
  /// name and without clustering.
  std::string full_node_name() const;

  /// Checks settings as parsed, before CAF dropped what it did not like:
  /// in our sections unknown keys, and everywhere wrong types and invalid
  /// values of the options declared (CAF's own included). Derived from the
  /// option set: a new option needs no entry here, only one in
  /// `constraints()` if its type does not say enough. Returns one message
  /// naming the key, or nothing.
  std::optional<std::string> validate(const caf::settings& content) const;

  /// The sections of agentmesh's own options (not CAF's).
  std::set<std::string> own_sections() const;

  /// Full names (`section.key`) of agentmesh's own options.
  std::vector<std::string> own_options() const;

private:
  /// CAF's options come first in the option set; ours follow.
  size_t caf_options_ = 0;
};

/// Parses the command line and config file, applies `PORT`, validates our
/// sections and fills in defaults CAF lacks (middleman heartbeats). Returns
/// an exit code if the program must stop (after printing why): 0 after
/// `--help`, 2 for any configuration error.
std::optional<int> load(config& cfg, int argc, char** argv);

/// The node's scheduler settings where none are configured: one worker per
/// core, no "moderate" polling phase (`load` applies them; benchmarks that
/// must run like a node call it too).
void scheduler_defaults(caf::actor_system_config& cfg);

/// With TLS on, loads certificate, key (with passphrase) and CA with OpenSSL
/// the way CAF will, so that a mistake stops start-up instead of hanging or
/// killing the node at its first connection. Returns a message naming the
/// option, or nothing.
std::optional<std::string> check_tls(const config& cfg);

} // namespace am::app
