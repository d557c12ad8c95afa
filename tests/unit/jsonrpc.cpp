#define CAF_SUITE jsonrpc

#include <caf/test/unit_test.hpp>

#include <functional>
#include <map>

#include "core/names.hpp"
#include "tests/unit/rpc_fixture.hpp"

using namespace am;
using namespace am::rpc;

namespace {

using fixture = am::rpc::test::fixture;

} // namespace

CAF_TEST_FIXTURE_SCOPE(jsonrpc_tests, fixture)

CAF_TEST(the worked example of SPEC 7) {
  auto r = rpc("StartAgent", R"({"name":"Worker-1"})");
  CAF_CHECK(r == json::parse(R"({"jsonrpc":"2.0","id":1,"result":
    {"status":"started","agent":"Worker-1","node":"n1@h"}})"));
  r = rpc("SendMessage",
          R"({"agent":"Worker-1","action":"search","params":{"query":"OTP"}})");
  CAF_CHECK(r["result"] == json::parse(R"({"status":"created",
    "agent":"Worker-1","task_id":"0000000000000000","result":null,
    "node":"n1@h"})"));
  r = rpc("GetAgentState", R"({"agent":"Worker-1"})");
  CAF_CHECK(r["result"] == json::parse(R"({"name":"Worker-1","status":"idle",
    "inbox_count":1,"processed_count":0,"memory_keys":[],"node":"n1@h"})"));
  r = rpc("ProcessNext", R"({"agent":"Worker-1"})");
  CAF_CHECK(r["result"] == json::parse(R"({"status":"completed",
    "agent":"Worker-1","task_id":"0000000000000000",
    "result":{"ok":"Search results for: OTP"}})"));
  r = rpc("ProcessNext", R"({"agent":"Worker-1"})");
  CAF_CHECK(r["result"]
            == json::parse(R"({"status":"empty","message":"No tasks in inbox"})"));
  r = rpc("ListAgents", "{}");
  CAF_CHECK(r["result"] == json::parse(R"({"agents":["Worker-1"],
    "agents_detail":[{"name":"Worker-1","node":"n1@h"}],"count":1})"));
  r = rpc("StartAgent", R"({"name":"Worker-1"})");
  CAF_CHECK(r["result"]["status"] == "already_exists");
  r = rpc("StopAgent", R"({"agent":"Worker-1"})");
  CAF_CHECK(r["result"]
            == json::parse(R"({"status":"stopped","agent":"Worker-1"})"));
}

CAF_TEST(StartAgent passes memory and validates it) {
  rpc("StartAgent", R"({"name":"M","memory":{"k":[1]}})");
  CAF_CHECK_EQUAL(b.calls.back(), R"(start M {"k":[1]})");
  auto r = rpc("StartAgent", R"({"name":"X","memory":[1]})");
  CAF_CHECK_EQUAL(code(r), -32602);
  CAF_CHECK(r["error"]["data"] == "memory must be an object");
  r = rpc("StartAgent", "{}");
  CAF_CHECK(r["error"] == json::parse(R"({"code":-32602,
    "message":"Invalid params","data":"Missing required: name"})"));
  r = rpc("StartAgent", R"({"name":5})");
  CAF_CHECK_EQUAL(code(r), -32602);
  CAF_CHECK(r["error"]["data"] == "name must be a string");
  // SPEC 11: 1 to 200 bytes of UTF-8 without control characters.
  for (auto bad : {R"({"name":""})", R"({"name":"a\nb"})",
                   R"({"name":"a\u0000"})", R"({"name":"\u007f"})",
                   R"({"name":"tab\there"})"}) {
    r = rpc("StartAgent", bad);
    CAF_CHECK_EQUAL(code(r), -32602);
    CAF_CHECK(r["error"]["data"] == "invalid name");
  }
  r = rpc("StartAgent", json{{"name", std::string(201, 'x')}}.dump());
  CAF_CHECK(r["error"]["data"] == "invalid name");
  auto calls = b.calls.size();
  rpc("StartAgent", json{{"name", std::string(200, 'x')}}.dump());
  rpc("StartAgent", R"({"name":"\u00c4rger \u00e9 \ud83d\ude00"})");
  CAF_CHECK_EQUAL(b.calls.size(), calls + 2);
}

