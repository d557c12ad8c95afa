#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace am {

/// Formats a point in time as UTC ISO-8601 with microseconds and `Z`,
/// e.g. `2026-11-27T10:00:00.123456Z`.
std::string iso8601(std::chrono::system_clock::time_point t);

/// `iso8601(std::chrono::system_clock::now())`.
std::string iso8601_now();

/// Microseconds since the Unix epoch (wall clock).
int64_t now_us();

/// 16 lowercase hex characters from 8 random bytes.
std::string random_task_id();

} // namespace am
