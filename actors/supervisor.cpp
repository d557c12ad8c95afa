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

/// The supervisor's handles, captured once by every handler.
struct env {
  supervisor_pointer self;
  node_context_ptr ctx;
  directory_actor directory;
  event_bus_actor bus;

  /// A new or restored agent state, recording changes when there is a
  /// store.
  std::shared_ptr<agent_state> make_state(std::shared_ptr<agent_state> st,
                                          bool everything) const {
    st->track_changes(static_cast<bool>(ctx->store), everything);
    return st;
  }

  /// Keeps the changes of a state the supervisor holds (no actor runs on
  /// it), then calls `then`.
  template <class F>
  void keep(agent_state& st, F then) const {
    if (!ctx->store) {
      then(caf::error{});
      return;
    }
    auto delta = st.take_changes();
    if (empty(delta)) {
      then(caf::error{});
      return;
    }
    auto name = st.name();
    self->request(ctx->store, caf::infinite, store_atom::value,
                  std::move(delta))
      .then([then](bool) mutable { then(caf::error{}); },
            [then, name](caf::error& err) mutable {
              log::error("[Supervisor] " + name
                         + ": a change was not kept: " + to_string(err));
              then(err);
            });
  }

  agent_actor spawn_agent(const std::string& name, agent_parcel parcel) const {
    auto handle = self->spawn(agent, std::move(parcel.st),
                              std::move(parcel.obs), ctx,
                              supervisor_actor{self}, bus);
    self->monitor(handle);
    self->state.names[handle.address()] = name;
    return handle;
  }

  void publish(const char* event_name, const std::string& name,
               json extra = json::object()) const {
    self->send(bus, publish_atom::value,
               make_agent_event(event_name, name, ctx->node_name,
                                ctx->node_name, std::move(extra)));
  }

  /// Answers everyone waiting for `name` with `handle` (invalid: gone).
  void answer_waiting(const std::string& name,
                      const agent_actor& handle) const {
    auto range = self->state.waiting.equal_range(name);
    for (auto i = range.first; i != range.second; ++i)
      i->second.deliver(handle);
    self->state.waiting.erase(range.first, range.second);
  }

  /// Puts every task of `st` into the node's task index.
  void index(const agent_state& st) const {
    st.for_each_task([&](const task_record& rec) {
      ctx->tasks->assign(rec.t.id,
                         task_entry{st.name(), to_string(rec.status),
                                    rec.t.context_id, rec.updated_us});
    });
  }

  /// An agent that is gone for good, whose actor terminated: its waiters
  /// get an error, the task index and the store forget it.
  void bury(const agent_parcel& p) const {
    auto name = p.st->name();
    abandon(*p.obs, name);
    for (auto& id : p.st->task_ids())
      ctx->tasks->erase(id);
    for (auto& id : p.st->take_evicted())
      ctx->tasks->erase(id);
    if (!ctx->store)
      return;
    agent_delta gone;
    gone.name = name;
    gone.removed = true;
    self->request(ctx->store, caf::infinite, store_atom::value, gone)
      .then([](bool) {},
            [name](caf::error& err) {
              log::error("[Supervisor] the store did not forget " + name
                         + ": " + to_string(err));
            });
  }

  /// An agent actor terminated: restarts it once both its down_msg and
  /// what it left have arrived (in either order).
  void on_down(const caf::down_msg& dm) const {
    auto& st = self->state;
    if (st.names.count(dm.source) == 0)
      return; // retired on purpose
    auto r = st.remains.find(dm.source);
    if (r == st.remains.end()) {
      st.downs[dm.source] = dm.reason;
      return;
    }
    auto parcel = std::move(r->second);
    st.remains.erase(r);
    restart(std::move(parcel), dm.reason);
  }

  void on_remains(agent_parcel& parcel) const {
    auto& st = self->state;
    auto addr = parcel.source;
    if (st.names.count(addr) == 0) {
      // Stopped on purpose, but it crashed before it could retire.
      bury(parcel);
      return;
    }
    auto d = st.downs.find(addr);
    if (d == st.downs.end()) {
      st.remains[addr] = std::move(parcel);
      return;
    }
    auto reason = std::move(d->second);
    st.downs.erase(d);
    restart(std::move(parcel), reason);
  }

