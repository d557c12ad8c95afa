#include "actors/supervisor.hpp"

#include <caf/all.hpp>

#include "actors/agent.hpp"
#include "actors/clock.hpp"
#include "actors/events.hpp"
#include "actors/log.hpp"

namespace am {

bool may_restart(std::vector<caf::actor_clock::time_point>& restarts,
                 caf::actor_clock::time_point now,
                 std::chrono::milliseconds window, size_t max_restarts) {
  while (!restarts.empty() && now - restarts.front() >= window)
    restarts.erase(restarts.begin());
  return restarts.size() < max_restarts;
}

namespace {

agent_actor spawn_agent(supervisor_pointer self, const node_context_ptr& ctx,
                        const event_bus_actor& bus,
                        const supervised_agent& sa) {
  auto handle = self->spawn(agent, sa.state, sa.observers, ctx,
                            supervisor_actor{self}, bus);
  self->monitor(handle);
  self->state.names[handle.address()] = sa.state->name();
  return handle;
}

void publish_stopped(supervisor_pointer self, const node_context_ptr& ctx,
                     const event_bus_actor& bus, const std::string& name,
                     const std::string& reason) {
  self->send(bus, publish_atom::value,
             make_agent_event("agent_stopped", name, ctx->node_name,
                              ctx->node_name, json{{"reason", reason}}));
}

/// Answers everyone waiting for `name` with `handle` (invalid: gone).
void answer_waiting(supervisor_pointer self, const std::string& name,
                    const agent_actor& handle) {
  auto range = self->state.waiting.equal_range(name);
  for (auto i = range.first; i != range.second; ++i)
    i->second.deliver(handle);
  self->state.waiting.erase(range.first, range.second);
}

/// Removes an agent from the supervisor. Its waiters and its entries in
/// the task index are cleaned up once its actor terminated (the actor may
/// still be running a handler on another thread right now).
void forget(supervisor_pointer self, const node_context_ptr& ctx,
            const std::string& name) {
  auto i = self->state.agents.find(name);
  if (i == self->state.agents.end())
    return;
  answer_waiting(self, name, agent_actor{});
  auto addr = i->second.handle.address();
  self->state.names.erase(addr);
  self->state.dying.emplace(addr, std::move(i->second));
  self->state.agents.erase(i);
}

/// The actor of a forgotten agent terminated: nothing touches its state now.
void bury(supervisor_pointer self, const node_context_ptr& ctx,
          const caf::actor_addr& addr) {
  auto i = self->state.dying.find(addr);
  if (i == self->state.dying.end())
    return;
  auto& sa = i->second;
  abandon(*sa.observers, sa.state->name());
  for (auto& id : sa.state->task_ids())
    ctx->tasks->erase(id);
  for (auto& id : sa.state->take_evicted())
    ctx->tasks->erase(id);
  self->state.dying.erase(i);
}

void on_agent_down(supervisor_pointer self, const node_context_ptr& ctx,
                   const directory_actor& directory,
                   const event_bus_actor& bus, const caf::down_msg& dm) {
  auto n = self->state.names.find(dm.source);
  if (n == self->state.names.end()) {
    bury(self, ctx, dm.source); // stopped on purpose
    return;
  }
  auto name = n->second;
  self->state.names.erase(n);
  auto& sa = self->state.agents[name];
  for (auto& rec : sa.state->fail_running("agent_crashed")) {
    log::warning("[Supervisor] task " + rec.t.id + " of agent " + name
                 + " failed: agent_crashed");
    announce(*ctx, *sa.state, *sa.observers, rec, true);
  }
  auto& limits = ctx->agents;
  if (!may_restart(sa.restarts, self->clock().now(), limits.restart_window,
                   limits.max_restarts)) {
    log::warning("[Supervisor] agent " + name
                 + " exceeded its restart limit; stopped: "
                 + self->system().render(dm.reason));
    caf::anon_send(directory, erase_atom::value, name, sa.handle);
    forget(self, ctx, name);
    bury(self, ctx, dm.source); // its actor is gone already
    publish_stopped(self, ctx, bus, name, "restart_limit");
    return;
  }
  sa.restarts.push_back(self->clock().now());
  sa.handle = spawn_agent(self, ctx, bus, sa);
  log::info("[Supervisor] restarted agent " + name + " after "
            + self->system().render(dm.reason));
  self->send(directory, update_atom::value,
             dir_entry{name, ctx->node_name, sa.handle, sa.started_at});
  answer_waiting(self, name, sa.handle);
}

} // namespace

supervisor_actor::behavior_type supervisor(supervisor_pointer self,
                                           node_context_ptr ctx,
                                           directory_actor directory,
                                           event_bus_actor bus) {
  self->set_down_handler([=](caf::down_msg& dm) {
    on_agent_down(self, ctx, directory, bus, dm);
  });
  // Agents are not linked to us: take them down when we are told to go.
  self->set_exit_handler([=](caf::exit_msg& em) {
    for (auto& kvp : self->state.agents)
      self->send_exit(kvp.second.handle, em.reason);
    self->quit(em.reason);
  });
  return {
    [=](start_atom, const std::string& name, json_box& memory,
        const std::string& default_action) -> caf::result<start_result> {
      if (auto e = ctx->directory->find(name))
        return start_result{"already_exists", name, e->node};
      if (self->state.agents.count(name) > 0)
        return start_result{"already_exists", name, ctx->node_name};
      if (!memory.value.is_null() && !memory.value.is_object())
        return make_error(errc::invalid_argument, "memory must be an object");
      auto action = default_action.empty() ? std::string{"search"}
                                           : default_action;
      if (!ctx->actions->contains(action))
        return make_error(errc::invalid_argument, "unknown action: " + action);
      auto& sa = self->state.agents[name];
      sa.state = std::make_shared<agent_state>(
        name, std::move(memory.value), ctx->agents.history_limit, action);
      sa.observers = std::make_shared<agent_observers>();
      sa.started_at = now_us();
      sa.handle = spawn_agent(self, ctx, bus, sa);
      auto rp = self->make_response_promise<start_result>();
      dir_entry entry{name, ctx->node_name, sa.handle, sa.started_at};
      self->request(directory, caf::infinite, put_atom::value, entry)
        .then([=](const std::string& holder) mutable {
          if (!holder.empty()) {
            // Lost a race against an entry from another node.
            auto i = self->state.agents.find(name);
            if (i != self->state.agents.end()) {
              auto h = i->second.handle;
              forget(self, ctx, name);
              caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
            }
            rp.deliver(start_result{"already_exists", name, holder});
            return;
          }
          self->send(bus, publish_atom::value,
                     make_agent_event("agent_started", name, ctx->node_name,
                                      ctx->node_name));
          rp.deliver(start_result{"started", name, ctx->node_name});
        });
      return rp;
    },
    [=](resolve_atom, const std::string& name,
        const agent_actor& failed) -> caf::result<agent_actor> {
      auto i = self->state.agents.find(name);
      if (i == self->state.agents.end())
        return agent_actor{};
      if (i->second.handle != failed)
        return i->second.handle;
      // Its down_msg has not reached us yet: answer after the restart.
      auto rp = self->make_response_promise<agent_actor>();
      self->state.waiting.emplace(name, rp);
      return rp;
    },
    [=](stop_atom, const std::string& name,
        const std::string& reason) -> caf::result<bool> {
      auto i = self->state.agents.find(name);
      if (i == self->state.agents.end())
        return false;
      auto handle = i->second.handle;
      forget(self, ctx, name);
      auto rp = self->make_response_promise<bool>();
      self->request(directory, caf::infinite, erase_atom::value, name, handle)
        .then([=](bool) mutable {
          caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
          publish_stopped(self, ctx, bus, name, reason);
          rp.deliver(true);
        });
      return rp;
    },
  };
}

} // namespace am
