#define CAF_SUITE trace

#include <caf/test/unit_test.hpp>

#include <regex>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/trace.hpp"

using namespace am;

namespace {

const std::string valid
  = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// `valid` with the characters at `pos` replaced by `with`.
std::string broken(size_t pos, const std::string& with) {
  auto x = valid;
  x.replace(pos, with.size(), with);
  return x;
}

} // namespace

CAF_TEST(a valid traceparent gives its trace id) {
  CAF_CHECK_EQUAL(trace_id_of(valid).value_or(""),
                  "4bf92f3577b34da6a3ce929d0e0e4736");
  CAF_CHECK(trace_id_of(" " + valid + "\t"));
  // A later version may append fields after a dash.
  CAF_CHECK(trace_id_of("01" + valid.substr(2) + "-what-ever"));
}

CAF_TEST(a malformed traceparent gives nothing) {
  CAF_CHECK(!trace_id_of(""));
  CAF_CHECK(!trace_id_of("garbage"));
  CAF_CHECK(!trace_id_of(valid.substr(0, 54)));
  CAF_CHECK(!trace_id_of(valid + "-x"));          // version 00 has 4 fields
  CAF_CHECK(!trace_id_of("01" + valid.substr(2) + "x")); // no dash
  CAF_CHECK(!trace_id_of(broken(0, "ff")));       // version ff is invalid
  CAF_CHECK(!trace_id_of(broken(3, "4BF9")));     // upper case
  CAF_CHECK(!trace_id_of(broken(3, std::string(32, '0')))); // all zeros
  CAF_CHECK(!trace_id_of(broken(36, std::string(16, '0'))));
  CAF_CHECK(!trace_id_of(broken(53, "0g")));
  CAF_CHECK(!trace_id_of(broken(2, "_")));
}

CAF_TEST(new trace ids are 32 hex characters and differ) {
  std::regex hex{"^[0-9a-f]{32}$"};
  auto a = new_trace_id();
  auto b = new_trace_id();
  CAF_CHECK(std::regex_match(a, hex));
  CAF_CHECK(std::regex_match(b, hex));
  CAF_CHECK_NOT_EQUAL(a, b);
}

CAF_TEST(a JSON log line has ts level logger msg and the event fields) {
  auto line = log::json_line(log::level::warning,
                             "[AgentEventLogger] task_received: a on n1",
                             R"({"event":"task_received","agent":"a",)"
                             R"("trace_id":"abc","msg":"not this one"})");
  auto obj = json::parse(line);
  CAF_CHECK_EQUAL(obj["level"], "warning");
  CAF_CHECK_EQUAL(obj["logger"], "AgentEventLogger");
  CAF_CHECK_EQUAL(obj["msg"], "task_received: a on n1");
  CAF_CHECK_EQUAL(obj["event"], "task_received");
  CAF_CHECK_EQUAL(obj["trace_id"], "abc");
  CAF_CHECK(std::regex_match(obj["ts"].get<std::string>(),
                             std::regex{R"(^\d{4}-\d\d-\d\dT[\d:.]{15}Z$)"}));
  // The four fields come first, in this order.
  CAF_CHECK_EQUAL(line.rfind(R"({"ts":)", 0), 0u);
  CAF_CHECK_LESS(line.find(R"("level")"), line.find(R"("logger")"));
  CAF_CHECK_LESS(line.find(R"("logger")"), line.find(R"("msg")"));
  // Without a [Name] prefix the logger is the program.
  auto plain = json::parse(log::json_line(log::level::info, "hello \"x\"\n"));
  CAF_CHECK_EQUAL(plain["logger"], "agentmesh");
  CAF_CHECK_EQUAL(plain["msg"], "hello \"x\"\n");
  CAF_CHECK_EQUAL(plain.size(), 4u);
}

CAF_TEST(the sink gets JSON lines in JSON mode) {
  std::vector<std::string> lines;
  log::set_sink([&](log::level, const std::string& x) { lines.push_back(x); });
  log::set_format(log::format::json);
  log::write_event(log::level::info, "[X] y", R"({"event":"e"})");
  log::set_format(log::format::text);
  log::write_event(log::level::info, "[X] y", R"({"event":"e"})");
  log::set_sink({});
  CAF_REQUIRE_EQUAL(lines.size(), 2u);
  auto first = json::parse(lines[0]);
  CAF_CHECK_EQUAL(first["event"], "e");
  CAF_CHECK_EQUAL(first["logger"], "X");
  CAF_CHECK_EQUAL(lines[1], "[X] y");
}
