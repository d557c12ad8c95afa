#define CAF_SUITE supervisor

#include "tests/actors/fixture.hpp"

#include <set>
#include <stdexcept>

#include "core/agent_state.hpp"
#include "actors/cluster_view.hpp"
#include "actors/replica_keeper.hpp"

using namespace am;
using namespace am::test;
using namespace std::chrono_literals;

namespace {

struct fixture : node_fixture {
  std::shared_ptr<std::vector<event>> events;

  fixture() {
    auto actions = action_registry::builtin();
    actions.add("boom", [](const json&) -> json {
      throw std::runtime_error("boom");
    });
    // Works for a while, then takes its agent down.
    actions.add_async("explode", [](const json&, action_env& env,
                                    action_done) {
      env.after(std::chrono::milliseconds(10),
                [] { throw std::runtime_error("exploded"); });
    });
    ctx->actions = std::make_shared<action_registry>(std::move(actions));
    ctx->agents.max_restarts = 2;
    ctx->agents.restart_window = 10s;
    spawn_node();
    events = record({agent_events_topic});
  }

  std::string enqueue(const std::string& agent, const std::string& action) {
    return ask<std::string>(handle_of(agent), enqueue_atom::value, action,
                            json_box{{{"query", "q"}}}, std::string{});
  }

  /// Kills the agent's actor abnormally and lets the supervisor react.
  void crash(const std::string& agent) {
    anon_send_exit(handle_of(agent), caf::exit_reason::kill);
    sched.run();
  }

