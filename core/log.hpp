#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

/// Process-wide logging: one line per message, `[<level>] <message>`.
namespace am::log {

enum class level { debug, info, warning, error };

const char* to_string(level x);

std::optional<level> parse_level(std::string_view str);

/// Messages below this level are dropped.
void set_level(level x);

level current_level();

/// Receives every message that passes the level filter.
using sink = std::function<void(level, const std::string&)>;

/// Replaces the sink; an empty function restores the default (stderr).
void set_sink(sink f);

void write(level lvl, const std::string& msg);

inline void debug(const std::string& msg) {
  write(level::debug, msg);
}

inline void info(const std::string& msg) {
  write(level::info, msg);
}

inline void warning(const std::string& msg) {
  write(level::warning, msg);
}

inline void error(const std::string& msg) {
  write(level::error, msg);
}

} // namespace am::log
