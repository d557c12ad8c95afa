#define CAF_SUITE actions

#include <caf/test/unit_test.hpp>

#include "actors/actions.hpp"

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
  CAF_CHECK(reg.names().size() == 4u);
}
