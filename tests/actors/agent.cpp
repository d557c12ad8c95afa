#define CAF_SUITE agent

#include "tests/actors/fixture.hpp"

#include "actors/agent.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

using namespace am;
using namespace am::test;

namespace {

/// Records the events of task streams.
caf::behavior stream_recorder(caf::event_based_actor*,
                              std::shared_ptr<std::vector<stream_event>> out) {
  return {
    [out](const stream_event& ev) { out->push_back(ev); },
  };
}

struct fixture : node_fixture {
  agent_actor worker;
  std::shared_ptr<std::vector<event>> events;

  fixture() {
    ctx->agents.history_limit = 2;
    auto actions = action_registry::builtin();
    // Waits until its timer fires and cannot be cancelled.
    actions.add_async("hold", [](const json&, action_env& env,
                                 action_done done) {
      env.after(std::chrono::seconds(1), [done] { done(json{{"ok", "held"}}); });
    });
    ctx->actions = std::make_shared<action_registry>(std::move(actions));
    spawn_node();
    events = record({agent_events_topic});
    CAF_REQUIRE(start("W").status == "started");
    worker = handle_of("W");
  }

  static submit_request message(const std::string& id,
                                const std::string& action = "",
                                json params = nullptr) {
    submit_request req;
    req.action = action;
    req.params = std::move(params);
    req.text = "OTP";
    req.message_id = id;
    req.message = json{{"messageId", id}};
    return req;
  }

  /// Submits without waiting for the answer.
  caf::response_handle<caf::blocking_actor, caf::message, true>
  submit_async(submit_request req) {
    auto rh = self->request(caf::actor_cast<caf::actor>(worker), caf::infinite,
                            submit_atom::value, std::move(req));
    sched.run();
    return rh;
  }

  /// Answers (task views) in the mailbox; drops everything there (also
  /// leftover subscription confirmations).
  size_t answers_waiting() {
    size_t result = 0;
    while (!self->mailbox().empty())
      self->receive(caf::others >> [&](caf::message_view& x)
                      -> caf::result<caf::message> {
        if (x.content().match_elements<task_view>())
          ++result;
        return caf::message{};
      });
    return result;
  }

  task_view submit(submit_request req) {
    return ask<task_view>(worker, submit_atom::value, std::move(req));
  }

  task_view get(const std::string& id) {
    return ask<task_view>(worker, task_atom::value, id);
  }

  std::string status_of(const std::string& id) {
    return get(id).status;
  }

