#define CAF_SUITE persistence

#include "tests/actors/fixture.hpp"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "core/store.hpp"
#include "actors/store_writer.hpp"
#include "tests/temp_dir.hpp"

using namespace am;
using namespace am::test;

namespace {

/// A node whose agents live in a store (the writer runs on the test
/// scheduler, not on its own thread).
struct fixture : node_fixture {
  temp_dir folder;
  std::shared_ptr<store> db;
  store_actor writer;
  std::shared_ptr<std::vector<event>> events;

  fixture() {
    auto actions = action_registry::builtin();
    actions.add("boom", [](const json&) -> json {
      throw std::runtime_error("boom");
    });
    ctx->actions = std::make_shared<action_registry>(std::move(actions));
    open_store();
    spawn_node();
    events = record({agent_events_topic});
  }

  void open_store() {
    db = std::make_shared<store>(folder.path, false);
    writer = sys.spawn(store_writer, db, nullptr);
    ctx->store = writer;
  }

  std::string enqueue(const std::string& agent, const std::string& query) {
    return ask<std::string>(handle_of(agent), enqueue_atom::value,
                            std::string{"search"},
                            json_box{{{"query", query}}}, std::string{});
  }

  /// What the store holds of `name` right now.
  std::optional<agent_snapshot> kept(const std::string& name) {
    store reader{folder.path, false};
    for (auto& x : reader.load())
      if (x.header.name == name)
        return x;
    return std::nullopt;
  }

  /// The process dies: every actor goes, the store stays. A fresh node
  /// opens the same folder (and adopts nothing yet).
  void fresh_node() {
    ctx->directory->for_each([&](const std::string&, const dir_entry& e) {
      anon_send_exit(e.handle, caf::exit_reason::kill);
    });
    for (auto h : {caf::actor_cast<caf::actor>(sup),
                   caf::actor_cast<caf::actor>(dir),
                   caf::actor_cast<caf::actor>(writer)})
      anon_send_exit(h, caf::exit_reason::kill);
    sched.run();
    db.reset();
    auto fresh = std::make_shared<node_context>();
    fresh->node_name = ctx->node_name;
    fresh->actions = ctx->actions;
    fresh->event_audience = ctx->event_audience; // the bus stays
    ctx = fresh;
    open_store();
    dir = sys.spawn(directory, node_context_ptr{ctx},
                    std::chrono::milliseconds{2000});
    sup = sys.spawn(supervisor, node_context_ptr{ctx}, dir, bus);
    sched.run();
  }

  /// A fresh node adopts what the store kept.
  size_t restart_node() {
    fresh_node();
    return ask<size_t>(sup, adopt_atom::value, db->load());
  }

