#include "app/config.hpp"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <algorithm>
#include <map>
#include <thread>

#include <caf/config_option_adder.hpp>
#include <caf/config_value.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <caf/settings.hpp>
#include <unistd.h>

#include "core/log.hpp"
#include "actors/vocabulary.hpp"
#include "http/request_parser.hpp"
#include "http/server.hpp"

namespace am::app {

config::config() {
  load<caf::io::middleman>();
  register_types(*this);
  caf_options_ = custom_options_.size();
  opt_group{custom_options_, "node"}.add(node_name, "name",
                                         "short node name (name@hostname)");
  opt_group{custom_options_, "http"}
    .add(http_host, "host", "address the HTTP server binds")
    .add(http_port, "port", "HTTP port (0 = ephemeral)")
    .add(max_header_bytes, "max-header-bytes",
         "limit of request line+headers, bytes (256..65536)")
    .add(max_body_bytes, "max-body-bytes", "limit of a request body")
    .add(idle_timeout, "idle-timeout", "close idle or too slow connections")
    .add(header_timeout, "header-timeout",
         "time a client has to send a complete request head (else 408)")
    .add(max_connections, "max-connections", "concurrent connections")
    .add(request_timeout, "request-timeout", "time limit for one RPC call")
    .add(max_batch, "max-batch", "requests in one JSON-RPC batch")
    .add(card_name, "card-name", "name in the agent card")
    .add(auth_token, "auth-token",
         "bearer token every route but /health and the cards needs")
    .add(inline_reads, "inline-reads",
         "answer GetAgentState of local agents on the HTTP thread");
  opt_group{custom_options_, "cluster"}
    .add(cluster_enabled, "enabled", "join a cluster")
    .add(cluster_host, "host", "address advertised to other nodes")
    .add(cluster_port, "port", "node-to-node port")
    .add(cluster_seeds, "seeds", "list of \"host:port\" to join")
    .add(cluster_cookie, "cookie", "shared secret of the cluster")
    .add(cluster_handshake_timeout, "handshake-timeout",
         "time a peer has to prove the cookie at the cluster port")
    .add(cluster_handoff, "handoff",
         "on shutdown, move local agents to other members");
  opt_group{custom_options_, "agents"}
    .add(max_restarts, "max-restarts", "restarts allowed within the window")
    .add(restart_window, "restart-window", "sliding window for restarts")
    .add(task_history, "task-history", "finished tasks kept per agent")
    .add(handoff_drain, "handoff-drain",
         "time a moving agent's running task gets to finish")
    .add(replicas, "replicas",
         "members that keep a copy of each agent (0 or 1; clustering only)")
    .add(max_inbox, "max-inbox",
         "unfinished tasks an agent takes; more get -32029")
    .add(passivate, "passivate",
         "an agent without tasks is a record until a message needs its actor");
  opt_group{custom_options_, "store"}
    .add(store_path, "path", "folder of the node's agent store (\"\": none)")
    .add(store_fsync, "fsync", "sync every commit to disk (power cuts)");
  opt_group{custom_options_, "metrics"}.add(
    metrics_enabled, "enabled",
    "count requests and tasks, serve GET /metrics (SPEC 12)");
  opt_group{custom_options_, "log"}
    .add(log_level, "level", "debug, info, warning or error")
    .add(log_format, "format",
         "text (SPEC 5 lines) or json (one object per line)");
}

bool config::tls() const {
  return !openssl_certificate.empty() || !openssl_key.empty()
         || !openssl_passphrase.empty() || !openssl_cafile.empty()
         || !openssl_capath.empty();
}

std::string config::full_node_name() const {
  if (node_name.empty() && !cluster_enabled)
    return "nonode@nohost";
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  auto name = node_name.empty() ? "node" + std::to_string(cluster_port)
                                : node_name;
  return name + "@" + host;
}

namespace {

using checker
  = std::function<std::optional<std::string>(const caf::config_value&)>;

/// Sizes and counts above this are mistakes (a terabyte, a trillion).
constexpr int64_t max_size = int64_t{1} << 40;

checker in_range(int64_t lo, int64_t hi = max_size) {
  return [=](const caf::config_value& x) -> std::optional<std::string> {
    auto v = caf::get_if<int64_t>(&x);
    if (!v || *v < lo || *v > hi)
      return "expected an integer in " + std::to_string(lo) + ".."
             + std::to_string(hi);
    return std::nullopt;
  };
}

/// A time limit: zero would time out everything at once.
checker above_zero() {
  return [](const caf::config_value& x) -> std::optional<std::string> {
    auto d = caf::get_if<caf::timespan>(&x);
    if (!d || d->count() <= 0)
      return std::string{"expected a duration above zero"};
    return std::nullopt;
  };
}

checker seeds_check() {
  return [](const caf::config_value& x) -> std::optional<std::string> {
    for (auto& s : caf::get<caf::config_value::list>(x)) {
      auto& str = caf::get<std::string>(s);
      auto colon = str.rfind(':');
      if (colon == std::string::npos || colon == 0)
        return "\"" + str + "\" is not host:port";
      auto port = str.substr(colon + 1);
      char* end = nullptr;
      auto p = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != '\0' || p < 1 || p > 65535)
        return "\"" + str + "\" is not host:port";
    }
    return std::nullopt;
  };
}

/// A string `parse` accepts; else the message lists `names`.
template <class Parse, class Names>
checker one_of(Parse parse, const Names& names) {
  std::string msg = "expected ";
  auto n = std::size(names);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0)
      msg += i + 1 == n ? " or " : ", ";
    msg += "\"" + std::string{log::to_string(names[i])} + "\"";
  }
  return [parse, msg](const caf::config_value& x) -> std::optional<std::string> {
    if (parse(caf::get<std::string>(x)))
      return std::nullopt;
    return msg;
  };
}

