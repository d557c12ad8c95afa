#define CAF_SUITE e2e_store

#include "tests/e2e/fixture.hpp"
#include "tests/temp_dir.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>

using namespace e2e;
using am::test::temp_dir;

namespace {

std::string task_status(single_node& n, const std::string& id) {
  return n.call("GetTask", {{"task_id", id}})["result"].value("status", "");
}

} // namespace

CAF_TEST(kill -9 and a restart keep agents with memory and queues and history) {
  temp_dir dir{"agentmesh-e2e-store"};
  std::string done, second, third, running, waiting;
  {
    single_node n{{dir.store_option()}};
    auto started
      = n.call("StartAgent", {{"name", "Keeper"}, {"memory", {{"k", "v"}}}});
    CAF_REQUIRE_EQUAL(started["result"]["status"], "started");
    n.call("StartAgent", {{"name", "Other"}});
    auto send = [&](const std::string& q) {
      return n
        .call("SendMessage", {{"agent", "Keeper"},
                              {"action", "search"},
                              {"params", {{"query", q}}}})["result"]["task_id"]
        .get<std::string>();
    };
    done = send("first");
    auto processed = n.call("ProcessNext", {{"agent", "Keeper"}});
    CAF_CHECK_EQUAL(processed["result"]["task_id"], done);
    second = send("second");
    third = send("third");
    // A standard task still running, and one queued behind it.
    running = n.call("SendMessage",
                     standard_message("m1", {{"agent", "Keeper"},
                                             {"action", "sleep"},
                                             {"params", {{"ms", 60000}}}}))
                ["result"]["task"]["id"]
                  .get<std::string>();
    waiting = n.call("SendMessage",
                     standard_message("m2", {{"agent", "Keeper"},
                                             {"action", "sleep"},
                                             {"params", {{"ms", 1}}}}))
                ["result"]["task"]["id"]
                  .get<std::string>();
    CAF_REQUIRE(eventually([&] {
      return n.call("GetTask", {{"id", running}})["result"]["status"]["state"]
             == "TASK_STATE_WORKING";
    }));
    CAF_CHECK_EQUAL(n.node.stop(SIGKILL), 128 + SIGKILL);
  }
  single_node n{{dir.store_option()}};
  CAF_CHECK(n.node.stderr_text().find("[Store] recovered 2 of 2 agents")
            != std::string::npos);
  auto listed = n.call("ListAgents", json::object());
  CAF_CHECK_EQUAL(listed["result"]["agents"], json({"Keeper", "Other"}));
  // History: the finished task and its result.
  CAF_CHECK_EQUAL(task_status(n, done), "completed");
  // The task that was running failed and does not run again; the one
  // behind it runs now.
  auto crashed = n.call("GetTask", {{"id", running}})["result"];
  CAF_CHECK_EQUAL(crashed["status"]["state"], "TASK_STATE_FAILED");
  CAF_CHECK(eventually([&] {
    return n.call("GetTask", {{"id", waiting}})["result"]["status"]["state"]
           == "TASK_STATE_COMPLETED";
  }));
  // Counters and memory came back: one dialect task before the crash, the
  // standard one that just ran.
  auto st = n.call("GetAgentState", {{"agent", "Keeper"}})["result"];
  CAF_CHECK_EQUAL(st["inbox_count"], 2);
  CAF_CHECK_EQUAL(st["processed_count"], 2);
  CAF_CHECK_EQUAL(st["memory_keys"], json({"k", "last_result"}));
  // The dialect queue keeps its order.
  auto next = n.call("ProcessNext", {{"agent", "Keeper"}});
  CAF_CHECK_EQUAL(next["result"]["task_id"], second);
  next = n.call("ProcessNext", {{"agent", "Keeper"}});
  CAF_CHECK_EQUAL(next["result"]["task_id"], third);
  // A retried message id still finds its task.
  auto again = n.call("SendMessage",
                      standard_message("m2", {{"agent", "Keeper"},
                                              {"action", "sleep"},
                                              {"params", {{"ms", 1}}}}));
  CAF_CHECK_EQUAL(again["result"]["task"]["id"], waiting);
  // The agent that never had a task came back dormant and takes one.
  auto other = n.call("SendMessage", {{"agent", "Other"},
                                      {"action", "search"},
                                      {"params", {{"query", "q"}}}});
  CAF_CHECK_EQUAL(other["result"]["status"], "created");
  auto next_other = n.call("ProcessNext", {{"agent", "Other"}});
  CAF_CHECK_EQUAL(next_other["result"]["status"], "completed");
}

CAF_TEST(a stopped agent does not come back) {
  temp_dir dir{"agentmesh-e2e-store"};
  {
    single_node n{{dir.store_option()}};
    n.call("StartAgent", {{"name", "Gone"}});
    n.call("StartAgent", {{"name", "Stays"}});
    auto stopped = n.call("StopAgent", {{"agent", "Gone"}});
    CAF_CHECK_EQUAL(stopped["result"]["status"], "stopped");
    CAF_CHECK_EQUAL(n.node.stop(SIGTERM), 0);
  }
  single_node n{{dir.store_option()}};
  auto listed = n.call("ListAgents", json::object());
  CAF_CHECK_EQUAL(listed["result"]["agents"], json({"Stays"}));
}

CAF_TEST(a store that cannot be opened stops start-up with the reason) {
  temp_dir dir{"agentmesh-e2e-store"};
  temp_file blocker{""};
  node_process p{{"--http.port=0", "--store.path=" + blocker.path + "/sub"}};
  CAF_CHECK(!p.ready());
  CAF_CHECK_EQUAL(p.wait_exit(), 1);
  CAF_CHECK(p.stderr_text().find("cannot create store folder")
            != std::string::npos);
}