CAF_TEST(agent names are checked as UTF-8) {
  using am::valid_agent_name;
  CAF_CHECK(valid_agent_name("Worker-1"));
  CAF_CHECK(valid_agent_name("\xc3\xa4"));              // a umlaut
  CAF_CHECK(valid_agent_name("\xf0\x9f\x98\x80"));    // U+1F600
  CAF_CHECK(!valid_agent_name(""));
  CAF_CHECK(!valid_agent_name(std::string(201, 'a')));
  CAF_CHECK(!valid_agent_name("a\x1b[31m"));            // escape
  CAF_CHECK(!valid_agent_name("\xc3"));                  // cut short
  CAF_CHECK(!valid_agent_name("\xc0\xaf"));             // overlong
  CAF_CHECK(!valid_agent_name("\xed\xa0\x80"));        // surrogate
  CAF_CHECK(!valid_agent_name("\xff"));
  CAF_CHECK(!valid_agent_name("\xf4\x90\x80\x80"));   // above U+10FFFF
}

CAF_TEST(ListAgents sorts by name and GetClusterInfo counts nodes) {
  rpc("StartAgent", R"({"name":"b"})");
  rpc("StartAgent", R"({"name":"a"})");
  auto r = rpc("ListAgents", "{}");
  CAF_CHECK(r["result"]["agents"] == json::parse(R"(["a","b"])"));
  CAF_CHECK(r["result"]["agents_detail"][0]["name"] == "a");
  CAF_CHECK(r["result"]["count"] == 2);
  r = rpc("GetClusterInfo", "{}");
  CAF_CHECK(r["result"] == json::parse(R"({"self":"n1@h",
    "connected":["n2@h","n3@h"],"total_nodes":3})"));
}

CAF_TEST(ListAgents pages by limit and cursor) {
  // Started out of order; names with a quote and a backslash too.
  for (auto name : {"d", "b", "e", "a", "c", "q\"uote", "back\\slash"})
    rpc("StartAgent", json{{"name", name}}.dump());
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    auto params = json{{"limit", 2}};
    if (!cursor.empty())
      params["cursor"] = cursor;
    auto r = rpc("ListAgents", params.dump())["result"];
    CAF_REQUIRE(r.is_object());
    CAF_CHECK_EQUAL(r["total"], 7);
    CAF_CHECK_EQUAL(r["count"], r["agents"].size());
    CAF_CHECK(r["agents"].size() <= 2u);
    for (auto& x : r["agents"])
      seen.push_back(x.get<std::string>());
    ++pages;
    cursor = r["next_cursor"].get<std::string>();
    if (cursor.empty() || pages > 10)
      break;
    CAF_CHECK_EQUAL(cursor, seen.back());
  }
  CAF_CHECK_EQUAL(pages, 4);
  auto all = rpc("ListAgents", "{}")["result"];
  CAF_CHECK(!all.contains("next_cursor"));
  CAF_CHECK_EQUAL(json(seen), all["agents"]);
  CAF_CHECK(std::is_sorted(seen.begin(), seen.end()));
  CAF_CHECK_EQUAL(all["agents_detail"][0]["name"], "a");
  CAF_CHECK_EQUAL(all["agents_detail"][0]["node"], "n1@h");
  // An exact fit ends with an empty cursor, not an empty extra page.
  auto r = rpc("ListAgents", R"({"limit":7})")["result"];
  CAF_CHECK_EQUAL(r["count"], 7);
  CAF_CHECK_EQUAL(r["next_cursor"], "");
  // A cursor alone pages by 1000.
  r = rpc("ListAgents", R"({"cursor":"c"})")["result"];
  CAF_CHECK_EQUAL(r["agents"], json::parse(R"(["d","e","q\"uote"])"));
  CAF_CHECK_EQUAL(r["next_cursor"], "");
  // Bad limits and cursors.
  for (auto bad : {R"({"limit":0})", R"({"limit":10001})", R"({"limit":-1})",
                   R"({"limit":"5"})", R"({"limit":2.5})", R"({"cursor":5})"})
  {
    auto res = rpc("ListAgents", bad);
    CAF_CHECK_EQUAL(code(res), -32602);
  }
  r = rpc("ListAgents", R"({"limit":10000})")["result"];
  CAF_CHECK_EQUAL(r["count"], 7);
}

