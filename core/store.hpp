#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/persist.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace am {

/// A node's agents in an embedded SQLite database (`<folder>/agents.db`,
/// WAL mode). One writer: the store actor. Plain class, no actors: every
/// operation throws `std::runtime_error` with SQLite's message on failure.
///
/// Tables (inspect them with the `sqlite3` command):
/// - `agents(name, generation, started_at, default_action, processed, seq,
///   memory)`: one row per agent;
/// - `tasks(agent, id, seq, status, standard, action, params, context_id,
///   message_id, message, result, updated_us, trace_id)`: its queued,
///   running and remembered tasks.
class store {
public:
  /// Opens or creates the database under `folder` (created if missing).
  /// `fsync`: every commit reaches the disk (survives a power cut); else
  /// commits survive a killed process only.
  store(const std::string& folder, bool fsync);

  ~store();

  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// Applies `batch` in one transaction (all or nothing).
  void write(const std::vector<agent_delta>& batch);

  /// Every agent kept, with its tasks.
  std::vector<agent_snapshot> load();

  /// Transactions committed by `write` so far.
  uint64_t commits() const {
    return commits_;
  }

  /// The database file.
  const std::string& file() const {
    return file_;
  }

private:
  sqlite3_stmt* prepare(const char* sql);
  void exec(const char* sql);
  bool has_column(const char* table, const char* column);
  [[noreturn]] void fail(const std::string& what);
  void close();

  std::string file_;
  uint64_t commits_ = 0;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_agent_ = nullptr;
  sqlite3_stmt* put_task_ = nullptr;
  sqlite3_stmt* set_status_ = nullptr;
  sqlite3_stmt* del_task_ = nullptr;
  sqlite3_stmt* del_agent_ = nullptr;
  sqlite3_stmt* del_tasks_ = nullptr;
};

} // namespace am
