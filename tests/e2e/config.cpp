#define CAF_SUITE e2e_config

#include "tests/e2e/fixture.hpp"

#include <csignal>

using namespace e2e;

CAF_TEST(unknown keys stop start-up with exit code 2) {
  temp_file conf{"[http]\nprot=4100\n"};
  node_process p{{"--config-file=" + conf.path}, {}, 5s};
  CAF_CHECK(!p.ready());
  CAF_CHECK_EQUAL(p.wait_exit(), 2);
  CAF_CHECK(p.stderr_text().find("http.prot") != std::string::npos);
}

CAF_TEST(wrong types stop start-up with exit code 2) {
  temp_file conf{"[agents]\nmax-restarts=\"many\"\n"};
  node_process p{{"--config-file=" + conf.path}, {}, 5s};
  CAF_CHECK_EQUAL(p.wait_exit(), 2);
  CAF_CHECK(p.stderr_text().find("agents.max-restarts") != std::string::npos);
}

CAF_TEST(PORT sets the HTTP port) {
  // Find a free port by letting a node pick one, then reuse it via PORT.
  uint16_t port;
  {
    temp_file conf{""};
    node_process probe{{"--config-file=" + conf.path, "--http.port=0"}};
    CAF_REQUIRE(probe.ready());
    port = probe.http_port;
    CAF_CHECK_EQUAL(probe.stop(SIGTERM), 0);
  }
  temp_file conf{"[http]\nport=1\n"};
  node_process p{{"--config-file=" + conf.path},
                 {{"PORT", std::to_string(port)}}};
  CAF_REQUIRE(p.ready());
  CAF_CHECK_EQUAL(p.http_port, port);
  CAF_CHECK_EQUAL(request(port, "GET", "/health").status, 200);
}

CAF_TEST(SIGTERM and SIGINT shut down cleanly) {
  for (auto sig : {SIGTERM, SIGINT}) {
    temp_file conf{"[node]\nname=\"n1\"\n"};
    node_process p{{"--config-file=" + conf.path, "--http.port=0"}};
    CAF_REQUIRE(p.ready());
    CAF_CHECK_EQUAL(p.node_name.rfind("n1@", 0), 0u);
    connection idle{p.http_port};
    idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CAF_REQUIRE(idle.read_response());
    CAF_CHECK_EQUAL(p.stop(sig), 0);
    CAF_CHECK(idle.wait_closed(1s));
  }
}