CAF_TEST(ListAgents in a batch and as a notification) {
  rpc("StartAgent", R"({"name":"a"})");
  auto r = call(R"([{"jsonrpc":"2.0","method":"ListAgents","id":1},)"
                R"({"jsonrpc":"2.0","method":"ListAgents"},)"
                R"({"jsonrpc":"2.0","method":"GetClusterInfo","id":2}])");
  CAF_REQUIRE(r.is_array());
  CAF_CHECK_EQUAL(r.size(), 2u);
  CAF_CHECK_EQUAL(r[0]["id"], 1);
  CAF_CHECK_EQUAL(r[0]["result"]["agents"], json::parse(R"(["a"])"));
  CAF_CHECK_EQUAL(r[1]["result"]["total_nodes"], 3);
}

CAF_TEST(hand written results are the bytes nlohmann writes) {
  rpc("StartAgent", R"({"name":"W"})");
  b.agents["W"].memory_keys = {"plain", "q\"uote", "back\\slash", "tab\t",
                               "caf\xc3\xa9", "bad\xff", "del\x7f", ""};
  b.agents["W"].node = "n\"1@h";
  for (auto body : {R"({"jsonrpc":"2.0","method":"GetAgentState","params":{"agent":"W"},"id":7})",
                    R"({"jsonrpc":"2.0","method":"SendMessage","params":{"agent":"W","action":"search"},"id":"x"})",
                    R"({"jsonrpc":"2.0","method":"ListAgents","params":{"limit":5},"id":null})"}) {
    std::string text;
    handle(b, body, cx, [&](response_body res) { text = std::move(res.text); });
    auto parsed = json::parse(text, nullptr, false);
    CAF_REQUIRE(!parsed.is_discarded());
    CAF_CHECK(parsed.contains("result"));
    CAF_CHECK_EQUAL(text, dump(parsed));
  }
  auto r = rpc("GetAgentState", R"({"agent":"W"})");
  CAF_CHECK_EQUAL(r["result"]["memory_keys"][1], "q\"uote");
  CAF_CHECK_EQUAL(r["result"]["memory_keys"][5], "bad\xef\xbf\xbd");
}

CAF_TEST(SendMessage validation) {
  rpc("StartAgent", R"({"name":"W"})");
  auto missing = json::parse(R"({"code":-32602,"message":"Invalid params",
    "data":"Missing required: agent, action"})");
  CAF_CHECK(rpc("SendMessage", R"({"agent":"W"})")["error"] == missing);
  CAF_CHECK(rpc("SendMessage", R"({"action":"search"})")["error"] == missing);
  CAF_CHECK_EQUAL(code(rpc("SendMessage", R"({"agent":1,"action":"x"})")),
                  -32602);
  CAF_CHECK_EQUAL(code(rpc("SendMessage", R"({"agent":"W","action":[]})")),
                  -32602);
  auto r = rpc("SendMessage", R"({"agent":"W","action":"x","params":"p"})");
  CAF_CHECK(r["error"]["data"] == "params must be an object");
  r = rpc("SendMessage", R"({"agent":"W","action":"x"})");
  CAF_CHECK(r["result"]["status"] == "created");
  CAF_CHECK_EQUAL(b.calls.back(), "send W x {}");
  r = rpc("SendMessage", R"({"agent":"Nope","action":"search"})");
  CAF_CHECK(r["error"] == json::parse(R"({"code":-32001,
    "message":"Agent not found: Nope"})"));
}

CAF_TEST(agent methods require a string agent) {
  for (auto m : {"StopAgent", "GetAgentState", "ProcessNext"}) {
    auto r = rpc(m, "{}");
    CAF_CHECK(r["error"] == json::parse(R"({"code":-32602,
      "message":"Invalid params","data":"Missing required: agent"})"));
    CAF_CHECK_EQUAL(code(rpc(m, R"({"agent":{}})")), -32602);
    CAF_CHECK_EQUAL(code(rpc(m, R"({"agent":"ghost"})")), -32001);
  }
}

