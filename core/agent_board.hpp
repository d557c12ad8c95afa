#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "core/messages.hpp"

namespace am {

/// What GetAgentState shows of an agent, readable from any thread. The
/// agent's state writes it on every change (one writer: the agent actor);
/// HTTP workers read it without sending the agent a message. It is open
/// only while an actor serves the agent: closed while the agent starts,
/// restarts, after it retired and once it is gone, and readers then ask
/// the actor as before. A copy starts closed and empty (a copied state is
/// nobody's board).
class agent_board {
public:
  /// One consistent reading.
  struct view {
    size_t inbox_count = 0;
    uint64_t processed_count = 0;
    bool busy = false;
    std::vector<std::string> memory_keys;
  };

  agent_board() = default;

  agent_board(const agent_board&) noexcept {
    // nop: see class comment
  }

  agent_board& operator=(const agent_board&) noexcept {
    return *this;
  }

  /// Writer: the agent's figures after a change. `keys()` makes the memory
  /// keys and is called only when their number changed (keys are only ever
  /// added to an agent's memory).
  template <class Keys>
  void show(size_t inbox_count, uint64_t processed_count, bool busy,
            size_t key_count, Keys keys) {
    std::vector<std::string> fresh;
    // Only the writer changes keys_, so reading its size needs no lock.
    bool new_keys = key_count != keys_.size();
    if (new_keys)
      fresh = keys();
    guard g{lock_};
    inbox_count_ = inbox_count;
    processed_count_ = processed_count;
    busy_ = busy;
    if (new_keys)
      keys_.swap(fresh);
  }

  /// Opens the board for the actor `owner` (nonzero), when it starts.
  void open(uint64_t owner) {
    guard g{lock_};
    owner_ = owner;
  }

  /// Closes the board if `owner` still holds it (a crashed actor's cleanup
  /// may run after its successor opened the board).
  void close(uint64_t owner) {
    guard g{lock_};
    if (owner_ == owner)
      owner_ = 0;
  }

  /// Reader: fills `out` and returns true if the board is open.
  bool read(view& out) const {
    guard g{lock_};
    if (owner_ == 0)
      return false;
    out.inbox_count = inbox_count_;
    out.processed_count = processed_count_;
    out.busy = busy_;
    out.memory_keys = keys_;
    return true;
  }

private:
  /// A spin lock: both sides hold it for a few stores or one small copy,
  /// and it keeps the board at one byte of lock per agent.
  struct guard {
    explicit guard(std::atomic<bool>& x) : flag(x) {
      for (int spins = 0; flag.exchange(true, std::memory_order_acquire);)
        if (++spins % 64 == 0)
          std::this_thread::yield();
    }
    ~guard() {
      flag.store(false, std::memory_order_release);
    }
    std::atomic<bool>& flag;
  };

  mutable std::atomic<bool> lock_{false};
  bool busy_ = false;
  uint64_t owner_ = 0; // the actor serving the agent; 0: closed
  size_t inbox_count_ = 0;
  uint64_t processed_count_ = 0;
  std::vector<std::string> keys_;
};

/// GetAgentState's answer for the agent `name` on `node`.
inline agent_status to_status(std::string name, agent_board::view v,
                              std::string node) {
  return agent_status{std::move(name),      v.busy ? "busy" : "idle",
                      v.inbox_count,        v.processed_count,
                      std::move(v.memory_keys), std::move(node)};
}

} // namespace am
