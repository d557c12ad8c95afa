#pragma once

#include <chrono>
#include <map>
#include <string>
#include <unordered_map>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

namespace am {

/// The deterministic rule for a name started on two nodes at once: the
/// older start wins, ties go to the smaller node name. Both nodes apply it
/// and only the loser's node stops its agent.
bool wins_conflict(const dir_entry& x, const dir_entry& y);

struct directory_state {
  /// Monitored local handles and the names they are stored under.
  std::unordered_map<caf::actor_addr, std::string> watched;
  /// Directories of the connected nodes.
  std::map<std::string, directory_actor> peers;
  static inline const char* name = "directory";
};

using directory_pointer = directory_actor::stateful_pointer<directory_state>;

/// The single writer of the node's `directory_map`. Monitors every local
/// handle it stores and removes the entry when that actor stops (a crashed
/// agent's entry stays for its supervisor to repoint or remove, so the name
/// never vanishes during a restart). Replicates local changes to
/// its peers and applies theirs, resolving name conflicts.
directory_actor::behavior_type
directory(directory_pointer self, node_context_ptr ctx,
          std::chrono::milliseconds peer_timeout);

} // namespace am
