#define CAF_SUITE e2e_api

#include "tests/e2e/fixture.hpp"

#include <regex>

using namespace e2e;

namespace {

struct fixture : single_node {};

bool is_task_id(const json& x) {
  return x.is_string()
         && std::regex_match(x.get<std::string>(), std::regex{"^[0-9a-f]{16}$"});
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(e2e_api_tests, fixture)

// Everything ../shared/acceptance/checkpoint.sh checks on one node.
CAF_TEST(the checkpoint walk-through) {
  auto health = request(port(), "GET", "/health/");
  CAF_CHECK_EQUAL(health.status, 200);
  CAF_CHECK(json::parse(health.body)["status"] == "healthy");
  auto card = json::parse(request(port(), "GET", "/.well-known/agent.json").body);
  std::vector<std::string> skills;
  for (auto& s : card["skills"])
    skills.push_back(s["id"]);
  CAF_CHECK_EQUAL(skills, (std::vector<std::string>{"search", "analyze",
                                                    "summarize"}));
  auto r = call("StartAgent", {{"name", "W"}});
  CAF_CHECK(r["result"]["status"] == "started");
  CAF_CHECK(r["result"]["node"] == node.node_name);
  r = call("StartAgent", {{"name", "W"}});
  CAF_CHECK(r["result"]["status"] == "already_exists");
  r = call("SendMessage",
           {{"agent", "W"}, {"action", "search"}, {"params", {{"query", "OTP"}}}},
           2);
  CAF_CHECK(r["result"]["status"] == "created");
  CAF_CHECK(r["result"]["result"].is_null());
  CAF_CHECK(r["id"] == 2);
  CAF_REQUIRE(is_task_id(r["result"]["task_id"]));
  auto tid = r["result"]["task_id"];
  r = call("GetAgentState", {{"agent", "W"}});
  CAF_CHECK(r["result"]["name"] == "W");
  CAF_CHECK(r["result"]["inbox_count"] == 1);
  CAF_CHECK(r["result"]["processed_count"] == 0);
  CAF_CHECK(r["result"]["memory_keys"] == json::array());
  r = call("ProcessNext", {{"agent", "W"}});
  CAF_CHECK(r["result"]["status"] == "completed");
  CAF_CHECK(r["result"]["task_id"] == tid);
  CAF_CHECK(r["result"]["result"]["ok"] == "Search results for: OTP");
  r = call("ProcessNext", {{"agent", "W"}});
  CAF_CHECK(r["result"]
            == json::parse(R"({"status":"empty","message":"No tasks in inbox"})"));
  r = call("GetAgentState", {{"agent", "W"}});
  CAF_CHECK(r["result"]["inbox_count"] == 0);
  CAF_CHECK(r["result"]["processed_count"] == 1);
  CAF_CHECK(r["result"]["memory_keys"] == json::array({"last_result"}));
  r = call("ListAgents", json::object());
  CAF_CHECK(r["result"] == json({{"agents", {"W"}},
                                 {"agents_detail",
                                  {{{"name", "W"}, {"node", node.node_name}}}},
                                 {"count", 1}}));
  r = call("GetClusterInfo", json::object());
  CAF_CHECK(r["result"] == json({{"self", node.node_name},
                                 {"connected", json::array()},
                                 {"total_nodes", 1}}));
  r = call("SendMessage", {{"agent", "NonExistent-Agent"}, {"action", "search"}});
  CAF_CHECK(r["error"] == json({{"code", -32001},
                                {"message", "Agent not found: NonExistent-Agent"}}));
  r = call("SendMessage", {{"agent", "W"}});
  CAF_CHECK(r["error"]["code"] == -32602);
  r = call("NoSuchMethod", json::object());
  CAF_CHECK(r["error"]["code"] == -32601);
  auto bad = request(port(), "POST", "/a2a", R"({"jsonrpc":"2.0",)");
  CAF_CHECK_EQUAL(bad.status, 200);
  auto err = json::parse(bad.body);
  CAF_CHECK(err["error"]["code"] == -32700);
  CAF_CHECK(err["id"].is_null());
}

CAF_TEST(tasks can be looked up and cancelled) {
  call("StartAgent", {{"name", "T"}, {"memory", {{"role", "tester"}}}});
  auto a = call("SendMessage", {{"agent", "T"}, {"action", "summarize"},
                                {"params", {{"text", "hello"}}}})["result"]["task_id"];
  auto b = call("SendMessage", {{"agent", "T"}, {"action", "nope"}})
             ["result"]["task_id"];
  auto r = call("GetTask", {{"task_id", a}});
  // Every task has a trace (SPEC 12): a new one without a traceparent.
  auto trace = r["result"].value("trace_id", "");
  CAF_CHECK_EQUAL(trace.size(), 32u);
  CAF_CHECK_EQUAL(trace.find_first_not_of("0123456789abcdef"),
                  std::string::npos);
  r["result"].erase("trace_id");
  CAF_CHECK(r["result"] == json({{"task_id", a},
                                 {"agent", "T"},
                                 {"node", node.node_name},
                                 {"action", "summarize"},
                                 {"params", {{"text", "hello"}}},
                                 {"status", "queued"}}));
  r = call("CancelTask", {{"agent", "T"}, {"task_id", b}});
  CAF_CHECK(r["result"] == json({{"task_id", b}, {"status", "cancelled"}}));
  r = call("CancelTask", {{"agent", "T"}, {"task_id", b}});
  CAF_CHECK(r["error"]["code"] == -32002);
  CAF_CHECK(call("GetTask", {{"task_id", b}})["result"]["status"] == "cancelled");
  call("ProcessNext", {{"agent", "T"}});
  r = call("GetTask", {{"task_id", a}});
  CAF_CHECK(r["result"]["status"] == "completed");
  CAF_CHECK(r["result"]["result"] == json({{"ok", "Summary: hello..."}}));
  r = call("GetTask", {{"task_id", "0123456789abcdef"}});
  CAF_CHECK(r["error"] == json({{"code", -32002},
                                {"message", "Task not found: 0123456789abcdef"}}));
  r = call("GetAgentState", {{"agent", "T"}});
  CAF_CHECK(r["result"]["inbox_count"] == 0);
  auto keys = r["result"]["memory_keys"].get<std::vector<std::string>>();
  std::sort(keys.begin(), keys.end());
  CAF_CHECK_EQUAL(keys, (std::vector<std::string>{"last_result", "role"}));
}

CAF_TEST(unknown actions and odd parameters never crash an agent) {
  call("StartAgent", {{"name", "U"}});
  call("SendMessage", {{"agent", "U"}, {"action", "explode"}});
  call("SendMessage", {{"agent", "U"}, {"action", "search"},
                       {"params", {{"query", {{"deep", {1, 2}}}}}}});
  auto r = call("ProcessNext", {{"agent", "U"}});
  CAF_CHECK(r["result"]["result"] == json({{"error", "unknown_action: explode"}}));
  r = call("ProcessNext", {{"agent", "U"}});
  CAF_CHECK(r["result"]["result"]["ok"]
            == R"(Search results for: {"deep":[1,2]})");
  CAF_CHECK(call("GetAgentState", {{"agent", "U"}})["result"]["processed_count"]
            == 2);
}

CAF_TEST(stopping an agent removes it) {
  call("StartAgent", {{"name", "S"}});
  auto r = call("StopAgent", {{"agent", "S"}});
  CAF_CHECK(r["result"] == json({{"status", "stopped"}, {"agent", "S"}}));
  CAF_CHECK(call("GetAgentState", {{"agent", "S"}})["error"]["code"] == -32001);
  CAF_CHECK(call("StopAgent", {{"agent", "S"}})["error"]["code"] == -32001);
  CAF_CHECK(call("ListAgents", json::object())["result"]["count"] == 0);
  CAF_CHECK(node.wait_for_log(
    "[info] [AgentEventLogger] agent_stopped: S on " + node.node_name));
}

CAF_TEST(notifications get 204 and batches one array) {
  auto res = request(port(), "POST", "/a2a",
                     R"({"jsonrpc":"2.0","method":"StartAgent","params":{"name":"N"}})");
  CAF_CHECK_EQUAL(res.status, 204);
  CAF_CHECK(res.body.empty());
  CAF_CHECK(call("GetAgentState", {{"agent", "N"}})["result"]["name"] == "N");
  res = request(port(), "POST", "/a2a", R"([
    {"jsonrpc":"2.0","method":"SendMessage","params":{"agent":"N","action":"search"},"id":"a"},
    {"jsonrpc":"2.0","method":"GetAgentState","params":{"agent":"N"},"id":"b"},
    {"jsonrpc":"2.0","method":"ListAgents"}])");
  CAF_CHECK_EQUAL(res.status, 200);
  CAF_CHECK_EQUAL(res.headers["content-type"], "application/json");
  auto arr = json::parse(res.body);
  CAF_REQUIRE_EQUAL(arr.size(), 2u);
  CAF_CHECK(arr[0]["id"] == "a");
  CAF_CHECK(arr[1]["id"] == "b");
  CAF_CHECK(arr[1]["result"]["name"] == "N");
  res = request(port(), "POST", "/a2a", "[]");
  CAF_CHECK(json::parse(res.body)["error"]["code"] == -32600);
}

CAF_TEST(the event logger writes the exact lines) {
  call("StartAgent", {{"name", "L"}});
  call("SendMessage", {{"agent", "L"}, {"action", "search"}});
  call("ProcessNext", {{"agent", "L"}});
  auto& n = node.node_name;
  CAF_CHECK(node.wait_for_log("[info] [AgentEventLogger] agent_started: L on " + n + "\n"));
  CAF_CHECK(node.wait_for_log("[info] [AgentEventLogger] task_received: L on " + n + "\n"));
  CAF_CHECK(node.wait_for_log("[info] [AgentEventLogger] task_completed: L on " + n + "\n"));
}

CAF_TEST(server sent events deliver agent_started) {
  connection sse{port()};
  sse.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = sse.read_until("\r\n\r\n");
  CAF_REQUIRE(head);
  CAF_CHECK(head->find("200 OK") != std::string::npos);
  CAF_CHECK(head->find("Content-Type: text/event-stream") != std::string::npos);
  CAF_REQUIRE(sse.read_until(": subscribed\n\n"));
  // Filtered stream for one agent only.
  connection one{port()};
  one.send("GET /events?topic=agent:events:E2 HTTP/1.1\r\nHost: x\r\n\r\n");
  CAF_REQUIRE(one.read_until(": subscribed\n\n"));
  call("StartAgent", {{"name", "E1"}});
  call("StartAgent", {{"name", "E2"}});
  auto line = sse.read_until("\n\n");
  CAF_REQUIRE(line);
  CAF_REQUIRE_EQUAL(line->rfind("data: ", 0), 0u);
  auto ev = json::parse(line->substr(6));
  CAF_CHECK(ev["event"] == "agent_started");
  CAF_CHECK(ev["agent"] == "E1");
  CAF_CHECK(ev["node"] == node.node_name);
  CAF_CHECK(ev["source_node"] == node.node_name);
  CAF_CHECK(ev.contains("timestamp"));
  auto other = one.read_until("\n\n");
  CAF_REQUIRE(other);
  CAF_CHECK(json::parse(other->substr(6))["agent"] == "E2");
}

CAF_TEST_FIXTURE_SCOPE_END()
