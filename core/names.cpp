#include "core/names.hpp"

namespace am {

bool valid_agent_name(std::string_view name) {
  if (name.empty() || name.size() > max_agent_name_bytes)
    return false;
  size_t i = 0;
  while (i < name.size()) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f)
      return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    // A multi-byte sequence: its length, the smallest code point it may
    // encode (no overlong forms), then continuation bytes.
    size_t len;
    char32_t cp;
    char32_t min;
    if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + len > name.size())
      return false;
    for (size_t j = 1; j < len; ++j) {
      auto d = static_cast<unsigned char>(name[i + j]);
      if ((d & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

} // namespace am