CAF_TEST(GetTask and CancelTask) {
  rpc("StartAgent", R"({"name":"W"})");
  auto id = rpc("SendMessage", R"({"agent":"W","action":"search"})")
              ["result"]["task_id"].get<std::string>();
  auto r = rpc("GetTask", R"({"task_id":")" + id + R"("})");
  CAF_CHECK(r["result"] == json::parse(R"({"task_id":")" + id + R"(",
    "agent":"W","node":"n1@h","action":"search","params":{"query":"x"},
    "status":"queued"})"));
  r = rpc("GetTask", R"({"task_id":"ffff"})");
  CAF_CHECK(r["error"] == json::parse(R"({"code":-32002,
    "message":"Task not found: ffff"})"));
  CAF_CHECK_EQUAL(code(rpc("GetTask", "{}")), -32602);
  CAF_CHECK_EQUAL(code(rpc("GetTask", R"({"task_id":7})")), -32602);
  r = rpc("CancelTask", R"({"agent":"W","task_id":")" + id + R"("})");
  CAF_CHECK(r["result"]
            == json::parse(R"({"task_id":")" + id + R"(","status":"cancelled"})"));
  r = rpc("CancelTask", R"({"agent":"W","task_id":")" + id + R"("})");
  CAF_CHECK_EQUAL(code(r), -32002);
  r = rpc("CancelTask", R"({"agent":"W"})");
  CAF_CHECK(r["error"]["data"] == "Missing required: agent, task_id");
}

CAF_TEST(ids are echoed with their JSON type) {
  CAF_CHECK(rpc("ListAgents", "{}", "\"abc\"")["id"] == "abc");
  CAF_CHECK(rpc("ListAgents", "{}", "7.5")["id"] == 7.5);
  CAF_CHECK(rpc("ListAgents", "{}", "null")["id"].is_null());
  auto r = rpc("ListAgents", "{}", "[1]");
  CAF_CHECK_EQUAL(code(r), -32600);
  CAF_CHECK(r["id"].is_null());
}

CAF_TEST(envelope errors) {
  auto r = call(R"({"jsonrpc":"2.0",)");
  CAF_CHECK(r == json::parse(R"({"jsonrpc":"2.0","id":null,
    "error":{"code":-32700,"message":"Parse error"}})"));
  CAF_CHECK_EQUAL(code(call("\"hello\"")), -32600);
  CAF_CHECK_EQUAL(code(call("42")), -32600);
  r = call(R"({"jsonrpc":"1.0","method":"ListAgents","id":3})");
  CAF_CHECK_EQUAL(code(r), -32600);
  CAF_CHECK(r["id"] == 3);
  CAF_CHECK_EQUAL(code(call(R"({"method":"ListAgents","id":3})")), -32600);
  CAF_CHECK_EQUAL(code(call(R"({"jsonrpc":"2.0","method":1,"id":3})")), -32600);
  r = call(R"({"jsonrpc":"2.0","method":"listAgents","id":3})");
  CAF_CHECK(r["error"] == json::parse(R"({"code":-32601,
    "message":"Method not found: listAgents"})"));
  r = call(R"({"jsonrpc":"2.0","method":"ListAgents","params":[],"id":3})");
  CAF_CHECK_EQUAL(code(r), -32602);
  r = call(R"({"jsonrpc":"2.0","method":"ListAgents","id":3})");
  CAF_CHECK(r["result"]["count"] == 0);
  CAF_CHECK_EQUAL(code(call("\xff\xfe")), -32700);
  CAF_CHECK_EQUAL(code(call(R"({"jsonrpc":"2.0","method":"\xff","id":1})")),
                  -32700);
}

