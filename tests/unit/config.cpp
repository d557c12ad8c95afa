#define CAF_SUITE config

#include <caf/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
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
  CAF_CHECK_EQUAL(cfg->full_node_name(), "nonode@nohost");
  // Heartbeats are switched on even when the file says nothing.
  CAF_CHECK(caf::get_if<caf::timespan>(cfg.get(),
                                       "middleman.heartbeat-interval"));
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

CAF_TEST_FIXTURE_SCOPE_END()