  bool saw(const std::string& name, const std::string& agent,
           const std::string& reason) {
    for (auto& ev : *events) {
      auto j = json::parse(ev.json);
      if (ev.name == name && ev.agent == agent
          && j.value("reason", "") == reason)
        return true;
    }
    return false;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(persistence_tests, fixture)

CAF_TEST(changes that arrive together are committed together) {
  std::vector<agent_delta> ds;
  for (int i = 0; i < 5; ++i) {
    agent_state st{"G" + std::to_string(i)};
    st.track_changes(true);
    ds.push_back(st.take_changes());
  }
  auto before = db->commits();
  using handle = decltype(self->request(writer, caf::infinite,
                                        store_atom::value, ds[0]));
  std::vector<handle> hs;
  for (auto& d : ds)
    hs.push_back(self->request(writer, caf::infinite, store_atom::value, d));
  sched.run();
  int answered = 0;
  for (auto& h : hs)
    h.receive([&](bool ok) { answered += ok ? 1 : 0; },
              [](caf::error& err) { CAF_FAIL("store error: " << err); });
  CAF_CHECK_EQUAL(answered, 5);
  CAF_CHECK_EQUAL(db->commits(), before + 1);
  CAF_CHECK_EQUAL(db->load().size(), 5u);
  // The next change is the next commit.
  agent_state st{"G9"};
  st.track_changes(true);
  CAF_CHECK(ask<bool>(writer, store_atom::value, st.take_changes()));
  CAF_CHECK_EQUAL(db->commits(), before + 2);
}

CAF_TEST(an agent hands a burst of changes to the store in one delta) {
  CAF_CHECK_EQUAL(start("B").status, "started");
  // A store that counts what agents hand it and answers only when told.
  auto deltas = std::make_shared<std::vector<size_t>>();
  auto held = std::make_shared<std::vector<caf::typed_response_promise<bool>>>();
  ctx->store = sys.spawn([deltas, held](store_actor::pointer self)
                           -> store_actor::behavior_type {
    return {
      [=](store_atom, const agent_delta& d) {
        deltas->push_back(d.upserts.size());
        held->push_back(self->make_response_promise<bool>());
        return held->back();
      },
      [=](flush_atom) {
        for (auto& rp : *held)
          rp.deliver(true);
        held->clear();
      },
    };
  });
  // The stub answers what it holds when it gets a flush.
  auto release = [&] {
    self->send(ctx->store, flush_atom::value);
    sched.run();
  };
  // 20 messages in the mailbox at once: one delta with 20 tasks, and
  // every sender is answered after it.
  using handle = decltype(self->request(handle_of("B"), caf::infinite,
                                        enqueue_atom::value, std::string{},
                                        json_box{}, std::string{}));
  std::vector<handle> hs;
  // (What the fixture's subscriptions answered is still there.)
  auto waiting = self->mailbox().size();
  for (int i = 0; i < 20; ++i)
    hs.push_back(self->request(handle_of("B"), caf::infinite,
                               enqueue_atom::value, std::string{"search"},
                               json_box{{{"query", std::to_string(i)}}},
                               std::string{}));
  sched.run();
  CAF_REQUIRE_EQUAL(deltas->size(), 1u);
  CAF_CHECK_EQUAL(deltas->front(), 20u);
  // Nobody is answered before the store kept the delta.
  CAF_CHECK_EQUAL(self->mailbox().size(), waiting);
  release();
  std::set<std::string> ids;
  for (auto& h : hs)
    h.receive([&](std::string& id) { ids.insert(id); },
              [](caf::error& err) { CAF_FAIL("enqueue error: " << err); });
  CAF_CHECK_EQUAL(ids.size(), 20u);
  // An idle agent's single change goes alone, at once.
  self->send(handle_of("B"), enqueue_atom::value, std::string{"search"},
             json_box{{{"query", "alone"}}}, std::string{});
  sched.run();
  CAF_REQUIRE_EQUAL(deltas->size(), 2u);
  CAF_CHECK_EQUAL(deltas->back(), 1u);
  release();
}

CAF_TEST(a change made just before the agent is stopped is kept) {
  CAF_CHECK_EQUAL(start("C").status, "started");
  auto c_handle = handle_of("C");
  // As at node shutdown: the supervisor hands its agents over and keeps
  // nothing of them any more; the node stops them.
  ask<std::vector<agent_actor>>(sup, shutdown_atom::value);
  // The change and the exit are in the mailbox together: the exit comes
  // before the agent's flush message, and the change still reaches the
  // store.
  self->send(c_handle, enqueue_atom::value, std::string{"search"},
             json_box{{{"query", "last"}}}, std::string{});
  anon_send_exit(c_handle, caf::exit_reason::user_shutdown);
  sched.run();
  auto c = kept("C");
  CAF_REQUIRE(c.has_value());
  CAF_REQUIRE_EQUAL(c->tasks.size(), 1u);
  CAF_CHECK_EQUAL(c->tasks[0].status, "queued");
}

CAF_TEST(an acknowledged start and task and result are in the store) {
  CAF_CHECK_EQUAL(start("A", R"({"k":"v"})").status, "started");
  auto a = kept("A");
  CAF_REQUIRE(a.has_value());
  CAF_CHECK_EQUAL(a->header.memory, R"({"k":"v"})");
  auto id = enqueue("A", "x");
  a = kept("A");
  CAF_REQUIRE_EQUAL(a->tasks.size(), 1u);
  CAF_CHECK_EQUAL(a->tasks[0].id, id);
  CAF_CHECK_EQUAL(a->tasks[0].status, "queued");
  auto res = ask<process_result>(handle_of("A"), process_atom::value);
  CAF_CHECK_EQUAL(res.task_id, id);
  a = kept("A");
  CAF_CHECK_EQUAL(a->tasks[0].status, "completed");
  CAF_CHECK_EQUAL(a->header.processed, 1u);
}

CAF_TEST(a restarted node brings its agents back with everything) {
  start("A", R"({"k":"v"})");
  auto first = enqueue("A", "1");
  ask<process_result>(handle_of("A"), process_atom::value);
  auto second = enqueue("A", "2");
  auto third = enqueue("A", "3");
  start("B");
  CAF_CHECK_EQUAL(restart_node(), 2u);
  CAF_CHECK(saw("agent_started", "A", "recovered"));
  CAF_CHECK(saw("agent_started", "B", "recovered"));
  auto st = ask<agent_status>(handle_of("A"), state_atom::value);
  CAF_CHECK_EQUAL(st.inbox_count, 2u);
  CAF_CHECK_EQUAL(st.processed_count, 1u);
  auto keys = st.memory_keys;
  std::sort(keys.begin(), keys.end());
  CAF_CHECK_EQUAL(keys, (std::vector<std::string>{"k", "last_result"}));
  // History and the task index came back too.
  auto view = ask<task_view>(handle_of("A"), task_atom::value, first);
  CAF_CHECK_EQUAL(view.status, "completed");
  CAF_CHECK(ctx->tasks->find(first).has_value());
  // The queue keeps its order.
  auto next = ask<process_result>(handle_of("A"), process_atom::value);
  CAF_CHECK_EQUAL(next.task_id, second);
  next = ask<process_result>(handle_of("A"), process_atom::value);
  CAF_CHECK_EQUAL(next.task_id, third);
}

CAF_TEST(recovery answers once the directory holds every recovered agent) {
  start("A");
  start("B");
  fresh_node();
  // The node serves /a2a right after this answer, and ListAgents reads the
  // directory's map: run one job at a time and look when the answer lands.
  // (A blocking actor of its own: the answer is in its mailbox the moment
  // it is sent, not once a job runs.)
  caf::scoped_actor asker{sys};
  auto rh = asker->request(sup, caf::infinite, adopt_atom::value, db->load());
  while (asker->mailbox().empty() && sched.try_run_once())
    ; // next job
  CAF_REQUIRE(!asker->mailbox().empty());
  CAF_CHECK(ctx->directory->find("A").has_value());
  CAF_CHECK(ctx->directory->find("B").has_value());
  size_t adopted = 0;
  rh.receive([&](size_t x) { adopted = x; },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(adopted, 2u);
  sched.run();
}

CAF_TEST(a task running when the node died is failed and not run again) {
  start("A");
  // A standard task with an action that never finishes by itself.
  submit_request req;
  req.action = "sleep";
  req.params = json{{"ms", 60000}};
  auto v = ask<task_view>(handle_of("A"), submit_atom::value, req);
  sched.run();
  auto a = kept("A");
  CAF_REQUIRE(a);
  CAF_CHECK_EQUAL(a->tasks.at(0).status, "running");
  restart_node();
  auto view = ask<task_view>(handle_of("A"), task_atom::value, v.task_id);
  CAF_CHECK_EQUAL(view.status, "failed");
  CAF_CHECK(*view.result == json({{"error", "agent_crashed"}}));
  // And the store says so too.
  {
    auto held = kept("A");
    CAF_REQUIRE(held);
    CAF_CHECK_EQUAL(held->tasks.at(0).status, "failed");
  }
}

CAF_TEST(a crash keeps the store in step) {
  start("A");
  auto doomed = ask<std::string>(handle_of("A"), enqueue_atom::value,
                                 std::string{"boom"},
                                 json_box{json::object()}, std::string{});
  auto err = ask_error<process_result>(handle_of("A"), process_atom::value);
  CAF_CHECK(err != caf::none);
  auto a = kept("A");
  CAF_REQUIRE(a.has_value());
  CAF_CHECK_EQUAL(a->tasks.at(0).id, doomed);
  CAF_CHECK_EQUAL(a->tasks.at(0).status, "failed");
}

CAF_TEST(a recovered agent without tasks is dormant until a message) {
  start("A");
  enqueue("A", "x");
  start("B", R"({"k":"v"})");
  CAF_CHECK_EQUAL(restart_node(), 2u);
  CAF_CHECK(ctx->directory->find("A")->handle);
  CAF_CHECK(!ctx->directory->find("B")->handle);
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 1);
  CAF_CHECK_EQUAL(ctx->metrics->agents.value(), 2);
  auto st = ask<agent_status>(handle_of("B"), state_atom::value);
  CAF_CHECK_EQUAL(st.memory_keys, std::vector<std::string>{"k"});
  CAF_CHECK_EQUAL(ctx->metrics->dormant_agents.value(), 0);
  // Woken, it keeps its changes as before.
  enqueue("B", "y");
  auto b = kept("B");
  CAF_REQUIRE(b.has_value());
  CAF_CHECK_EQUAL(b->tasks.size(), 1u);
}

CAF_TEST(a dormant agent that is stopped leaves the store) {
  start("D");
  CAF_REQUIRE(kept("D").has_value());
  CAF_CHECK(ask<bool>(sup, stop_atom::value, std::string{"D"},
                      std::string{"stopped"}));
  CAF_CHECK(!kept("D").has_value());
  CAF_CHECK_EQUAL(restart_node(), 0u);
}

CAF_TEST(a group start answers once the store holds every agent) {
  std::vector<start_request> xs{{"G1", json_box{json{{"k", 1}}}, ""},
                                {"G2", json_box{}, ""}};
  auto rs = ask<std::vector<start_answer>>(sup, start_atom::value, xs);
  CAF_REQUIRE_EQUAL(rs.size(), 2u);
  CAF_CHECK_EQUAL(rs[0].result.status, "started");
  CAF_CHECK_EQUAL(rs[1].result.status, "started");
  CAF_CHECK(kept("G1").has_value());
  CAF_CHECK(kept("G2").has_value());
  CAF_CHECK_EQUAL(restart_node(), 2u);
  CAF_CHECK(ctx->directory->contains("G1"));
}

CAF_TEST(a stopped agent leaves the store) {
  start("A");
  enqueue("A", "x");
  CAF_CHECK(ask<bool>(sup, stop_atom::value, std::string{"A"},
                      std::string{"stopped"}));
  CAF_CHECK(!kept("A").has_value());
  CAF_CHECK_EQUAL(restart_node(), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