  size_t count_events(const std::string& name) {
    size_t n = 0;
    for (auto& ev : *events)
      n += ev.name == name;
    return n;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(agent_tests, fixture)

CAF_TEST(standard tasks queue and run by themselves in arrival order) {
  auto a = submit(message("m1", "sleep", {{"ms", 100}}));
  auto b = submit(message("m2"));
  CAF_CHECK_EQUAL(a.status, "queued"); // the answer is the SUBMITTED task
  CAF_CHECK(a.standard);
  CAF_CHECK_EQUAL(a.agent, "W");
  CAF_CHECK(!a.context_id.empty());
  // The agent started a (an asynchronous sleep) on its own; b waits.
  CAF_CHECK_EQUAL(status_of(a.task_id), "running");
  CAF_CHECK_EQUAL(status_of(b.task_id), "queued");
  auto indexed = ctx->tasks->find(a.task_id);
  CAF_REQUIRE(indexed);
  CAF_CHECK_EQUAL(indexed->status, "running");
  // It keeps answering meanwhile.
  auto st = ask<agent_status>(worker, state_atom::value);
  CAF_CHECK_EQUAL(st.status, "busy");
  CAF_CHECK_EQUAL(st.inbox_count, 0u); // the dialect inbox is separate
  advance_time(std::chrono::milliseconds(100));
  sched.run();
  auto done = get(a.task_id);
  CAF_CHECK_EQUAL(done.status, "completed");
  CAF_CHECK(*done.result == json({{"ok", "slept 100 ms"}}));
  // The text became the default action's parameter.
  done = get(b.task_id);
  CAF_CHECK_EQUAL(done.status, "completed");
  CAF_CHECK(*done.result == json({{"ok", "Search results for: OTP"}}));
  CAF_CHECK_EQUAL(ask<agent_status>(worker, state_atom::value).status, "idle");
  CAF_CHECK_EQUAL(count_events("task_received"), 2u);
  CAF_CHECK_EQUAL(count_events("task_completed"), 2u);
}

CAF_TEST(a blocking submit answers once the task ends or the wait is over) {
  auto req = message("m1", "sleep", {{"ms", 50}});
  req.wait_ms = 5000;
  auto rh = submit_async(req);
  advance_time(std::chrono::milliseconds(50));
  sched.run();
  task_view got;
  rh.receive([&](task_view& v) { got = std::move(v); },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(got.status, "completed");
  // A longer task: the answer comes when the wait ends, as it stands then.
  req = message("m2", "sleep", {{"ms", 10000}});
  req.wait_ms = 100;
  rh = submit_async(req);
  advance_time(std::chrono::milliseconds(100));
  sched.run();
  rh.receive([&](task_view& v) { got = std::move(v); },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(got.status, "running");
}

CAF_TEST(two blocking senders of one message and a stream all get the end) {
  // The same message id twice while its task runs: both senders wait for
  // the one task (the first gets a copy of the view, the last the view
  // itself), and a stream on it gets its updates.
  auto req = message("m1", "sleep", {{"ms", 50}});
  req.wait_ms = 5000;
  auto first = submit_async(req);
  auto second = submit_async(req);
  auto out = std::make_shared<std::vector<stream_event>>();
  auto sink = sys.spawn(stream_recorder, out);
  extras.push_back(sink);
  auto streamed = message("m1", "sleep", {{"ms", 50}});
  streamed.sink = sink;
  streamed.rpc_id = "1";
  auto at_start = submit(streamed);
  CAF_CHECK_EQUAL(at_start.status, "running");
  advance_time(std::chrono::milliseconds(50));
  sched.run();
  std::vector<task_view> got;
  for (auto* rh : {&first, &second})
    rh->receive([&](task_view& v) { got.push_back(std::move(v)); },
                [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_REQUIRE_EQUAL(got.size(), 2u);
  for (auto& v : got) {
    CAF_CHECK_EQUAL(v.task_id, at_start.task_id);
    CAF_CHECK_EQUAL(v.status, "completed");
    CAF_CHECK(*v.result == json({{"ok", "slept 50 ms"}}));
    CAF_CHECK(*v.message == json({{"messageId", "m1"}}));
  }
  CAF_REQUIRE(!out->empty());
  CAF_CHECK(out->back().last);
  auto last = json::parse(out->back().data)["result"]["statusUpdate"];
  CAF_CHECK(last["status"]["state"] == "TASK_STATE_COMPLETED");
  CAF_CHECK_EQUAL(count_events("task_received"), 1u);
}

CAF_TEST(blocking senders whose waits end get the task as it stands) {
  // One long task runs; three senders wait for tasks queued behind it.
  submit(message("m0", "sleep", {{"ms", 10000}}));
  auto req = message("m1", "sleep", {{"ms", 1}});
  req.wait_ms = 300;
  auto late = submit_async(req);
  req = message("m2", "sleep", {{"ms", 1}});
  req.wait_ms = 100;
  auto early = submit_async(req);
  req = message("m3", "sleep", {{"ms", 1}});
  req.wait_ms = 100;
  auto early_too = submit_async(req);
  advance_time(std::chrono::milliseconds(100));
  sched.run();
  size_t answered = 0;
  for (auto* rh : {&early, &early_too})
    rh->receive(
      [&](task_view& v) {
        CAF_CHECK_EQUAL(v.status, "queued");
        ++answered;
      },
      [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(answered, 2u);
  CAF_CHECK_EQUAL(answers_waiting(), 0u);
  // The later wait is still on: it ends at 300 ms, not before.
  advance_time(std::chrono::milliseconds(150));
  sched.run();
  CAF_CHECK_EQUAL(answers_waiting(), 0u);
  advance_time(std::chrono::milliseconds(50));
  sched.run();
  late.receive(
    [&](task_view& v) { CAF_CHECK_EQUAL(v.status, "queued"); },
    [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
}

CAF_TEST(cancel while SUBMITTED and while WORKING) {
  auto a = submit(message("m1", "sleep", {{"ms", 1000}}));
  auto b = submit(message("m2", "hold"));
  auto c = submit(message("m3"));
  // SUBMITTED: cancelled without running.
  auto v = ask<task_view>(worker, abort_atom::value, c.task_id);
  CAF_CHECK_EQUAL(v.status, "cancelled");
  // WORKING, and its action can stop: cancelled, its timer dropped.
  v = ask<task_view>(worker, abort_atom::value, a.task_id);
  CAF_CHECK_EQUAL(v.status, "cancelled");
  // The next task started at once; it cannot stop.
  CAF_CHECK_EQUAL(status_of(b.task_id), "running");
  auto err = ask_error<task_view>(worker, abort_atom::value, b.task_id);
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::not_cancelable));
  advance_time(std::chrono::seconds(1));
  sched.run();
  CAF_CHECK_EQUAL(status_of(a.task_id), "cancelled"); // the timer was dropped
  CAF_CHECK_EQUAL(status_of(b.task_id), "completed");
  // Terminal: not cancelable; unknown: not found.
  err = ask_error<task_view>(worker, abort_atom::value, a.task_id);
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::not_cancelable));
  err = ask_error<task_view>(worker, abort_atom::value,
                             std::string{"0000000000000000"});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::task_not_found));
}

CAF_TEST(a resent message id answers the existing task) {
  auto a = submit(message("same"));
  auto again = submit(message("same"));
  CAF_CHECK_EQUAL(again.task_id, a.task_id);
  CAF_CHECK_EQUAL(again.status, "completed");
  CAF_CHECK_EQUAL(count_events("task_received"), 1u);
  CAF_CHECK_EQUAL(ask<agent_status>(worker, state_atom::value).processed_count,
                  1u);
}

CAF_TEST(actions the agent cannot run create no task) {
  auto err = ask_error<task_view>(worker, submit_atom::value,
                                  message("m1", "fly"));
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::invalid_argument));
  CAF_CHECK_EQUAL(context_of(err), "unknown action: fly");
  err = ask_error<task_view>(worker, submit_atom::value,
                             message("m2", "sleep", {{"ms", 60001}}));
  CAF_CHECK_EQUAL(context_of(err), "ms must be an integer in 0..60000");
  CAF_CHECK_EQUAL(ctx->tasks->size(), 0u);
  CAF_CHECK_EQUAL(count_events("task_received"), 0u);
}

CAF_TEST(streams get the task then every update in order) {
  auto out = std::make_shared<std::vector<stream_event>>();
  auto sink = sys.spawn(stream_recorder, out);
  extras.push_back(sink);
  auto req = message("m1", "sleep", {{"ms", 10}});
  req.sink = sink;
  req.seq = 7;
  req.rpc_id = "\"r\"";
  submit(req);
  advance_time(std::chrono::milliseconds(10));
  sched.run();
  CAF_REQUIRE_EQUAL(out->size(), 4u);
  std::vector<std::string> kinds;
  for (auto& ev : *out) {
    CAF_CHECK_EQUAL(ev.seq, 7u);
    auto j = json::parse(ev.data);
    CAF_CHECK(j["id"] == "r");
    kinds.push_back(j["result"].begin().key());
  }
  CAF_CHECK_EQUAL(kinds, (std::vector<std::string>{"task", "statusUpdate",
                                                   "artifactUpdate",
                                                   "statusUpdate"}));
  auto last = json::parse(out->back().data)["result"]["statusUpdate"];
  CAF_CHECK(last["status"]["state"] == "TASK_STATE_COMPLETED");
  CAF_CHECK(out->back().last);
  CAF_CHECK(!(*out)[2].last);
  // Subscribing to a finished task is refused.
  auto id = json::parse(out->front().data)["result"]["task"]["id"];
  auto err = ask_error<task_view>(worker, watch_atom::value,
                                  id.get<std::string>(), sink, uint64_t{8},
                                  std::string{"1"});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::task_finished));
}

CAF_TEST(enqueue answers a fresh id and publishes task_received) {
  auto id = ask<std::string>(worker, enqueue_atom::value,
                             std::string{"search"},
                             json_box{{{"query", "OTP"}}}, std::string{});
  CAF_CHECK_EQUAL(id.size(), 16u);
  {
    auto held = ctx->tasks->find(id);
    CAF_REQUIRE(held);
    CAF_CHECK_EQUAL(held->agent, "W");
  }
  {
    auto held = ctx->tasks->find(id);
    CAF_REQUIRE(held);
    CAF_CHECK_EQUAL(held->status, "queued");
  }
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

CAF_TEST(a full inbox refuses more tasks of either family and queues nothing) {
  ctx->agents.max_inbox = 2;
  auto send = [&] {
    return ask<std::string>(worker, enqueue_atom::value, std::string{"search"},
                            json_box{{{"query", "q"}}}, std::string{});
  };
  auto refused = [&] {
    return ask_error<std::string>(worker, enqueue_atom::value,
                                  std::string{"search"},
                                  json_box{{{"query", "q"}}}, std::string{});
  };
  CAF_CHECK_EQUAL(send().size(), 16u);
  // Runs (and stays running) until its timer fires.
  auto taken = ask<task_view>(worker, submit_atom::value,
                              message("m-1", "hold", json::object()));
  CAF_CHECK_NOT_EQUAL(taken.status, "completed");
  auto err = refused();
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::inbox_full));
  err = ask_error<task_view>(worker, submit_atom::value, message("m-2"));
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::inbox_full));
  // A retry of a message already taken is still answered.
  auto again = ask<task_view>(worker, submit_atom::value,
                              message("m-1", "hold", json::object()));
  CAF_CHECK_EQUAL(again.task_id, taken.task_id);
  auto st = ask<agent_status>(worker, state_atom::value);
  CAF_CHECK_EQUAL(st.inbox_count, 1u);
  // Room again once a task is done.
  ask<process_result>(worker, process_atom::value);
  CAF_CHECK_EQUAL(send().size(), 16u);
}

