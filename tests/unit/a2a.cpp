#define CAF_SUITE a2a

#include <caf/test/unit_test.hpp>

#include "core/a2a_task.hpp"
#include "http/a2a.hpp"
#include "tests/unit/rpc_fixture.hpp"

using namespace am;
using namespace am::rpc;

namespace {

struct fixture : am::rpc::test::fixture {
  fixture() {
    b.agents["W"] = agent_status{"W", "idle", 0, 0, {}, "n1@h"};
  }

  /// A standard message with one text part and `extra` members.
  static std::string message(const std::string& text,
                             const std::string& extra = "") {
    return R"({"message":{"messageId":"m-)" + text
           + R"(","role":"ROLE_USER","parts":[{"text":")" + text + R"("}])"
           + extra + "}";
  }

  json send(const std::string& params) {
    return rpc("SendMessage", params);
  }

  static json error_data_reason(const json& res) {
    return res.at("error").at("data").at(0).at("reason");
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(a2a_tests, fixture)

CAF_TEST(the routing rule tells the families apart by params) {
  CAF_CHECK(is_standard("SendMessage", json::parse(R"({"message":{}})")));
  CAF_CHECK(!is_standard("SendMessage", json::parse(R"({"agent":"W"})")));
  CAF_CHECK(!is_standard("SendMessage", json::object()));
  CAF_CHECK(is_standard("SendStreamingMessage", json::object()));
  CAF_CHECK(!is_standard("SendStreamingMessage",
                         json::parse(R"({"agent":"W"})")));
  CAF_CHECK(is_standard("GetTask", json::parse(R"({"id":"x"})")));
  CAF_CHECK(!is_standard("GetTask", json::parse(R"({"task_id":"x"})")));
  CAF_CHECK(is_standard("CancelTask", json::parse(R"({"id":"x"})")));
  CAF_CHECK(!is_standard("CancelTask",
                         json::parse(R"({"agent":"W","task_id":"x"})")));
  for (auto m : {"ListTasks", "SubscribeToTask", "GetExtendedAgentCard",
                 "CreateTaskPushNotificationConfig",
                 "ListTaskPushNotificationConfigs"})
    CAF_CHECK(is_standard(m, json::object()));
  CAF_CHECK(!is_standard("StartAgent", json::object()));
  // The dialect's SendMessage is unchanged...
  auto r = rpc("SendMessage", R"({"agent":"W","action":"search"})");
  CAF_CHECK(r["result"]["status"] == "created");
  // ...and the dialect has no streaming method.
  r = rpc("SendStreamingMessage", R"({"agent":"W","action":"search"})");
  CAF_CHECK_EQUAL(code(r), -32601);
}

CAF_TEST(the version rule applies to standard methods only) {
  for (auto v : {"", "1.0"}) {
    cx.version = v;
    CAF_CHECK(send(message("a", R"(,"metadata":{"agent":"W"})") + "}")
                .contains("result"));
  }
  cx.version = "0.3";
  auto r = send(message("b", R"(,"metadata":{"agent":"W"})") + "}");
  CAF_CHECK_EQUAL(code(r), -32009);
  CAF_CHECK(error_data_reason(r) == "VERSION_NOT_SUPPORTED");
  CAF_CHECK_EQUAL(code(rpc("ListTasks", "{}")), -32009);
  CAF_CHECK_EQUAL(b.sends.size(), 2u); // nothing ran
  // The dialect ignores the header.
  CAF_CHECK(rpc("StartAgent", R"({"name":"V"})")["result"]["status"]
            == "started");
}

CAF_TEST(SendMessage routes by endpoint then metadata then data part) {
  auto r = send(message("OTP", R"(,"metadata":{"agent":"W"})") + "}");
  CAF_REQUIRE(r.contains("result"));
  auto& p = b.sends.back();
  CAF_CHECK_EQUAL(p.agent, "W");
  CAF_CHECK_EQUAL(p.action, "");
  CAF_CHECK(p.params.is_null());
  CAF_CHECK_EQUAL(p.text, "OTP");
  CAF_CHECK_EQUAL(p.message_id, "m-OTP");
  CAF_CHECK(!p.return_immediately);
  // A data part names agent, action and params.
  send(R"({"message":{"messageId":"d","role":"ROLE_USER","parts":[
         {"text":"a"},{"data":{"agent":"W","action":"analyze",
         "params":{"data":"x"}}},{"text":"b"}]}})");
  CAF_CHECK_EQUAL(b.sends.back().agent, "W");
  CAF_CHECK_EQUAL(b.sends.back().action, "analyze");
  CAF_CHECK(b.sends.back().params == json({{"data", "x"}}));
  CAF_CHECK_EQUAL(b.sends.back().text, "a\nb");
  // Metadata beats the data part; the endpoint beats both.
  send(R"({"message":{"messageId":"e","role":"ROLE_USER","parts":[
         {"data":{"agent":"X","action":"analyze"}}],
         "metadata":{"agent":"W","action":"summarize"}}})");
  CAF_CHECK_EQUAL(b.sends.back().agent, "W");
  CAF_CHECK_EQUAL(b.sends.back().action, "summarize");
  cx.agent = "Endpoint";
  send(message("f", R"(,"metadata":{"agent":"W"})") + "}");
  CAF_CHECK_EQUAL(b.sends.back().agent, "Endpoint");
  // returnImmediately and contextId.
  cx.agent.clear();
  send(R"({"message":{"messageId":"g","contextId":"c1","role":"ROLE_USER",
         "parts":[{"text":"x"}],"metadata":{"agent":"W"}},
         "configuration":{"returnImmediately":true}})");
  CAF_CHECK(b.sends.back().return_immediately);
  CAF_CHECK_EQUAL(b.sends.back().context_id, "c1");
}

