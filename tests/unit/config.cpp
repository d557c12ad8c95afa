#define CAF_SUITE config

#include <caf/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "app/config.hpp"

using namespace am::app;

namespace {

struct fixture {
  std::string path;

  fixture() {
    char tmpl[] = "/tmp/agentmesh-config-XXXXXX";
    auto fd = mkstemp(tmpl);
    close(fd);
    path = tmpl;
    unsetenv("PORT");
  }

  ~fixture() {
    std::remove(path.c_str());
    unsetenv("PORT");
  }

  /// Loads `ini` plus extra CLI arguments; returns load's exit code or -1.
  int load_ini(const std::string& ini, std::vector<std::string> args = {}) {
    std::ofstream{path} << ini;
    std::vector<std::string> argv_s{"agentmesh", "--config-file=" + path};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    cfg = std::make_unique<config>();
    auto code = load(*cfg, static_cast<int>(argv.size()), argv.data());
    return code ? *code : -1;
  }

  std::unique_ptr<config> cfg;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(config_tests, fixture)

CAF_TEST(a full file is read) {
  auto ini = R"(
[node]
name="node1"
[http]
host="127.0.0.1"
port=4100
max-body-bytes=2048
idle-timeout=2s
inline-reads=false
[cluster]
enabled=true
port=5001
seeds=["127.0.0.1:5000"]
cookie="secret"
[agents]
max-restarts=3
restart-window=10s
[log]
level="warning"
)";
  CAF_REQUIRE_EQUAL(load_ini(ini), -1);
  CAF_CHECK_EQUAL(cfg->node_name, "node1");
  CAF_CHECK_EQUAL(cfg->http_port, 4100u);
  CAF_CHECK_EQUAL(cfg->max_body_bytes, 2048u);
  CAF_CHECK(cfg->idle_timeout == std::chrono::seconds(2));
  CAF_CHECK(!cfg->inline_reads);
  CAF_CHECK(cfg->cluster_enabled);
  CAF_CHECK_EQUAL(cfg->cluster_seeds,
                  std::vector<std::string>{"127.0.0.1:5000"});
  CAF_CHECK_EQUAL(cfg->max_restarts, 3u);
  CAF_CHECK_EQUAL(cfg->log_level, "warning");
  CAF_CHECK(cfg->full_node_name().rfind("node1@", 0) == 0u);
}

CAF_TEST(defaults and the node name without clustering) {
  CAF_REQUIRE_EQUAL(load_ini(""), -1);
  CAF_CHECK_EQUAL(cfg->http_port, 4000u);
  CAF_CHECK(cfg->inline_reads);
  CAF_CHECK_EQUAL(cfg->full_node_name(), "nonode@nohost");
  // Heartbeats are switched on even when the file says nothing: a frozen
  // peer is down within about 1.5 s.
  using namespace std::chrono;
  auto hb = caf::get_if<caf::timespan>(cfg.get(),
                                       "middleman.heartbeat-interval");
  auto to = caf::get_if<caf::timespan>(cfg.get(),
                                       "middleman.connection-timeout");
  CAF_REQUIRE(hb && to);
  CAF_CHECK_EQUAL(duration_cast<milliseconds>(*hb).count(), 250);
  CAF_CHECK_EQUAL(duration_cast<milliseconds>(*to).count(), 1250);
}

CAF_TEST(one scheduler worker per core and no moderate polling unless configured) {
  CAF_REQUIRE_EQUAL(load_ini(""), -1);
  auto cores = std::max<size_t>(1, std::thread::hardware_concurrency());
  auto n = caf::get_if<size_t>(cfg.get(), "scheduler.max-threads");
  CAF_REQUIRE(n);
  CAF_CHECK_EQUAL(*n, cores);
  auto polls = caf::get_if<size_t>(cfg.get(),
                                   "work-stealing.moderate-poll-attempts");
  CAF_REQUIRE(polls);
  CAF_CHECK_EQUAL(*polls, 1u);
  CAF_REQUIRE_EQUAL(load_ini("[scheduler]\nmax-threads=7\n"), -1);
  n = caf::get_if<size_t>(cfg.get(), "scheduler.max-threads");
  CAF_REQUIRE(n);
  CAF_CHECK_EQUAL(*n, 7u);
  CAF_REQUIRE_EQUAL(load_ini("[work-stealing]\nmoderate-poll-attempts=50\n"),
                    -1);
  auto polls50 = caf::get_if<size_t>(cfg.get(),
                                     "work-stealing.moderate-poll-attempts");
  CAF_REQUIRE(polls50);
  CAF_CHECK_EQUAL(*polls50, 50u);
  CAF_REQUIRE_EQUAL(load_ini("", {"--scheduler.max-threads=3"}), -1);
  n = caf::get_if<size_t>(cfg.get(), "scheduler.max-threads");
  CAF_REQUIRE(n);
  CAF_CHECK_EQUAL(*n, 3u);
}

CAF_TEST(the OpenSSL module is loaded only for TLS) {
  CAF_REQUIRE_EQUAL(load_ini(""), -1);
  auto plain = cfg->module_factories.size();
  // (Refused afterwards for the missing key, but the module came first.)
  CAF_CHECK_EQUAL(load_ini("[openssl]\ncertificate=\"/x/cert.pem\"\n"), 2);
  CAF_CHECK_EQUAL(cfg->module_factories.size(), plain + 1);
}

CAF_TEST(command line and PORT override the file) {
  CAF_REQUIRE_EQUAL(load_ini("[http]\nport=4100\n", {"--node.name=n9"}), -1);
  CAF_CHECK_EQUAL(cfg->node_name, "n9");
  setenv("PORT", "4200", 1);
  CAF_REQUIRE_EQUAL(load_ini("[http]\nport=4100\n"), -1);
  CAF_CHECK_EQUAL(cfg->http_port, 4200u);
  CAF_REQUIRE_EQUAL(load_ini("[http]\nport=4100\n", {"--http.port=4300"}), -1);
  CAF_CHECK_EQUAL(cfg->http_port, 4300u);
  setenv("PORT", "http", 1);
  CAF_CHECK_EQUAL(load_ini(""), 2);
}

CAF_TEST(unknown keys and wrong types stop start-up) {
  CAF_CHECK_EQUAL(load_ini("[http]\nprot=4100\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[http]\nport=\"abc\"\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[http]\nport=70000\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[http]\nidle-timeout=5\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[cluster]\nseeds=\"127.0.0.1:5000\"\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[cluster]\nseeds=[\"nohostport\"]\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[cluster]\nenabled=\"yes\"\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[agents]\nmax-restarts=-1\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[log]\nlevel=\"loud\"\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[middleman]\nheartbeat-interval=\"1s\"\n"), 2);
  CAF_CHECK_EQUAL(load_ini("[nodes]\nname=\"x\"\n"), -1); // not our section
  CAF_CHECK_EQUAL(load_ini("[node]\nname=unquoted\n"), 2); // CAF parse error
}

CAF_TEST(validate names the key) {
  caf::settings xs;
  caf::put(xs, "http.prot", 1);
  config cfg;
  auto err = cfg.validate(xs);
  CAF_REQUIRE(err);
  CAF_CHECK(*err == "http.prot: unknown option");
}

CAF_TEST(every option of the code is listed in conf/node1.ini) {
  // The shipped file documents every option: parse it as CAF does and
  // look each of our options up in it.
  std::ifstream file{std::string{AGENTMESH_SOURCE_DIR} + "/conf/node1.ini"};
  CAF_REQUIRE(file);
  auto parsed = caf::actor_system_config::parse_config(file);
  CAF_REQUIRE(parsed);
  config cfg;
  auto names = cfg.own_options();
  CAF_CHECK_GREATER(names.size(), 20u);
  for (auto& name : names) {
    auto dot = name.find('.');
    auto section = caf::get_if<caf::settings>(&*parsed, name.substr(0, dot));
    auto listed = section && section->count(name.substr(dot + 1)) > 0;
    if (!listed)
      CAF_FAIL("conf/node1.ini does not list " << name);
    CAF_CHECK(listed);
  }
  // And it is a valid configuration.
  CAF_CHECK(!cfg.validate(*parsed));
}

CAF_TEST(checks come from the option set) {
  config cfg;
  auto check = [&](std::string key, auto x) {
    caf::settings xs;
    caf::put(xs, key, x);
    auto err = cfg.validate(xs);
    return err ? *err : std::string{};
  };
  CAF_CHECK_EQUAL(check("http.port", int64_t{70000}),
                  "http.port: expected an integer in 0..65535");
  CAF_CHECK_EQUAL(check("agents.task-history", int64_t{-1}),
                  "agents.task-history: expected a non-negative integer");
  CAF_CHECK_EQUAL(check("agents.task-history", int64_t{0}),
                  "agents.task-history: expected an integer in 1..1099511627776");
  CAF_CHECK_EQUAL(check("http.max-body-bytes", int64_t{1} << 41),
                  "http.max-body-bytes: expected an integer in 0..1099511627776");
  CAF_CHECK_EQUAL(check("http.max-header-bytes", int64_t{65537}),
                  "http.max-header-bytes: expected an integer in 256..65536");
  CAF_CHECK_EQUAL(check("http.max-header-bytes", int64_t{65536}), "");
  CAF_CHECK_EQUAL(check("agents.replicas", int64_t{2}),
                  "agents.replicas: expected an integer in 0..1");
  CAF_CHECK_EQUAL(check("log.format", std::string{"xml"}),
                  "log.format: expected \"text\" or \"json\"");
  CAF_CHECK_EQUAL(check("log.level", std::string{"loud"}),
                  "log.level: expected \"debug\", \"info\", \"warning\" "
                  "or \"error\"");
  CAF_CHECK_EQUAL(check("store.fsync", std::string{"yes"}),
                  "store.fsync: expected true or false");
  CAF_CHECK_EQUAL(check("node.name", int64_t{1}),
                  "node.name: expected a quoted string");
  CAF_CHECK_EQUAL(check("http.idle-timeout", caf::timespan{-1}),
                  "http.idle-timeout: expected a positive duration");
  CAF_CHECK_EQUAL(check("http.header-timeout", caf::timespan{0}),
                  "http.header-timeout: expected a duration above zero");
  CAF_CHECK_EQUAL(check("cluster.handshake-timeout", caf::timespan{0}),
                  "cluster.handshake-timeout: expected a duration above zero");
  CAF_CHECK_EQUAL(check("agents.handoff-drain", caf::timespan{0}), "");
  // CAF's own sections: its keys are checked, others left alone.
  CAF_CHECK_EQUAL(check("scheduler.max-threads", std::string{"x"}),
                  "scheduler.max-threads: expected a non-negative integer");
  CAF_CHECK_EQUAL(check("scheduler.whatever", int64_t{1}), "");
  CAF_CHECK_EQUAL(check("http.port", int64_t{8080}), "");
  CAF_CHECK_EQUAL(check("log.format", std::string{"json"}), "");
}

CAF_TEST_FIXTURE_SCOPE_END()
