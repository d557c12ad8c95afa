#define CAF_SUITE agent_state

#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <stdexcept>

#include "core/agent_state.hpp"

using namespace am;

namespace {

struct fixture {
  action_registry actions = action_registry::builtin();
  agent_state st{"W", json::object(), 3};

  fixture() {
    actions.add("boom", [](const json&) -> json {
      throw std::runtime_error("boom");
    });
  }
};

bool is_hex16(const std::string& id) {
  return id.size() == 16
         && std::all_of(id.begin(), id.end(), [](char c) {
              return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            });
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(agent_state_tests, fixture)

CAF_TEST(a new agent is idle and empty) {
  CAF_CHECK_EQUAL(st.name(), "W");
  CAF_CHECK(!st.busy());
  CAF_CHECK_EQUAL(st.inbox_count(), 0u);
  CAF_CHECK_EQUAL(st.processed_count(), 0u);
  CAF_CHECK(st.memory_keys().empty());
  CAF_CHECK(!st.process_next(actions));
}

CAF_TEST(initial memory must be an object) {
  agent_state with_memory{"M", {{"a", 1}, {"b", 2}}};
  auto keys = with_memory.memory_keys();
  CAF_CHECK_EQUAL(keys, (std::vector<std::string>{"a", "b"}));
  agent_state not_object{"N", json::array({1})};
  CAF_CHECK(not_object.memory_keys().empty());
}

CAF_TEST(tasks run in FIFO order and update memory and counters) {
  auto a = st.enqueue("search", {{"query", "one"}});
  auto b = st.enqueue("analyze", {{"data", "two"}});
  CAF_CHECK(is_hex16(a));
  CAF_CHECK_NOT_EQUAL(a, b);
  CAF_CHECK_EQUAL(st.inbox_count(), 2u);
  auto r1 = st.process_next(actions);
  CAF_REQUIRE(r1);
  CAF_CHECK_EQUAL(r1->t.id, a);
  CAF_CHECK(r1->status == task_status::completed);
  CAF_CHECK(st.memory()["last_result"]
            == json({{"ok", "Search results for: one"}}));
  auto r2 = st.process_next(actions);
  CAF_CHECK_EQUAL(r2->t.id, b);
  CAF_CHECK_EQUAL(st.processed_count(), 2u);
  CAF_CHECK_EQUAL(st.inbox_count(), 0u);
  CAF_CHECK_EQUAL(st.memory_keys(), std::vector<std::string>{"last_result"});
}

CAF_TEST(find reports queued and finished tasks) {
  auto a = st.enqueue("search", json::object());
  CAF_CHECK(st.find(a)->status == task_status::queued);
  st.process_next(actions);
  auto rec = st.find(a);
  CAF_REQUIRE(rec);
  CAF_CHECK(rec->status == task_status::completed);
  CAF_CHECK(!st.find("ffffffffffffffff"));
}

CAF_TEST(cancel removes only queued tasks) {
  auto a = st.enqueue("search", json::object());
  auto b = st.enqueue("search", json::object());
  CAF_CHECK(st.cancel(b));
  CAF_CHECK(!st.cancel(b));
  CAF_CHECK(st.find(b)->status == task_status::cancelled);
  st.process_next(actions);
  CAF_CHECK(!st.cancel(a));
  CAF_CHECK_EQUAL(st.inbox_count(), 0u);
  CAF_CHECK_EQUAL(st.processed_count(), 1u);
}

CAF_TEST(a throwing action leaves the task in flight until failed) {
  auto a = st.enqueue("boom", json::object());
  auto b = st.enqueue("search", json::object());
  bool thrown = false;
  try {
    st.process_next(actions);
  } catch (const std::runtime_error&) {
    thrown = true;
  }
  CAF_CHECK(thrown);
  CAF_CHECK(st.busy());
  CAF_CHECK(st.find(a)->status == task_status::running);
  auto recs = st.fail_running("agent_crashed");
  CAF_REQUIRE_EQUAL(recs.size(), 1u);
  CAF_CHECK_EQUAL(recs[0].t.id, a);
  CAF_CHECK(recs[0].result == json({{"error", "agent_crashed"}}));
  CAF_CHECK(!st.busy());
  CAF_CHECK(st.find(a)->status == task_status::failed);
  CAF_CHECK(st.fail_running("again").empty());
  CAF_CHECK(st.process_next(actions)->t.id == b);
  CAF_CHECK_EQUAL(st.processed_count(), 1u);
}

CAF_TEST(the history is bounded and reports evicted ids) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(st.enqueue("search", json::object()));
    st.process_next(actions);
  }
  CAF_CHECK(!st.find(ids[0]));
  CAF_CHECK(!st.find(ids[1]));
  CAF_CHECK(st.find(ids[2]));
  CAF_CHECK_EQUAL(st.take_evicted(), (std::vector<std::string>{ids[0], ids[1]}));
  CAF_CHECK(st.take_evicted().empty());
  CAF_CHECK(st.task_ids().size() == 3u);
}