CAF_TEST(SendMessage refuses bad messages with -32602) {
  auto count = b.sends.size();
  auto bad = [&](const std::string& params, const std::string& detail) {
    auto r = send(params);
    CAF_CHECK_EQUAL(code(r), -32602);
    CAF_CHECK_EQUAL(r["error"]["data"].get<std::string>(), detail);
  };
  // (Without `message` the dialect answers: SendMessage {} is its call.)
  CAF_CHECK_EQUAL(code(send("{}")), -32602);
  bad(R"({"message":"hi"})", "message must be an object");
  bad(R"({"message":{"role":"ROLE_USER","parts":[{"text":"x"}]}})",
      "message.messageId must be a non-empty string");
  bad(R"({"message":{"messageId":"m","parts":[]}})",
      "message.parts must be a non-empty array");
  bad(message("x") + "}",
      "missing agent: set message.metadata.agent or use /agents/<name>/a2a");
  bad(message("x", R"(,"metadata":{"agent":7})") + "}",
      "metadata.agent must be a string");
  bad(message("x", R"(,"metadata":{"agent":"W","params":[1]})") + "}",
      "metadata.params must be an object");
  CAF_CHECK_EQUAL(b.sends.size(), count); // the backend saw none of them
  // An unknown agent comes back from the backend as -32602 too.
  auto r = send(message("x", R"(,"metadata":{"agent":"nobody"})") + "}");
  CAF_CHECK(r["error"]["data"] == "unknown agent: nobody");
  // Continuing a task is not supported.
  r = send(R"({"message":{"messageId":"m","taskId":"t","parts":[{"text":"x"}],
         "metadata":{"agent":"W"}}})");
  CAF_CHECK_EQUAL(code(r), -32004);
}

CAF_TEST(SendMessage answers a task with artifact and history) {
  auto r = send(message("OTP", R"(,"metadata":{"agent":"W"})") + "}");
  auto& task = r["result"]["task"];
  CAF_CHECK(task["status"]["state"] == "TASK_STATE_COMPLETED");
  CAF_CHECK(task["status"]["timestamp"].is_string());
  auto& parts = task["artifacts"][0]["parts"];
  CAF_CHECK(parts[0]["data"] == json({{"ok", "Search results for: OTP"}}));
  CAF_CHECK(parts[1]["text"] == "Search results for: OTP");
  auto& first = task["history"][0];
  CAF_CHECK(first["messageId"] == "m-OTP");
  CAF_CHECK(first["taskId"] == task["id"]);
  CAF_CHECK(first["contextId"] == task["contextId"]);
  CAF_CHECK(task["metadata"]["agent"] == "W");
  // historyLength 0 leaves the history out.
  r = send(message("x", R"(,"metadata":{"agent":"W"})")
           + R"(,"configuration":{"historyLength":0}})");
  CAF_CHECK(!r["result"]["task"].contains("history"));
  CAF_CHECK_EQUAL(code(send(message("x", R"(,"metadata":{"agent":"W"})")
                            + R"(,"configuration":{"historyLength":-1}})")),
                  -32602);
}

