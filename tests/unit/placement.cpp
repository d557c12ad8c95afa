#define CAF_SUITE placement

#include <caf/test/unit_test.hpp>

#include <map>

#include "core/placement.hpp"

using namespace am;

CAF_TEST(every node computes the same order) {
  std::vector<std::string> a{"n1", "n2", "n3"};
  std::vector<std::string> b{"n3", "n1", "n2"};
  for (auto name : {"alpha", "beta", "gamma"}) {
    auto x = rendezvous_order(name, a);
    CAF_CHECK_EQUAL(x, rendezvous_order(name, b));
    CAF_CHECK_EQUAL(x.size(), 3u);
  }
  CAF_CHECK(rendezvous_order("x", {}).empty());
}

CAF_TEST(names spread evenly over the nodes) {
  std::map<std::string, int> count;
  for (int i = 0; i < 3000; ++i)
    ++count[rendezvous_order("agent-" + std::to_string(i),
                             {"n1", "n2", "n3"})
              .front()];
  for (auto& [node, n] : count)
    CAF_CHECK(n > 800 && n < 1200);
}

CAF_TEST(a node that leaves moves only its own names) {
  int moved = 0;
  for (int i = 0; i < 1000; ++i) {
    auto name = "agent-" + std::to_string(i);
    auto before = rendezvous_order(name, {"n1", "n2", "n3"}).front();
    auto after = rendezvous_order(name, {"n1", "n2"}).front();
    if (before != "n3")
      CAF_CHECK_EQUAL(after, before);
    else
      ++moved;
  }
  CAF_CHECK(moved > 0);
}
