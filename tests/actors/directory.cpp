#define CAF_SUITE directory

#include "tests/actors/fixture.hpp"

using namespace am;
using namespace am::test;

namespace {

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
  auto a = spawn_stub();
  CAF_CHECK_EQUAL(ask<std::string>(dir, put_atom::value, entry("x", a)), "");
  CAF_CHECK(ctx->directory->find("x")->handle == a);
  auto other = dir_entry{"x", "other@host", spawn_stub(), 2};
  CAF_CHECK_EQUAL(ask<std::string>(dir, put_atom::value, other), "test@host");
  CAF_CHECK(ctx->directory->find("x")->handle == a);
}

CAF_TEST(erase removes entries) {
  auto a = spawn_stub();
  ask<std::string>(dir, put_atom::value, entry("x", a));
  auto b = spawn_stub();
  CAF_CHECK(!ask<bool>(dir, erase_atom::value, std::string{"x"}, b));
  CAF_CHECK(ask<bool>(dir, erase_atom::value, std::string{"x"}, a));
  CAF_CHECK(!ask<bool>(dir, erase_atom::value, std::string{"x"}, a));
  CAF_CHECK(!ctx->directory->contains("x"));
}

CAF_TEST(a stored actor that stops leaves the directory) {
  auto a = spawn_stub();
  auto b = spawn_stub();
  ask<std::string>(dir, put_atom::value, entry("a", a));
  ask<std::string>(dir, put_atom::value, entry("b", b));
  anon_send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK(!ctx->directory->contains("a"));
  CAF_CHECK(ctx->directory->contains("b"));
}

CAF_TEST(a crashed actor keeps its entry for the supervisor) {
  auto a = spawn_stub();
  ask<std::string>(dir, put_atom::value, entry("a", a));
  anon_send_exit(a, caf::exit_reason::kill);
  sched.run();
  CAF_CHECK(ctx->directory->contains("a"));
  // The supervisor removes it if it gives up.
  CAF_CHECK(ask<bool>(dir, erase_atom::value, std::string{"a"}, a));
  CAF_CHECK(!ctx->directory->contains("a"));
}

