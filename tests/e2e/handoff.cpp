#define CAF_SUITE e2e_handoff

#include "tests/e2e/fixture.hpp"
#include "tests/temp_dir.hpp"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <csignal>
#include <set>
#include <sstream>
#include <thread>

using namespace e2e;
using am::test::temp_dir;

namespace {

/// Three nodes that see each other, each with a store.
struct trio {
  temp_dir d1{"agentmesh-e2e-handoff"}, d2{"agentmesh-e2e-handoff"},
    d3{"agentmesh-e2e-handoff"};
  cluster_node n1{"n1", {}, "e2e-cookie", 0, 0, {d1.store_option()}};
  cluster_node n2{"n2", {n1.proc->cluster_port}, "e2e-cookie", 0, 0,
                  {d2.store_option()}};
  cluster_node n3{"n3", {n1.proc->cluster_port}, "e2e-cookie", 0, 0,
                  {d3.store_option()}};

  trio() {
    CAF_REQUIRE(n1.sees(3));
    CAF_REQUIRE(n2.sees(3));
    CAF_REQUIRE(n3.sees(3));
  }
};

std::string name_of(int i) {
  return "H" + std::to_string(i);
}

} // namespace

CAF_TEST(SIGTERM moves every agent with its queue and memory to the survivors) {
  trio t;
  constexpr int n = 30;
  for (int i = 0; i < n; ++i) {
    auto r = t.n3.call("StartAgent",
                       {{"name", name_of(i)}, {"memory", {{"i", i}}}});
    CAF_REQUIRE_EQUAL(r["result"]["node"], t.n3.name());
    for (auto q : {"a", "b"})
      t.n3.call("SendMessage", {{"agent", name_of(i)},
                                {"action", "search"},
                                {"params", {{"query", q}}}});
    t.n3.call("ProcessNext", {{"agent", name_of(i)}});
  }
  CAF_REQUIRE(eventually([&] { return t.n1.agents().size() == n; }));
  auto t0 = clock_type::now();
  CAF_CHECK_EQUAL(t.n3.proc->stop(SIGTERM), 0);
  CAF_MESSAGE("SIGTERM -> exit after " << ms_since(t0).count() << " ms");
  CAF_CHECK(t.n1.sees(2));
  auto agents = t.n1.agents();
  CAF_CHECK_EQUAL(agents.size(), static_cast<size_t>(n));
  std::map<std::string, int> per_node;
  for (auto& [name, node] : agents)
    ++per_node[node];
  CAF_CHECK_EQUAL(per_node.count(t.n3.name()), 0u);
  CAF_CHECK(per_node[t.n1.name()] > 0);
  CAF_CHECK(per_node[t.n2.name()] > 0);
  CAF_MESSAGE("moved to n1: " << per_node[t.n1.name()]
                              << ", to n2: " << per_node[t.n2.name()]);
  for (int i = 0; i < n; ++i) {
    auto st = t.n2.call("GetAgentState", {{"agent", name_of(i)}})["result"];
    CAF_CHECK_EQUAL(st["inbox_count"], 1);
    CAF_CHECK_EQUAL(st["processed_count"], 1);
    CAF_CHECK_EQUAL(st["memory_keys"], json({"i", "last_result"}));
  }
  // The queue is intact: the remaining task runs on the new node.
  auto next = t.n1.call("ProcessNext", {{"agent", name_of(0)}});
  CAF_CHECK_EQUAL(next["result"]["status"], "completed");
  CAF_CHECK(t.n3.proc->stderr_text().find("handed off 30 agents")
            != std::string::npos);
}

namespace {

/// A gauge of the node's /metrics.
double gauge(const cluster_node& n, const std::string& name) {
  auto res = request(n.port(), "GET", "/metrics");
  std::istringstream in{res.body};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0)
      return std::stod(line.substr(name.size() + 1));
  return -1;
}

} // namespace