  bool saw(const std::string& name, const std::string& agent) {
    for (auto& ev : *events)
      if (ev.name == name && ev.agent == agent)
        return true;
    return false;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(supervisor_tests, fixture)

CAF_TEST(names are unique on a node) {
  CAF_CHECK(start("A").status == "started");
  auto again = start("A");
  CAF_CHECK_EQUAL(again.status, "already_exists");
  CAF_CHECK_EQUAL(again.node, "test@host");
  CAF_CHECK(saw("agent_started", "A"));
}

CAF_TEST(memory must be a JSON object) {
  auto err = ask_error<start_result>(sup, start_atom::value, std::string{"M"},
                                     json_box{json::array({1})},
                                     std::string{});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::invalid_argument));
  CAF_CHECK(!ctx->directory->contains("M"));
  CAF_CHECK(start("M", R"({"k":1})").status == "started");
  auto st = ask<agent_status>(handle_of("M"), state_atom::value);
  CAF_CHECK_EQUAL(st.memory_keys, std::vector<std::string>{"k"});
}

CAF_TEST(a crashed agent restarts with its memory and queued tasks) {
  start("A", R"({"k":"v"})");
  enqueue("A", "search");
  ask<process_result>(handle_of("A"), process_atom::value);
  auto queued = enqueue("A", "search");
  auto old = handle_of("A");
  crash("A");
  auto fresh = handle_of("A");
  CAF_CHECK_NOT_EQUAL(old, fresh);
  auto st = ask<agent_status>(fresh, state_atom::value);
  CAF_CHECK_EQUAL(st.inbox_count, 1u);
  CAF_CHECK_EQUAL(st.processed_count, 1u);
  auto keys = st.memory_keys;
  std::sort(keys.begin(), keys.end());
  CAF_CHECK_EQUAL(keys, (std::vector<std::string>{"k", "last_result"}));
  auto res = ask<process_result>(fresh, process_atom::value);
  CAF_CHECK_EQUAL(res.task_id, queued);
  CAF_CHECK(logs.contains_prefix("[info] [Supervisor] restarted agent A"));
}

CAF_TEST(the task in flight during a crash is reported failed) {
  start("A");
  auto doomed = enqueue("A", "boom");
  auto after = enqueue("A", "search");
  auto err = ask_error<process_result>(handle_of("A"), process_atom::value);
  CAF_CHECK(err != caf::none);
  // Restarted: the failed task is in the history, the next one still queued.
  auto fresh = handle_of("A");
  auto view = ask<task_view>(fresh, task_atom::value, doomed);
  CAF_CHECK_EQUAL(view.status, "failed");
  CAF_CHECK(*view.result == json({{"error", "agent_crashed"}}));
  auto st = ask<agent_status>(fresh, state_atom::value);
  CAF_CHECK_EQUAL(st.inbox_count, 1u);
  CAF_CHECK_EQUAL(st.processed_count, 0u);
  CAF_CHECK(ask<process_result>(fresh, process_atom::value).task_id ==
                  after);
}

CAF_TEST(a crash while WORKING fails the task and the queue goes on) {
  start("A");
  submit_request req;
  req.action = "explode";
  req.message_id = "m1";
  req.wait_ms = 5000;
  auto rh = self->request(caf::actor_cast<caf::actor>(handle_of("A")),
                          caf::infinite, submit_atom::value, req);
  sched.run();
  submit_request next;
  next.text = "after";
  next.message_id = "m2";
  auto queued = ask<task_view>(handle_of("A"), submit_atom::value, next);
  auto old = handle_of("A");
  advance_time(std::chrono::milliseconds(10));
  sched.run();
  // The blocking sender got the failed task.
  task_view failed;
  rh.receive([&](task_view& v) { failed = std::move(v); },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(failed.status, "failed");
  CAF_CHECK(*failed.result == json({{"error", "agent_crashed"}}));
  auto indexed = ctx->tasks->find(failed.task_id);
  CAF_REQUIRE(indexed);
  CAF_CHECK_EQUAL(indexed->status, "failed");
  // The restarted agent ran the next task by itself.
  auto fresh = handle_of("A");
  CAF_CHECK_NOT_EQUAL(fresh, old);
  auto view = ask<task_view>(fresh, task_atom::value, queued.task_id);
  CAF_CHECK_EQUAL(view.status, "completed");
  CAF_CHECK(*view.result == json({{"ok", "Search results for: after"}}));
  CAF_CHECK_EQUAL(ask<task_view>(fresh, task_atom::value, failed.task_id).status,
                  "failed");
}

CAF_TEST(a blocking sender outlives a crash and is answered when its wait ends) {
  start("A");
  submit_request hold;
  hold.action = "sleep";
  hold.params = json{{"ms", 10000}};
  hold.message_id = "m0";
  ask<task_view>(handle_of("A"), submit_atom::value, hold);
  submit_request req;
  req.action = "sleep";
  req.params = json{{"ms", 10000}};
  req.message_id = "m1";
  req.wait_ms = 100;
  auto rh = self->request(caf::actor_cast<caf::actor>(handle_of("A")),
                          caf::infinite, submit_atom::value, req);
  sched.run();
  auto old = handle_of("A");
  crash("A");
  CAF_REQUIRE_NOT_EQUAL(handle_of("A"), old);
  // The dead actor's timer went with it; the restarted one has its own.
  advance_time(std::chrono::milliseconds(100));
  sched.run();
  task_view got;
  rh.receive([&](task_view& v) { got = std::move(v); },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(got.status, "running"); // it runs since the restart
}

CAF_TEST(an agent that crashes too often is stopped for good) {
  start("A");
  start("B");
  auto b = handle_of("B");
  crash("A");
  crash("A");
  CAF_CHECK(ctx->directory->contains("A"));
  CAF_CHECK(!saw("agent_stopped", "A"));
  crash("A"); // third crash within the window: limit is 2 restarts
  CAF_CHECK(!ctx->directory->contains("A"));
  CAF_REQUIRE(saw("agent_stopped", "A"));
  auto ev = json::parse(events->back().json);
  CAF_CHECK(ev["reason"] == "restart_limit");
  // Other agents are not affected.
  CAF_CHECK_EQUAL(handle_of("B"), b);
  CAF_CHECK(ask<agent_status>(b, state_atom::value).name == "B");
  // The name can be used again.
  CAF_CHECK(start("A").status == "started");
}

CAF_TEST(restarts older than the window are forgotten) {
  start("A");
  crash("A");
  crash("A");
  advance_time(11s);
  crash("A");
  CAF_CHECK(ctx->directory->contains("A"));
  crash("A");
  CAF_CHECK(ctx->directory->contains("A"));
  crash("A");
  CAF_CHECK(!ctx->directory->contains("A"));
}

CAF_TEST(an agent that loses a name conflict stops with that reason) {
  start("C");
  self->send(handle_of("C"), conflict_atom::value);
  sched.run();
  CAF_CHECK(!ctx->directory->contains("C"));
  CAF_REQUIRE(saw("agent_stopped", "C"));
  auto ev = json::parse(events->back().json);
  CAF_CHECK(ev["reason"] == "name_conflict");
}

CAF_TEST(a started agent is dormant until its first message) {
  CAF_CHECK(start("D", R"({"k":1})").status == "started");
  auto e = ctx->directory->find("D");
  CAF_REQUIRE(e.has_value());
  CAF_CHECK(!e->handle);
  CAF_CHECK_EQUAL(ctx->metrics->agents.value(), 1);
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 1);
  // GetAgentState reads its board without waking it.
  CAF_REQUIRE(e->board != nullptr);
  agent_board::view v;
  CAF_CHECK(e->board->read(v));
  CAF_CHECK_EQUAL(v.memory_keys, std::vector<std::string>{"k"});
  CAF_CHECK_EQUAL(v.inbox_count, 0u);
  // The first message wakes it; the directory learns its handle.
  auto h = ask<agent_actor>(sup, resolve_atom::value, std::string{"D"},
                            agent_actor{});
  CAF_REQUIRE(h);
  CAF_CHECK(ctx->directory->find("D")->handle == h);
  CAF_CHECK_EQUAL(ctx->metrics->agents.value(), 1);
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 0);
  // Once awake it stays the same actor, on the same state.
  CAF_CHECK(ask<agent_actor>(sup, resolve_atom::value, std::string{"D"},
                             agent_actor{})
            == h);
  enqueue("D", "search");
  auto st = ask<agent_status>(h, state_atom::value);
  CAF_CHECK_EQUAL(st.memory_keys, std::vector<std::string>{"k"});
  CAF_CHECK_EQUAL(st.inbox_count, 1u);
  CAF_CHECK(e->board->read(v));
  CAF_CHECK_EQUAL(v.inbox_count, 1u);
}

CAF_TEST(a dormant agent stops without waking) {
  start("S");
  auto actors = sys.registry().running();
  CAF_CHECK(ask<bool>(sup, stop_atom::value, std::string{"S"},
                      std::string{"stopped"}));
  // No actor came (and went) for it.
  CAF_CHECK_EQUAL(sys.registry().running(), actors);
  CAF_CHECK(!ctx->directory->contains("S"));
  CAF_CHECK(saw("agent_stopped", "S"));
  CAF_CHECK_EQUAL(ctx->metrics->agents.value(), 0);
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 0);
  CAF_CHECK(!ask<agent_actor>(sup, resolve_atom::value, std::string{"S"},
                              agent_actor{}));
  CAF_CHECK(!ask<bool>(sup, stop_atom::value, std::string{"S"},
                       std::string{"stopped"}));
  // The name is free again.
  CAF_CHECK(start("S").status == "started");
}

