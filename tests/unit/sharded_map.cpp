#define CAF_SUITE sharded_map

#include <caf/test/unit_test.hpp>

#include <atomic>
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
