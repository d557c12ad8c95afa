#include "actors/replica_keeper.hpp"

#include <caf/all.hpp>

#include "actors/log.hpp"

namespace am {

replica_actor::behavior_type replica_keeper(replica_keeper_pointer self,
                                            node_context_ptr ctx) {
  return {
    [self, ctx](seed_atom, const std::string& primary,
                agent_snapshot& x) -> caf::result<bool> {
      auto& name = x.header.name;
      auto gen = x.header.generation;
      if (auto e = ctx->directory->find(name)) {
        // A newer incarnation runs somewhere (a failover or a move while
        // `primary` was cut off), or this node hosts the agent itself.
        if (e->generation > gen
            || (e->node == ctx->node_name && e->node != primary))
          return make_error(errc::no_quorum,
                            "a newer generation of " + name + " exists");
      }
      self->state.copies.seed(primary, x);
      return true;
    },
    [self](store_atom, const std::string& primary,
           const agent_delta& d) -> caf::result<bool> {
      if (!self->state.copies.apply(primary, d))
        return make_error(errc::agent_not_found,
                          "no replica of " + d.name + " from " + primary);
      return true;
    },
    [self](detach_atom, const std::string& node,
           bool promote) -> std::vector<agent_snapshot> {
      auto& copies = self->state.copies;
      std::vector<agent_snapshot> result;
      for (auto& name : copies.hosted_by(node)) {
        if (promote)
          if (auto x = copies.snapshot(name))
            result.push_back(std::move(*x));
        copies.drop(name);
      }
      if (!result.empty() || !promote)
        log::info("[Replicas] " + node + " is down: "
                  + (promote ? "promoting " + std::to_string(result.size())
                             : std::string{"dropping its"})
                  + " copies");
      return result;
    },
  };
}

} // namespace am
