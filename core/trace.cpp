#include "core/trace.hpp"

#include "core/clock.hpp"

namespace am {

namespace {

bool lower_hex(std::string_view x) {
  for (auto c : x)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

bool all_zeros(std::string_view x) {
  return x.find_first_not_of('0') == std::string_view::npos;
}

} // namespace

std::optional<std::string> trace_id_of(std::string_view x) {
  // Optional white space around a header value is not part of it.
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
    x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
    x.remove_suffix(1);
  // 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters; later versions may append
  // "-..." fields, version 00 may not.
  if (x.size() < 55 || x[2] != '-' || x[35] != '-' || x[52] != '-')
    return std::nullopt;
  auto version = x.substr(0, 2);
  auto trace = x.substr(3, 32);
  auto parent = x.substr(36, 16);
  auto flags = x.substr(53, 2);
  if (!lower_hex(version) || version == "ff" || !lower_hex(trace)
      || !lower_hex(parent) || !lower_hex(flags) || all_zeros(trace)
      || all_zeros(parent))
    return std::nullopt;
  if (x.size() > 55 && (version == "00" || x[55] != '-'))
    return std::nullopt;
  return std::string{trace};
}

std::string new_trace_id() {
  // Two task ids are 16 random bytes; the chance of all zeros is nil, but
  // the rule is cheap to keep.
  for (;;) {
    auto id = random_task_id() + random_task_id();
    if (!all_zeros(id))
      return id;
  }
}

} // namespace am