CAF_TEST(GetTask and CancelTask answer bare tasks and A2A errors) {
  auto t = send(message("x", R"(,"metadata":{"agent":"W"})")
                + R"(,"configuration":{"returnImmediately":true}})");
  auto id = t["result"]["task"]["id"].get<std::string>();
  CAF_CHECK(t["result"]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED");
  auto r = rpc("GetTask", R"({"id":")" + id + R"("})");
  CAF_CHECK(r["result"]["id"] == id);
  r = rpc("GetTask", R"({"id":"nope"})");
  CAF_CHECK_EQUAL(code(r), -32001);
  CAF_CHECK(error_data_reason(r) == "TASK_NOT_FOUND");
  CAF_CHECK_EQUAL(code(rpc("GetTask", R"({"id":5})")), -32602);
  r = rpc("CancelTask", R"({"id":")" + id + R"("})");
  CAF_CHECK(r["result"]["status"]["state"] == "TASK_STATE_CANCELED");
  r = rpc("CancelTask", R"({"id":")" + id + R"("})");
  CAF_CHECK_EQUAL(code(r), -32002);
  CAF_CHECK(error_data_reason(r) == "TASK_NOT_CANCELABLE");
  CAF_CHECK_EQUAL(code(rpc("CancelTask", R"({"id":"nope"})")), -32001);
}

CAF_TEST(ListTasks parses filters and pages) {
  send(message("a", R"(,"metadata":{"agent":"W"})") + "}");
  send(message("b", R"(,"metadata":{"agent":"W"})") + "}");
  auto r = rpc("ListTasks", R"({"pageSize":2,"status":"TASK_STATE_WORKING",
                "contextId":"c","statusTimestampAfter":"2026-01-01T00:00:00.5Z"})");
  auto& q = b.queries.back();
  CAF_CHECK_EQUAL(q.page_size, 2u);
  CAF_CHECK_EQUAL(q.status, "running");
  CAF_CHECK_EQUAL(q.context_id, "c");
  CAF_CHECK_EQUAL(q.updated_after_us,
                  *a2a::parse_timestamp("2026-01-01T00:00:00Z") + 500000);
  auto& res = r["result"];
  CAF_CHECK_EQUAL(res["tasks"].size(), 2u);
  CAF_CHECK(res["pageSize"] == 2);
  CAF_CHECK(res["totalSize"] == 3);
  CAF_CHECK(!res["tasks"][0].contains("artifacts"));
  // One more task remains: the token continues after the last one.
  auto token = res["nextPageToken"].get<std::string>();
  CAF_REQUIRE(!token.empty());
  rpc("ListTasks", R"({"pageToken":")" + token + R"(","includeArtifacts":true})");
  CAF_CHECK_EQUAL(b.queries.back().cursor_id,
                  res["tasks"][1]["id"].get<std::string>());
  CAF_CHECK_EQUAL(b.queries.back().page_size, 50u);
  // Unknown states filter nothing (the SDK sends UNRECOGNIZED).
  rpc("ListTasks", R"({"status":"UNRECOGNIZED"})");
  CAF_CHECK_EQUAL(b.queries.back().status, "");
  CAF_CHECK_EQUAL(code(rpc("ListTasks", R"({"pageSize":101})")), -32602);
  CAF_CHECK_EQUAL(code(rpc("ListTasks", R"({"pageSize":0})")), -32602);
  CAF_CHECK_EQUAL(code(rpc("ListTasks", R"({"pageToken":"zz"})")), -32602);
  CAF_CHECK_EQUAL(code(rpc("ListTasks",
                           R"({"statusTimestampAfter":"yesterday"})")),
                  -32602);
}

CAF_TEST(streams start in the backend and never inside a batch) {
  auto r = rpc("SendStreamingMessage",
               message("s", R"(,"metadata":{"agent":"W"})") + "}", "\"q\"");
  CAF_CHECK(streamed);
  CAF_CHECK(r.is_null());
  CAF_CHECK_EQUAL(b.streams.back(), "send \"q\"");
  auto t = send(message("x", R"(,"metadata":{"agent":"W"})")
                + R"(,"configuration":{"returnImmediately":true}})");
  auto id = t["result"]["task"]["id"].get<std::string>();
  rpc("SubscribeToTask", R"({"id":")" + id + R"("})", "9");
  CAF_CHECK(streamed);
  CAF_CHECK_EQUAL(b.streams.back(), "subscribe 9");
  // A finished task has nothing to stream.
  auto done = send(message("y", R"(,"metadata":{"agent":"W"})") + "}");
  r = rpc("SubscribeToTask",
          R"({"id":")" + done["result"]["task"]["id"].get<std::string>()
            + R"("})");
  CAF_CHECK(!streamed);
  CAF_CHECK_EQUAL(code(r), -32004);
  // Errors before the stream are plain JSON replies.
  r = rpc("SendStreamingMessage", message("z") + "}");
  CAF_CHECK(!streamed);
  CAF_CHECK_EQUAL(code(r), -32602);
  r = call(R"([{"jsonrpc":"2.0","id":1,"method":"SubscribeToTask",
               "params":{"id":")" + id + R"("}}])");
  CAF_CHECK(!streamed);
  CAF_CHECK_EQUAL(code(r[0]), -32004);
}

