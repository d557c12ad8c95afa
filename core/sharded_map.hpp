#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <utility>
#include <vector>

namespace am {

namespace detail {

/// What one thread reads right now: the shard of a read-mostly
/// `sharded_map`, or nothing. On a cache line of its own, written only by
/// its thread.
struct alignas(64) reader_slot {
  std::atomic<const void*> reading{nullptr};
  std::atomic<bool> taken{false};
};

/// The reader slots of all threads (one per thread, for every map).
class reader_registry {
public:
  static constexpr size_t capacity = 256;

  /// This thread's slot, taken on its first call and given back when the
  /// thread ends; nullptr when all are taken (the thread then reads under
  /// the shard's shared lock).
  static reader_slot* mine() noexcept;

  /// Returns once no thread reads `shard` (the caller stopped new readers
  /// of it first).
  static void wait_for_readers(const void* shard) noexcept;
};

} // namespace detail

/// A concurrent hash map split into `Shards` independently locked shards.
/// Readers on any thread take a shared lock on one shard (unless the map is
/// read-mostly, below); writers take an exclusive lock on one shard. A reader sees a value only while no writer
/// changes its shard.
///
/// `ReadMostly` maps (the directory: read on every request, written when an
/// agent starts, stops or moves) let readers write no shared memory: a
/// reader announces the shard in its own thread's slot and reads unless a
/// writer has flagged the shard; a writer takes the lock, flags the shard
/// and waits until no slot names it. Both sides use sequentially consistent
/// operations, so at least one of them sees the other. With a shared lock,
/// two threads reading everywhere move every lock word between their cores
/// (measured: 2 threads scaled 1.3x on 100,000 names; see
/// docs/BENCHMARKS.md). A reader that finds the flag, nests reads or has no
/// slot takes the shared lock instead.
///
/// Each shard is an open-addressing table (linear probing, at most half
/// full, backward-shift deletion) of {hash, pointer to entry} slots: a
/// lookup reads one slot line and one entry, where std::unordered_map reads
/// a bucket, the node before and the node (measured: 1.8x the lookups per
/// second on 100,000 names here; lookups are bound by cache misses).
template <class K, class V, size_t Shards = 64, class Hash = std::hash<K>,
          bool ReadMostly = false>
class sharded_map {
public:
  static_assert(Shards > 0);

  sharded_map() = default;
  sharded_map(const sharded_map&) = delete;
  sharded_map& operator=(const sharded_map&) = delete;

  /// Calls `f(value)` for `key`'s value while no writer can change it, and
  /// returns whether there was one. `f` must not write this map (the writer
  /// would wait for its own read) and must not keep references to the
  /// value. A read inside `f` works, but of another shard it takes the
  /// shared lock; two read-mostly maps must not read each other crosswise.
  template <class F>
  bool read(const K& key, F&& f) const {
    auto h = Hash{}(key);
    auto& s = shards_[h % Shards];
    auto visit = [&] {
      auto i = s.locate(h, key);
      if (i == npos)
        return false;
      f(std::as_const(s.slots[i].ptr->value));
      return true;
    };
    if constexpr (ReadMostly) {
      auto me = detail::reader_registry::mine();
      // A read inside a read of the same shard: the outer one protects it
      // (the shared lock could wait for a writer that waits for us).
      if (me && me->reading.load(std::memory_order_relaxed) == &s)
        return visit();
      if (me && me->reading.load(std::memory_order_relaxed) == nullptr) {
        me->reading.store(&s, std::memory_order_seq_cst);
        if (!s.writing.load(std::memory_order_seq_cst)) {
          struct done {
            detail::reader_slot* me;
            ~done() {
              me->reading.store(nullptr, std::memory_order_release);
            }
          } guard{me};
          return visit();
        }
        me->reading.store(nullptr, std::memory_order_release);
      }
    }
    std::shared_lock<std::shared_mutex> guard{s.mtx};
    return visit();
  }

