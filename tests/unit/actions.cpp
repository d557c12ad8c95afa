#define CAF_SUITE actions

#include <caf/test/unit_test.hpp>

#include <functional>
#include <vector>

#include "core/actions.hpp"

using namespace am;

namespace {

std::string ok_text(const json& result) {
  return result.at("ok").get<std::string>();
}

} // namespace

CAF_TEST(built-in actions read their parameter by name) {
  auto reg = action_registry::builtin();
  CAF_CHECK_EQUAL(ok_text(reg.run("search", {{"query", "OTP"}})),
                  "Search results for: OTP");
  CAF_CHECK_EQUAL(ok_text(reg.run("analyze", {{"data", "cross-node test"}})),
                  "Analysis of: cross-node test");
  CAF_CHECK_EQUAL(ok_text(reg.run("summarize", {{"text", "short"}})),
                  "Summary: short...");
}

CAF_TEST(missing parameters are empty and other types are JSON text) {
  auto reg = action_registry::builtin();
  CAF_CHECK_EQUAL(ok_text(reg.run("search", json::object())),
                  "Search results for: ");
  CAF_CHECK_EQUAL(ok_text(reg.run("search", {{"query", 42}})),
                  "Search results for: 42");
  CAF_CHECK_EQUAL(ok_text(reg.run("search", {{"query", true}})),
                  "Search results for: true");
  CAF_CHECK_EQUAL(ok_text(reg.run("search", {{"query", {1, 2}}})),
                  "Search results for: [1,2]");
  CAF_CHECK_EQUAL(ok_text(reg.run("analyze", {{"data", nullptr}})),
                  "Analysis of: null");
}

CAF_TEST(summarize keeps 50 code points and always adds dots) {
  auto reg = action_registry::builtin();
  std::string text(60, 'a');
  CAF_CHECK_EQUAL(ok_text(reg.run("summarize", {{"text", text}})),
                  "Summary: " + std::string(50, 'a') + "...");
  // 60 two-byte characters: the cut falls between code points.
  std::string umlauts;
  for (int i = 0; i < 60; ++i)
    umlauts += "\xc3\xa4"; // ä
  auto out = ok_text(reg.run("summarize", {{"text", umlauts}}));
  CAF_CHECK_EQUAL(out, "Summary: " + umlauts.substr(0, 100) + "...");
  CAF_CHECK_EQUAL(utf8_prefix("\xf0\x9f\x98\x80x", 1), "\xf0\x9f\x98\x80");
  CAF_CHECK_EQUAL(utf8_prefix("ab", 5), "ab");
}

CAF_TEST(unknown actions are reported case-sensitively) {
  auto reg = action_registry::builtin();
  CAF_CHECK(reg.run("Search", json::object())
            == json({{"error", "unknown_action: Search"}}));
  CAF_CHECK(reg.run("", json::object())
            == json({{"error", "unknown_action: "}}));
}

CAF_TEST(users can add actions) {
  auto reg = action_registry::builtin();
  reg.add("echo", [](const json& p) { return json{{"ok", p}}; });
  CAF_CHECK(reg.contains("echo"));
  CAF_CHECK(reg.run("echo", {{"x", 1}}) == json({{"ok", {{"x", 1}}}}));
  CAF_CHECK(reg.names().size() == 5u);
}

namespace {

/// Records timers instead of running them.
struct fake_env : action_env {
  std::vector<std::pair<std::chrono::milliseconds, std::function<void()>>>
    timers;

  void after(std::chrono::milliseconds d, std::function<void()> f) override {
    timers.emplace_back(d, std::move(f));
  }
};

} // namespace

CAF_TEST(sleep answers later from a timer and checks its parameter) {
  auto reg = action_registry::builtin();
  CAF_CHECK(reg.is_async("sleep"));
  CAF_CHECK(!reg.is_async("search"));
  CAF_CHECK(reg.info("sleep")->cancelable);
  CAF_CHECK(!reg.info("search")->cancelable);
  {
    auto held = reg.info("sleep");
    CAF_REQUIRE(held);
    CAF_CHECK_EQUAL(held->text_param, "ms");
  }
  {
    auto held = reg.info("search");
    CAF_REQUIRE(held);
    CAF_CHECK_EQUAL(held->text_param, "query");
  }
  fake_env env;
  std::vector<json> results;
  reg.start("sleep", {{"ms", 250}}, env,
            [&](json r) { results.push_back(std::move(r)); });
  CAF_CHECK(results.empty()); // nothing until the timer fires
  CAF_REQUIRE_EQUAL(env.timers.size(), 1u);
  CAF_CHECK(env.timers[0].first == std::chrono::milliseconds{250});
  env.timers[0].second();
  CAF_REQUIRE_EQUAL(results.size(), 1u);
  CAF_CHECK(results[0] == json({{"ok", "slept 250 ms"}}));
  // Synchronous actions answer before start returns.
  reg.start("search", {{"query", "q"}}, env,
            [&](json r) { results.push_back(std::move(r)); });
  CAF_CHECK(results.back() == json({{"ok", "Search results for: q"}}));
  // The check refuses what the action cannot take.
  CAF_CHECK(!reg.check("sleep", {{"ms", 0}}));
  CAF_CHECK(!reg.check("sleep", {{"ms", "60000"}}));
  CAF_CHECK(reg.check("sleep", {{"ms", 60001}}));
  CAF_CHECK(reg.check("sleep", {{"ms", -1}}));
  CAF_CHECK(reg.check("sleep", {{"ms", 1.5}}));
  CAF_CHECK(reg.check("sleep", {{"ms", "soon"}}));
  CAF_CHECK(reg.check("sleep", json::object()));
  CAF_CHECK(!reg.check("search", json::object()));
  CAF_CHECK(!reg.check("no-such-action", json::object()));
}

CAF_TEST(users can add asynchronous actions) {
  auto reg = action_registry::builtin();
  action_done later;
  action_info info;
  info.description = "Waits for someone else.";
  reg.add_async("wait", [&](const json&, action_env&, action_done done) {
    later = std::move(done);
  }, info);
  fake_env env;
  json result;
  reg.start("wait", json::object(), env, [&](json r) { result = r; });
  CAF_CHECK(result.is_null());
  CAF_REQUIRE(later);
  later(json{{"ok", "done"}});
  CAF_CHECK(result == json({{"ok", "done"}}));
  {
    auto held = reg.info("wait");
    CAF_REQUIRE(held);
    CAF_CHECK_EQUAL(held->description, "Waits for someone else.");
  }
  CAF_CHECK(reg.run("wait", json::object()).contains("error"));
}