/// What an option's type cannot say (CAF checks the type and the range of
/// its integer type itself), by full name.
const std::map<std::string, checker>& constraints() {
  static const std::map<std::string, checker> result{
    // The parser's maximum: see http::max_head_limit.
    {"http.max-header-bytes",
     in_range(256, static_cast<int64_t>(http::max_head_limit))},
    {"http.max-body-bytes", in_range(0)},
    {"http.max-connections", in_range(1)},
    {"http.max-batch", in_range(1)},
    {"cluster.seeds", seeds_check()},
    {"http.idle-timeout", above_zero()},
    {"http.header-timeout", above_zero()},
    {"http.request-timeout", above_zero()},
    {"cluster.handshake-timeout", above_zero()},
    {"agents.max-restarts", in_range(0)},
    {"agents.max-inbox", in_range(1)},
    {"agents.task-history", in_range(1)},
    {"agents.replicas", in_range(0, 1)},
    {"log.level", one_of(log::parse_level, log::all_levels)},
    {"log.format", one_of(log::parse_format, log::all_formats)},
  };
  return result;
}

/// The message for a value CAF's check refused, by the option's type.
std::string expected(caf::string_view type) {
  std::string t{type.begin(), type.end()};
  if (t == "string")
    return "expected a quoted string";
  if (t == "boolean")
    return "expected true or false";
  if (t == "timespan")
    return "expected a duration such as 500ms or 3s";
  if (t == "uint16")
    return "expected an integer in 0..65535";
  if (t == "uint64" || t == "uint32")
    return "expected a non-negative integer";
  if (t == "list of string")
    return "expected a list of quoted strings";
  return "expected a value of type " + t;
}

