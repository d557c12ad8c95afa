#define CAF_SUITE e2e_failover

#include "tests/e2e/fixture.hpp"
#include "tests/temp_dir.hpp"

#include <csignal>
#include <map>
#include <memory>
#include <set>

using namespace e2e;
using am::test::temp_dir;

namespace {

std::string name_of(int i) {
  return "F" + std::to_string(i);
}

std::string send(const cluster_node& n, const std::string& agent,
                 const std::string& query) {
  auto r = n.call("SendMessage", {{"agent", agent},
                                  {"action", "search"},
                                  {"params", {{"query", query}}}});
  return r["result"].value("task_id", std::string{});
}

std::string status_of(const cluster_node& n, const std::string& task) {
  return n.call("GetTask", {{"task_id", task}})["result"].value(
    "status", std::string{"missing"});
}

/// `a` and `b` list the same `count` agents, none of them on `gone`.
bool agree_without(const cluster_node& a, const cluster_node& b, size_t count,
                   const std::string& gone) {
  auto xs = a.agents();
  if (xs.size() != count || (&a != &b && xs != b.agents()))
    return false;
  for (auto& [name, node] : xs)
    if (node == gone)
      return false;
  return true;
}

} // namespace

CAF_TEST(kill -9 of a host : the survivors run its agents with every task) {
  temp_dir d1{"agentmesh-e2e-failover"}, d2{"agentmesh-e2e-failover"},
    d3{"agentmesh-e2e-failover"};
  cluster_node n1{"n1", {}, "e2e-cookie", 0, 0, {d1.store_option()}};
  cluster_node n2{"n2", {n1.proc->cluster_port}, "e2e-cookie", 0, 0,
                  {d2.store_option()}};
  auto n3 = std::make_unique<cluster_node>(
    "n3", std::vector<uint16_t>{n1.proc->cluster_port}, "e2e-cookie", 0, 0,
    std::vector<std::string>{d3.store_option()});
  CAF_REQUIRE(n1.sees(3));
  CAF_REQUIRE(n2.sees(3));
  CAF_REQUIRE(n3->sees(3));
  constexpr int n = 30;
  std::vector<std::string> acked;
  for (int i = 0; i < n; ++i) {
    auto r = n3->call("StartAgent",
                      {{"name", name_of(i)}, {"memory", {{"i", i}}}});
    CAF_REQUIRE_EQUAL(r["result"]["node"], n3->name());
    // Acknowledged through every node; one of three processed.
    for (auto* via : {&n1, &n2, n3.get()})
      acked.push_back(send(*via, name_of(i), "q"));
    n1.call("ProcessNext", {{"agent", name_of(i)}});
  }
  // A standard task running on the host when it dies.
  auto running = n1.call("SendMessage",
                         standard_message("m1", {{"agent", name_of(0)},
                                                 {"action", "sleep"},
                                                 {"params", {{"ms", 60000}}}}))
                   ["result"]["task"]["id"]
                     .get<std::string>();
  CAF_REQUIRE(eventually([&] {
    return n1.call("GetTask", {{"id", running}})["result"]["status"]["state"]
           == "TASK_STATE_WORKING";
  }));
  auto http3 = n3->port();
  auto cluster3 = n3->proc->cluster_port;
  auto t0 = clock_type::now();
  CAF_CHECK_EQUAL(n3->proc->stop(SIGKILL), 128 + SIGKILL);
  // Every agent answers from a survivor, with its memory and queue.
  CAF_CHECK(eventually(
    [&] {
      for (int i = 0; i < n; ++i)
        if (!n1.call("GetAgentState", {{"agent", name_of(i)}})
               .contains("result"))
          return false;
      return true;
    },
    10s));
  CAF_MESSAGE("kill -9 -> every agent served again after "
              << ms_since(t0).count() << " ms");
  auto agents = n1.agents();
  std::map<std::string, int> per_node;
  for (auto& [name, node] : agents)
    ++per_node[node];
  CAF_CHECK_EQUAL(per_node.count(n3->name()), 0u);
  CAF_CHECK(per_node[n1.name()] > 0);
  CAF_CHECK(per_node[n2.name()] > 0);
  CAF_CHECK(n1.proc->wait_for_log("failed: node_down")
            || n2.proc->wait_for_log("failed: node_down"));
  for (int i = 0; i < n; ++i) {
    auto st = n2.call("GetAgentState", {{"agent", name_of(i)}})["result"];
    CAF_CHECK_EQUAL(st["inbox_count"], 2);
    CAF_CHECK_EQUAL(st["processed_count"], 1);
    CAF_CHECK_EQUAL(st["memory_keys"], json({"i", "last_result"}));
  }
  for (auto& id : acked) {
    auto s = status_of(n2, id);
    CAF_CHECK(s == "queued" || s == "completed");
  }
  auto crashed = n2.call("GetTask", {{"id", running}})["result"];
  CAF_CHECK_EQUAL(crashed["status"]["state"], "TASK_STATE_FAILED");
  CAF_CHECK(crashed.dump().find("node_down") != std::string::npos);
  // The queue goes on where it was.
  auto next = n2.call("ProcessNext", {{"agent", name_of(0)}});
  CAF_CHECK_EQUAL(next["result"]["status"], "completed");
  // The killed node comes back with its store: it drops its older copies,
  // no name is doubled and nothing acknowledged is lost.
  n3.reset();
  cluster_node again{"n3", {n1.proc->cluster_port}, "e2e-cookie", http3,
                     cluster3, {d3.store_option()}};
  CAF_CHECK(n1.sees(3, 10s));
  CAF_CHECK(again.sees(3, 10s));
  CAF_CHECK(eventually(
    [&] { return agree_without(again, n1, n, again.name()); }, 10s));
  for (auto& id : acked) {
    auto s = status_of(again, id);
    CAF_CHECK(s == "queued" || s == "completed");
  }
  // It did bring its older copies back from its store first.
  CAF_CHECK(again.proc->stderr_text().find("recovered 30 of 30 agents")
            != std::string::npos);
}

