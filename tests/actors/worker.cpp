#define CAF_SUITE worker

#include "tests/actors/fixture.hpp"

#include "http/server.hpp"

using namespace am;
using namespace am::test;
using namespace std::chrono_literals;

namespace {

struct fixture : node_fixture {
  http::worker_actor worker;
  /// The directory of a second, simulated node.
  std::shared_ptr<node_context> ctx2 = std::make_shared<node_context>();
  directory_actor dir2;

  /// Registers an agent of the other node (the worker cannot tell a remote
  /// handle from a local one).
  void add_remote(const std::string& name, agent_actor handle) {
    ask<std::string>(dir2, put_atom::value,
                     dir_entry{name, ctx2->node_name, handle, 1});
    CAF_REQUIRE(ctx->directory->contains(name));
  }

  fixture() {
    spawn_node();
    ctx2->node_name = "other@host";
    dir2 = sys.spawn(directory, node_context_ptr{ctx2},
                     std::chrono::milliseconds{2000});
    extras.push_back(caf::actor_cast<caf::actor>(dir2));
    peer(dir, ctx->node_name, dir2, ctx2->node_name);
    worker = http::spawn_worker(sys, ctx, http::node_handles{sup, dir, bus, {}},
                                5s, "test");
    extras.push_back(caf::actor_cast<caf::actor>(worker));
  }

