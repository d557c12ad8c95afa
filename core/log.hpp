#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

/// Process-wide logging: one line per message on stderr, either text,
/// `[<level>] <message>`, or JSON (`log.format="json"`), one object per
/// line: `ts`, `level`, `logger` (the `[Name]` the message starts with),
/// `msg` (the rest), and the fields of the event it reports, if any.
namespace am::log {

enum class level { debug, info, warning, error };

enum class format { text, json };

/// Every level and format, in order (for parsing and for messages).
inline constexpr level all_levels[]
  = {level::debug, level::info, level::warning, level::error};
inline constexpr format all_formats[] = {format::text, format::json};

const char* to_string(format x);

std::optional<format> parse_format(std::string_view str);

void set_format(format x);

format current_format();

const char* to_string(level x);

std::optional<level> parse_level(std::string_view str);

/// Messages below this level are dropped.
void set_level(level x);

level current_level();

/// Receives every line that passes the level filter (without the line
/// feed): the text line's message, or the whole JSON object.
using sink = std::function<void(level, const std::string&)>;

/// Replaces the sink; an empty function restores the default (stderr).
void set_sink(sink f);

void write(level lvl, const std::string& msg);

/// Writes `msg`, which reports the event `event_json` (a JSON object): its
/// fields join the JSON line; the text line is `msg` alone.
void write_event(level lvl, const std::string& msg,
                 const std::string& event_json);

/// The JSON line for a message (what `write` emits in JSON mode).
std::string json_line(level lvl, const std::string& msg,
                      const std::string& event_json = {});

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
