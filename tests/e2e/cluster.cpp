#define CAF_SUITE e2e_cluster

#include "tests/e2e/fixture.hpp"

#include <csignal>
#include <future>

using namespace e2e;

namespace {

constexpr auto heartbeat = 200ms;
constexpr auto connection_timeout = 1s;

/// SPEC 4 behaviour: agents of a node that goes down are gone (no backup).
const std::vector<std::string> no_replicas{"--agents.replicas=0"};

} // namespace

// Everything ../shared/acceptance/checkpoint.sh checks across two nodes.
CAF_TEST(cross-node walk-through) {
  cluster_node n1{"n1", {}};
  cluster_node n2{"n2", {n1.proc->cluster_port}};
  CAF_REQUIRE(n1.sees(2));
  CAF_REQUIRE(n2.sees(2));
  auto info = n1.call("GetClusterInfo", json::object())["result"];
  CAF_CHECK(info["connected"] == json::array({n2.name()}));
  n1.call("StartAgent", {{"name", "Worker"}});
  auto r = n2.call("StartAgent", {{"name", "Analyzer"}});
  CAF_CHECK(r["result"]["status"] == "started");
  CAF_CHECK(r["result"]["node"] == n2.name());
  r = n1.call("StartAgent", {{"name", "Analyzer"}});
  CAF_CHECK(r["result"]["status"] == "already_exists");
  CAF_CHECK(r["result"]["node"] == n2.name());
  CAF_CHECK(eventually([&] {
    auto xs = n1.agents();
    return xs["Analyzer"] == n2.name() && xs["Worker"] == n1.name();
  }));
  r = n1.call("SendMessage", {{"agent", "Analyzer"}, {"action", "analyze"},
                              {"params", {{"data", "cross-node test"}}}});
  CAF_CHECK(r["result"]["status"] == "created");
  CAF_CHECK(r["result"]["node"] == n2.name());
  auto tid = r["result"]["task_id"];
  // The task is visible at once, through either node.
  CAF_CHECK(n2.call("GetAgentState", {{"agent", "Analyzer"}})["result"]
              ["inbox_count"] == 1);
  CAF_CHECK(n1.call("GetTask", {{"task_id", tid}})["result"]["node"]
            == n2.name());
  r = n1.call("ProcessNext", {{"agent", "Analyzer"}});
  CAF_CHECK(r["result"]["result"]["ok"] == "Analysis of: cross-node test");
  CAF_CHECK(r["result"]["task_id"] == tid);
  for (int i = 0; i < 2; ++i) {
    r = n1.call("GetAgentState", {{"agent", "Analyzer"}});
    CAF_CHECK(r["result"]["processed_count"] == 1);
    CAF_CHECK(r["result"]["inbox_count"] == 0);
    CAF_CHECK(r["result"]["node"] == n2.name());
  }
  // Stopping through the other node removes it everywhere.
  r = n1.call("StopAgent", {{"agent", "Analyzer"}});
  CAF_CHECK(r["result"]["status"] == "stopped");
  CAF_CHECK(eventually([&] { return n1.agents().count("Analyzer") == 0; }));
  CAF_CHECK(n2.agents().count("Analyzer") == 0);
  CAF_CHECK(n2.call("GetAgentState", {{"agent", "Analyzer"}})["error"]["code"]
            == -32001);
  CAF_CHECK(n1.proc->wait_for_log("[ClusterMonitor] Node connected: "
                                  + n2.name()));
  CAF_CHECK(n1.proc->wait_for_log("[AgentEventLogger] cluster: node_up "
                                  + n2.name()));
}

CAF_TEST(three nodes form a full mesh from one seed; events reach every node) {
  cluster_node n1{"n1", {}};
  cluster_node n2{"n2", {n1.proc->cluster_port}};
  cluster_node n3{"n3", {n1.proc->cluster_port}};
  for (auto* n : {&n1, &n2, &n3})
    CAF_CHECK(n->sees(3));
  connection sse{n1.port()};
  sse.send("GET /events?topic=agent:events HTTP/1.1\r\nHost: x\r\n\r\n");
  CAF_REQUIRE(sse.read_until(": subscribed\n\n"));
  n3.call("StartAgent", {{"name", "Far"}});
  auto line = sse.read_until("\n\n");
  CAF_REQUIRE(line);
  auto ev = json::parse(line->substr(6));
  CAF_CHECK(ev["event"] == "agent_started");
  CAF_CHECK(ev["agent"] == "Far");
  CAF_CHECK(ev["node"] == n3.name());
  CAF_CHECK(ev["source_node"] == n3.name());
  CAF_CHECK(n2.proc->wait_for_log("[AgentEventLogger] agent_started: Far on "
                                  + n3.name()));
  // n2 never listed n3 as a seed: routing goes direct through gossip.
  auto r = n2.call("SendMessage", {{"agent", "Far"}, {"action", "search"}});
  CAF_CHECK(r["result"]["node"] == n3.name());
}