namespace {

task standard_task(const std::string& message_id,
                   const std::string& action = "search") {
  task t;
  t.action = action;
  t.params = json{{"query", message_id}};
  t.message_id = message_id;
  t.context_id = "ctx";
  t.message = json{{"messageId", message_id}};
  return t;
}

} // namespace

CAF_TEST(standard tasks run one at a time in arrival order) {
  auto [a, a_new] = st.submit(standard_task("m1"));
  auto [b, b_new] = st.submit(standard_task("m2"));
  CAF_CHECK(a_new && b_new);
  CAF_CHECK(a.t.standard);
  CAF_CHECK(a.status == task_status::queued);
  CAF_CHECK_EQUAL(st.standard_count(), 2u);
  CAF_CHECK_EQUAL(st.inbox_count(), 0u); // the dialect inbox is separate
  auto first = st.begin_standard();
  CAF_REQUIRE(first);
  CAF_CHECK_EQUAL(first->t.id, a.t.id);
  CAF_CHECK(first->status == task_status::running);
  CAF_CHECK(!st.begin_standard()); // b waits for a
  CAF_CHECK(st.running_standard() == a.t.id);
  auto done = st.complete(a.t.id, json{{"ok", "x"}});
  CAF_REQUIRE(done);
  CAF_CHECK(done->status == task_status::completed);
  CAF_CHECK(st.memory()["last_result"] == json({{"ok", "x"}}));
  CAF_CHECK(!st.complete(a.t.id, json{{"ok", "twice"}})); // only once
  auto second = st.begin_standard();
  CAF_REQUIRE(second);
  CAF_CHECK_EQUAL(second->t.id, b.t.id);
  done = st.complete(b.t.id, json{{"error", "no"}});
  CAF_CHECK(done->status == task_status::failed);
  CAF_CHECK_EQUAL(st.processed_count(), 2u);
}

CAF_TEST(a resent message id finds the existing task) {
  auto [a, created] = st.submit(standard_task("m1"));
  CAF_CHECK(created);
  auto [again, created_again] = st.submit(standard_task("m1"));
  CAF_CHECK(!created_again);
  CAF_CHECK_EQUAL(again.t.id, a.t.id);
  CAF_CHECK_EQUAL(st.standard_count(), 1u);
  st.begin_standard();
  st.complete(a.t.id, json{{"ok", "x"}});
  auto [finished, created_late] = st.submit(standard_task("m1"));
  CAF_CHECK(!created_late);
  CAF_CHECK(finished.status == task_status::completed);
  // Once the task left the bounded history, the id is new again.
  for (int i = 0; i < 3; ++i) {
    st.enqueue("search", json::object());
    st.process_next(actions);
  }
  CAF_CHECK(!st.find(a.t.id));
  CAF_CHECK(st.submit(standard_task("m1")).second);
}

CAF_TEST(cancelling standard tasks) {
  auto a = st.submit(standard_task("m1", "sleep")).first;
  auto b = st.submit(standard_task("m2")).first;
  task_record rec;
  // Queued: cancelled.
  CAF_CHECK(st.cancel_task(b.t.id, false, rec) == cancel_outcome::cancelled);
  CAF_CHECK(rec.status == task_status::cancelled);
  st.begin_standard();
  // Running: only when its action can stop.
  CAF_CHECK(st.cancel_task(a.t.id, false, rec)
            == cancel_outcome::not_cancelable);
  CAF_CHECK(st.find(a.t.id)->status == task_status::running);
  CAF_CHECK(st.cancel_task(a.t.id, true, rec) == cancel_outcome::cancelled);
  CAF_CHECK(!st.busy());
  CAF_CHECK(!st.complete(a.t.id, json{{"ok", "late"}})); // result ignored
  CAF_CHECK(st.find(a.t.id)->status == task_status::cancelled);
  // Terminal: not cancelable; unknown: not found.
  CAF_CHECK(st.cancel_task(a.t.id, true, rec)
            == cancel_outcome::not_cancelable);
  CAF_CHECK(st.cancel_task("0000000000000000", true, rec)
            == cancel_outcome::not_found);
}