CAF_TEST(a dormant agent that loses a name conflict stops) {
  start("C");
  // A member reports C with an older start: it wins.
  auto theirs = spawn_stub();
  extras.push_back(caf::actor_cast<caf::actor>(theirs));
  auto dir2 = sys.spawn(directory, node_context_ptr{std::make_shared<node_context>()},
                        std::chrono::milliseconds{2000});
  extras.push_back(caf::actor_cast<caf::actor>(dir2));
  self->send(dir, peer_up_atom::value, std::string{"other@host"},
             caf::actor_cast<caf::actor>(dir2));
  sched.run();
  CAF_CHECK(ask<bool>(dir, replicate_atom::value,
                      dir_entry{"C", "other@host", theirs, 1, 0, nullptr}));
  sched.run();
  CAF_CHECK(saw("agent_stopped", "C"));
  auto ev = json::parse(events->back().json);
  CAF_CHECK(ev["reason"] == "name_conflict");
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 0);
  // The winner's entry stays.
  auto e = ctx->directory->find("C");
  CAF_REQUIRE(e.has_value());
  CAF_CHECK_EQUAL(e->node, "other@host");
  CAF_CHECK(e->handle == theirs);
}

CAF_TEST(a group start answers each agent in order) {
  start("old");
  std::vector<start_request> xs{
    {"g1", json_box{json{{"k", 1}}}, ""},
    {"old", json_box{}, ""},
    {"g1", json_box{}, ""},
    {"bad", json_box{json::array()}, ""},
    {"noact", json_box{}, "nope"},
    {"g2", json_box{}, "analyze"},
  };
  auto rs = ask<std::vector<start_answer>>(sup, start_atom::value, xs);
  CAF_REQUIRE_EQUAL(rs.size(), xs.size());
  CAF_CHECK_EQUAL(rs[0].result.status, "started");
  CAF_CHECK_EQUAL(rs[0].result.agent, "g1");
  CAF_CHECK_EQUAL(rs[1].result.status, "already_exists");
  CAF_CHECK_EQUAL(rs[2].result.status, "already_exists");
  CAF_CHECK_EQUAL(code_of(rs[3].error),
                  static_cast<uint8_t>(errc::invalid_argument));
  CAF_CHECK_EQUAL(code_of(rs[4].error),
                  static_cast<uint8_t>(errc::invalid_argument));
  CAF_CHECK_EQUAL(rs[5].result.status, "started");
  for (auto name : {"g1", "g2"}) {
    CAF_CHECK(ctx->directory->contains(name));
    CAF_CHECK(saw("agent_started", name));
  }
  CAF_CHECK(!ctx->directory->contains("bad"));
  CAF_CHECK(!ctx->directory->contains("noact"));
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 3);
  auto st = ask<agent_status>(handle_of("g1"), state_atom::value);
  CAF_CHECK_EQUAL(st.memory_keys, std::vector<std::string>{"k"});
  CAF_CHECK_EQUAL(ask<agent_info>(handle_of("g2"), info_atom::value)
                    .default_action,
                  "analyze");
}