  void restart(agent_parcel parcel, const caf::error& why) const {
    auto& st = self->state;
    auto n = st.names.find(parcel.source);
    auto name = n->second;
    st.names.erase(n);
    auto& sa = st.agents[name];
    auto failed = parcel.st->fail_running("agent_crashed");
    for (auto& rec : failed)
      log::warning("[Supervisor] task " + rec.t.id + " of agent " + name
                   + " failed: agent_crashed");
    auto& limits = ctx->agents;
    if (!may_restart(sa.restarts, self->clock().now(), limits.restart_window,
                     limits.max_restarts)) {
      log::warning("[Supervisor] agent " + name
                   + " exceeded its restart limit; stopped: "
                   + self->system().render(why));
      for (auto& rec : failed)
        announce(*ctx, *parcel.st, *parcel.obs, rec, true);
      caf::anon_send(directory, erase_atom::value, name, sa.handle);
      st.agents.erase(name);
      answer_waiting(name, agent_actor{});
      bury(parcel);
      publish("agent_stopped", name, json{{"reason", "restart_limit"}});
      return;
    }
    sa.restarts.push_back(self->clock().now());
    sa.handle = agent_actor{};
    auto reason = self->system().render(why);
    auto e = *this;
    auto p = std::make_shared<agent_parcel>(std::move(parcel));
    keep(*p->st, [e, p, name, failed, reason](const caf::error&) {
      for (auto& rec : failed)
        announce(*e.ctx, *p->st, *p->obs, rec, true);
      auto i = e.self->state.agents.find(name);
      if (i == e.self->state.agents.end()) {
        e.bury(*p); // stopped while we waited for the store
        return;
      }
      i->second.handle = e.spawn_agent(name, std::move(*p));
      log::info("[Supervisor] restarted agent " + name + " after " + reason);
      e.self->send(e.directory, update_atom::value,
                   dir_entry{name, e.ctx->node_name, i->second.handle,
                             i->second.started_at});
      e.answer_waiting(name, i->second.handle);
    });
  }

  /// Stops a local agent for good: it leaves the store, then the directory.
  /// An empty `reason`: it was never announced, so no event either.
  void stop(const std::string& name, const std::string& reason,
            std::function<void()> done) const {
    auto& st = self->state;
    auto i = st.agents.find(name);
    auto handle = i->second.handle;
    st.names.erase(handle.address());
    st.agents.erase(i);
    answer_waiting(name, agent_actor{});
    auto e = *this;
    auto leave = [e, name, reason, handle, done]() mutable {
      e.self
        ->request(e.directory, caf::infinite, erase_atom::value, name, handle)
        .then([e, name, reason, done](bool) mutable {
          if (!reason.empty())
            e.publish("agent_stopped", name, json{{"reason", reason}});
          done();
        });
    };
    self->request(handle, caf::infinite, retire_atom::value)
      .then([leave](bool) mutable { leave(); },
            [leave](caf::error&) mutable {
              // It crashed meanwhile: its down_msg buries what it left.
              leave();
            });
  }
};

} // namespace

