#include "actors/agent.hpp"

#include <caf/all.hpp>

#include "actors/events.hpp"

namespace am {

namespace {

/// Parses a JSON object sent as text; empty text is `{}`.
caf::expected<json> parse_object(const std::string& text) {
  if (text.empty())
    return json::object();
  auto result = json::parse(text, nullptr, false);
  if (result.is_discarded() || !result.is_object())
    return make_error(errc::invalid_argument, "expected a JSON object");
  return result;
}

void forget_evicted(agent_state& st, task_index& tasks) {
  for (auto& id : st.take_evicted())
    tasks.erase(id);
}

} // namespace

agent_actor::behavior_type agent(agent_actor::pointer self,
                                 std::shared_ptr<agent_state> st,
                                 node_context_ptr ctx,
                                 supervisor_actor supervisor,
                                 event_bus_actor bus) {
  self->set_exception_handler(
    [](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
      try {
        std::rethrow_exception(eptr);
      } catch (const std::exception& e) {
        return make_error(errc::agent_crashed, e.what());
      } catch (...) {
        return make_error(errc::agent_crashed);
      }
    });
  auto publish = [self, bus, ctx, st](const char* name, json extra) {
    self->send(bus, publish_atom::value,
               make_agent_event(name, st->name(), ctx->node_name,
                                ctx->node_name, std::move(extra)));
  };
  return {
    [=](enqueue_atom, const std::string& action,
        const std::string& params_text) -> caf::result<std::string> {
      auto params = parse_object(params_text);
      if (!params)
        return params.error();
      auto id = st->enqueue(action, *params);
      ctx->tasks->assign(id, st->name());
      publish("task_received",
              json{{"task",
                    {{"task_id", id}, {"action", action}, {"params", *params}}}});
      return id;
    },
    [=](process_atom) -> process_result {
      auto rec = st->process_next(*ctx->actions);
      if (!rec)
        return process_result{};
      forget_evicted(*st, *ctx->tasks);
      publish("task_completed", json{{"result", {{"task_id", rec->t.id}}}});
      return process_result{false, rec->t.id, dump(rec->result)};
    },
    [=](state_atom) {
      return agent_status{st->name(),
                          st->busy() ? "busy" : "idle",
                          st->inbox_count(),
                          st->processed_count(),
                          st->memory_keys(),
                          ctx->node_name};
    },
    [=](task_atom, const std::string& id) -> caf::result<task_view> {
      auto rec = st->find(id);
      if (!rec)
        return make_error(errc::task_not_found);
      return task_view{rec->t.id,
                       st->name(),
                       ctx->node_name,
                       rec->t.action,
                       dump(rec->t.params),
                       to_string(rec->status),
                       rec->result.is_null() ? std::string{}
                                             : dump(rec->result)};
    },
    [=](cancel_atom, const std::string& id) {
      if (!st->cancel(id))
        return false;
      forget_evicted(*st, *ctx->tasks);
      return true;
    },
    [=](stop_atom) {
      return self->delegate(supervisor, stop_atom::value, st->name());
    },
  };
}

} // namespace am