  /// Sends a JSON-RPC body through the worker; returns the parsed response.
  json call(const std::string& method, const json& params,
            bool fire_timeouts = false) {
    http::call c;
    c.body = json{{"jsonrpc", "2.0"},
                  {"method", method},
                  {"params", params},
                  {"id", 1}}
               .dump();
    auto rh = self->request(worker, caf::infinite, rpc_atom::value, c);
    sched.run();
    if (fire_timeouts) {
      sched.trigger_timeouts();
      sched.run();
    }
    json result;
    rh.receive(
      [&](http::call_result& r) {
        CAF_CHECK_EQUAL(r.status, 200);
        result = json::parse(r.body);
      },
      [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    return result;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(worker_tests, fixture)

CAF_TEST(the worker drives agents through the directory) {
  CAF_CHECK(call("StartAgent", {{"name", "W"}})["result"]["status"]
            == "started");
  auto r = call("SendMessage", {{"agent", "W"}, {"action", "search"}});
  CAF_CHECK(r["result"]["status"] == "created");
  CAF_CHECK(call("ProcessNext", {{"agent", "W"}})["result"]["task_id"]
            == r["result"]["task_id"]);
  CAF_CHECK(call("GetTask", {{"task_id", r["result"]["task_id"]}})["result"]
              ["status"] == "completed");
  CAF_CHECK(call("GetClusterInfo", json::object())["result"]["self"]
            == "test@host");
}

CAF_TEST(a call that times out is not sent twice) {
  auto enqueues = std::make_shared<int>(0);
  auto slow = spawn_stub(enqueues);
  extras.push_back(caf::actor_cast<caf::actor>(slow));
  add_remote("Slow", slow);
  auto r = call("SendMessage", {{"agent", "Slow"}, {"action", "search"}},
                true);
  CAF_CHECK(r["error"]["code"] == -32603);
  CAF_CHECK(r["error"]["data"] == "timeout");
  CAF_CHECK_EQUAL(*enqueues, 1);
  // The entry stays: a slow agent is not a gone one.
  CAF_CHECK(ctx->directory->contains("Slow"));
}

CAF_TEST(a stale entry is dropped and looked up once more) {
  auto gone = spawn_stub();
  add_remote("Gone", gone);
  // The agent was stopped (or moved) and its node forgot it, but the erase
  // has not reached us yet: our entry is stale.
  anon_send_exit(gone, caf::exit_reason::kill);
  sched.run();
  ctx2->directory->erase("Gone");
  auto r = call("GetAgentState", {{"agent", "Gone"}});
  CAF_CHECK(r["error"]["code"] == -32001);
  CAF_CHECK(!ctx->directory->contains("Gone"));
}

CAF_TEST(a remote agent that ended is followed only if it quit on purpose) {
  // Moved or retired: it answered what it took, so ours was not taken.
  CAF_CHECK(http::down_action_of(caf::error{}) == http::down_action::retry);
  CAF_CHECK(http::down_action_of(caf::exit_reason::normal)
            == http::down_action::retry);
  CAF_CHECK(http::down_action_of(caf::exit_reason::unknown)
            == http::down_action::retry);
  // A crash or a lost node may have run it: never sent twice.
  CAF_CHECK(http::down_action_of(make_error(errc::agent_crashed, "boom"))
            == http::down_action::crashed);
  CAF_CHECK(http::down_action_of(caf::exit_reason::kill)
            == http::down_action::crashed);
  CAF_CHECK(http::down_action_of(caf::exit_reason::remote_link_unreachable)
            == http::down_action::node_down);
  CAF_CHECK(http::down_action_of(caf::exit_reason::user_shutdown)
            == http::down_action::not_found);
}

CAF_TEST(a call that meets an agent being restarted reaches the new one) {
  call("StartAgent", {{"name", "R"}});
  auto old = handle_of("R");
  // The worker's request bounces off the crashed agent and the worker asks
  // the supervisor for the restarted one.
  http::call c;
  c.body = R"({"jsonrpc":"2.0","method":"SendMessage",)"
           R"("params":{"agent":"R","action":"search"},"id":9})";
  auto rh = self->request(worker, caf::infinite, rpc_atom::value, c);
  // The agent dies first; the worker then still finds its old handle (the
  // supervisor has not run yet) and its request bounces.
  anon_send_exit(old, caf::exit_reason::kill);
  CAF_REQUIRE(sched.prioritize(old));
  sched.run_once();
  CAF_REQUIRE(sched.prioritize(worker));
  sched.run_once();
  sched.run();
  json result;
  rh.receive(
    [&](http::call_result& r) { result = json::parse(r.body); },
    [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK(result["result"]["status"] == "created");
  CAF_CHECK_NOT_EQUAL(handle_of("R"), old);
  CAF_CHECK(call("GetAgentState", {{"agent", "R"}})["result"]["inbox_count"]
            == 1);
}

CAF_TEST(the loop answers GetAgentState of a local agent from its board) {
  auto answer = http::inline_rpc(ctx);
  auto body = [](const std::string& agent) {
    return R"({"jsonrpc":"2.0","method":"GetAgentState","params":{"agent":")"
           + agent + R"("},"id":3})";
  };
  CAF_CHECK(!answer(body("B"), "")); // no such agent here: a worker's job
  call("StartAgent", {{"name", "B"}, {"memory", {{"role", "r"}}}});
  call("SendMessage", {{"agent", "B"}, {"action", "search"}});
  auto res = answer(body("B"), "");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 200);
  // What the agent itself answers.
  auto own = ask<agent_status>(handle_of("B"), state_atom::value);
  auto r = json::parse(res->body)["result"];
  CAF_CHECK(r == json({{"name", own.name},
                       {"status", own.status},
                       {"inbox_count", own.inbox_count},
                       {"processed_count", own.processed_count},
                       {"memory_keys", own.memory_keys},
                       {"node", own.node}}));
  CAF_CHECK(r["inbox_count"] == 1);
  CAF_CHECK(r["memory_keys"] == json::array({"role"}));
  CAF_CHECK(r["node"] == "test@host");
  // A batch of them, a notification, bad JSON mentioning the method.
  res = answer("[" + body("B") + "," + body("B") + "]", "");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(json::parse(res->body).size(), 2u);
  res = answer(R"({"jsonrpc":"2.0","method":"GetAgentState",)"
               R"("params":{"agent":"B"}})",
               "");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 204);
  res = answer(R"({"method":"GetAgentState",)", "");
  CAF_REQUIRE(res);
  CAF_CHECK(json::parse(res->body)["error"]["code"] == -32700);
  // Anything else goes to a worker, untouched.
  CAF_CHECK(!answer("[" + body("B") + R"(,{"jsonrpc":"2.0","method":)"
                      R"("ProcessNext","params":{"agent":"B"},"id":4}])",
                    ""));
  CAF_CHECK(!answer(R"({"jsonrpc":"2.0","method":"ListAgents","id":1})", ""));
  CAF_CHECK(call("GetAgentState", {{"agent", "B"}})["result"]["inbox_count"]
            == 1);
  // A remote agent has no board here.
  add_remote("Far", spawn_stub());
  CAF_CHECK(!answer(body("Far"), ""));
  // Stopped: its board closes and the worker answers (not found).
  auto entry = ctx->directory->find("B");
  CAF_REQUIRE(entry && entry->board);
  call("StopAgent", {{"agent", "B"}});
  agent_board::view v;
  CAF_CHECK(!entry->board->read(v));
  CAF_CHECK(!answer(body("B"), ""));
}

CAF_TEST(without inline reads the worker asks the agent) {
  // A local entry whose board says one thing and whose actor another.
  auto st = std::make_shared<agent_state>("Two");
  st->enqueue("search", json::object());
  st->enqueue("search", json::object());
  st->open_board(1);
  auto stub = spawn_stub();
  extras.push_back(caf::actor_cast<caf::actor>(stub));
  ask<std::string>(dir, put_atom::value,
                   dir_entry{"Two", ctx->node_name, stub, 1, 0,
                             std::shared_ptr<const agent_board>(
                               st, &st->board())});
  CAF_CHECK(call("GetAgentState", {{"agent", "Two"}})["result"]["inbox_count"]
            == 2);
  auto asking = http::spawn_worker(sys, ctx,
                                   http::node_handles{sup, dir, bus, {}}, 5s,
                                   "test", false);
  extras.push_back(caf::actor_cast<caf::actor>(asking));
  std::swap(worker, asking);
  auto r = call("GetAgentState", {{"agent", "Two"}});
  std::swap(worker, asking);
  CAF_CHECK(r["result"]["inbox_count"] == 0); // the stub's answer
  CAF_CHECK(r["result"]["name"] == "");
}

CAF_TEST(a restarted agent reopens its board) {
  auto answer = http::inline_rpc(ctx);
  auto body = R"({"jsonrpc":"2.0","method":"GetAgentState",)"
              R"("params":{"agent":"K"},"id":1})";
  call("StartAgent", {{"name", "K"}});
  call("SendMessage", {{"agent", "K"}, {"action", "search"}});
  CAF_REQUIRE(answer(body, ""));
  auto old = handle_of("K");
  anon_send_exit(old, caf::exit_reason::kill);
  CAF_REQUIRE(sched.prioritize(old));
  sched.run_once();
  // Dead and not yet restarted: closed, so a worker waits for the new one.
  CAF_CHECK(!answer(body, ""));
  sched.run();
  CAF_CHECK_NOT_EQUAL(handle_of("K"), old);
  auto res = answer(body, "");
  CAF_REQUIRE(res);
  CAF_CHECK(json::parse(res->body)["result"]["inbox_count"] == 1);
}

CAF_TEST_FIXTURE_SCOPE_END()
