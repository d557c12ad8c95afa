#include "core/store.hpp"

#include <filesystem>
#include <map>
#include <stdexcept>

#include <sqlite3.h>

namespace am {

namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS agents(
  name TEXT PRIMARY KEY,
  generation INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  default_action TEXT NOT NULL,
  processed INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  memory TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks(
  agent TEXT NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  status TEXT NOT NULL,
  standard INTEGER NOT NULL,
  action TEXT NOT NULL,
  params TEXT NOT NULL,
  context_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  message TEXT NOT NULL,
  result TEXT NOT NULL,
  updated_us INTEGER NOT NULL,
  trace_id TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(agent, id)) WITHOUT ROWID;
)sql";

/// Resets a statement when it goes out of scope (also on a throw).
struct reset_guard {
  sqlite3_stmt* stmt;
  ~reset_guard() {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }
};

void bind(sqlite3_stmt* s, int i, const std::string& x) {
  sqlite3_bind_text(s, i, x.data(), static_cast<int>(x.size()),
                    SQLITE_STATIC);
}

void bind(sqlite3_stmt* s, int i, int64_t x) {
  sqlite3_bind_int64(s, i, x);
}

std::string text(sqlite3_stmt* s, int i) {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string{p, static_cast<size_t>(sqlite3_column_bytes(s, i))}
           : std::string{};
}

} // namespace

store::store(const std::string& folder, bool fsync) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec)
    throw std::runtime_error("cannot create store folder " + folder + ": "
                             + ec.message());
  file_ = (std::filesystem::path{folder} / "agents.db").string();
  if (sqlite3_open_v2(file_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                        | SQLITE_OPEN_NOMUTEX,
                      nullptr)
      != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot open store " + file_ + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    exec("PRAGMA journal_mode=WAL");
    // WAL + NORMAL: a commit survives a killed process; FULL also syncs
    // the log on every commit (a power cut).
    exec(fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec(schema);
    // Stores written before trace ids existed lack the column.
    if (!has_column("tasks", "trace_id"))
      exec("ALTER TABLE tasks ADD COLUMN trace_id TEXT NOT NULL DEFAULT ''");
    put_agent_ = prepare(
      "INSERT OR REPLACE INTO agents(name, generation, started_at, "
      "default_action, processed, seq, memory) VALUES(?,?,?,?,?,?,?)");
    put_task_ = prepare(
      "INSERT OR REPLACE INTO tasks(agent, id, seq, status, standard, action, "
      "params, context_id, message_id, message, result, updated_us, "
      "trace_id) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
    set_status_ = prepare(
      "UPDATE tasks SET seq=?, status=?, result=?, updated_us=? "
      "WHERE agent=? AND id=?");
    del_task_ = prepare("DELETE FROM tasks WHERE agent=? AND id=?");
    del_agent_ = prepare("DELETE FROM agents WHERE name=?");
    del_tasks_ = prepare("DELETE FROM tasks WHERE agent=?");
  } catch (...) {
    close();
    throw;
  }
}

store::~store() {
  close();
}

void store::close() {
  for (auto s : {put_agent_, put_task_, set_status_, del_task_, del_agent_,
                 del_tasks_})
    sqlite3_finalize(s);
  put_agent_ = put_task_ = set_status_ = del_task_ = del_agent_ = del_tasks_
    = nullptr;
  if (db_)
    sqlite3_close(db_);
  db_ = nullptr;
}

bool store::has_column(const char* table, const char* column) {
  auto sql = std::string{"PRAGMA table_info("} + table + ")";
  auto s = prepare(sql.c_str());
  bool found = false;
  while (sqlite3_step(s) == SQLITE_ROW)
    if (text(s, 1) == column)
      found = true;
  sqlite3_finalize(s);
  return found;
}

void store::fail(const std::string& what) {
  throw std::runtime_error("store " + file_ + ": " + what + ": "
                           + sqlite3_errmsg(db_));
}

void store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("store " + file_ + ": " + msg);
  }
}

sqlite3_stmt* store::prepare(const char* sql) {
  sqlite3_stmt* result = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &result, nullptr) != SQLITE_OK)
    fail("prepare");
  return result;
}

