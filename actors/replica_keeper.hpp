#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "actors/vocabulary.hpp"
#include "actors/node_context.hpp"
#include "core/replica.hpp"

namespace am {

struct replica_keeper_state {
  replica_set copies;
  /// Copies of nodes seen down, set aside until the membership decides
  /// (a returning node's fresh seeds go to `copies`).
  std::unordered_map<std::string, std::vector<agent_snapshot>> suspended;
  static inline const char* name = "replica_keeper";
};

using replica_keeper_pointer
  = replica_actor::stateful_pointer<replica_keeper_state>;

/// Keeps the copies of other members' agents for which this node is the
/// backup, in memory: a seed, then every change in order. A seed older than
/// what the directory knows of the agent is refused, so a host cut off from
/// the cluster cannot plant a stale copy. When a primary goes down the
/// membership detaches its copies: promoted (they start here) or dropped.
replica_actor::behavior_type replica_keeper(replica_keeper_pointer self,
                                            node_context_ptr ctx);

} // namespace am