CAF_TEST(with passivation off every agent has its actor from the start) {
  ctx->agents.passivate = false;
  start("P");
  auto e = ctx->directory->find("P");
  CAF_REQUIRE(e.has_value());
  CAF_CHECK(e->handle);
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 0);
  CAF_CHECK_EQUAL(ctx->metrics->agents.value(), 1);
}

CAF_TEST(may_restart implements a sliding window) {
  std::vector<caf::actor_clock::time_point> xs;
  caf::actor_clock::time_point t0{};
  CAF_CHECK(may_restart(xs, t0, 10s, 2));
  xs.push_back(t0);
  xs.push_back(t0 + 1s);
  CAF_CHECK(!may_restart(xs, t0 + 9s, 10s, 2));
  CAF_CHECK(may_restart(xs, t0 + 10s, 10s, 2));
  CAF_CHECK_EQUAL(xs.size(), 1u);
  CAF_CHECK(!may_restart(xs, t0, 10s, 0));
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

/// Two nodes in one test system: directories and supervisors know each
/// other as members.
struct two_supervisors : fixture {
  std::shared_ptr<node_context> ctx2 = std::make_shared<node_context>();
  directory_actor dir2;
  supervisor_actor sup2;

  two_supervisors() {
    ctx2->node_name = "zzz@host";
    ctx2->actions = ctx->actions;
    ctx2->event_audience = ctx->event_audience; // one bus for both
    ctx2->agents.handoff_drain = 500ms;
    ctx->agents.handoff_drain = 500ms;
    dir2 = sys.spawn(directory, node_context_ptr{ctx2},
                     std::chrono::milliseconds{2000});
    sup2 = sys.spawn(supervisor, node_context_ptr{ctx2}, dir2, bus);
    extras.push_back(caf::actor_cast<caf::actor>(sup2));
    extras.push_back(caf::actor_cast<caf::actor>(dir2));
    peer(dir, ctx->node_name, dir2, ctx2->node_name);
    self->send(sup, peer_up_atom::value, ctx2->node_name,
               caf::actor_cast<caf::actor>(sup2));
    self->send(sup2, peer_up_atom::value, ctx->node_name,
               caf::actor_cast<caf::actor>(sup));
    sched.run();
  }

  /// The reason of the latest event `name` of `agent`.
  std::string reason_of(const std::string& name, const std::string& agent) {
    for (auto i = events->rbegin(); i != events->rend(); ++i)
      if (i->name == name && i->agent == agent)
        return json::parse(i->json).value("reason", "");
    return "";
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(handoff_tests, two_supervisors)

CAF_TEST(a handoff moves every agent with its state to a member) {
  for (auto name : {"A", "B", "C"}) {
    start(name, R"({"k":"v"})");
    enqueue(name, "search");
    enqueue(name, "search");
    ask<process_result>(handle_of(name), process_atom::value);
  }
  CAF_CHECK_EQUAL(ask<size_t>(sup, handoff_atom::value), 3u);
  for (auto name : {"A", "B", "C"}) {
    auto e = ctx2->directory->find(name);
    CAF_REQUIRE(e.has_value());
    CAF_CHECK_EQUAL(e->node, ctx2->node_name);
    CAF_CHECK_EQUAL(e->generation, 1u);
    // Our directory learned the move too.
    {
      auto held = ctx->directory->find(name);
      CAF_REQUIRE(held);
      CAF_CHECK_EQUAL(held->node, ctx2->node_name);
    }
    auto st = ask<agent_status>(e->handle, state_atom::value);
    CAF_CHECK_EQUAL(st.inbox_count, 1u);
    CAF_CHECK_EQUAL(st.processed_count, 1u);
    CAF_CHECK_EQUAL(st.node, ctx2->node_name);
    CAF_CHECK_EQUAL(reason_of("agent_stopped", name), "handoff");
    CAF_CHECK_EQUAL(reason_of("agent_started", name), "handoff");
  }
  // A node that leaves starts nothing new.
  auto err = ask_error<start_result>(sup, start_atom::value, std::string{"D"},
                                     json_box{json::object()}, std::string{});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::shutting_down));
}

CAF_TEST(a running task gets the drain time and then fails) {
  start("S");
  submit_request req;
  req.action = "sleep";
  req.params = json{{"ms", 60000}};
  auto v = ask<task_view>(handle_of("S"), submit_atom::value, req);
  sched.run();
  auto rh = self->request(sup, caf::infinite, handoff_atom::value);
  sched.run();
  // Still draining: nothing moved yet.
  {
    auto held = ctx->directory->find("S");
    CAF_REQUIRE(held);
    CAF_CHECK_EQUAL(held->node, ctx->node_name);
  }
  // Only the drain time passes (not the sleep, not the request timeout).
  sched.advance_time(600ms);
  sched.run();
  size_t moved = 0;
  rh.receive([&](size_t n) { moved = n; },
             [](caf::error& err) { CAF_FAIL("handoff failed: " << err); });
  CAF_CHECK_EQUAL(moved, 1u);
  auto e = ctx2->directory->find("S");
  CAF_REQUIRE(e.has_value());
  auto view = ask<task_view>(e->handle, task_atom::value, v.task_id);
  CAF_CHECK_EQUAL(view.status, "failed");
  CAF_CHECK(*view.result == json({{"error", "node_shutdown"}}));
}

CAF_TEST(a dormant agent of a member wakes through its supervisor) {
  start("R", R"({"k":1})");
  auto e = ctx2->directory->find("R");
  CAF_REQUIRE(e.has_value());
  CAF_CHECK_EQUAL(e->node, ctx->node_name);
  CAF_CHECK(!e->handle);
  // The member's supervisor passes the request to ours.
  auto h = ask<agent_actor>(sup2, resolve_atom::value, std::string{"R"},
                            agent_actor{});
  CAF_REQUIRE(h);
  CAF_CHECK(ctx->directory->find("R")->handle == h);
  CAF_CHECK(ctx2->directory->find("R")->handle == h);
  // Unknown everywhere: no handle.
  CAF_CHECK(!ask<agent_actor>(sup2, resolve_atom::value, std::string{"nobody"},
                              agent_actor{}));
}

CAF_TEST(a dormant agent moves on handoff with its memory) {
  start("H", R"({"k":"v"})");
  CAF_REQUIRE(!ctx->directory->find("H")->handle);
  CAF_CHECK_EQUAL(ask<size_t>(sup, handoff_atom::value), 1u);
  auto e = ctx2->directory->find("H");
  CAF_REQUIRE(e.has_value());
  CAF_CHECK_EQUAL(e->node, ctx2->node_name);
  CAF_CHECK_EQUAL(e->generation, 1u);
  CAF_REQUIRE(e->handle);
  auto st = ask<agent_status>(e->handle, state_atom::value);
  CAF_CHECK_EQUAL(st.memory_keys, std::vector<std::string>{"k"});
  CAF_CHECK_EQUAL(ctx->metrics->agents.value(), 0);
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 0);
  CAF_CHECK_EQUAL(reason_of("agent_stopped", "H"), "handoff");
}