CAF_TEST(push configs and the extended card answer their errors) {
  for (auto m : {"CreateTaskPushNotificationConfig",
                 "GetTaskPushNotificationConfig",
                 "ListTaskPushNotificationConfigs",
                 "DeleteTaskPushNotificationConfig"})
    CAF_CHECK_EQUAL(code(rpc(m, R"({"id":"x"})")), -32003);
  CAF_CHECK_EQUAL(code(rpc("GetExtendedAgentCard", "{}")), -32007);
}

CAF_TEST(an agent endpoint speaks only the standard family) {
  cx.agent = "W";
  CAF_CHECK_EQUAL(code(rpc("StartAgent", R"({"name":"Z"})")), -32601);
  CAF_CHECK_EQUAL(code(rpc("GetAgentState", R"({"agent":"W"})")), -32601);
  auto r = send(message("OTP") + "}");
  CAF_CHECK(r["result"]["task"]["metadata"]["agent"] == "W");
}

CAF_TEST(task JSON maps both kinds of task) {
  task_view v;
  v.task_id = "t1";
  v.agent = "W";
  v.node = "n@h";
  v.action = "search";
  v.params = json{{"query", "q"}};
  v.status = "queued";
  v.updated_us = 1;
  auto t = a2a::task_json(v);
  CAF_CHECK(t["status"]["state"] == "TASK_STATE_SUBMITTED");
  CAF_CHECK(t["status"]["timestamp"] == "1970-01-01T00:00:00.000001Z");
  CAF_CHECK(t["artifacts"] == json::array());
  // A dialect task shows its action and params as the user message.
  CAF_CHECK(t["history"][0]["parts"][0]["data"]
            == json({{"action", "search"}, {"params", {{"query", "q"}}}}));
  CAF_CHECK(!t.contains("contextId"));
  v.status = "running";
  CAF_CHECK(a2a::task_json(v)["status"]["state"] == "TASK_STATE_WORKING");
  v.status = "failed";
  v.result = json{{"error", "agent_crashed"}};
  t = a2a::task_json(v, std::nullopt, false);
  CAF_CHECK(t["status"]["state"] == "TASK_STATE_FAILED");
  CAF_CHECK(t["status"]["message"]["parts"][0]["text"] == "agent_crashed");
  CAF_CHECK(!t.contains("artifacts"));
  v.status = "cancelled";
  v.result = json{};
  CAF_CHECK(a2a::task_json(v)["status"]["state"] == "TASK_STATE_CANCELED");
  for (auto s : {"queued", "running", "completed", "failed", "cancelled"})
    CAF_CHECK_EQUAL(a2a::status_of_state(a2a::state_name(s)), s);
}

CAF_TEST(append_json writes the bytes nlohmann writes) {
  std::vector<json> values{
    nullptr, true, false, 0, -1, 42, int64_t{-9223372036854775807LL - 1},
    uint64_t{18446744073709551615ULL}, 0.5, -1.25e300, 3.0, "",
    "plain", "quote \" and \\ back / slash", "tab\tnew\nline\x01\x7f",
    "caf\xc3\xa9 \xe2\x82\xac", "bad \xff\xfe utf-8", json::array(),
    json::object(), json::array({1, "two", nullptr, json::array({3.5})}),
    json{{"b", 1}, {"a", {{"z", "\xc3\xa9"}, {"\xc3\xa9", false}}},
         {"\x02key", json::array()}},
    json::binary({1, 2, 3})};
  for (auto& x : values) {
    std::string out = "prefix:";
    append_json(out, x);
    CAF_CHECK_EQUAL(out, "prefix:" + dump(x));
  }
}

