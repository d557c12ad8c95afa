#pragma once

#include <string>
#include <unordered_map>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

namespace am {

struct directory_state {
  /// Monitored handles and the names they are stored under.
  std::unordered_map<caf::actor_addr, std::string> watched;
  static inline const char* name = "directory";
};

using directory_pointer = directory_actor::stateful_pointer<directory_state>;

/// The single writer of the node's `directory_map`. Monitors every handle it
/// stores and removes the entry when that actor dies (unless the entry was
/// already pointed at a restarted agent).
directory_actor::behavior_type directory(directory_pointer self,
                                         node_context_ptr ctx);

} // namespace am