CAF_TEST(a group start that loses a name to a member stops its copy) {
  // The member's entry for "race" reaches our directory after the
  // supervisor checked the name and before its group's entries arrive.
  auto theirs = spawn_stub();
  extras.push_back(caf::actor_cast<caf::actor>(theirs));
  std::vector<start_request> xs{{"race", json_box{}, ""},
                                {"fine", json_box{}, ""}};
  auto rh = self->request(sup, caf::infinite, start_atom::value, xs);
  self->send(dir, replicate_atom::value,
             dir_entry{"race", ctx2->node_name, theirs, 1, 0, nullptr});
  // The supervisor takes the group (both agents come up) while the name
  // is still free here.
  while (ctx->metrics->dormant_agents.value() < 2 && sched.try_run_once())
    ; // next job
  CAF_REQUIRE_EQUAL(ctx->metrics->dormant_agents.value(), 2);
  CAF_REQUIRE(!ctx->directory->contains("race"));
  sched.run();
  std::vector<start_answer> rs;
  rh.receive([&](std::vector<start_answer>& x) { rs = std::move(x); },
             [](caf::error& err) { CAF_FAIL(err); });
  CAF_REQUIRE_EQUAL(rs.size(), 2u);
  CAF_CHECK_EQUAL(rs[0].result.status, "already_exists");
  CAF_CHECK_EQUAL(rs[0].result.node, ctx2->node_name);
  CAF_CHECK_EQUAL(rs[1].result.status, "started");
  // Ours is gone; theirs stays; the other one is known on both nodes.
  CAF_CHECK(!ask<agent_actor>(sup, resolve_atom::value, std::string{"race"},
                              agent_actor{}));
  auto held = ctx->directory->find("race");
  CAF_REQUIRE(held.has_value());
  CAF_CHECK_EQUAL(held->node, ctx2->node_name);
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 1);
  CAF_CHECK(ctx2->directory->contains("fine"));
}