CAF_TEST(an even split : the side without the smallest name refuses changes) {
  cluster_node n1{"n1", {}};
  cluster_node n2{"n2", {n1.proc->cluster_port}};
  CAF_REQUIRE(n1.sees(2));
  CAF_REQUIRE(n2.sees(2));
  n1.call("StartAgent", {{"name", "One"}});
  n2.call("StartAgent", {{"name", "Two"}});
  CAF_REQUIRE(eventually([&] { return n1.agents().size() == 2; }));
  auto before = send(n1, "Two", "kept");
  CAF_REQUIRE(!before.empty());
  // n1 (the smallest name) freezes: n2 holds half of the members without
  // the smallest name, so it keeps its hands off n1's agents and refuses
  // changes to its own.
  kill(n1.proc->pid, SIGSTOP);
  CAF_CHECK(n2.sees(1, 5s));
  CAF_CHECK(n2.proc->wait_for_log("no quorum"));
  auto r = n2.call("SendMessage", {{"agent", "Two"}, {"action", "search"}});
  CAF_CHECK_EQUAL(r["error"]["code"], -32603);
  CAF_CHECK_EQUAL(r["error"]["data"], "no quorum");
  r = n2.call("StartAgent", {{"name", "Three"}});
  CAF_CHECK_EQUAL(r["error"]["data"], "no quorum");
  // Reads are served.
  auto st = n2.call("GetAgentState", {{"agent", "Two"}});
  CAF_CHECK_EQUAL(st["result"]["inbox_count"], 1);
  CAF_CHECK_EQUAL(n2.agents().count("One"), 0u);
  // n1 comes back: it holds the smallest name, so it failed Two over (a
  // split looks the same from both sides); n2's copy goes. One agent each
  // name, and the task acknowledged before the split is there.
  kill(n1.proc->pid, SIGCONT);
  CAF_CHECK(n1.sees(2, 10s));
  CAF_CHECK(n2.sees(2, 10s));
  CAF_CHECK(eventually([&] {
    auto xs = n1.agents();
    return xs.size() == 2 && xs == n2.agents();
  }, 10s));
  CAF_CHECK_EQUAL(status_of(n2, before), "queued");
  CAF_CHECK(eventually([&] {
    return n2.call("SendMessage", {{"agent", "Two"}, {"action", "search"}})
      .contains("result");
  }));
  auto two = n2.call("GetAgentState", {{"agent", "Two"}});
  CAF_CHECK_EQUAL(two["result"]["inbox_count"], 2);
  if (!two.contains("result"))
    CAF_MESSAGE(two.dump() << " " << n1.proc->stderr_text() << " //// "
                           << n2.proc->stderr_text());
}

CAF_TEST(a frozen minority node loses its agents to the majority) {
  cluster_node n1{"n1", {}};
  cluster_node n2{"n2", {n1.proc->cluster_port}};
  cluster_node n3{"n3", {n1.proc->cluster_port}};
  for (auto* n : {&n1, &n2, &n3})
    CAF_REQUIRE(n->sees(3));
  std::vector<std::string> acked;
  for (int i = 0; i < 10; ++i) {
    n3.call("StartAgent", {{"name", name_of(i)}});
    acked.push_back(send(n1, name_of(i), "before"));
  }
  CAF_REQUIRE(eventually([&] { return n1.agents().size() == 10; }));
  kill(n3.proc->pid, SIGSTOP);
  auto t0 = clock_type::now();
  CAF_CHECK(
    eventually([&] { return agree_without(n1, n1, 10, n3.name()); }, 10s));
  CAF_MESSAGE("SIGSTOP -> agents failed over after " << ms_since(t0).count()
                                                     << " ms");
  for (int i = 0; i < 10; ++i)
    acked.push_back(send(n2, name_of(i), "during"));
  kill(n3.proc->pid, SIGCONT);
  for (auto* n : {&n1, &n2, &n3})
    CAF_CHECK(n->sees(3, 10s));
  CAF_CHECK(
    eventually([&] { return agree_without(n3, n1, 10, n3.name()); }, 10s));
  for (auto& id : acked)
    CAF_CHECK_EQUAL(status_of(n3, id), "queued");
  for (int i = 0; i < 10; ++i) {
    auto st = n3.call("GetAgentState", {{"agent", name_of(i)}});
    CAF_CHECK_EQUAL(st["result"]["inbox_count"], 2);
    if (!st.contains("result"))
      CAF_MESSAGE(st.dump());
  }
}