CAF_TEST(a copy finds tasks in its own queues) {
  auto a = st.enqueue("search", json::object());
  auto b = st.enqueue("search", json::object());
  auto c = st.submit(standard_task("m1")).first.t.id;
  st.begin_next(); // a runs
  agent_state copy{st};
  // Changing the original leaves the copy as it was.
  CAF_CHECK(st.cancel(b));
  CAF_CHECK(st.complete(a, json{{"ok", 1}}));
  CAF_CHECK(copy.find(a)->status == task_status::running);
  CAF_CHECK(copy.find(b)->status == task_status::queued);
  CAF_CHECK(copy.find(c)->status == task_status::queued);
  CAF_CHECK(copy.cancel(b));
  CAF_CHECK(copy.complete(a, json{{"ok", 2}}));
  auto done = copy.find(a);
  CAF_REQUIRE(done);
  CAF_CHECK_EQUAL((*done->result)["ok"], 2);
  CAF_CHECK_EQUAL(copy.inbox_count(), 0u);
  // A state assigned over another one forgets the old index too.
  copy = std::move(st);
  CAF_CHECK(copy.find(c)->status == task_status::queued);
  auto first = copy.find(a);
  CAF_REQUIRE(first);
  CAF_CHECK_EQUAL((*first->result)["ok"], 1);
}

CAF_TEST(finding a task does not depend on the queue length) {
  // Regression (issue 10): find walked the queues. 200,000 tasks: the
  // first, the last and every cancel in between are found by the index.
  std::vector<std::string> ids;
  for (int i = 0; i < 200000; ++i)
    ids.push_back(st.enqueue("search", json::object()));
  CAF_CHECK(st.find(ids.front())->status == task_status::queued);
  CAF_CHECK(st.find(ids.back())->status == task_status::queued);
  for (size_t i = 1; i < ids.size(); i += 1000)
    CAF_CHECK(st.cancel(ids[i]));
  CAF_CHECK_EQUAL(st.inbox_count(), 200000u - 200u);
  auto rec = st.process_next(actions);
  CAF_REQUIRE(rec);
  CAF_CHECK_EQUAL(rec->t.id, ids.front());
  CAF_CHECK(st.find(ids.front())->status == task_status::completed);
  CAF_CHECK_EQUAL(st.last_enqueued().t.id, ids.back());
}

CAF_TEST(the board shows every change once its owner opened it) {
  agent_board::view v;
  CAF_CHECK(!st.board().read(v)); // closed until an actor serves the agent
  st.enqueue("search", {{"query", "one"}});
  st.open_board(7);
  CAF_REQUIRE(st.board().read(v));
  CAF_CHECK_EQUAL(v.inbox_count, 1u);
  CAF_CHECK(!v.busy);
  CAF_CHECK(v.memory_keys.empty());
  auto id = st.enqueue("search", {{"query", "two"}});
  auto rec = st.begin_next();
  CAF_REQUIRE(rec);
  CAF_REQUIRE(st.board().read(v));
  CAF_CHECK_EQUAL(v.inbox_count, 1u);
  CAF_CHECK(v.busy);
  st.complete(rec->t.id, json{{"ok", 1}});
  CAF_REQUIRE(st.board().read(v));
  CAF_CHECK(!v.busy);
  CAF_CHECK_EQUAL(v.processed_count, 1u);
  CAF_CHECK_EQUAL(v.memory_keys, std::vector<std::string>{"last_result"});
  st.cancel(id);
  CAF_REQUIRE(st.board().read(v));
  CAF_CHECK_EQUAL(v.inbox_count, 0u);
  // A crashed actor's cleanup after its successor opened the board.
  st.open_board(8);
  st.board().close(7);
  CAF_CHECK(st.board().read(v));
  st.board().close(8);
  CAF_CHECK(!st.board().read(v));
}

CAF_TEST(a copied state has a closed board of its own) {
  agent_state with_memory{"M", {{"role", "x"}}};
  with_memory.open_board(1);
  agent_state copy = with_memory;
  agent_board::view v;
  CAF_CHECK(!copy.board().read(v));
  copy.open_board(2);
  CAF_REQUIRE(copy.board().read(v));
  CAF_CHECK_EQUAL(v.memory_keys, std::vector<std::string>{"role"});
  copy.enqueue("search", json::object());
  CAF_REQUIRE(with_memory.board().read(v));
  CAF_CHECK_EQUAL(v.inbox_count, 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