  /// Whether a writer holds `key`'s shard of a read-mostly map: it waits
  /// there for the readers that did not see its flag (tests watch it).
  bool being_written(const K& key) const {
    return shards_[Hash{}(key) % Shards].writing.load();
  }

  /// Returns a copy of the value for `key`, if any.
  std::optional<V> find(const K& key) const {
    std::optional<V> result;
    read(key, [&](const V& x) { result.emplace(x); });
    return result;
  }

  bool contains(const K& key) const {
    return read(key, [](const V&) {});
  }

  /// Inserts `value` unless `key` exists. Returns true on insertion.
  bool insert(const K& key, V value) {
    auto h = Hash{}(key);
    auto& s = shards_[h % Shards];
    exclusive guard{s};
    if (s.locate(h, key) != npos)
      return false;
    s.add(h, std::make_unique<entry>(entry{key, std::move(value)}));
    return true;
  }

  /// Inserts or overwrites.
  void assign(const K& key, V value) {
    auto h = Hash{}(key);
    auto& s = shards_[h % Shards];
    exclusive guard{s};
    if (auto i = s.locate(h, key); i != npos)
      s.slots[i].ptr->value = std::move(value);
    else
      s.add(h, std::make_unique<entry>(entry{key, std::move(value)}));
  }

  /// Removes `key`. Returns true if it was present.
  bool erase(const K& key) {
    return erase_if(key, [](const V&) { return true; });
  }

  /// Removes `key` only if `pred(value)` holds. Returns true on removal.
  template <class Pred>
  bool erase_if(const K& key, Pred pred) {
    auto h = Hash{}(key);
    auto& s = shards_[h % Shards];
    exclusive guard{s};
    auto i = s.locate(h, key);
    if (i == npos || !pred(s.slots[i].ptr->value))
      return false;
    s.remove_at(i);
    return true;
  }

  /// Removes every entry for which `pred(key, value)` holds; returns them.
  template <class Pred>
  std::vector<std::pair<K, V>> erase_all_if(Pred pred) {
    std::vector<std::pair<K, V>> result;
    for (auto& s : shards_) {
      exclusive guard{s};
      // First decide (a throwing `pred` changes nothing), then remove.
      std::vector<size_t> hashes;
      std::vector<K> keys;
      for (auto& x : s.slots)
        if (x.ptr && pred(std::as_const(x.ptr->key),
                          std::as_const(x.ptr->value))) {
          hashes.push_back(x.hash);
          keys.push_back(x.ptr->key);
        }
      result.reserve(result.size() + keys.size());
      for (size_t k = 0; k < keys.size(); ++k) {
        auto i = s.locate(hashes[k], keys[k]);
        auto& e = *s.slots[i].ptr;
        result.emplace_back(std::move(e.key), std::move(e.value));
        s.remove_at(i);
      }
    }
    return result;
  }

  /// Calls `f(key, value)` for every entry, one shard at a time under its
  /// shared lock (a consistent view per shard, not across shards).
  template <class F>
  void for_each(F f) const {
    for (auto& s : shards_) {
      std::shared_lock<std::shared_mutex> guard{s.mtx};
      for (auto& x : s.slots)
        if (x.ptr)
          f(std::as_const(x.ptr->key), std::as_const(x.ptr->value));
    }
  }

  size_t size() const {
    size_t result = 0;
    for (auto& s : shards_) {
      std::shared_lock<std::shared_mutex> guard{s.mtx};
      result += s.count;
    }
    return result;
  }

private:
  static constexpr size_t npos = static_cast<size_t>(-1);

  struct entry {
    K key;
    V value;
  };

  /// An empty slot has no entry; `hash` saves comparing most keys.
  struct slot {
    size_t hash = 0;
    entry* ptr = nullptr;
  };