std::string openssl_error() {
  char buf[256] = "unknown error";
  if (auto code = ERR_get_error())
    ERR_error_string_n(code, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

int passphrase_cb(char* buf, int size, int, void* ptr) {
  auto& pass = *static_cast<const std::string*>(ptr);
  if (pass.size() >= static_cast<size_t>(size))
    return 0;
  std::copy(pass.begin(), pass.end(), buf);
  return static_cast<int>(pass.size());
}

} // namespace

std::optional<std::string>
config::validate(const caf::settings& content) const {
  auto own = own_sections();
  for (auto& [section, value] : content) {
    // Our sections are checked key by key; in CAF's, the keys CAF knows
    // (CAF would drop a wrong value without a word); others are not ours.
    bool ours = own.count(section) > 0;
    bool known = ours
                 || std::any_of(custom_options_.begin(), custom_options_.end(),
                                [&](const caf::config_option& o) {
                                  return o.category() == section;
                                });
    if (!known)
      continue;
    auto dict = caf::get_if<caf::config_value::dictionary>(&value);
    if (!dict) {
      if (ours)
        return section + ": expected a section";
      continue;
    }
    for (auto& [key, x] : *dict) {
      auto name = section + "." + key;
      auto opt = custom_options_.qualified_name_lookup(section, key);
      if (!opt) {
        if (ours)
          return name + ": unknown option";
        continue;
      }
      if (opt->check(x))
        return name + ": " + expected(opt->type_name());
      if (auto d = caf::get_if<caf::timespan>(&x); d && d->count() < 0)
        return name + ": expected a positive duration";
      if (auto i = constraints().find(name); i != constraints().end())
        if (auto err = i->second(x))
          return name + ": " + *err;
    }
  }
  return std::nullopt;
}

std::set<std::string> config::own_sections() const {
  std::set<std::string> result;
  for (auto i = custom_options_.begin() + caf_options_;
       i != custom_options_.end(); ++i)
    result.emplace(i->category().begin(), i->category().end());
  return result;
}

std::vector<std::string> config::own_options() const {
  std::vector<std::string> result;
  for (auto i = custom_options_.begin() + caf_options_;
       i != custom_options_.end(); ++i)
    result.emplace_back(i->full_name().begin(), i->full_name().end());
  return result;
}

std::optional<std::string> check_tls(const config& cfg) {
  if (!cfg.tls())
    return std::nullopt;
  if (cfg.openssl_certificate.empty())
    return std::string{"openssl.certificate: required when TLS is on"};
  if (cfg.openssl_key.empty())
    return std::string{"openssl.key: required when TLS is on"};
  if (cfg.openssl_cafile.empty() && cfg.openssl_capath.empty())
    return std::string{"openssl.cafile: required when TLS is on (or capath)"};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(
                                                          TLS_method()),
                                                        SSL_CTX_free};
  if (!ctx)
    return "openssl: " + openssl_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(),
                                         cfg.openssl_certificate.c_str())
      != 1)
    return "openssl.certificate: cannot load " + cfg.openssl_certificate
           + ": " + openssl_error();
  SSL_CTX_set_default_passwd_cb(ctx.get(), passphrase_cb);
  SSL_CTX_set_default_passwd_cb_userdata(
    ctx.get(), const_cast<std::string*>(&cfg.openssl_passphrase));
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), cfg.openssl_key.c_str(),
                                  SSL_FILETYPE_PEM)
      != 1)
    return "openssl.key: cannot load " + cfg.openssl_key
           + " (wrong file or openssl.passphrase): " + openssl_error();
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return "openssl.key: does not match openssl.certificate: "
           + openssl_error();
  auto cafile = cfg.openssl_cafile.empty() ? nullptr
                                           : cfg.openssl_cafile.c_str();
  auto capath = cfg.openssl_capath.empty() ? nullptr
                                           : cfg.openssl_capath.c_str();
  if (SSL_CTX_load_verify_locations(ctx.get(), cafile, capath) != 1)
    return std::string{"openssl.cafile: cannot load CA: "} + openssl_error();
  return std::nullopt;
}

