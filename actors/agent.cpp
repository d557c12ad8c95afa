#include "actors/agent.hpp"

#include <caf/all.hpp>

#include "actors/events.hpp"

namespace am {

namespace {

void forget_evicted(agent_state& st, task_index& tasks) {
  for (auto& id : st.take_evicted())
    tasks.erase(id);
}

void publish(agent_pointer self, const char* name, json extra) {
  auto& s = self->state;
  self->send(s.bus, publish_atom::value,
             make_agent_event(name, s.st->name(), s.ctx->node_name,
                              s.ctx->node_name, std::move(extra)));
}

caf::error crash_reason(caf::scheduled_actor*, std::exception_ptr& eptr) {
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    return make_error(errc::agent_crashed, e.what());
  } catch (...) {
    return make_error(errc::agent_crashed);
  }
}

} // namespace

agent_actor::behavior_type agent(agent_pointer self,
                                 std::shared_ptr<agent_state> st,
                                 node_context_ptr ctx,
                                 supervisor_actor supervisor,
                                 event_bus_actor bus) {
  self->set_exception_handler(crash_reason);
  self->state.st = std::move(st);
  self->state.ctx = std::move(ctx);
  self->state.supervisor = std::move(supervisor);
  self->state.bus = std::move(bus);
  return {
    [self](enqueue_atom, const std::string& action,
           const std::string& params_text) -> caf::result<std::string> {
      auto params = parse_object(params_text);
      if (!params)
        return make_error(errc::invalid_argument, "expected a JSON object");
      auto& s = self->state;
      auto id = s.st->enqueue(action, *params);
      s.ctx->tasks->assign(id, s.st->name());
      publish(self, "task_received",
              json{{"task",
                    {{"task_id", id}, {"action", action}, {"params", *params}}}});
      return id;
    },
    [self](process_atom) -> process_result {
      auto& s = self->state;
      auto rec = s.st->process_next(*s.ctx->actions);
      if (!rec)
        return process_result{};
      forget_evicted(*s.st, *s.ctx->tasks);
      publish(self, "task_completed",
              json{{"result", {{"task_id", rec->t.id}}}});
      return process_result{false, rec->t.id, dump(rec->result)};
    },
    [self](state_atom) {
      auto& st = *self->state.st;
      return agent_status{st.name(),
                          st.busy() ? "busy" : "idle",
                          st.inbox_count(),
                          st.processed_count(),
                          st.memory_keys(),
                          self->state.ctx->node_name};
    },
    [self](task_atom, const std::string& id) -> caf::result<task_view> {
      auto& st = *self->state.st;
      auto rec = st.find(id);
      if (!rec)
        return make_error(errc::task_not_found);
      return task_view{rec->t.id,
                       st.name(),
                       self->state.ctx->node_name,
                       rec->t.action,
                       dump(rec->t.params),
                       to_string(rec->status),
                       rec->result.is_null() ? std::string{}
                                             : dump(rec->result)};
    },
    [self](cancel_atom, const std::string& id) {
      auto& s = self->state;
      if (!s.st->cancel(id))
        return false;
      forget_evicted(*s.st, *s.ctx->tasks);
      return true;
    },
    [self](stop_atom) {
      return self->delegate(self->state.supervisor, stop_atom::value,
                            self->state.st->name(), std::string{"stopped"});
    },
    [self](conflict_atom) {
      caf::anon_send(self->state.supervisor, stop_atom::value,
                     self->state.st->name(), std::string{"name_conflict"});
    },
  };
}

} // namespace am
