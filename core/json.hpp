#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace am {

using json = nlohmann::json;

/// Serialises JSON compactly; invalid UTF-8 is replaced instead of throwing.
inline std::string dump(const json& x) {
  return x.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Parses JSON object text as it travels between actors; empty text is
/// `{}`. Returns nothing for malformed text or a non-object.
inline std::optional<json> parse_object(const std::string& text) {
  if (text.empty())
    return json::object();
  auto result = json::parse(text, nullptr, false);
  if (result.is_discarded() || !result.is_object())
    return std::nullopt;
  return result;
}

} // namespace am

namespace am {

/// A JSON value as a message field: local messages carry it parsed (no
/// dump and re-parse between actors of one node); it crosses nodes as text.
struct json_box {
  json value;
};

} // namespace am
