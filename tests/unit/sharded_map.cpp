#define CAF_SUITE sharded_map

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/sharded_map.hpp"

using namespace am;

CAF_TEST(basic operations) {
  sharded_map<std::string, int, 4> m;
  CAF_CHECK(m.insert("a", 1));
  CAF_CHECK(!m.insert("a", 2));
  CAF_CHECK(*m.find("a") == 1);
  m.assign("a", 3);
  CAF_CHECK(*m.find("a") == 3);
  CAF_CHECK(!m.find("b"));
  CAF_CHECK(!m.erase_if("a", [](int x) { return x == 1; }));
  CAF_CHECK(m.erase_if("a", [](int x) { return x == 3; }));
  CAF_CHECK(!m.contains("a"));
  CAF_CHECK(!m.erase("a"));
  for (int i = 0; i < 100; ++i)
    m.insert(std::to_string(i), i);
  CAF_CHECK_EQUAL(m.size(), 100u);
  auto odd = m.erase_all_if([](const std::string&, int x) { return x % 2; });
  CAF_CHECK_EQUAL(odd.size(), 50u);
  int sum = 0;
  m.for_each([&](const std::string&, int x) { sum += x; });
  CAF_CHECK_EQUAL(sum, 2450); // 0 + 2 + ... + 98
}

// Many readers race one writer. Every value a reader sees must be one the
// writer stored for that key (value == key * 1000 + generation), and after
// the writer finishes the readers see its final state.
CAF_TEST(readers on many threads against a writer) {
  using map_type = sharded_map<int, std::vector<int>, 16>;
  map_type m;
  constexpr int keys = 512;
  constexpr int generations = 40;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 6; ++r) {
    readers.emplace_back([&, r] {
      int k = r;
      while (!done.load()) {
        k = (k + 7) % keys;
        if (auto v = m.find(k)) {
          // A torn copy would mix generations or keys.
          for (auto x : *v)
            if (x / 1000 != k || x % 1000 != (*v)[0] % 1000)
              ++torn;
        }
        ++reads;
      }
    });
  }
  while (reads.load() < 1000) // all readers are running
    std::this_thread::yield();
  for (int g = 0; g < generations; ++g)
    for (int k = 0; k < keys; ++k) {
      if (g % 10 == 9) {
        m.erase(k);
      } else {
        m.assign(k, std::vector<int>(8, k * 1000 + g));
      }
    }
  done = true;
  for (auto& t : readers)
    t.join();
  CAF_CHECK_EQUAL(torn.load(), 0);
  CAF_CHECK_GREATER(reads.load(), 0);
  // generation 39 erased everything (39 % 10 == 9).
  CAF_CHECK_EQUAL(m.size(), 0u);
  for (int k = 0; k < keys; ++k)
    m.assign(k, std::vector<int>{k});
  CAF_CHECK_EQUAL(m.size(), static_cast<size_t>(keys));
  CAF_CHECK((*m.find(42))[0] == 42);
}

namespace {

/// Few distinct hashes whose home slots sit at the very end of every
/// table size (all bits above the shard's set): long probe runs that wrap
/// around, the cases backward-shift deletion must get right. Both shards
/// get keys.
struct clumping_hash {
  size_t operator()(int x) const {
    return ~size_t{0} - static_cast<size_t>(x % 7) * 2 * 2 - (x % 2);
  }
};

} // namespace

// Random inserts, overwrites and erasures against std::map, with a hash
// that piles keys onto a few slots of each shard.
CAF_TEST(the open addressing table agrees with std::map) {
  sharded_map<int, int, 2, clumping_hash> m;
  std::map<int, int> ref;
  std::mt19937 gen{7};
  std::uniform_int_distribution<int> key{0, 300};
  std::uniform_int_distribution<int> op{0, 9};
  for (int step = 0; step < 20000; ++step) {
    auto k = key(gen);
    switch (op(gen)) {
      case 0:
      case 1:
      case 2:
        CAF_CHECK_EQUAL(m.insert(k, step), ref.emplace(k, step).second);
        break;
      case 3:
      case 4:
        m.assign(k, step);
        ref[k] = step;
        break;
      case 5:
      case 6:
        CAF_CHECK_EQUAL(m.erase(k), ref.erase(k) > 0);
        break;
      default: {
        auto x = m.find(k);
        auto i = ref.find(k);
        CAF_CHECK_EQUAL(x.has_value(), i != ref.end());
        if (x && i != ref.end())
          CAF_CHECK_EQUAL(*x, i->second);
      }
    }
  }
  CAF_CHECK_EQUAL(m.size(), ref.size());
  std::map<int, int> seen;
  m.for_each([&](int k, int v) { seen.emplace(k, v); });
  CAF_CHECK(seen == ref);
  // Dropping every other key keeps the rest findable.
  auto gone = m.erase_all_if([](int k, int) { return k % 2 == 0; });
  CAF_CHECK(!gone.empty());
  for (auto& kvp : gone)
    CAF_CHECK_EQUAL(ref.erase(kvp.first), 1u);
  for (int k = 0; k <= 300; k += 2)
    CAF_CHECK(!m.contains(k));
  for (auto& kvp : ref)
    CAF_CHECK_EQUAL(m.find(kvp.first).value_or(-1), kvp.second);
  CAF_CHECK_EQUAL(m.size(), ref.size());
}