CAF_TEST(kill -9 then restart on the same ports) {
  cluster_node n1{"n1", {}, "e2e-cookie", 0, 0, no_replicas};
  cluster_node n2{"n2", {n1.proc->cluster_port}, "e2e-cookie", 0, 0,
                  no_replicas};
  auto n3 = std::make_unique<cluster_node>(
    "n3", std::vector<uint16_t>{n1.proc->cluster_port}, "e2e-cookie", 0, 0,
    no_replicas);
  CAF_REQUIRE(n1.sees(3));
  CAF_REQUIRE(n2.sees(3));
  n3->call("StartAgent", {{"name", "Doomed"}});
  n1.call("StartAgent", {{"name", "Survivor"}});
  CAF_REQUIRE(eventually([&] { return n2.agents().count("Doomed") == 1; }));
  auto http3 = n3->port();
  auto cluster3 = n3->proc->cluster_port;
  auto name3 = n3->name();
  auto t0 = clock_type::now();
  n3->proc->stop(SIGKILL);
  CAF_CHECK(n1.sees(2, 1s));
  CAF_CHECK(n2.sees(2, 1s));
  CAF_MESSAGE("kill -9 -> node_down after " << ms_since(t0).count() << " ms");
  CAF_CHECK(n1.proc->wait_for_log("[ClusterMonitor] Node disconnected: "
                                  + name3));
  CAF_CHECK(n1.proc->wait_for_log("[warning] [AgentEventLogger] cluster: "
                                  "node_down " + name3));
  CAF_CHECK(n1.agents().count("Doomed") == 0);
  CAF_CHECK(n2.call("GetAgentState", {{"agent", "Doomed"}})["error"]["code"]
            == -32001);
  CAF_CHECK(n2.call("SendMessage", {{"agent", "Doomed"}, {"action", "x"}})
              ["error"]["code"] == -32001);
  CAF_CHECK(n2.call("SendMessage", {{"agent", "Survivor"}, {"action", "x"}})
              ["result"]["status"] == "created");
  n3.reset();
  t0 = clock_type::now();
  cluster_node again{"n3", {n1.proc->cluster_port}, "e2e-cookie", http3,
                     cluster3, no_replicas};
  CAF_CHECK(n1.sees(3, 5s));
  CAF_CHECK(n2.sees(3, 5s));
  CAF_MESSAGE("restart -> total_nodes 3 after " << ms_since(t0).count()
                                                << " ms");
  CAF_CHECK(again.agents().count("Survivor") == 1);
}

CAF_TEST(a hung node is down within the connection timeout and then back) {
  cluster_node n1{"n1", {}, "e2e-cookie", 0, 0, no_replicas};
  cluster_node n2{"n2", {n1.proc->cluster_port}, "e2e-cookie", 0, 0,
                  no_replicas};
  CAF_REQUIRE(n1.sees(2));
  n2.call("StartAgent", {{"name", "Sleeper"}});
  CAF_REQUIRE(eventually([&] { return n1.agents().count("Sleeper") == 1; }));
  auto t0 = clock_type::now();
  kill(n2.proc->pid, SIGSTOP);
  CAF_CHECK(n1.sees(1, connection_timeout + 4 * heartbeat + 1s));
  CAF_MESSAGE("SIGSTOP -> node_down after " << ms_since(t0).count() << " ms");
  CAF_CHECK(n1.agents().count("Sleeper") == 0);
  kill(n2.proc->pid, SIGCONT);
  t0 = clock_type::now();
  CAF_CHECK(n1.sees(2, 5s));
  CAF_MESSAGE("SIGCONT -> node_up after " << ms_since(t0).count() << " ms");
  CAF_CHECK(eventually([&] { return n1.agents().count("Sleeper") == 1; }));
  auto r = n1.call("SendMessage", {{"agent", "Sleeper"}, {"action", "search"}});
  CAF_CHECK(r["result"]["status"] == "created");
  CAF_CHECK(r["result"]["node"] == n2.name());
}

