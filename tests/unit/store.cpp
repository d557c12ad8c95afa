#define CAF_SUITE store

#include <caf/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/agent_state.hpp"
#include "core/store.hpp"

#include <sqlite3.h>
#include "tests/temp_dir.hpp"

using namespace am;
using am::test::temp_dir;

namespace {

bool operator==(const stored_task& x, const stored_task& y) {
  return x.id == y.id && x.seq == y.seq && x.status == y.status
         && x.standard == y.standard && x.action == y.action
         && x.params == y.params && x.context_id == y.context_id
         && x.message_id == y.message_id && x.message == y.message
         && x.result == y.result && x.updated_us == y.updated_us
         && x.trace_id == y.trace_id;
}

bool operator==(const agent_header& x, const agent_header& y) {
  return x.name == y.name && x.default_action == y.default_action
         && x.memory == y.memory && x.processed == y.processed
         && x.started_at == y.started_at && x.generation == y.generation
         && x.seq == y.seq;
}

/// An agent with something in every field: memory, both queues, a running
/// task and every kind of finished one.
agent_state busy_agent(action_registry& actions) {
  agent_state st{"Keeper", json{{"k", "v"}, {"n", 1}}, 100, "analyze"};
  st.track_changes(true);
  st.incarnate(123456, 7);
  auto done = st.enqueue("search", json{{"query", "first"}},
                         "4bf92f3577b34da6a3ce929d0e0e4736");
  st.process_next(actions); // completed, memory["last_result"]
  auto gone = st.enqueue("search", json{{"query", "never"}});
  st.cancel(gone);
  st.enqueue("search", json{{"query", "q1"}});
  st.enqueue("analyze", json{{"data", "q2"}});
  task t;
  t.action = "summarize";
  t.params = json{{"text", "hello"}};
  t.context_id = "ctx-1";
  t.message_id = "msg-1";
  t.trace_id = "0af7651916cd43dd8448eb211c80319c";
  t.message = json{{"role", "ROLE_USER"}, {"parts", json::array()}};
  st.submit(t);
  st.begin_standard(); // running
  task u = t;
  u.message_id = "msg-2";
  st.submit(u); // queued behind it
  CAF_REQUIRE(!done.empty());
  return st;
}

} // namespace

CAF_TEST(every field survives a round trip through the store) {
  temp_dir dir;
  auto actions = action_registry::builtin();
  auto st = busy_agent(actions);
  auto before = st.snapshot();
  {
    store db{dir.path, false};
    db.write({st.take_changes()});
    CAF_CHECK_EQUAL(db.commits(), 1u);
  }
  store db{dir.path, false};
  auto kept = db.load();
  CAF_REQUIRE_EQUAL(kept.size(), 1u);
  auto& after = kept.front();
  CAF_CHECK(after.header == before.header);
  CAF_CHECK_EQUAL(after.header.generation, 7u);
  CAF_CHECK_EQUAL(after.header.started_at, 123456);
  CAF_REQUIRE_EQUAL(after.tasks.size(), before.tasks.size());
  for (auto& x : before.tasks) {
    auto i = std::find_if(after.tasks.begin(), after.tasks.end(),
                          [&](const stored_task& y) { return y.id == x.id; });
    CAF_REQUIRE(i != after.tasks.end());
    CAF_CHECK(*i == x);
  }
  // The agent rebuilt from it is the same agent.
  agent_state back{after, 100};
  CAF_CHECK_EQUAL(back.name(), "Keeper");
  CAF_CHECK_EQUAL(back.default_action(), "analyze");
  CAF_CHECK_EQUAL(back.processed_count(), 1u);
  CAF_CHECK_EQUAL(back.inbox_count(), 2u);
  CAF_CHECK_EQUAL(back.standard_count(), 1u);
  CAF_CHECK(back.busy());
  CAF_CHECK(back.memory() == st.memory());
  CAF_CHECK_EQUAL(back.generation(), 7u);
  // Queues keep their order.
  auto first = back.begin_next();
  CAF_REQUIRE(first.has_value());
  CAF_CHECK(first->t.params == json({{"query", "q1"}}));
  // A known message id still finds its task (safe retries).
  task again;
  again.message_id = "msg-1";
  auto [rec, created] = back.submit(again);
  CAF_CHECK(!created);
  CAF_CHECK_EQUAL(rec.t.action, "summarize");
}

CAF_TEST(changes and evictions and removals reach the store) {
  temp_dir dir;
  store db{dir.path, true};
  agent_state st{"Small", json::object(), 2};
  st.track_changes(true);
  auto actions = action_registry::builtin();
  for (int i = 0; i < 4; ++i) {
    st.enqueue("search", json{{"query", std::to_string(i)}});
    st.process_next(actions);
    db.write({st.take_changes()});
  }
  auto kept = db.load();
  CAF_REQUIRE_EQUAL(kept.size(), 1u);
  // Only the history limit's worth of tasks is kept.
  CAF_CHECK_EQUAL(kept.front().tasks.size(), 2u);
  CAF_CHECK_EQUAL(kept.front().header.processed, 4u);
  // Nothing changed: an empty delta.
  CAF_CHECK(empty(st.take_changes()));
  agent_delta gone;
  gone.name = "Small";
  gone.removed = true;
  db.write({gone});
  CAF_CHECK(db.load().empty());
}