CAF_TEST(dormant agents move on SIGTERM with their memory and wake there) {
  trio t;
  constexpr int n = 20;
  for (int i = 0; i < n; ++i) {
    auto r = t.n3.call("StartAgent", {{"name", "D" + std::to_string(i)},
                                      {"memory", {{"i", i}}}});
    CAF_REQUIRE_EQUAL(r["result"]["node"], t.n3.name());
  }
  CAF_REQUIRE(eventually([&] { return t.n1.agents().size() == n; }));
  CAF_CHECK_EQUAL(gauge(t.n3, "agentmesh_agents_dormant"), n);
  CAF_CHECK_EQUAL(t.n3.proc->stop(SIGTERM), 0);
  CAF_CHECK(t.n1.sees(2));
  auto agents = t.n1.agents();
  CAF_CHECK_EQUAL(agents.size(), static_cast<size_t>(n));
  for (auto& [name, node] : agents)
    CAF_CHECK_NOT_EQUAL(node, t.n3.name());
  CAF_CHECK_EQUAL(gauge(t.n1, "agentmesh_agents")
                    + gauge(t.n2, "agentmesh_agents"),
                  n);
  for (int i = 0; i < n; ++i) {
    auto name = "D" + std::to_string(i);
    auto st = t.n2.call("GetAgentState", {{"agent", name}})["result"];
    CAF_CHECK_EQUAL(st["memory_keys"], json({"i"}));
    CAF_CHECK_EQUAL(st["processed_count"], 0);
    // The first message through a node that may not host it.
    auto r = t.n1.call("SendMessage", {{"agent", name},
                                       {"action", "search"},
                                       {"params", {{"query", "q"}}}});
    CAF_CHECK_EQUAL(r["result"]["status"], "created");
  }
  CAF_CHECK(t.n3.proc->stderr_text().find("handed off 20 agents")
            != std::string::npos);
}

CAF_TEST(requests during a handoff wait for it and nothing is lost or doubled) {
  for (int round = 0; round < 3; ++round) {
    trio t;
    constexpr int n = 10;
    for (int i = 0; i < n; ++i) {
      auto r = t.n3.call("StartAgent", {{"name", name_of(i)}});
      if (r["result"]["status"] != "started")
        CAF_FAIL("StartAgent: " << r.dump());
    }
    CAF_REQUIRE(eventually([&] { return t.n1.agents().size() == n; }));
    std::atomic<bool> stop{false};
    std::atomic<int> sent{0};
    std::mutex mx;
    std::vector<std::string> acked;
    std::vector<std::string> errors;
    // Two senders through the two survivors, and a reader of acknowledged
    // tasks by id, all running while node3 hands its agents off.
    auto sender = [&](uint16_t port, int offset) {
      for (int k = 0; !stop || k < 30; ++k) {
        auto agent = name_of((k + offset) % n);
        auto r = rpc(port, "SendMessage",
                     {{"agent", agent},
                      {"action", "search"},
                      {"params", {{"query", std::to_string(k)}}}});
        ++sent;
        std::lock_guard<std::mutex> guard{mx};
        if (r.contains("result"))
          acked.push_back(r["result"]["task_id"].get<std::string>());
        else
          errors.push_back(agent + ": " + r.dump());
      }
    };
    std::thread c1{sender, t.n1.port(), 0};
    std::thread c2{sender, t.n2.port(), 5};
    std::thread reader{[&] {
      for (size_t k = 0; !stop; ++k) {
        std::string id;
        {
          std::lock_guard<std::mutex> guard{mx};
          if (acked.empty()) {
            std::this_thread::yield();
            continue;
          }
          id = acked[k % acked.size()];
        }
        auto r = rpc(t.n1.port(), "GetTask", {{"task_id", id}});
        if (!r.contains("result")) {
          std::lock_guard<std::mutex> guard{mx};
          errors.push_back("GetTask " + id + ": " + r.dump());
        }
      }
    }};
    CAF_REQUIRE(eventually([&] { return sent >= 30; }));
    auto exit_code = t.n3.proc->stop(SIGTERM, 30s);
    CAF_CHECK_EQUAL(exit_code, 0);
    if (exit_code != 0)
      CAF_MESSAGE("node3:\n" << t.n3.proc->stderr_text());
    stop = true;
    c1.join();
    c2.join();
    reader.join();
    CAF_CHECK(errors.empty());
    for (size_t i = 0; i < errors.size() && i < 5; ++i)
      CAF_MESSAGE("error: " << errors[i]);
    if (!errors.empty())
      CAF_MESSAGE("node1:\n" << t.n1.proc->stderr_text() << "\nnode2:\n" << t.n2.proc->stderr_text());


    // Every acknowledged task is queued exactly once, on a survivor.
    size_t queued = 0;
    for (int i = 0; i < n; ++i) {
      auto st = t.n1.call("GetAgentState", {{"agent", name_of(i)}});
      CAF_CHECK(st["result"]["node"] != t.n3.name());
      queued += st["result"].value("inbox_count", size_t{0});
    }
    CAF_CHECK_EQUAL(queued, acked.size());
    std::set<std::string> unique(acked.begin(), acked.end());
    CAF_CHECK_EQUAL(unique.size(), acked.size());
    for (auto& id : acked) {
      auto r = t.n2.call("GetTask", {{"task_id", id}});
      if (r["result"]["status"] != "queued")
        CAF_FAIL("task " << id << " not found queued: " << r.dump());
    }
    CAF_MESSAGE("round " << round << ": " << acked.size()
                         << " tasks acknowledged, all queued once");
  }
}
