#include "core/log.hpp"

#include "core/clock.hpp"
#include "core/json.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace am::log {

namespace {

std::atomic<level> min_level{level::info};
std::atomic<format> line_format{format::text};
std::mutex sink_mtx;
sink current_sink;

} // namespace

const char* to_string(level x) {
  switch (x) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warning:
      return "warning";
    default:
      return "error";
  }
}

std::optional<level> parse_level(std::string_view str) {
  for (auto x : all_levels)
    if (str == to_string(x))
      return x;
  return std::nullopt;
}

const char* to_string(format x) {
  return x == format::json ? "json" : "text";
}

std::optional<format> parse_format(std::string_view str) {
  for (auto x : all_formats)
    if (str == to_string(x))
      return x;
  return std::nullopt;
}

void set_level(level x) {
  min_level = x;
}

level current_level() {
  return min_level;
}

void set_format(format x) {
  line_format = x;
}

format current_format() {
  return line_format;
}

std::string json_line(level lvl, const std::string& msg,
                      const std::string& event_json) {
  // "[Logger] rest" -> logger and message.
  std::string logger = "agentmesh";
  std::string text = msg;
  if (msg.size() > 2 && msg[0] == '[') {
    auto close = msg.find("] ");
    if (close != std::string::npos && close > 1) {
      logger = msg.substr(1, close - 1);
      text = msg.substr(close + 2);
    }
  }
  // Ordered: the four fields every line has come first, as documented.
  nlohmann::ordered_json obj{{"ts", iso8601_now()},
                             {"level", to_string(lvl)},
                             {"logger", logger},
                             {"msg", text}};
  if (!event_json.empty()) {
    auto ev = json::parse(event_json, nullptr, false);
    if (ev.is_object())
      for (auto& kvp : ev.items())
        if (!obj.contains(kvp.key()))
          obj[kvp.key()] = kvp.value();
  }
  return obj.dump(-1, ' ', false, json::error_handler_t::replace);
}

void set_sink(sink f) {
  std::lock_guard<std::mutex> guard{sink_mtx};
  current_sink = std::move(f);
}

namespace {

void emit(level lvl, const std::string& msg, const std::string& event_json) {
  if (lvl < min_level.load())
    return;
  auto as_json = line_format.load() == format::json;
  auto line = as_json ? json_line(lvl, msg, event_json) : std::string{};
  std::lock_guard<std::mutex> guard{sink_mtx};
  if (current_sink) {
    current_sink(lvl, as_json ? line : msg);
    return;
  }
  if (as_json)
    std::fprintf(stderr, "%s\n", line.c_str());
  else
    std::fprintf(stderr, "[%s] %s\n", to_string(lvl), msg.c_str());
  std::fflush(stderr);
}

} // namespace

void write(level lvl, const std::string& msg) {
  emit(lvl, msg, {});
}

void write_event(level lvl, const std::string& msg,
                 const std::string& event_json) {
  emit(lvl, msg, event_json);
}

} // namespace am::log