CAF_TEST(without members an agent stays) {
  self->send(sup, peer_down_atom::value, ctx2->node_name);
  sched.run();
  start("Alone");
  CAF_CHECK_EQUAL(ask<size_t>(sup, handoff_atom::value), 0u);
  {
    auto held = ctx->directory->find("Alone");
    CAF_REQUIRE(held);
    CAF_CHECK_EQUAL(held->node, ctx->node_name);
  }
  CAF_CHECK(logs.contains_prefix("[warning] [Supervisor] no member to hand"));
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

/// Two members that keep each other's replicas.
struct replicated : two_supervisors {
  replica_actor k1, k2;

  replicated() {
    ctx->cluster = std::make_shared<cluster_view>(ctx->node_name);
    ctx2->cluster = std::make_shared<cluster_view>(ctx2->node_name);
    k1 = sys.spawn(replica_keeper, node_context_ptr{ctx});
    k2 = sys.spawn(replica_keeper, node_context_ptr{ctx2});
    extras.push_back(caf::actor_cast<caf::actor>(k1));
    extras.push_back(caf::actor_cast<caf::actor>(k2));
    ctx->cluster->up(ctx2->node_name, k2);
    ctx2->cluster->up(ctx->node_name, k1);
    sched.run();
  }

  /// The second node sees the first down and promotes its copies there.
  size_t fail_over_first() {
    ctx2->cluster->down(ctx->node_name);
    self->send(k2, suspend_atom::value, ctx->node_name);
    auto xs = ask<std::vector<agent_snapshot>>(k2, detach_atom::value,
                                               ctx->node_name, true);
    self->send(sup2, failover_atom::value, ctx->node_name, xs);
    sched.run();
    return xs.size();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(failover_tests, replicated)

CAF_TEST(the backup has every acknowledged change and promotes it) {
  start("A", R"({"k":"v"})");
  enqueue("A", "search");
  enqueue("A", "search");
  ask<process_result>(handle_of("A"), process_atom::value);
  submit_request req;
  req.action = "sleep";
  req.params = json{{"ms", 60000}};
  auto running = ask<task_view>(handle_of("A"), submit_atom::value, req);
  sched.run();
  CAF_REQUIRE_EQUAL(ask<task_view>(handle_of("A"), task_atom::value,
                                   running.task_id)
                      .status,
                    "running");
  CAF_CHECK_EQUAL(fail_over_first(), 1u);
  auto e = ctx2->directory->find("A");
  CAF_REQUIRE(e.has_value());
  CAF_CHECK_EQUAL(e->node, ctx2->node_name);
  CAF_CHECK_EQUAL(e->generation, 1u);
  auto st = ask<agent_status>(e->handle, state_atom::value);
  CAF_CHECK_EQUAL(st.inbox_count, 1u);
  CAF_CHECK_EQUAL(st.processed_count, 1u);
  CAF_CHECK_EQUAL(st.memory_keys, (std::vector<std::string>{"k",
                                                            "last_result"}));
  CAF_CHECK_EQUAL(reason_of("agent_started", "A"), "failover");
  // What ran on the lost host failed there: it does not run again.
  auto view = ask<task_view>(e->handle, task_atom::value, running.task_id);
  CAF_CHECK_EQUAL(view.status, "failed");
  CAF_CHECK(*view.result == json({{"error", "node_down"}}));
  // The first node's copy is older: it stops and its name goes to the
  // newer generation everywhere (a host that comes back drops its copy).
  {
    auto held = ctx->directory->find("A");
    CAF_REQUIRE(held);
    CAF_CHECK_EQUAL(held->node, ctx2->node_name);
  }
  CAF_CHECK_EQUAL(reason_of("agent_stopped", "A"), "name_conflict");
}

CAF_TEST(a copy from a host that missed a failover is refused) {
  start("B");
  CAF_CHECK_EQUAL(fail_over_first(), 1u);
  // The old host's copy (generation 0) tries to seed the backup again.
  agent_state old{"B"};
  auto err = ask_error<bool>(k2, seed_atom::value, ctx->node_name,
                             old.snapshot());
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::no_quorum));
  // A change for a copy the backup does not hold is refused too.
  agent_delta d;
  d.name = "B";
  d.has_header = true;
  err = ask_error<bool>(k2, store_atom::value, ctx->node_name, d);
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::agent_not_found));
}