CAF_TEST(the task written as text is the bytes nlohmann writes) {
  std::vector<std::string> texts{"plain", "quote \" and \\ back",
                                 "tab\tnew\nline\x01", "caf\xc3\xa9 \xe2\x82\xac",
                                 "bad \xff\xfe utf-8", ""};
  std::vector<json> results{nullptr,
                            json{{"ok", "Search results for: x"}},
                            json{{"ok", 42}, {"more", {1, 2}}},
                            json{{"error", "agent_crashed"}},
                            json{{"error", {{"code", 7}}}},
                            json::array({1, "two"}),
                            json("just text")};
  size_t cases = 0;
  size_t shapes = 0;
  for (auto& text : texts)
    for (auto& result : results)
      for (auto status : {"queued", "running", "completed", "failed",
                          "cancelled", "odd"})
        for (bool standard : {false, true}) {
          task_view v;
          v.task_id = "id-" + text;
          v.agent = "agent " + text;
          v.node = "n@h";
          v.action = text.empty() ? "search" : text;
          v.params = json{{"query", text}};
          v.status = status;
          v.result = result;
          v.standard = standard;
          v.context_id = standard ? "ctx-" + text : "";
          v.trace_id = standard ? "" : "4bf92f3577b34da6a3ce929d0e0e4736";
          v.updated_us = 1764331200123456 + static_cast<int64_t>(cases);
          if (standard) {
            // The history message is written member by member, with the
            // ids merged in: members before, between and after them, ids
            // the client sent (replaced), and a message without a context.
            auto shape = shapes++ % 4;
            json msg{{"messageId", "m-" + text},
                     {"role", "ROLE_USER"},
                     {"parts", {{{"text", text}}}}};
            if (shape == 1) {
              msg["contextId"] = "client context";
              msg["taskId"] = "client task";
              msg["aaa"] = 1;
              msg["zzz " + text] = {{"x", text}};
              msg["metadata"] = {{"k", nullptr}};
            } else if (shape == 2) {
              v.context_id.clear();
              msg["\xc3\xa9t\xc3\xa9"] = text;
            } else if (shape == 3) {
              // No context of its own: the client's contextId stays.
              v.context_id.clear();
              msg["contextId"] = "client context " + text;
            }
            v.message = std::move(msg);
          }
          for (auto history : {std::optional<size_t>{}, std::optional<size_t>{0},
                               std::optional<size_t>{3}})
            for (bool artifacts : {true, false}) {
              ++cases;
              auto expected = dump(a2a::task_json(v, history, artifacts));
              auto got = a2a::task_text(v, history, artifacts);
              if (got != expected)
                CAF_FAIL("task_text differs:\n  " << got << "\n  " << expected);
            }
        }
  CAF_CHECK_EQUAL(cases, 6u * 7u * 6u * 2u * 3u * 2u);
  CAF_CHECK_EQUAL(shapes, 6u * 7u * 6u);
}

CAF_TEST(cards) {
  auto node = a2a::node_card("mesh", "n@h", "1.2.3", "h:1",
                             {{"search", "Searches."}});
  CAF_CHECK(node["supportedInterfaces"]
            == json::parse(R"([{"url":"http://h:1/a2a",
              "protocolBinding":"JSONRPC","protocolVersion":"1.0"}])"));
  CAF_CHECK(node["capabilities"]["streaming"] == true);
  CAF_CHECK(node["skills"][0]["id"] == "search");
  for (auto key : {"name", "description", "version", "defaultInputModes",
                   "defaultOutputModes"})
    CAF_CHECK(node.contains(key));
  agent_info info{"a b/c", "n@h", "summarize", {"search"}, {"Searches."}};
  auto card = a2a::agent_card(info, "1.2.3", "h:1");
  CAF_CHECK(card["name"] == "a b/c");
  CAF_CHECK(card["supportedInterfaces"][0]["url"]
            == "http://h:1/agents/a%20b%2Fc/a2a");
  CAF_CHECK(card["description"].get<std::string>().find("summarize")
            != std::string::npos);
}

CAF_TEST(timestamps and page tokens) {
  CAF_CHECK(a2a::parse_timestamp("1970-01-01T00:00:01Z") == 1000000);
  CAF_CHECK(a2a::parse_timestamp("1970-01-01T00:00:01.25Z") == 1250000);
  CAF_CHECK(!a2a::parse_timestamp("1970-01-01T00:00:01"));
  CAF_CHECK(!a2a::parse_timestamp("1970-01-01 00:00:01Z"));
  task_view v;
  v.task_id = "abc";
  v.updated_us = 42;
  task_query q;
  CAF_CHECK(a2a::read_page_token(a2a::page_token(v), q));
  CAF_CHECK_EQUAL(q.cursor_us, 42);
  CAF_CHECK_EQUAL(q.cursor_id, "abc");
  CAF_CHECK(!a2a::read_page_token(".abc", q));
  CAF_CHECK(!a2a::read_page_token("4x.abc", q));
}

CAF_TEST_FIXTURE_SCOPE_END()
