#pragma once

#include <array>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

namespace am {

/// A concurrent hash map split into `Shards` independently locked shards.
/// Readers on any thread take a shared lock on one shard; writers take an
/// exclusive lock on one shard. Values are copied out, never referenced, so
/// no reader ever sees a value that a writer is changing.
template <class K, class V, size_t Shards = 64, class Hash = std::hash<K>>
class sharded_map {
public:
  static_assert(Shards > 0);

  /// Returns a copy of the value for `key`, if any.
  std::optional<V> find(const K& key) const {
    auto& s = shard_of(key);
    std::shared_lock<std::shared_mutex> guard{s.mtx};
    if (auto i = s.map.find(key); i != s.map.end())
      return i->second;
    return std::nullopt;
  }

  bool contains(const K& key) const {
    auto& s = shard_of(key);
    std::shared_lock<std::shared_mutex> guard{s.mtx};
    return s.map.count(key) > 0;
  }

  /// Inserts `value` unless `key` exists. Returns true on insertion.
  bool insert(const K& key, V value) {
    auto& s = shard_of(key);
    std::unique_lock<std::shared_mutex> guard{s.mtx};
    return s.map.emplace(key, std::move(value)).second;
  }

  /// Inserts or overwrites.
  void assign(const K& key, V value) {
    auto& s = shard_of(key);
    std::unique_lock<std::shared_mutex> guard{s.mtx};
    s.map.insert_or_assign(key, std::move(value));
  }

  /// Removes `key`. Returns true if it was present.
  bool erase(const K& key) {
    auto& s = shard_of(key);
    std::unique_lock<std::shared_mutex> guard{s.mtx};
    return s.map.erase(key) > 0;
  }

  /// Removes `key` only if `pred(value)` holds. Returns true on removal.
  template <class Pred>
  bool erase_if(const K& key, Pred pred) {
    auto& s = shard_of(key);
    std::unique_lock<std::shared_mutex> guard{s.mtx};
    auto i = s.map.find(key);
    if (i == s.map.end() || !pred(i->second))
      return false;
    s.map.erase(i);
    return true;
  }

  /// Removes every entry for which `pred(key, value)` holds; returns them.
  template <class Pred>
  std::vector<std::pair<K, V>> erase_all_if(Pred pred) {
    std::vector<std::pair<K, V>> result;
    for (auto& s : shards_) {
      std::unique_lock<std::shared_mutex> guard{s.mtx};
      for (auto i = s.map.begin(); i != s.map.end();) {
        if (pred(i->first, i->second)) {
          result.emplace_back(i->first, std::move(i->second));
          i = s.map.erase(i);
        } else {
          ++i;
        }
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
      for (auto& kvp : s.map)
        f(kvp.first, kvp.second);
    }
  }

  size_t size() const {
    size_t result = 0;
    for (auto& s : shards_) {
      std::shared_lock<std::shared_mutex> guard{s.mtx};
      result += s.map.size();
    }
    return result;
  }

private:
  struct shard {
    mutable std::shared_mutex mtx;
    std::unordered_map<K, V, Hash> map;
  };

  shard& shard_of(const K& key) {
    return shards_[Hash{}(key) % Shards];
  }

  const shard& shard_of(const K& key) const {
    return shards_[Hash{}(key) % Shards];
  }

  std::array<shard, Shards> shards_;
};

} // namespace am