void store::write(const std::vector<agent_delta>& batch) {
  auto step = [this](sqlite3_stmt* s) {
    reset_guard guard{s};
    if (sqlite3_step(s) != SQLITE_DONE)
      fail("write");
  };
  exec("BEGIN IMMEDIATE");
  try {
    for (auto& d : batch) {
      if (d.removed) {
        bind(del_agent_, 1, d.name);
        step(del_agent_);
        bind(del_tasks_, 1, d.name);
        step(del_tasks_);
        continue;
      }
      if (d.replace) {
        bind(del_tasks_, 1, d.name);
        step(del_tasks_);
      }
      if (d.has_header) {
        auto& h = d.header;
        bind(put_agent_, 1, h.name);
        bind(put_agent_, 2, static_cast<int64_t>(h.generation));
        bind(put_agent_, 3, h.started_at);
        bind(put_agent_, 4, h.default_action);
        bind(put_agent_, 5, static_cast<int64_t>(h.processed));
        bind(put_agent_, 6, static_cast<int64_t>(h.seq));
        bind(put_agent_, 7, h.memory);
        step(put_agent_);
      }
      for (auto& t : d.upserts) {
        if (!t.full) {
          bind(set_status_, 1, static_cast<int64_t>(t.seq));
          bind(set_status_, 2, t.status);
          bind(set_status_, 3, t.result);
          bind(set_status_, 4, t.updated_us);
          bind(set_status_, 5, d.name);
          bind(set_status_, 6, t.id);
          step(set_status_);
          if (sqlite3_changes(db_) != 1)
            throw std::runtime_error("store " + file_ + ": task " + t.id
                                     + " of " + d.name + " is not stored");
          continue;
        }
        bind(put_task_, 1, d.name);
        bind(put_task_, 2, t.id);
        bind(put_task_, 3, static_cast<int64_t>(t.seq));
        bind(put_task_, 4, t.status);
        bind(put_task_, 5, int64_t{t.standard ? 1 : 0});
        bind(put_task_, 6, t.action);
        bind(put_task_, 7, t.params);
        bind(put_task_, 8, t.context_id);
        bind(put_task_, 9, t.message_id);
        bind(put_task_, 10, t.message);
        bind(put_task_, 11, t.result);
        bind(put_task_, 12, t.updated_us);
        bind(put_task_, 13, t.trace_id);
        step(put_task_);
      }
      for (auto& id : d.deletes) {
        bind(del_task_, 1, d.name);
        bind(del_task_, 2, id);
        step(del_task_);
      }
    }
    exec("COMMIT");
    ++commits_;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<agent_snapshot> store::load() {
  std::vector<agent_snapshot> result;
  std::map<std::string, size_t> index;
  {
    auto s = prepare("SELECT name, generation, started_at, default_action, "
                     "processed, seq, memory FROM agents ORDER BY name");
    while (sqlite3_step(s) == SQLITE_ROW) {
      agent_snapshot x;
      x.header.name = text(s, 0);
      x.header.generation = static_cast<uint64_t>(sqlite3_column_int64(s, 1));
      x.header.started_at = sqlite3_column_int64(s, 2);
      x.header.default_action = text(s, 3);
      x.header.processed = static_cast<uint64_t>(sqlite3_column_int64(s, 4));
      x.header.seq = static_cast<uint64_t>(sqlite3_column_int64(s, 5));
      x.header.memory = text(s, 6);
      index.emplace(x.header.name, result.size());
      result.push_back(std::move(x));
    }
    auto rc = sqlite3_finalize(s);
    if (rc != SQLITE_OK)
      fail("load agents");
  }
  auto s = prepare("SELECT agent, id, seq, status, standard, action, params, "
                   "context_id, message_id, message, result, updated_us, "
                   "trace_id FROM tasks ORDER BY agent, seq");
  while (sqlite3_step(s) == SQLITE_ROW) {
    auto i = index.find(text(s, 0));
    if (i == index.end())
      continue; // tasks of an agent without a header: never acknowledged
    stored_task t;
    t.id = text(s, 1);
    t.seq = static_cast<uint64_t>(sqlite3_column_int64(s, 2));
    t.status = text(s, 3);
    t.standard = sqlite3_column_int64(s, 4) != 0;
    t.action = text(s, 5);
    t.params = text(s, 6);
    t.context_id = text(s, 7);
    t.message_id = text(s, 8);
    t.message = text(s, 9);
    t.result = text(s, 10);
    t.updated_us = sqlite3_column_int64(s, 11);
    t.trace_id = text(s, 12);
    result[i->second].tasks.push_back(std::move(t));
  }
  if (sqlite3_finalize(s) != SQLITE_OK)
    fail("load tasks");
  return result;
}

} // namespace am
