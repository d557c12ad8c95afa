#include "core/clock.hpp"

#include <cstdio>
#include <limits>
#include <ctime>
#include <random>

namespace am {

std::string iso8601(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<time_t>(us / 1000000);
  auto frac = static_cast<long>(us % 1000000);
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  // The date and time of day change once a second: format them then only
  // (this runs for every /health reply, event and log line).
  thread_local time_t cached_secs = std::numeric_limits<time_t>::min();
  thread_local char prefix[24];
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::snprintf(prefix, sizeof(prefix), "%04d-%02d-%02dT%02d:%02d:%02d",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  std::string out = prefix;
  char digits[9] = {'.', 0, 0, 0, 0, 0, 0, 'Z', 0};
  for (int i = 6; i >= 1; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out += digits;
  return out;
}

std::string iso8601_now() {
  return iso8601(std::chrono::system_clock::now());
}

int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch())
    .count();
}

std::string random_task_id() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  auto x = gen();
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(x));
  return buf;
}

} // namespace am