CAF_TEST(malformed params are refused without harming the agent) {
  auto err = ask_error<std::string>(worker, enqueue_atom::value,
                                    std::string{"search"},
                                    json_box{json::array({1, 2})}, std::string{});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::invalid_argument));
  auto st = ask<agent_status>(worker, state_atom::value);
  CAF_CHECK_EQUAL(st.inbox_count, 0u);
}

CAF_TEST(process runs the head and publishes task_completed) {
  auto id = ask<std::string>(worker, enqueue_atom::value,
                             std::string{"analyze"},
                             json_box{{{"data", "x"}}}, std::string{});
  auto res = ask<process_result>(worker, process_atom::value);
  CAF_CHECK(!res.empty);
  CAF_CHECK_EQUAL(res.task_id, id);
  CAF_CHECK(res.result.value == json({{"ok", "Analysis of: x"}}));
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
                            json_box{json::object()}, std::string{});
  auto b = ask<std::string>(worker, enqueue_atom::value, std::string{"search"},
                            json_box{json::object()}, std::string{});
  auto view = ask<task_view>(worker, task_atom::value, a);
  CAF_CHECK_EQUAL(view.status, "queued");
  CAF_CHECK_EQUAL(view.agent, "W");
  CAF_CHECK(view.result.is_null());
  CAF_CHECK(ask<bool>(worker, cancel_atom::value, b));
  CAF_CHECK(!ask<bool>(worker, cancel_atom::value, b));
  CAF_CHECK(ask<task_view>(worker, task_atom::value, b).status ==
                  "cancelled");
  ask<process_result>(worker, process_atom::value);
  view = ask<task_view>(worker, task_atom::value, a);
  CAF_CHECK_EQUAL(view.status, "completed");
  CAF_CHECK((*view.result)["ok"] == "Search results for: ");
  auto err = ask_error<task_view>(worker, task_atom::value,
                                  std::string{"0000000000000000"});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::task_not_found));
}

