#define CAF_SUITE directory

#include "tests/actors/fixture.hpp"

using namespace am;
using namespace am::test;

namespace {

/// A stand-in agent that only terminates when told.
agent_actor::behavior_type dummy_agent(agent_actor::pointer) {
  return {
    [](enqueue_atom, const std::string&, const std::string&) {
      return std::string{};
    },
    [](process_atom) { return process_result{}; },
    [](state_atom) { return agent_status{}; },
    [](task_atom, const std::string&) { return task_view{}; },
    [](cancel_atom, const std::string&) { return false; },
    [](stop_atom) { return false; },
    [](conflict_atom) {},
  };
}

struct fixture : node_fixture {
  fixture() {
    spawn_node();
  }

  dir_entry entry(const std::string& name, agent_actor h) {
    return dir_entry{name, "test@host", h, 1};
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(directory_tests, fixture)

CAF_TEST(put inserts once and names the holder afterwards) {
  auto a = sys.spawn(dummy_agent);
  CAF_CHECK_EQUAL(ask<std::string>(dir, put_atom::value, entry("x", a)), "");
  CAF_CHECK(ctx->directory->find("x")->handle == a);
  auto other = dir_entry{"x", "other@host", sys.spawn(dummy_agent), 2};
  CAF_CHECK_EQUAL(ask<std::string>(dir, put_atom::value, other), "test@host");
  CAF_CHECK(ctx->directory->find("x")->handle == a);
}

CAF_TEST(erase removes entries) {
  auto a = sys.spawn(dummy_agent);
  ask<std::string>(dir, put_atom::value, entry("x", a));
  auto b = sys.spawn(dummy_agent);
  CAF_CHECK(!ask<bool>(dir, erase_atom::value, std::string{"x"}, b));
  CAF_CHECK(ask<bool>(dir, erase_atom::value, std::string{"x"}, a));
  CAF_CHECK(!ask<bool>(dir, erase_atom::value, std::string{"x"}, a));
  CAF_CHECK(!ctx->directory->contains("x"));
}

CAF_TEST(a stored actor that dies leaves the directory) {
  auto a = sys.spawn(dummy_agent);
  auto b = sys.spawn(dummy_agent);
  ask<std::string>(dir, put_atom::value, entry("a", a));
  ask<std::string>(dir, put_atom::value, entry("b", b));
  anon_send_exit(a, caf::exit_reason::kill);
  sched.run();
  CAF_CHECK(!ctx->directory->contains("a"));
  CAF_CHECK(ctx->directory->contains("b"));
}

CAF_TEST(an entry pointed at a new actor survives the old one) {
  auto old = sys.spawn(dummy_agent);
  auto fresh = sys.spawn(dummy_agent);
  ask<std::string>(dir, put_atom::value, entry("x", old));
  self->send(dir, update_atom::value, entry("x", fresh));
  sched.run();
  CAF_CHECK(ctx->directory->find("x")->handle == fresh);
  anon_send_exit(old, caf::exit_reason::kill);
  sched.run();
  CAF_REQUIRE(ctx->directory->contains("x"));
  CAF_CHECK(ctx->directory->find("x")->handle == fresh);
  anon_send_exit(fresh, caf::exit_reason::kill);
  sched.run();
  CAF_CHECK(!ctx->directory->contains("x"));
}

CAF_TEST_FIXTURE_SCOPE_END()
