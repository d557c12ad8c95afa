#include "core/sharded_map.hpp"

#include <chrono>
#include <thread>

namespace am::detail {

namespace {

std::array<reader_slot, reader_registry::capacity> slots;

/// Slots below this index have been taken at some point: the ones a writer
/// looks at.
std::atomic<size_t> used{0};

/// Gives the thread's slot back when the thread ends.
struct holder {
  reader_slot* slot = nullptr;
  bool tried = false;

  ~holder() {
    if (slot) {
      slot->reading.store(nullptr, std::memory_order_release);
      slot->taken.store(false, std::memory_order_release);
      slot = nullptr; // a later thread_local's destructor reads locked
    }
  }
};

} // namespace

reader_slot* reader_registry::mine() noexcept {
  thread_local holder h;
  if (h.tried)
    return h.slot;
  h.tried = true;
  for (size_t i = 0; i < capacity; ++i) {
    bool expected = false;
    if (!slots[i].taken.load(std::memory_order_relaxed)
        && slots[i].taken.compare_exchange_strong(expected, true,
                                                  std::memory_order_acq_rel)) {
      // Raised before the thread's first announcement (both sequentially
      // consistent): a writer that reads `used` after flagging a shard
      // sees this slot if the announcement came first.
      auto n = used.load(std::memory_order_seq_cst);
      while (n < i + 1
             && !used.compare_exchange_weak(n, i + 1,
                                            std::memory_order_seq_cst))
        ; // n reloaded
      h.slot = &slots[i];
      return h.slot;
    }
  }
  return nullptr;
}

void reader_registry::wait_for_readers(const void* shard) noexcept {
  auto n = used.load(std::memory_order_seq_cst);
  for (size_t i = 0; i < n; ++i)
    for (unsigned spins = 0;
         slots[i].reading.load(std::memory_order_seq_cst) == shard; ++spins)
      if (spins >= 128) // descheduled inside its read: give it the core
        std::this_thread::sleep_for(std::chrono::microseconds{50});
      else if (spins >= 64)
        std::this_thread::yield();
}

} // namespace am::detail