supervisor_actor::behavior_type supervisor(supervisor_pointer self,
                                           node_context_ptr ctx,
                                           directory_actor directory,
                                           event_bus_actor bus) {
  env e{self, std::move(ctx), std::move(directory), std::move(bus)};
  self->set_down_handler([e](caf::down_msg& dm) { e.on_down(dm); });
  // Agents are not linked to us: take them down when we are told to go.
  self->set_exit_handler([self](caf::exit_msg& em) {
    for (auto& kvp : self->state.agents)
      if (kvp.second.handle)
        self->send_exit(kvp.second.handle, em.reason);
    self->quit(em.reason);
  });
  return {
    [e](start_atom, const std::string& name, json_box& memory,
        const std::string& default_action) -> caf::result<start_result> {
      auto self = e.self;
      auto& ctx = e.ctx;
      if (auto x = ctx->directory->find(name))
        return start_result{"already_exists", name, x->node};
      if (self->state.agents.count(name) > 0)
        return start_result{"already_exists", name, ctx->node_name};
      if (!memory.value.is_null() && !memory.value.is_object())
        return make_error(errc::invalid_argument, "memory must be an object");
      auto action = default_action.empty() ? std::string{"search"}
                                           : default_action;
      if (!ctx->actions->contains(action))
        return make_error(errc::invalid_argument, "unknown action: " + action);
      auto st = e.make_state(std::make_shared<agent_state>(
                               name, std::move(memory.value),
                               ctx->agents.history_limit, action),
                             true);
      // The name is taken from now on; the actor starts once the store
      // holds the agent.
      self->state.agents[name].started_at = st->started_at();
      auto rp = self->make_response_promise<start_result>();
      e.keep(*st, [e, st, name, rp](const caf::error& err) mutable {
        auto self = e.self;
        auto i = self->state.agents.find(name);
        if (err || i == self->state.agents.end()) {
          if (i != self->state.agents.end() && !i->second.handle)
            self->state.agents.erase(i);
          rp.deliver(err ? err : make_error(errc::agent_not_found, name));
          return;
        }
        auto& sa = i->second;
        sa.handle = e.spawn_agent(
          name, agent_parcel{st, std::make_shared<agent_observers>()});
        st.reset(); // the actor's alone now
        dir_entry entry{name, e.ctx->node_name, sa.handle, sa.started_at};
        self->request(e.directory, caf::infinite, put_atom::value, entry)
          .then([e, name, rp](const std::string& holder) mutable {
            if (!holder.empty()) {
              // Lost a race against an entry from another node.
              auto self = e.self;
              auto i = self->state.agents.find(name);
              if (i == self->state.agents.end()) {
                rp.deliver(start_result{"already_exists", name, holder});
                return;
              }
              e.stop(name, "", [] {});
              rp.deliver(start_result{"already_exists", name, holder});
              return;
            }
            e.publish("agent_started", name);
            rp.deliver(start_result{"started", name, e.ctx->node_name});
          });
      });
      return rp;
    },
    [e](resolve_atom, const std::string& name,
        const agent_actor& failed) -> caf::result<agent_actor> {
      auto& st = e.self->state;
      auto i = st.agents.find(name);
      if (i == st.agents.end())
        return agent_actor{};
      if (i->second.handle && i->second.handle != failed)
        return i->second.handle;
      // Its down_msg has not reached us yet: answer after the restart.
      auto rp = e.self->make_response_promise<agent_actor>();
      st.waiting.emplace(name, rp);
      return rp;
    },
    [e](stop_atom, const std::string& name,
        const std::string& reason) -> caf::result<bool> {
      auto i = e.self->state.agents.find(name);
      if (i == e.self->state.agents.end() || !i->second.handle)
        return false;
      auto rp = e.self->make_response_promise<bool>();
      e.stop(name, reason, [rp]() mutable { rp.deliver(true); });
      return rp;
    },
    [e](crash_atom, agent_parcel& parcel) {
      if (parcel.st)
        e.on_remains(parcel);
    },
    [e](adopt_atom,
        std::vector<agent_snapshot>& xs) -> caf::result<size_t> {
      auto self = e.self;
      auto rp = self->make_response_promise<size_t>();
      auto pending = std::make_shared<size_t>(xs.size() + 1);
      auto adopted = std::make_shared<size_t>(0);
      auto one_done = [rp, pending, adopted]() mutable {
        if (--*pending == 0)
          rp.deliver(*adopted);
      };
      for (auto& x : xs) {
        auto name = x.header.name;
        if (self->state.agents.count(name) > 0) {
          one_done();
          continue;
        }
        auto st = e.make_state(
          std::make_shared<agent_state>(x, e.ctx->agents.history_limit),
          false);
        // It was running when the node died: failed, never run again.
        for (auto& rec : st->fail_running("agent_crashed"))
          log::warning("[Supervisor] task " + rec.t.id + " of agent " + name
                       + " failed: agent_crashed");
        e.index(*st);
        self->state.agents[name].started_at = st->started_at();
        e.keep(*st, [e, st, name, adopted, one_done](const caf::error&) mutable {
          auto i = e.self->state.agents.find(name);
          if (i == e.self->state.agents.end()) {
            one_done();
            return;
          }
          auto& sa = i->second;
          sa.handle = e.spawn_agent(
            name, agent_parcel{st, std::make_shared<agent_observers>()});
          st.reset();
          e.self->send(e.directory, update_atom::value,
                       dir_entry{name, e.ctx->node_name, sa.handle,
                                 sa.started_at});
          e.publish("agent_started", name, json{{"reason", "recovered"}});
          ++*adopted;
          one_done();
        });
      }
      one_done();
      return rp;
    },
  };
}

} // namespace am
