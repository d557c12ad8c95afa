#pragma once

#include <nlohmann/json.hpp>

namespace am {

using json = nlohmann::json;

/// Serialises JSON compactly; invalid UTF-8 is replaced instead of throwing.
inline std::string dump(const json& x) {
  return x.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace am