CAF_TEST(a batch is one transaction) {
  temp_dir dir;
  store db{dir.path, false};
  std::vector<agent_delta> batch;
  for (int i = 0; i < 50; ++i) {
    agent_state st{"A" + std::to_string(i)};
    st.track_changes(true);
    st.enqueue("search", json{{"query", "x"}});
    batch.push_back(st.take_changes());
  }
  db.write(batch);
  CAF_CHECK_EQUAL(db.commits(), 1u);
  auto kept = db.load();
  CAF_CHECK_EQUAL(kept.size(), 50u);
  for (auto& x : kept)
    CAF_CHECK_EQUAL(x.tasks.size(), 1u);
  // All or nothing: a batch whose last change cannot apply (a status for a
  // task the store never got) leaves no trace of the others.
  std::vector<agent_delta> bad;
  for (int i = 0; i < 3; ++i) {
    agent_state st{"B" + std::to_string(i)};
    st.track_changes(true);
    st.enqueue("search", json{{"query", "x"}});
    bad.push_back(st.take_changes());
  }
  stored_task ghost;
  ghost.id = "ghost";
  ghost.status = "running";
  ghost.full = false;
  bad.back().upserts.push_back(ghost);
  bool threw = false;
  try {
    db.write(bad);
  } catch (const std::runtime_error&) {
    threw = true;
  }
  CAF_CHECK(threw);
  CAF_CHECK_EQUAL(db.commits(), 1u);
  CAF_CHECK_EQUAL(db.load().size(), 50u);
}

CAF_TEST(a full rewrite drops rows the agent no longer has) {
  temp_dir dir;
  store db{dir.path, false};
  agent_state st{"Full"};
  st.track_changes(true);
  st.enqueue("search", json{{"query", "kept"}});
  db.write({st.take_changes()});
  // A stale row of an earlier incarnation of the name.
  agent_delta stale;
  stale.name = "Full";
  stored_task old;
  old.id = "old-one";
  old.status = "queued";
  stale.upserts.push_back(old);
  db.write({stale});
  auto loaded = db.load();
  CAF_REQUIRE(!loaded.empty());
  CAF_CHECK_EQUAL(loaded.front().tasks.size(), 2u);
  st.track_changes(true, true);
  db.write({st.take_changes()});
  auto kept = db.load();
  CAF_REQUIRE_EQUAL(kept.front().tasks.size(), 1u);
  CAF_CHECK(kept.front().tasks.front().params == R"({"query":"kept"})");
}

CAF_TEST(without tracking an agent records nothing) {
  agent_state st{"Quiet"};
  st.enqueue("search", json{{"query", "x"}});
  CAF_CHECK(empty(st.take_changes()));
}

CAF_TEST(a store written before trace ids opens and gains the column) {
  temp_dir dir;
  {
    // The tasks table as it was: no trace_id column.
    sqlite3* db = nullptr;
    auto file = dir.path + "/agents.db";
    CAF_REQUIRE_EQUAL(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    auto sql = R"sql(
      CREATE TABLE agents(name TEXT PRIMARY KEY, generation INTEGER NOT NULL,
        started_at INTEGER NOT NULL, default_action TEXT NOT NULL,
        processed INTEGER NOT NULL, seq INTEGER NOT NULL,
        memory TEXT NOT NULL);
      CREATE TABLE tasks(agent TEXT NOT NULL, id TEXT NOT NULL,
        seq INTEGER NOT NULL, status TEXT NOT NULL, standard INTEGER NOT NULL,
        action TEXT NOT NULL, params TEXT NOT NULL, context_id TEXT NOT NULL,
        message_id TEXT NOT NULL, message TEXT NOT NULL, result TEXT NOT NULL,
        updated_us INTEGER NOT NULL, PRIMARY KEY(agent, id)) WITHOUT ROWID;
      INSERT INTO agents VALUES('Old', 0, 1, 'search', 0, 1, '{}');
      INSERT INTO tasks VALUES('Old', 'aaaaaaaaaaaaaaaa', 1, 'queued', 0,
        'search', '{"query":"x"}', 'aaaaaaaaaaaaaaaa', '', '', '', 5);
    )sql";
    CAF_REQUIRE_EQUAL(sqlite3_exec(db, sql, nullptr, nullptr, nullptr),
                      SQLITE_OK);
    sqlite3_close(db);
  }
  store db{dir.path, false};
  auto kept = db.load();
  CAF_REQUIRE_EQUAL(kept.size(), 1u);
  CAF_REQUIRE_EQUAL(kept.front().tasks.size(), 1u);
  CAF_CHECK_EQUAL(kept.front().tasks.front().trace_id, "");
  // New tasks keep theirs.
  agent_state st{kept.front(), 100};
  st.track_changes(true);
  st.enqueue("search", json{{"query", "y"}}, "0af7651916cd43dd8448eb211c80319c");
  db.write({st.take_changes()});
  auto again = db.load();
  CAF_REQUIRE_EQUAL(again.front().tasks.size(), 2u);
  CAF_CHECK_EQUAL(again.front().tasks.back().trace_id,
                  "0af7651916cd43dd8448eb211c80319c");
}

CAF_TEST(a store that cannot be opened says why) {
  temp_dir dir;
  auto file = dir.path + "/not-a-folder";
  std::ofstream{file} << "x";
  try {
    store db{file + "/sub", false};
    CAF_FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    CAF_CHECK(std::string{e.what()}.find("not-a-folder") != std::string::npos);
  }
}
