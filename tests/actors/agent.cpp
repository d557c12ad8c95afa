#define CAF_SUITE agent

#include "tests/actors/fixture.hpp"

#include "actors/agent.hpp"

using namespace am;
using namespace am::test;

namespace {

struct fixture : node_fixture {
  agent_actor worker;
  std::shared_ptr<std::vector<event>> events;

  fixture() {
    ctx->agents.history_limit = 2;
    spawn_node();
    events = record({agent_events_topic});
    CAF_REQUIRE(start("W").status == "started");
    worker = handle_of("W");
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(agent_tests, fixture)

CAF_TEST(enqueue answers a fresh id and publishes task_received) {
  auto id = ask<std::string>(worker, enqueue_atom::value,
                             std::string{"search"},
                             std::string{R"({"query":"OTP"})"});
  CAF_CHECK_EQUAL(id.size(), 16u);
  CAF_CHECK(ctx->tasks->find(id) == std::optional<std::string>{"W"});
  auto st = ask<agent_status>(worker, state_atom::value);
  CAF_CHECK_EQUAL(st.inbox_count, 1u);
  CAF_CHECK_EQUAL(st.processed_count, 0u);
  CAF_CHECK_EQUAL(st.node, "test@host");
  CAF_REQUIRE_EQUAL(events->size(), 2u); // agent_started, task_received
  auto ev = json::parse(events->back().json);
  CAF_CHECK(ev["event"] == "task_received");
  CAF_CHECK(ev["agent"] == "W");
  CAF_CHECK(ev["node"] == "test@host");
  CAF_CHECK(ev["source_node"] == "test@host");
  CAF_CHECK(ev["task"]["task_id"] == id);
  CAF_CHECK(ev["task"]["action"] == "search");
  CAF_CHECK(ev["task"]["params"]["query"] == "OTP");
}

CAF_TEST(malformed params are refused without harming the agent) {
  auto err = ask_error<std::string>(worker, enqueue_atom::value,
                                    std::string{"search"},
                                    std::string{"[1,2"});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::invalid_argument));
  auto st = ask<agent_status>(worker, state_atom::value);
  CAF_CHECK_EQUAL(st.inbox_count, 0u);
}

CAF_TEST(process runs the head and publishes task_completed) {
  auto id = ask<std::string>(worker, enqueue_atom::value,
                             std::string{"analyze"},
                             std::string{R"({"data":"x"})"});
  auto res = ask<process_result>(worker, process_atom::value);
  CAF_CHECK(!res.empty);
  CAF_CHECK_EQUAL(res.task_id, id);
  CAF_CHECK(json::parse(res.result) == json({{"ok", "Analysis of: x"}}));
  auto ev = json::parse(events->back().json);
  CAF_CHECK(ev["event"] == "task_completed");
  CAF_CHECK(ev["result"]["task_id"] == id);
  auto st = ask<agent_status>(worker, state_atom::value);
  CAF_CHECK_EQUAL(st.processed_count, 1u);
  CAF_CHECK_EQUAL(st.memory_keys, std::vector<std::string>{"last_result"});
  auto empty = ask<process_result>(worker, process_atom::value);
  CAF_CHECK(empty.empty);
}

CAF_TEST(tasks can be looked up and cancelled) {
  auto a = ask<std::string>(worker, enqueue_atom::value, std::string{"search"},
                            std::string{});
  auto b = ask<std::string>(worker, enqueue_atom::value, std::string{"search"},
                            std::string{});
  auto view = ask<task_view>(worker, task_atom::value, a);
  CAF_CHECK_EQUAL(view.status, "queued");
  CAF_CHECK_EQUAL(view.agent, "W");
  CAF_CHECK(view.result.empty());
  CAF_CHECK(ask<bool>(worker, cancel_atom::value, b));
  CAF_CHECK(!ask<bool>(worker, cancel_atom::value, b));
  CAF_CHECK(ask<task_view>(worker, task_atom::value, b).status ==
                  "cancelled");
  ask<process_result>(worker, process_atom::value);
  view = ask<task_view>(worker, task_atom::value, a);
  CAF_CHECK_EQUAL(view.status, "completed");
  CAF_CHECK(json::parse(view.result)["ok"] == "Search results for: ");
  auto err = ask_error<task_view>(worker, task_atom::value,
                                  std::string{"0000000000000000"});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::task_not_found));
}

CAF_TEST(the bounded history evicts old tasks from the task index) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(ask<std::string>(worker, enqueue_atom::value,
                                   std::string{"search"}, std::string{}));
    ask<process_result>(worker, process_atom::value);
  }
  CAF_CHECK(!ctx->tasks->contains(ids[0]));
  CAF_CHECK(ctx->tasks->contains(ids[1]));
  CAF_CHECK(ctx->tasks->contains(ids[2]));
}

CAF_TEST(stop removes the agent everywhere and publishes agent_stopped) {
  auto id = ask<std::string>(worker, enqueue_atom::value,
                             std::string{"search"}, std::string{});
  CAF_CHECK(ask<bool>(worker, stop_atom::value));
  CAF_CHECK(!ctx->directory->contains("W"));
  CAF_CHECK(!ctx->tasks->contains(id));
  auto ev = json::parse(events->back().json);
  CAF_CHECK(ev["event"] == "agent_stopped");
  CAF_CHECK(ev["reason"] == "stopped");
  // The name is free again.
  CAF_CHECK(start("W").status == "started");
}

CAF_TEST_FIXTURE_SCOPE_END()
