#define CAF_SUITE event_bus

#include "tests/actors/fixture.hpp"

#include "core/events.hpp"

using namespace am;
using namespace am::test;

namespace {

/// A stand-in for a peer's bus: records each batch forwarded to it.
using batches = std::vector<std::vector<event>>;

caf::behavior fake_peer(caf::event_based_actor*,
                        std::shared_ptr<batches> out) {
  return {
    [out](forward_atom, const std::vector<event>& evs) {
      out->push_back(evs);
    },
  };
}

struct fixture : node_fixture {
  fixture() {
    spawn_node();
  }

  void publish(event ev) {
    self->send(bus, publish_atom::value, std::move(ev));
    sched.run();
  }

  /// Announces a fake peer named `node` to the bus (after what was sent to
  /// it before; nothing runs yet); returns what the peer will receive.
  std::shared_ptr<batches> add_peer(const std::string& node) {
    auto out = std::make_shared<batches>();
    auto peer = sys.spawn(fake_peer, out);
    extras.push_back(peer);
    self->send(bus, peer_up_atom::value, node, peer);
    return out;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(event_bus_tests, fixture)

CAF_TEST(subscribers receive the events of their topics in order) {
  auto all = record({agent_events_topic});
  auto only_a = record({agent_topic("a")});
  auto cluster = record({cluster_events_topic});
  publish(make_agent_event("agent_started", "a", "n1@h", "n1@h"));
  publish(make_agent_event("agent_started", "b", "n1@h", "n1@h"));
  publish(make_agent_event("task_received", "a", "n1@h", "n1@h"));
  publish(make_cluster_event("node_up", "n2@h", "n1@h", {"n2@h"}));
  CAF_REQUIRE_EQUAL(all->size(), 3u);
  CAF_CHECK(all->at(0).agent == "a");
  CAF_CHECK(all->at(1).agent == "b");
  CAF_CHECK(all->at(2).name == "task_received");
  CAF_REQUIRE_EQUAL(only_a->size(), 2u);
  CAF_CHECK(only_a->at(1).name == "task_received");
  CAF_REQUIRE_EQUAL(cluster->size(), 1u);
  auto ev = json::parse(cluster->at(0).json);
  CAF_CHECK(ev["event"] == "node_up");
  CAF_CHECK(ev["node"] == "n2@h");
  CAF_CHECK(ev["source_node"] == "n1@h");
  CAF_CHECK(ev["connected"] == json::array({"n2@h"}));
}

CAF_TEST(the audience counts agent listeners and peers) {
  auto& audience = *ctx->event_audience;
  CAF_CHECK_EQUAL(audience.load(), 0u);
  // Nobody listens: a started agent builds no event, yet counts it.
  auto before = ctx->metrics->events_published.value();
  CAF_CHECK_EQUAL(start("quiet").status, "started");
  CAF_CHECK_EQUAL(ctx->metrics->events_published.value(), before + 1);
  // Cluster events alone do not make an audience.
  record({cluster_events_topic});
  CAF_CHECK_EQUAL(audience.load(), 0u);
  auto out = std::make_shared<std::vector<event>>();
  auto rec = sys.spawn(recorder, out);
  self->send(bus, subscribe_atom::value,
             std::vector<std::string>{agent_topic("heard")}, rec);
  sched.run();
  CAF_CHECK_EQUAL(audience.load(), 1u);
  CAF_CHECK_EQUAL(start("heard").status, "started");
  CAF_REQUIRE_EQUAL(out->size(), 1u);
  CAF_CHECK_EQUAL(out->front().name, "agent_started");
  // A peer's bus is an audience too; both leave again.
  auto peer = sys.spawn(event_bus, nullptr, nullptr);
  self->send(bus, peer_up_atom::value, std::string{"n2@h"},
             caf::actor_cast<caf::actor>(peer));
  sched.run();
  CAF_CHECK_EQUAL(audience.load(), 2u);
  self->send(bus, peer_down_atom::value, std::string{"n2@h"});
  anon_send_exit(rec, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK_EQUAL(audience.load(), 0u);
  anon_send_exit(peer, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(terminated subscribers are dropped) {
  auto out = std::make_shared<std::vector<event>>();
  auto rec = sys.spawn(recorder, out);
  self->send(bus, subscribe_atom::value,
             std::vector<std::string>{agent_events_topic}, rec);
  sched.run();
  anon_send_exit(rec, caf::exit_reason::user_shutdown);
  sched.run();
  publish(make_agent_event("agent_started", "a", "n1@h", "n1@h"));
  CAF_CHECK(out->empty());
  CAF_CHECK(sched.jobs.empty());
}

CAF_TEST(a burst of agent events reaches each peer in order in few messages) {
  auto p2 = add_peer("n2@h");
  sched.run();
  auto local = record({agent_events_topic});
  // One burst: three agent events and a cluster event (which stays local),
  // then a peer joins, then two more events.
  auto ev = [](int i) {
    return make_agent_event("task_received", "a" + std::to_string(i), "n1@h",
                            "n1@h");
  };
  for (int i = 0; i < 3; ++i)
    self->send(bus, publish_atom::value, ev(i));
  self->send(bus, publish_atom::value,
             make_cluster_event("node_up", "n9@h", "n1@h", {}));
  auto p3 = add_peer("n3@h");
  for (int i = 3; i < 5; ++i)
    self->send(bus, publish_atom::value, ev(i));
  sched.run();
  // Delivered here at once, every one.
  CAF_CHECK_EQUAL(local->size(), 5u);
  // n2 had every agent event, in order, in two messages (before and after
  // n3 joined); n3 only what was published after it joined.
  CAF_REQUIRE_EQUAL(p2->size(), 2u);
  CAF_REQUIRE_EQUAL(p2->at(0).size(), 3u);
  CAF_REQUIRE_EQUAL(p2->at(1).size(), 2u);
  for (int i = 0; i < 5; ++i)
    CAF_CHECK_EQUAL((i < 3 ? p2->at(0)[i] : p2->at(1)[i - 3]).agent,
                    "a" + std::to_string(i));
  CAF_REQUIRE_EQUAL(p3->size(), 1u);
  CAF_REQUIRE_EQUAL(p3->at(0).size(), 2u);
  CAF_CHECK_EQUAL(p3->at(0)[0].agent, "a3");
  CAF_CHECK_EQUAL(p3->at(0)[1].agent, "a4");
  // A long burst goes out in batches of at most 512, none lost.
  p2->clear();
  for (int i = 0; i < 1100; ++i)
    self->send(bus, publish_atom::value, ev(i));
  sched.run();
  size_t total = 0;
  for (auto& b : *p2) {
    CAF_CHECK_LESS_OR_EQUAL(b.size(), 512u);
    for (auto& e : b)
      CAF_CHECK_EQUAL(e.agent, "a" + std::to_string(total++));
  }
  CAF_CHECK_EQUAL(total, 1100u);
  CAF_CHECK_EQUAL(p2->size(), 3u);
}

CAF_TEST(a peer that leaves gets what was published before it left) {
  auto p2 = add_peer("n2@h");
  auto p3 = add_peer("n3@h");
  sched.run();
  auto ev = [](const char* agent) {
    return make_agent_event("task_received", agent, "n1@h", "n1@h");
  };
  self->send(bus, publish_atom::value, ev("before-1"));
  self->send(bus, publish_atom::value, ev("before-2"));
  self->send(bus, peer_down_atom::value, std::string{"n3@h"});
  self->send(bus, publish_atom::value, ev("after"));
  sched.run();
  CAF_REQUIRE_EQUAL(p3->size(), 1u);
  CAF_REQUIRE_EQUAL(p3->at(0).size(), 2u);
  CAF_CHECK_EQUAL(p3->at(0)[1].agent, "before-2");
  CAF_REQUIRE_EQUAL(p2->size(), 2u);
  CAF_CHECK_EQUAL(p2->at(0).size(), 2u);
  CAF_REQUIRE_EQUAL(p2->at(1).size(), 1u);
  CAF_CHECK_EQUAL(p2->at(1)[0].agent, "after");
}

CAF_TEST(events from a peer are delivered here and not forwarded again) {
  auto local = record({agent_topic("x")});
  auto relayed = add_peer("n2@h");
  self->send(bus, forward_atom::value,
             std::vector<event>{
               make_agent_event("task_received", "x", "n2@h", "n2@h"),
               make_agent_event("task_completed", "x", "n2@h", "n2@h")});
  sched.run();
  CAF_REQUIRE_EQUAL(local->size(), 2u);
  CAF_CHECK_EQUAL(local->at(0).name, "task_received");
  CAF_CHECK_EQUAL(local->at(1).name, "task_completed");
  CAF_CHECK(relayed->empty());
}

CAF_TEST(event JSON carries the SPEC fields) {
  auto ev = make_agent_event("agent_stopped", "a", "n2@h", "n1@h",
                             json{{"reason", "stopped"}});
  auto obj = json::parse(ev.json);
  CAF_CHECK(obj["event"] == "agent_stopped");
  CAF_CHECK(obj["agent"] == "a");
  CAF_CHECK(obj["node"] == "n2@h");
  CAF_CHECK(obj["source_node"] == "n1@h");
  CAF_CHECK(obj["reason"] == "stopped");
  auto ts = obj["timestamp"].get<std::string>();
  CAF_CHECK_EQUAL(ts.size(), 27u); // 2026-11-27T10:00:00.123456Z
  CAF_CHECK_EQUAL(ts.back(), 'Z');
}

CAF_TEST(the logger writes the exact lines) {
  auto logger = sys.spawn(event_logger);
  extras.push_back(logger);
  self->send(bus, subscribe_atom::value, event_logger_topics(), logger);
  sched.run();
  publish(make_agent_event("agent_started", "W", "n1@h", "n1@h"));
  publish(make_agent_event("task_received", "W", "n1@h", "n1@h"));
  publish(make_agent_event("task_completed", "W", "n1@h", "n1@h"));
  publish(make_agent_event("agent_stopped", "W", "n1@h", "n1@h"));
  publish(make_cluster_event("node_up", "n2@h", "n1@h", {}));
  publish(make_cluster_event("node_down", "n2@h", "n1@h", {}));
  std::vector<std::string> expected{
    "[info] [AgentEventLogger] agent_started: W on n1@h",
    "[info] [AgentEventLogger] task_received: W on n1@h",
    "[info] [AgentEventLogger] task_completed: W on n1@h",
    "[info] [AgentEventLogger] agent_stopped: W on n1@h",
    "[info] [AgentEventLogger] cluster: node_up n2@h",
    "[warning] [AgentEventLogger] cluster: node_down n2@h",
  };
  CAF_CHECK(*logs.lines == expected);
}

CAF_TEST_FIXTURE_SCOPE_END()