CAF_TEST(a seed older than the copy held is refused) {
  agent_state fresh{"G"};
  fresh.incarnate(fresh.started_at(), 2);
  CAF_CHECK(ask<bool>(k2, seed_atom::value, std::string{"other@host"},
                      fresh.snapshot()));
  agent_state old{"G"};
  auto err = ask_error<bool>(k2, seed_atom::value, ctx->node_name,
                             old.snapshot());
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::no_quorum));
}

CAF_TEST(without the quorum a node changes nothing but still answers reads) {
  start("C");
  enqueue("C", "search");
  ctx->cluster->set_quorum(false);
  self->send(sup, backup_atom::value);
  sched.run();
  auto err = ask_error<std::string>(handle_of("C"), enqueue_atom::value,
                                    std::string{"search"},
                                    json_box{{{"query", "q"}}}, std::string{});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::no_quorum));
  err = ask_error<start_result>(sup, start_atom::value, std::string{"D"},
                                json_box{json::object()}, std::string{});
  CAF_CHECK_EQUAL(code_of(err), static_cast<uint8_t>(errc::no_quorum));
  CAF_CHECK_EQUAL(ask<agent_status>(handle_of("C"), state_atom::value)
                    .inbox_count,
                  1u);
  // Back with the quorum, the queue goes on.
  ctx->cluster->set_quorum(true);
  self->send(sup, backup_atom::value);
  sched.run();
  enqueue("C", "search");
  CAF_CHECK_EQUAL(ask<agent_status>(handle_of("C"), state_atom::value)
                    .inbox_count,
                  2u);
}

