#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace id a
// task keeps from the request that created it.

#include <optional>
#include <string>
#include <string_view>

namespace am {

/// The trace id (32 lowercase hex characters) of a `traceparent` header
/// value, `<version>-<trace-id>-<parent-id>-<flags>`; nothing if the value
/// is malformed (then a new trace starts, as the W3C rules say).
std::optional<std::string> trace_id_of(std::string_view traceparent);

/// A new trace id: 16 random bytes as 32 lowercase hex characters.
std::string new_trace_id();

} // namespace am