CAF_TEST(an entry pointed at a new actor survives the old one) {
  auto old = spawn_stub();
  auto fresh = spawn_stub();
  ask<std::string>(dir, put_atom::value, entry("x", old));
  self->send(dir, update_atom::value, entry("x", fresh));
  sched.run();
  CAF_CHECK(ctx->directory->find("x")->handle == fresh);
  anon_send_exit(old, caf::exit_reason::kill);
  sched.run();
  CAF_REQUIRE(ctx->directory->contains("x"));
  CAF_CHECK(ctx->directory->find("x")->handle == fresh);
  anon_send_exit(fresh, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK(!ctx->directory->contains("x"));
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

/// Two directories of two simulated nodes in one test system, peered.
struct two_nodes : fixture {
  std::shared_ptr<node_context> ctx2 = std::make_shared<node_context>();
  directory_actor dir2;

  two_nodes() {
    ctx2->node_name = "zzz@host";
    dir2 = sys.spawn(directory, node_context_ptr{ctx2},
                     std::chrono::milliseconds{2000});
    extras.push_back(caf::actor_cast<caf::actor>(dir2));
    peer(dir, ctx->node_name, dir2, ctx2->node_name);
  }

  dir_entry remote(const std::string& name, int64_t started_at) {
    return dir_entry{name, ctx2->node_name, spawn_stub(), started_at};
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(directory_cluster_tests, two_nodes)

CAF_TEST(joining peers send each other their local entries) {
  auto a = spawn_stub();
  ask<std::string>(dir, put_atom::value, entry("early", a));
  // A peer joining later gets it through peer_up's sync.
  auto ctx3 = std::make_shared<node_context>();
  ctx3->node_name = "third@host";
  auto dir3 = sys.spawn(directory, node_context_ptr{ctx3},
                        std::chrono::milliseconds{2000});
  extras.push_back(caf::actor_cast<caf::actor>(dir3));
  peer(dir, ctx->node_name, dir3, ctx3->node_name);
  CAF_CHECK(ctx3->directory->contains("early"));
}

CAF_TEST(local changes replicate to peers) {
  auto a = spawn_stub();
  ask<std::string>(dir, put_atom::value, entry("a", a));
  CAF_REQUIRE(ctx2->directory->contains("a"));
  CAF_CHECK(ctx2->directory->find("a")->node == "test@host");
  ask<bool>(dir, erase_atom::value, std::string{"a"}, a);
  CAF_CHECK(!ctx2->directory->contains("a"));
  // A local agent that dies is erased on the peer too.
  auto b = spawn_stub();
  ask<std::string>(dir, put_atom::value, entry("b", b));
  CAF_CHECK(ctx2->directory->contains("b"));
  anon_send_exit(b, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK(!ctx2->directory->contains("b"));
}

CAF_TEST(the older start wins a name conflict) {
  auto mine = spawn_stub();
  ask<std::string>(dir, put_atom::value, dir_entry{"x", "test@host", mine, 10});
  // The peer's entry for the same name is older: it wins here...
  self->send(dir, replicate_atom::value, remote("x", 5));
  expect((replicate_atom, dir_entry), from(self).to(dir).with(_, _));
  expect((conflict_atom), from(dir).to(mine).with(_));
  sched.run();
  CAF_CHECK(ctx->directory->find("x")->node == "zzz@host");
  // ...and a younger one loses.
  auto theirs = remote("y", 20);
  ask<std::string>(dir, put_atom::value,
                   dir_entry{"y", "test@host", spawn_stub(), 10});
  self->send(dir, replicate_atom::value, theirs);
  sched.run();
  CAF_CHECK(ctx->directory->find("y")->node == "test@host");
}

CAF_TEST(ties go to the smaller node name) {
  dir_entry a{"t", "a@host", {}, 7};
  dir_entry b{"t", "b@host", {}, 7};
  CAF_CHECK(wins_conflict(a, b));
  CAF_CHECK(!wins_conflict(b, a));
  dir_entry older{"t", "z@host", {}, 6};
  CAF_CHECK(wins_conflict(older, a));
}

CAF_TEST(a node going down takes its entries along) {
  self->send(dir, replicate_atom::value, remote("r1", 1));
  self->send(dir, replicate_atom::value, remote("r2", 1));
  ask<std::string>(dir, put_atom::value, entry("l", spawn_stub()));
  CAF_CHECK_EQUAL(ctx->directory->size(), 3u);
  CAF_CHECK(ask<bool>(dir, peer_down_atom::value, ctx2->node_name));
  CAF_CHECK_EQUAL(ctx->directory->size(), 1u);
  CAF_CHECK(ctx->directory->contains("l"));
}

CAF_TEST(a sync resynchronises a returning node) {
  self->send(dir, replicate_atom::value, remote("gone", 1));
  self->send(dir, replicate_atom::value, remote("kept", 1));
  sched.run();
  auto kept = *ctx->directory->find("kept");
  self->send(dir, sync_atom::value, ctx2->node_name,
             std::vector<dir_entry>{kept, remote("new", 2)});
  sched.run();
  CAF_CHECK(!ctx->directory->contains("gone"));
  CAF_CHECK(ctx->directory->contains("kept"));
  CAF_CHECK(ctx->directory->contains("new"));
}

CAF_TEST(lookups and snapshots) {
  auto a = spawn_stub();
  ask<std::string>(dir2, put_atom::value,
                   dir_entry{"only-there", "zzz@host", a, 1});
  // Simulate a missed replication: forget it here, then look it up.
  ctx->directory->erase("only-there");
  auto found = ask<std::vector<dir_entry>>(dir, lookup_atom::value,
                                           std::string{"only-there"}, true);
  CAF_REQUIRE_EQUAL(found.size(), 1u);
  CAF_CHECK_EQUAL(found[0].node, "zzz@host");
  CAF_CHECK(ctx->directory->contains("only-there"));
  auto none = ask<std::vector<dir_entry>>(dir, lookup_atom::value,
                                          std::string{"nowhere"}, true);
  CAF_CHECK(none.empty());
  auto snap = ask<std::vector<dir_entry>>(dir2, caf::get_atom::value);
  CAF_REQUIRE_EQUAL(snap.size(), 1u);
  CAF_CHECK_EQUAL(snap[0].name, "only-there");
}

CAF_TEST(changes from nodes that are not members are ignored) {
  auto stranger = dir_entry{"s", "stranger@host", spawn_stub(), 1};
  self->send(dir, replicate_atom::value, stranger);
  self->send(dir, sync_atom::value, std::string{"stranger@host"},
             std::vector<dir_entry>{stranger});
  sched.run();
  CAF_CHECK(!ctx->directory->contains("s"));
  // After peer_down the same holds for a former member.
  ask<bool>(dir, peer_down_atom::value, ctx2->node_name);
  self->send(dir, replicate_atom::value, remote("late", 1));
  sched.run();
  CAF_CHECK(!ctx->directory->contains("late"));
}

CAF_TEST(peers asking get only agents of the answering node) {
  self->send(dir, replicate_atom::value, remote("theirs", 1));
  sched.run();
  // Asked by a peer (no widening), dir does not vouch for zzz's agent.
  auto xs = ask<std::vector<dir_entry>>(dir, lookup_atom::value,
                                        std::string{"theirs"}, false);
  CAF_CHECK(xs.empty());
  auto ys = ask<std::vector<dir_entry>>(dir, lookup_atom::value,
                                        std::string{"theirs"}, true);
  CAF_CHECK_EQUAL(ys.size(), 1u);
}

CAF_TEST(a restart does not overwrite a remote entry that won the name) {
  auto mine = spawn_stub();
  ask<std::string>(dir, put_atom::value, dir_entry{"n", "test@host", mine, 10});
  self->send(dir, replicate_atom::value, remote("n", 5)); // older: wins
  sched.run();
  auto restarted = spawn_stub();
  self->send(dir, update_atom::value,
             dir_entry{"n", "test@host", restarted, 10});
  expect((update_atom, dir_entry), from(self).to(dir).with(_, _));
  expect((conflict_atom), from(dir).to(restarted).with(_));
  CAF_CHECK(ctx->directory->find("n")->node == "zzz@host");
}

CAF_TEST(stale-handle reports never drop local entries) {
  auto a = spawn_stub();
  ask<std::string>(dir, put_atom::value, entry("local", a));
  self->send(dir, stop_atom::value, std::string{"local"}, a);
  sched.run();
  CAF_CHECK(ctx->directory->contains("local"));
  self->send(dir, replicate_atom::value, remote("far", 1));
  sched.run();
  auto far = ctx->directory->find("far")->handle;
  self->send(dir, stop_atom::value, std::string{"far"}, far);
  sched.run();
  CAF_CHECK(!ctx->directory->contains("far"));
}

CAF_TEST(a higher generation wins over start time and node name) {
  dir_entry old{"n", "aaa@host", spawn_stub(), 1, 0};
  dir_entry moved{"n", "zzz@host", spawn_stub(), 50, 1};
  CAF_CHECK(wins_conflict(moved, old));
  CAF_CHECK(!wins_conflict(old, moved));
  // Same generation: the older start, then the smaller node name.
  dir_entry later{"n", "aaa@host", spawn_stub(), 60, 1};
  CAF_CHECK(wins_conflict(moved, later));
  dir_entry tie{"n", "aaa@host", spawn_stub(), 50, 1};
  CAF_CHECK(wins_conflict(tie, moved));
}

CAF_TEST(a move replaces the local entry and answers peers that waited) {
  auto mine = spawn_stub();
  ask<std::string>(dir, put_atom::value, entry("m", mine));
  self->send(dir, move_atom::value, std::string{"m"}, true);
  sched.run();
  // A peer asking for the moving agent waits for its new entry.
  auto rh = self->request(dir, caf::infinite, lookup_atom::value,
                          std::string{"m"}, false);
  sched.run();
  // Its actor ends (handed over): the entry stays until the new one comes.
  anon_send_exit(mine, caf::exit_reason::normal);
  sched.run();
  CAF_CHECK(ctx->directory->contains("m"));
  // The new node announces it with generation 1.
  auto theirs = spawn_stub();
  dir_entry arrived{"m", ctx2->node_name, theirs, 1, 1};
  CAF_CHECK(ask<bool>(dir2, move_atom::value, arrived));
  CAF_CHECK(ctx->directory->find("m")->node == ctx2->node_name);
  std::vector<dir_entry> answer;
  rh.receive([&](std::vector<dir_entry>& xs) { answer = std::move(xs); },
             [](caf::error& err) { CAF_FAIL("lookup failed: " << err); });
  CAF_REQUIRE_EQUAL(answer.size(), 1u);
  CAF_CHECK(answer.front().handle == theirs);
  CAF_CHECK_EQUAL(answer.front().generation, 1u);
  // Later peers asking the old node learn where it went.
  auto again = ask<std::vector<dir_entry>>(dir, lookup_atom::value,
                                           std::string{"m"}, false);
  CAF_REQUIRE_EQUAL(again.size(), 1u);
  CAF_CHECK(again.front().handle == theirs);
}

CAF_TEST(a returning node with an older generation loses to the moved agent) {
  // zzz holds the agent at generation 2; our stale copy (generation 1)
  // comes back from a store and must stop.
  auto theirs = spawn_stub();
  ask<std::string>(dir2, put_atom::value,
                   dir_entry{"r", ctx2->node_name, theirs, 10, 2});
  auto stale = spawn_stub();
  self->send(dir, update_atom::value,
             dir_entry{"r", ctx->node_name, stale, 5, 1});
  sched.run();
  CAF_CHECK(ctx->directory->find("r")->handle == theirs);
  CAF_CHECK(ctx2->directory->find("r")->handle == theirs);
}

CAF_TEST_FIXTURE_SCOPE_END()
