#include "app/config.hpp"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>

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
#include "http/server.hpp"

namespace am::app {

config::config() {
  load<caf::io::middleman>();
  load<caf::openssl::manager>();
  register_types(*this);
  opt_group{custom_options_, "node"}.add(node_name, "name",
                                         "short node name (name@hostname)");
  opt_group{custom_options_, "http"}
    .add(http_host, "host", "address the HTTP server binds")
    .add(http_port, "port", "HTTP port (0 = ephemeral)")
    .add(max_header_bytes, "max-header-bytes", "limit of request line+headers")
    .add(max_body_bytes, "max-body-bytes", "limit of a request body")
    .add(idle_timeout, "idle-timeout", "close idle or too slow connections")
    .add(max_connections, "max-connections", "concurrent connections")
    .add(request_timeout, "request-timeout", "time limit for one RPC call")
    .add(card_name, "card-name", "name in the agent card");
  opt_group{custom_options_, "cluster"}
    .add(cluster_enabled, "enabled", "join a cluster")
    .add(cluster_host, "host", "address advertised to other nodes")
    .add(cluster_port, "port", "node-to-node port")
    .add(cluster_seeds, "seeds", "list of \"host:port\" to join")
    .add(cluster_cookie, "cookie", "shared secret of the cluster")
    .add(cluster_handoff, "handoff",
         "on shutdown, move local agents to other members");
  opt_group{custom_options_, "agents"}
    .add(max_restarts, "max-restarts", "restarts allowed within the window")
    .add(restart_window, "restart-window", "sliding window for restarts")
    .add(task_history, "task-history", "finished tasks kept per agent")
    .add(handoff_drain, "handoff-drain",
         "time a moving agent's running task gets to finish")
    .add(replicas, "replicas",
         "members that keep a copy of each agent (0 or 1; clustering only)");
  opt_group{custom_options_, "store"}
    .add(store_path, "path", "folder of the node's agent store (\"\": none)")
    .add(store_fsync, "fsync", "sync every commit to disk (power cuts)");
  opt_group{custom_options_, "log"}.add(log_level, "level",
                                        "debug, info, warning or error");
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

using checker = std::function<std::optional<std::string>(const caf::config_value&)>;

template <class T>
bool is(const caf::config_value& x) {
  return caf::holds_alternative<T>(x);
}

checker string_check() {
  return [](const caf::config_value& x) -> std::optional<std::string> {
    if (!is<std::string>(x))
      return "expected a quoted string";
    return std::nullopt;
  };
}

checker integer_check(int64_t lo, int64_t hi) {
  return [=](const caf::config_value& x) -> std::optional<std::string> {
    auto v = caf::get_if<int64_t>(&x);
    if (!v || *v < lo || *v > hi)
      return "expected an integer in " + std::to_string(lo) + ".."
             + std::to_string(hi);
    return std::nullopt;
  };
}

checker duration_check() {
  return [](const caf::config_value& x) -> std::optional<std::string> {
    if (!is<caf::timespan>(x))
      return "expected a duration such as 500ms or 3s";
    if (caf::get<caf::timespan>(x).count() < 0)
      return "expected a positive duration";
    return std::nullopt;
  };
}

checker bool_check() {
  return [](const caf::config_value& x) -> std::optional<std::string> {
    if (!is<bool>(x))
      return "expected true or false";
    return std::nullopt;
  };
}

checker seeds_check() {
  return [](const caf::config_value& x) -> std::optional<std::string> {
    auto xs = caf::get_if<caf::config_value::list>(&x);
    if (!xs)
      return "expected a list of \"host:port\" strings";
    for (auto& s : *xs) {
      auto str = caf::get_if<std::string>(&s);
      if (!str)
        return "expected a list of \"host:port\" strings";
      auto colon = str->rfind(':');
      if (colon == std::string::npos || colon == 0)
        return "\"" + *str + "\" is not host:port";
      auto port = str->substr(colon + 1);
      char* end = nullptr;
      auto p = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != '\0' || p < 1 || p > 65535)
        return "\"" + *str + "\" is not host:port";
    }
    return std::nullopt;
  };
}

checker level_check() {
  return [](const caf::config_value& x) -> std::optional<std::string> {
    auto str = caf::get_if<std::string>(&x);
    if (!str || !log::parse_level(*str))
      return "expected \"debug\", \"info\", \"warning\" or \"error\"";
    return std::nullopt;
  };
}

using schema_t = std::map<std::string, std::map<std::string, checker>>;

const schema_t& schema() {
  static const auto max_size = int64_t{1} << 40;
  static const schema_t result{
    {"node", {{"name", string_check()}}},
    {"http",
     {{"host", string_check()},
      {"port", integer_check(0, 65535)},
      {"max-header-bytes", integer_check(256, max_size)},
      {"max-body-bytes", integer_check(0, max_size)},
      {"idle-timeout", duration_check()},
      {"max-connections", integer_check(1, max_size)},
      {"request-timeout", duration_check()},
      {"card-name", string_check()}}},
    {"cluster",
     {{"enabled", bool_check()},
      {"host", string_check()},
      {"port", integer_check(0, 65535)},
      {"seeds", seeds_check()},
      {"cookie", string_check()},
      {"handoff", bool_check()}}},
    {"agents",
     {{"max-restarts", integer_check(0, max_size)},
      {"restart-window", duration_check()},
      {"task-history", integer_check(1, max_size)},
      {"handoff-drain", duration_check()},
      {"replicas", integer_check(0, 1)}}},
    {"store", {{"path", string_check()}, {"fsync", bool_check()}}},
    {"log", {{"level", level_check()}}},
  };
  return result;
}

/// Sections owned by CAF in which we check only the keys we rely on.
const schema_t& caf_schema() {
  static const schema_t result{
    {"middleman",
     {{"heartbeat-interval", duration_check()},
      {"connection-timeout", duration_check()}}},
    {"openssl",
     {{"certificate", string_check()},
      {"key", string_check()},
      {"passphrase", string_check()},
      {"cafile", string_check()},
      {"capath", string_check()}}},
  };
  return result;
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

std::optional<std::string> validate(const caf::settings& content) {
  auto check = [&](const schema_t& s,
                   bool strict) -> std::optional<std::string> {
    for (auto& [section, keys] : s) {
      auto i = content.find(section);
      if (i == content.end())
        continue;
      auto dict = caf::get_if<caf::config_value::dictionary>(&i->second);
      if (!dict)
        return section + ": expected a section";
      for (auto& [key, value] : *dict) {
        auto k = keys.find(key);
        if (k == keys.end()) {
          if (strict)
            return section + "." + key + ": unknown option";
          continue;
        }
        if (auto err = k->second(value))
          return section + "." + key + ": " + *err;
      }
    }
    return std::nullopt;
  };
  if (auto err = check(schema(), true))
    return err;
  return check(caf_schema(), false);
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

std::optional<int> load(config& cfg, int argc, char** argv) {
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "agentmesh: configuration error: " << to_string(err) << '\n';
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
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
    if (auto err = validate(*content)) {
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
    cfg.set("middleman.heartbeat-interval", caf::timespan{milliseconds(500)});
  if (!caf::get_if<caf::timespan>(&cfg, "middleman.connection-timeout"))
    cfg.set("middleman.connection-timeout", caf::timespan{seconds(3)});
  log::set_level(*log::parse_level(cfg.log_level));
  return std::nullopt;
}

} // namespace am::app
