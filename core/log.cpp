#include "core/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace am::log {

namespace {

std::atomic<level> min_level{level::info};
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
  for (auto x : {level::debug, level::info, level::warning, level::error})
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

void set_sink(sink f) {
  std::lock_guard<std::mutex> guard{sink_mtx};
  current_sink = std::move(f);
}

void write(level lvl, const std::string& msg) {
  if (lvl < min_level.load())
    return;
  std::lock_guard<std::mutex> guard{sink_mtx};
  if (current_sink) {
    current_sink(lvl, msg);
    return;
  }
  std::fprintf(stderr, "[%s] %s\n", to_string(lvl), msg.c_str());
  std::fflush(stderr);
}

} // namespace am::log