CAF_TEST(the bounded history evicts old tasks from the task index) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(ask<std::string>(worker, enqueue_atom::value,
                                   std::string{"search"}, json_box{json::object()}, std::string{}));
    ask<process_result>(worker, process_atom::value);
  }
  CAF_CHECK(!ctx->tasks->contains(ids[0]));
  CAF_CHECK(ctx->tasks->contains(ids[1]));
  CAF_CHECK(ctx->tasks->contains(ids[2]));
}

CAF_TEST(stop removes the agent everywhere and publishes agent_stopped) {
  auto id = ask<std::string>(worker, enqueue_atom::value,
                             std::string{"search"}, json_box{json::object()}, std::string{});
  CAF_CHECK(ask<bool>(worker, stop_atom::value));
  CAF_CHECK(!ctx->directory->contains("W"));
  CAF_CHECK(!ctx->tasks->contains(id));
  auto ev = json::parse(events->back().json);
  CAF_CHECK(ev["event"] == "agent_stopped");
  CAF_CHECK(ev["reason"] == "stopped");
  // The name is free again.
  CAF_CHECK(start("W").status == "started");
}

CAF_TEST(shared JSON crosses nodes as text and comes back equal) {
  // Null, an empty object and an object: each arrives as it left (a null
  // one stays null, not an empty object).
  for (auto x : {json{}, json::object(), json{{"q", "x"}, {"n", {1, 2}}}}) {
    task_view v;
    v.task_id = "t";
    v.params = x;
    v.result = x;
    v.message = x;
    submit_request r;
    r.params = x;
    r.message = x;
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    CAF_REQUIRE(!sink(v, r));
    task_view v2;
    submit_request r2;
    caf::binary_deserializer source{sys, buf};
    CAF_REQUIRE(!source(v2, r2));
    for (auto* y : {&v2.params, &v2.result, &v2.message, &r2.params,
                    &r2.message}) {
      CAF_CHECK(**y == x);
      CAF_CHECK_EQUAL(y->is_null(), x.is_null());
    }
    CAF_CHECK_EQUAL(v2.task_id, "t");
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
