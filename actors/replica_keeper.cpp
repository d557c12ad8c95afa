#include "actors/replica_keeper.hpp"

#include <caf/all.hpp>

#include "core/log.hpp"

namespace am {

replica_actor::behavior_type replica_keeper(replica_keeper_pointer self,
                                            node_context_ptr ctx) {
  return {
    [self, ctx](seed_atom, const std::string& primary,
                agent_snapshot& x) -> caf::result<bool> {
      auto& name = x.header.name;
      auto gen = x.header.generation;
      // A newer incarnation runs somewhere (a failover or a move while
      // `primary` was cut off), this node hosts the agent itself, or the
      // copy here is newer.
      auto e = ctx->directory->find(name);
      auto held = self->state.copies.generation_of(name);
      if ((e && (e->generation > gen || e->node == ctx->node_name))
          || (held && *held > gen))
        return make_error(errc::no_quorum,
                          "a newer generation of " + name + " exists");
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
    [self](suspend_atom, const std::string& node) {
      auto xs = self->state.copies.take(node);
      auto& held = self->state.suspended[node];
      held.insert(held.end(), std::make_move_iterator(xs.begin()),
                  std::make_move_iterator(xs.end()));
    },
    [self](detach_atom, const std::string& node,
           bool promote) -> std::vector<agent_snapshot> {
      auto& suspended = self->state.suspended;
      std::vector<agent_snapshot> result;
      if (auto i = suspended.find(node); i != suspended.end()) {
        if (promote)
          result = std::move(i->second);
        suspended.erase(i);
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
