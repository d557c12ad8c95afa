#include "actors/directory.hpp"

#include <caf/all.hpp>

namespace am {

namespace {

void watch(directory_pointer self, const dir_entry& entry) {
  if (!entry.handle)
    return;
  self->monitor(entry.handle);
  self->state.watched[entry.handle.address()] = entry.name;
}

} // namespace

directory_actor::behavior_type directory(directory_pointer self,
                                         node_context_ptr ctx) {
  self->set_down_handler([=](caf::down_msg& dm) {
    auto i = self->state.watched.find(dm.source);
    if (i == self->state.watched.end())
      return;
    ctx->directory->erase_if(i->second, [&](const dir_entry& e) {
      return e.handle.address() == dm.source;
    });
    self->state.watched.erase(i);
  });
  return {
    [=](put_atom, dir_entry& entry) -> std::string {
      if (auto existing = ctx->directory->find(entry.name))
        return existing->node;
      watch(self, entry);
      ctx->directory->insert(entry.name, entry);
      return {};
    },
    [=](update_atom, dir_entry& entry) {
      watch(self, entry);
      auto name = entry.name;
      ctx->directory->assign(name, std::move(entry));
    },
    [=](erase_atom, const std::string& name) {
      return ctx->directory->erase(name);
    },
  };
}

} // namespace am