void scheduler_defaults(caf::actor_system_config& cfg) {
  // One scheduler worker per core unless configured: CAF's default of at
  // least 4 puts twice the threads on a 2-core machine, and measured here
  // that cost about a tenth of the CPU per request and per started agent
  // (workers sleeping and waking each other).
  if (!caf::get_if(&cfg.content, "scheduler.max-threads"))
    cfg.set("scheduler.max-threads",
            std::max<size_t>(1, std::thread::hardware_concurrency()));
  // An idle worker goes from spinning straight to waiting to be woken,
  // skipping CAF's "moderate" phase of 50 us sleeps that nobody cuts short
  // (with the kernel's timer slack, about 100 us): measured here, a
  // cross-node round trip at one connection went from 270 to 145 us, for
  // about 5% fewer GetAgentState/s at full load.
  if (!caf::get_if(&cfg.content, "work-stealing.moderate-poll-attempts"))
    cfg.set("work-stealing.moderate-poll-attempts", size_t{1});
}

std::optional<int> load(config& cfg, int argc, char** argv) {
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "agentmesh: configuration error: " << to_string(err) << '\n';
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  // OpenSSL only for a node that speaks TLS: initialising it touches about
  // 3 MB of libcrypto that a plain node never needs (idle RSS).
  if (cfg.tls())
    cfg.load<caf::openssl::manager>();
  scheduler_defaults(cfg);
  if (!cfg.remainder.empty()) {
    std::cerr << "agentmesh: configuration error: unexpected argument "
              << cfg.remainder.front() << '\n';
    return 2;
  }
  // PORT overrides the file; an explicit --http.port overrides PORT.
  bool cli_port = false;
  for (int i = 1; i < argc; ++i)
    if (std::string{argv[i]}.rfind("--http.port", 0) == 0)
      cli_port = true;
  if (auto env = std::getenv("PORT"); env != nullptr && !cli_port) {
    char* end = nullptr;
    auto port = std::strtol(env, &end, 10);
    if (*env == '\0' || *end != '\0' || port < 0 || port > 65535) {
      std::cerr << "agentmesh: configuration error: PORT: expected an "
                   "integer in 0..65535\n";
      return 2;
    }
    cfg.http_port = static_cast<uint16_t>(port);
    cfg.set("http.port", port);
  }
  // CAF drops wrongly typed values of declared options without a word, so
  // check the file as written, then what the command line added.
  caf::settings raw;
  if (std::ifstream file{cfg.config_file_path}) {
    auto parsed = caf::actor_system_config::parse_config(file);
    if (!parsed) {
      std::cerr << "agentmesh: configuration error: "
                << to_string(parsed.error()) << '\n';
      return 2;
    }
    raw = std::move(*parsed);
  }
  for (auto* content : {&raw, &cfg.content}) {
    if (auto err = cfg.validate(*content)) {
      std::cerr << "agentmesh: configuration error in "
                << (content == &raw ? cfg.config_file_path
                                    : std::string{"command line"})
                << ": " << *err << '\n';
      return 2;
    }
  }
  if (auto err = check_tls(cfg)) {
    std::cerr << "agentmesh: configuration error: " << *err << '\n';
    return 2;
  }
  // CAF 0.17.6 turns heartbeats off by default; a frozen peer is then never
  // detected. Default them unless the user chose.
  using namespace std::chrono;
  if (!caf::get_if<caf::timespan>(&cfg, "middleman.heartbeat-interval"))
    cfg.set("middleman.heartbeat-interval", caf::timespan{milliseconds(250)});
  if (!caf::get_if<caf::timespan>(&cfg, "middleman.connection-timeout"))
    cfg.set("middleman.connection-timeout",
            caf::timespan{milliseconds(1250)});
  log::set_level(*log::parse_level(cfg.log_level));
  log::set_format(*log::parse_format(cfg.log_format));
  return std::nullopt;
}

} // namespace am::app
