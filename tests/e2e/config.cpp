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

// Whether the agent or its board answered is checked in the worker tests;
// here: the option is read from the file and both answer alike end to end.
CAF_TEST(GetAgentState reads the same with and without inline reads) {
  std::vector<json> states;
  for (auto inline_reads : {"true", "false"}) {
    // (CAF 0.17 takes boolean options as bare flags on the command line.)
    temp_file conf{std::string{"[http]\ninline-reads="} + inline_reads
                   + "\n"};
    node_process p{{"--config-file=" + conf.path, "--http.port=0"}};
    CAF_REQUIRE(p.ready());
    rpc(p.http_port, "StartAgent",
        {{"name", "G"}, {"memory", {{"role", "r"}}}});
    rpc(p.http_port, "SendMessage", {{"agent", "G"}, {"action", "search"}});
    rpc(p.http_port, "SendMessage", {{"agent", "G"}, {"action", "search"}});
    rpc(p.http_port, "ProcessNext", {{"agent", "G"}});
    auto r = rpc(p.http_port, "GetAgentState", {{"agent", "G"}});
    CAF_CHECK(r["result"]["node"] == p.node_name);
    r["result"].erase("node");
    states.push_back(r);
    CAF_CHECK(rpc(p.http_port, "GetAgentState", {{"agent", "nope"}})
                ["error"]["code"]
              == -32001);
    CAF_CHECK_EQUAL(p.stop(SIGTERM), 0);
  }
  CAF_CHECK(states[0]["result"]["inbox_count"] == 1);
  CAF_CHECK(states[0]["result"]["processed_count"] == 1);
  CAF_CHECK(states[0]["result"]["memory_keys"]
            == json::array({"last_result", "role"}));
  CAF_CHECK_EQUAL(states[0].dump(), states[1].dump());
}