  /// Aligned to a cache line (a shard takes two): a reader that takes the
  /// shared lock writes its shard's lock word, which must not share a line
  /// with a neighbour's or straddle two lines.
  /// Measured: 4.9 -> 7.2 M lookups/s from 1 thread on 100,000 names.
  struct alignas(64) shard {
    mutable std::shared_mutex mtx;
    /// Set by a writer of a read-mostly map while it holds `mtx`.
    std::atomic<bool> writing{false};
    std::vector<slot> slots; // a power of two in size, or empty
    size_t count = 0;

    shard() = default;
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    ~shard() {
      for (auto& x : slots)
        delete x.ptr;
    }

    /// The slot where an entry of hash `h` wants to be. The shard took
    /// the low bits (`h % Shards`); the slot takes the ones above.
    size_t home(size_t h) const {
      return (h / Shards) & (slots.size() - 1);
    }

    size_t locate(size_t h, const K& key) const {
      if (slots.empty())
        return npos;
      auto mask = slots.size() - 1;
      for (auto i = home(h);; i = (i + 1) & mask) {
        auto& x = slots[i];
        if (!x.ptr)
          return npos;
        if (x.hash == h) {
          // An entry spans several cache lines (the directory's: 136
          // bytes). The ones past the key load while the key is compared,
          // not one after another once the caller reads the value.
          // Measured on 100,000 names from 1 thread: entries scattered
          // (glibc's malloc) 11.5 -> 13.5-14.3 M lookups/s; packed
          // (mimalloc, as in the node after a batch of starts) 15.3 ->
          // 15.4-15.9.
          auto at = reinterpret_cast<uintptr_t>(x.ptr);
          auto last = at + sizeof(entry) - 1;
          for (auto line = (at | 63) + 1; line <= last; line += 64)
            __builtin_prefetch(reinterpret_cast<const void*>(line));
          if (x.ptr->key == key)
            return i;
        }
      }
    }

    /// Adds an entry known to be absent, growing to stay at most half full
    /// (the entry stays with the caller if growing throws).
    void add(size_t h, std::unique_ptr<entry> e) {
      if ((count + 1) * 2 > slots.size())
        grow();
      auto mask = slots.size() - 1;
      auto i = home(h);
      while (slots[i].ptr)
        i = (i + 1) & mask;
      slots[i] = slot{h, e.release()};
      ++count;
    }

    /// Doubles the table; a failed allocation leaves it as it was.
    void grow() {
      std::vector<slot> fresh(slots.empty() ? 16 : slots.size() * 2);
      auto mask = fresh.size() - 1;
      for (auto& x : slots) {
        if (!x.ptr)
          continue;
        auto i = (x.hash / Shards) & mask;
        while (fresh[i].ptr)
          i = (i + 1) & mask;
        fresh[i] = x;
      }
      slots.swap(fresh);
    }

    /// Deletes the entry at `i` and shifts later entries of its probe run
    /// back, so that no lookup stops early at the hole.
    void remove_at(size_t i) {
      delete slots[i].ptr;
      auto mask = slots.size() - 1;
      for (auto j = (i + 1) & mask; slots[j].ptr; j = (j + 1) & mask) {
        auto k = home(slots[j].hash);
        // The entry at j may fill the hole at i unless its home lies
        // cyclically in (i, j].
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
          slots[i] = slots[j];
          i = j;
        }
      }
      slots[i] = slot{};
      --count;
    }
  };

  /// A writer's hold on a shard: its lock, and in a read-mostly map the
  /// flag, set once every reader that did not see it has left.
  class exclusive {
  public:
    explicit exclusive(shard& s) : s_(s), lock_(s.mtx) {
      if constexpr (ReadMostly) {
        s_.writing.store(true, std::memory_order_seq_cst);
        detail::reader_registry::wait_for_readers(&s_);
      }
    }
    ~exclusive() {
      if constexpr (ReadMostly)
        s_.writing.store(false, std::memory_order_release);
    }
    exclusive(const exclusive&) = delete;
    exclusive& operator=(const exclusive&) = delete;

  private:
    shard& s_;
    std::unique_lock<std::shared_mutex> lock_;
  };

  std::array<shard, Shards> shards_;
};

} // namespace am