CAF_TEST(deeply nested JSON is refused without recursion) {
  std::string deep(100000, '[');
  CAF_CHECK_EQUAL(code(call(deep)), -32700); // malformed: parse error
  auto valid = std::string(100, '[') + std::string(100, ']');
  auto r = call(valid);
  CAF_CHECK_EQUAL(code(r), -32600);
  CAF_CHECK_EQUAL(nesting_depth(R"({"a":[{"b":"[[[["}]})"), 3u);
}

CAF_TEST(notifications run but get no response) {
  auto r = call(R"({"jsonrpc":"2.0","method":"StartAgent",
    "params":{"name":"N"}})");
  CAF_CHECK(r.is_null());
  CAF_CHECK(b.agents.count("N"));
  // Even failing notifications stay silent.
  CAF_CHECK(call(R"({"jsonrpc":"2.0","method":"Nope"})").is_null());
}

CAF_TEST(batches answer every request in order) {
  auto r = call(R"([
    {"jsonrpc":"2.0","method":"StartAgent","params":{"name":"A"},"id":1},
    {"jsonrpc":"2.0","method":"StartAgent","params":{"name":"B"}},
    {"jsonrpc":"2.0","method":"Nope","id":"x"},
    5,
    {"jsonrpc":"2.0","method":"ListAgents","id":2}])");
  CAF_REQUIRE(r.is_array());
  CAF_REQUIRE_EQUAL(r.size(), 4u);
  CAF_CHECK(r[0]["result"]["status"] == "started");
  CAF_CHECK_EQUAL(code(r[1]), -32601);
  CAF_CHECK(r[1]["id"] == "x");
  CAF_CHECK_EQUAL(code(r[2]), -32600);
  CAF_CHECK(r[3]["result"]["count"] == 2);
  CAF_CHECK_EQUAL(code(call("[]")), -32600);
  CAF_CHECK(call(R"([{"jsonrpc":"2.0","method":"ListAgents"}])").is_null());
}

namespace {

/// Holds StartAgent calls back until `flush`, as the node's backend does
/// (it starts them as a group).
struct holding_backend : am::rpc::test::fake_backend {
  std::vector<std::function<void()>> held;

  void start_agent(const std::string& name, const json& memory,
                   const std::string& default_action,
                   callback<start_result> cb) override {
    held.push_back([this, name, memory, default_action, cb] {
      am::rpc::test::fake_backend::start_agent(name, memory, default_action,
                                               cb);
    });
  }

  void flush() override {
    calls.push_back("flush");
    auto xs = std::move(held);
    held.clear();
    for (auto& f : xs)
      f();
  }
};

} // namespace

CAF_TEST(StartAgent calls of a batch go as a group before any other call) {
  holding_backend hb;
  std::optional<std::string> out;
  handle(hb, R"([
    {"jsonrpc":"2.0","method":"StartAgent","params":{"name":"A"},"id":1},
    {"jsonrpc":"2.0","method":"StartAgent","params":{"name":"B"}},
    {"jsonrpc":"2.0","method":"ListAgents","id":2},
    {"jsonrpc":"2.0","method":"StartAgent","params":{"name":"C"},"id":3}])",
         cx, [&](response_body res) { out = std::move(res.text); });
  CAF_CHECK(hb.held.empty());
  CAF_CHECK_EQUAL(hb.calls,
                  (std::vector<std::string>{"flush", "start A {}",
                                            "start B {}", "flush",
                                            "start C {}"}));
  CAF_REQUIRE(out.has_value());
  auto r = json::parse(*out);
  CAF_REQUIRE_EQUAL(r.size(), 3u);
  CAF_CHECK(r[0]["result"]["status"] == "started");
  // The starts before it were handed on before ListAgents ran.
  CAF_CHECK(r[1]["result"]["count"] == 2);
  CAF_CHECK(r[2]["result"]["agent"] == "C");
  // A single call is flushed too.
  hb.calls.clear();
  handle(hb, R"({"jsonrpc":"2.0","method":"StartAgent","params":{"name":"D"},"id":4})",
         cx, [&](response_body res) { out = std::move(res.text); });
  CAF_CHECK(hb.held.empty());
  CAF_CHECK(json::parse(*out)["result"]["status"] == "started");
}

CAF_TEST(a batch over the limit gets one error and runs nothing) {
  cx.max_batch = 3;
  auto batch = [](size_t n) {
    auto xs = json::array();
    for (size_t i = 0; i < n; ++i)
      xs.push_back(json{{"jsonrpc", "2.0"}, {"method", "StartAgent"},
                        {"params", {{"name", "n" + std::to_string(i)}}},
                        {"id", i}});
    return xs.dump();
  };
  auto r = call(batch(4));
  CAF_REQUIRE(r.is_object());
  CAF_CHECK_EQUAL(code(r), -32600);
  CAF_CHECK(r["error"]["data"] == "batch too large");
  CAF_CHECK(r["id"].is_null());
  CAF_CHECK(b.calls.empty());
  r = call(batch(3));
  CAF_CHECK(r.is_array() && r.size() == 3u);
  CAF_CHECK_EQUAL(b.calls.size(), 3u);
}

CAF_TEST_FIXTURE_SCOPE_END()