CAF_TEST(a node with another cookie never joins) {
  cluster_node n1{"n1", {}};
  n1.call("StartAgent", {{"name", "Secret"}});
  cluster_node evil{"evil", {n1.proc->cluster_port}, "not-the-cookie"};
  CAF_CHECK(evil.proc->wait_for_log("cookie mismatch"));
  CAF_CHECK_EQUAL(n1.total_nodes(), 1u);
  CAF_CHECK_EQUAL(evil.total_nodes(), 1u);
  CAF_CHECK(evil.agents().empty());
  CAF_CHECK(evil.call("GetAgentState", {{"agent", "Secret"}})["error"]["code"]
            == -32001);
  // n1 also refuses a joiner that guesses (n1 as the connecting side).
  cluster_node n2{"n2", {evil.proc->cluster_port}, "e2e-cookie"};
  CAF_CHECK(n2.proc->wait_for_log("cookie mismatch"));
  CAF_CHECK_EQUAL(evil.total_nodes(), 1u);
}

CAF_TEST(two nodes starting the same name at once keep exactly one) {
  cluster_node n1{"n1", {}};
  cluster_node n2{"n2", {n1.proc->cluster_port}};
  CAF_REQUIRE(n1.sees(2));
  int true_races = 0;
  for (int round = 0; round < 5; ++round) {
    auto name = "Twin-" + std::to_string(round);
    auto a = std::async(std::launch::async, [&] {
      return n1.call("StartAgent", {{"name", name}});
    });
    auto b = std::async(std::launch::async, [&] {
      return n2.call("StartAgent", {{"name", name}});
    });
    auto ra = a.get();
    auto rb = b.get();
    CAF_CHECK(ra["result"]["status"] == "started"
              || rb["result"]["status"] == "started");
    // Once the entries have crossed, both nodes agree on one holder, and
    // that agent answers.
    std::string holder;
    CAF_CHECK(eventually([&] {
      auto x = n1.agents();
      auto y = n2.agents();
      if (x.count(name) == 0 || y.count(name) == 0 || x[name] != y[name])
        return false;
      holder = x[name];
      return true;
    }));
    auto r = n1.call("GetAgentState", {{"agent", name}});
    CAF_CHECK(r["result"]["node"] == holder);
    auto& loser = holder == n1.name() ? n2 : n1;
    if (ra["result"]["status"] == "started"
        && rb["result"]["status"] == "started") {
      ++true_races;
      CAF_CHECK(loser.proc->wait_for_log("agent_stopped: " + name));
    }
    // Exactly one agent: the loser's node holds no such local agent.
    CAF_CHECK(loser.call("StopAgent", {{"agent", name}})["result"]["status"]
              == "stopped");
    CAF_CHECK(eventually([&] {
      return n1.agents().count(name) == 0 && n2.agents().count(name) == 0;
    }));
  }
  CAF_MESSAGE(true_races << " of 5 rounds started the name on both nodes");
}

CAF_TEST(a node shutting down leaves the cluster at once) {
  cluster_node n1{"n1", {}};
  cluster_node n2{"n2", {n1.proc->cluster_port}};
  CAF_REQUIRE(n1.sees(2));
  n2.call("StartAgent", {{"name", "Leaving"}});
  CAF_REQUIRE(eventually([&] { return n1.agents().count("Leaving") == 1; }));
  auto t0 = clock_type::now();
  CAF_CHECK_EQUAL(n2.proc->stop(SIGTERM), 0);
  CAF_CHECK(n1.sees(1, 1s));
  CAF_MESSAGE("SIGTERM -> node_down after " << ms_since(t0).count() << " ms");
  // Its agent moved to the one member left.
  auto agents = n1.agents();
  CAF_CHECK_EQUAL(agents["Leaving"], n1.name());
  CAF_CHECK(n2.proc->stderr_text().find("agent_stopped: Leaving")
            != std::string::npos);
}