CAF_TEST(a member joining seeds the copies of dormant agents without waking them) {
  // This node runs alone, then a member joins.
  ctx->cluster->down(ctx2->node_name);
  self->send(sup, backup_atom::value);
  sched.run();
  start("Z", R"({"k":"v"})");
  auto actors = sys.registry().running();
  ctx->cluster->up(ctx2->node_name, k2);
  self->send(sup, backup_atom::value);
  sched.run();
  CAF_CHECK_EQUAL(sys.registry().running(), actors);
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 1);
  // The member holds the copy: it takes the agent over when we go down.
  CAF_CHECK_EQUAL(fail_over_first(), 1u);
  auto e = ctx2->directory->find("Z");
  CAF_REQUIRE(e.has_value());
  CAF_CHECK_EQUAL(e->node, ctx2->node_name);
  auto st = ask<agent_status>(e->handle, state_atom::value);
  CAF_CHECK_EQUAL(st.memory_keys, std::vector<std::string>{"k"});
}

CAF_TEST(a stopped agent leaves its backup) {
  start("E");
  CAF_CHECK(ask<bool>(sup, stop_atom::value, std::string{"E"},
                      std::string{"stopped"}));
  CAF_CHECK_EQUAL(fail_over_first(), 0u);
  CAF_CHECK(!ctx2->directory->find("E"));
}

CAF_TEST(keep majority) {
  using set = std::set<std::string>;
  CAF_CHECK(holds_quorum(set{"a", "b", "c"}, set{"a", "b"}));
  CAF_CHECK(!holds_quorum(set{"a", "b", "c"}, set{"c"}));
  // Even split: the side with the smallest name.
  CAF_CHECK(holds_quorum(set{"a", "b"}, set{"a"}));
  CAF_CHECK(!holds_quorum(set{"a", "b"}, set{"b"}));
  CAF_CHECK(holds_quorum(set{"a", "b", "c", "d"}, set{"a", "d"}));
  CAF_CHECK(!holds_quorum(set{"a", "b", "c", "d"}, set{"b", "c"}));
  CAF_CHECK(holds_quorum(set{"a"}, set{"a"}));
}

CAF_TEST_FIXTURE_SCOPE_END()
