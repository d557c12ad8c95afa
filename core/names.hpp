#pragma once
// What an agent name may be (SPEC 11).

#include <cstddef>
#include <string_view>

namespace am {

/// The longest agent name, in bytes.
constexpr size_t max_agent_name_bytes = 200;

/// True for 1 to 200 bytes of valid UTF-8 without control characters
/// (U+0000-U+001F, U+007F): a name never forges a log line or a header.
bool valid_agent_name(std::string_view name);

} // namespace am
