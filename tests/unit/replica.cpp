#define CAF_SUITE replica

#include <caf/test/unit_test.hpp>

#include "core/agent_state.hpp"
#include "core/replica.hpp"

using namespace am;

namespace {

/// The state an agent reports, as comparable text.
std::string digest(const agent_snapshot& x) {
  std::string result = x.header.name + "|" + x.header.memory + "|"
                       + std::to_string(x.header.processed) + "|"
                       + std::to_string(x.header.generation);
  auto tasks = x.tasks;
  std::sort(tasks.begin(), tasks.end(),
            [](const stored_task& a, const stored_task& b) {
              return a.seq < b.seq;
            });
  for (auto& t : tasks)
    result += "|" + t.id + ":" + std::to_string(t.seq) + ":" + t.status + ":"
              + t.action + ":" + t.params + ":" + t.result;
  return result;
}

} // namespace

CAF_TEST(a copy fed with every change equals the agent) {
  auto actions = action_registry::builtin();
  agent_state st{"R", json{{"k", 1}}, 3};
  st.track_changes(true);
  replica_set copies;
  copies.seed("n1", st.snapshot());
  st.take_changes();
  for (int i = 0; i < 6; ++i) {
    st.enqueue("search", json{{"query", std::to_string(i)}});
    CAF_CHECK(copies.apply("n1", st.take_changes()));
    if (i % 2 == 0) {
      st.process_next(actions);
      CAF_CHECK(copies.apply("n1", st.take_changes()));
    }
  }
  auto copy = copies.snapshot("R");
  CAF_REQUIRE(copy.has_value());
  CAF_CHECK_EQUAL(digest(*copy), digest(st.snapshot()));
  // The copy restores into the same agent.
  agent_state back{*copy, 3};
  CAF_CHECK_EQUAL(back.inbox_count(), st.inbox_count());
  CAF_CHECK_EQUAL(back.processed_count(), 3u);
}

CAF_TEST(changes without a seed or from another primary are refused) {
  agent_state st{"R"};
  st.track_changes(true);
  replica_set copies;
  CAF_CHECK(!copies.apply("n1", st.take_changes()));
  copies.seed("n1", st.snapshot());
  st.enqueue("search", json{{"query", "x"}});
  CAF_CHECK(!copies.apply("n2", st.take_changes()));
  CAF_CHECK_EQUAL(copies.hosted_by("n1"), std::vector<std::string>{"R"});
  CAF_CHECK(copies.hosted_by("n2").empty());
}

CAF_TEST(a removal drops the copy) {
  agent_state st{"R"};
  replica_set copies;
  copies.seed("n1", st.snapshot());
  agent_delta gone;
  gone.name = "R";
  gone.removed = true;
  CAF_CHECK(copies.apply("n1", gone));
  CAF_CHECK_EQUAL(copies.size(), 0u);
  CAF_CHECK(!copies.snapshot("R"));
}

CAF_TEST(a removal from a former host leaves the copy of the new host) {
  agent_state st{"R"};
  replica_set copies;
  copies.seed("n1", st.snapshot());
  copies.seed("n2", st.snapshot()); // moved from n1 to n2
  CAF_CHECK(copies.apply("n1", removal("R")));
  CAF_CHECK_EQUAL(copies.hosted_by("n2"), std::vector<std::string>{"R"});
  CAF_CHECK(copies.apply("n2", removal("R")));
  CAF_CHECK_EQUAL(copies.size(), 0u);
}

CAF_TEST(take hands out every copy of one primary) {
  agent_state a{"A"}, b{"B"}, c{"C"};
  replica_set copies;
  copies.seed("n1", a.snapshot());
  copies.seed("n1", b.snapshot());
  copies.seed("n2", c.snapshot());
  auto xs = copies.take("n1");
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  CAF_CHECK_EQUAL(xs[0].header.name, "A");
  CAF_CHECK_EQUAL(xs[1].header.name, "B");
  CAF_CHECK_EQUAL(copies.size(), 1u);
  CAF_CHECK(copies.take("n1").empty());
}
