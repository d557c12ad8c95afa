// libFuzzer target: agent-name validation (SPEC 11) against a reference
// decoder written independently here, and traceparent parsing.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/names.hpp"
#include "core/trace.hpp"

namespace {

/// A plain reading of RFC 3629 plus SPEC 11's rules.
bool reference(const std::string& x) {
  if (x.empty() || x.size() > 200)
    return false;
  size_t i = 0;
  while (i < x.size()) {
    auto c = static_cast<unsigned char>(x[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      cp = c & 0x1F;
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      cp = c & 0x0F;
      len = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      cp = c & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > x.size())
      return false;
    for (size_t k = 1; k < len; ++k) {
      auto d = static_cast<unsigned char>(x[i + k]);
      if ((d & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    if (cp < 0x20 || cp == 0x7F)
      return false;
    i += len;
  }
  return true;
}

bool lower_hex(const std::string& x) {
  for (auto c : x)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string x(reinterpret_cast<const char*>(data), size);
  if (am::valid_agent_name(x) != reference(x))
    abort();
  if (auto id = am::trace_id_of(x)) {
    if (id->size() != 32 || !lower_hex(*id)
        || *id == std::string(32, '0'))
      abort();
  }
  auto fresh = am::new_trace_id();
  if (fresh.size() != 32 || !lower_hex(fresh))
    abort();
  return 0;
}
