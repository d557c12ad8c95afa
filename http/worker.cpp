// The request worker: JSON-RPC on the scheduler, with an
// rpc::backend that talks to the node's actors.

#include <caf/all.hpp>

#include "http/jsonrpc.hpp"
#include "http/server.hpp"

namespace am::http {

namespace {

using rpc::failure;

/// Maps an error from an agent or the supervisor to a JSON-RPC error.
failure to_failure(caf::actor_system& sys, const caf::error& err,
                   const std::string& agent, const std::string& task_id) {
  switch (static_cast<errc>(code_of(err))) {
    case errc::agent_not_found:
      return failure::agent_not_found(agent);
    case errc::task_not_found:
      return failure::task_not_found(task_id);
    case errc::agent_crashed:
      return failure::internal("agent_crashed");
    case errc::invalid_argument:
      return failure::invalid_params(sys.render(err));
    default:
      break;
  }
  if (err == caf::sec::request_receiver_down)
    return failure::agent_not_found(agent);
  if (err == caf::sec::request_timeout)
    return failure::internal("timeout");
  return failure::internal(sys.render(err));
}

/// True if the handle is unusable: the agent is gone (or restarting) or
/// its node is. A timeout is not: the call may have been carried out, and
/// calls like SendMessage must never run twice.
bool handle_is_stale(const caf::error& err) {
  return err == caf::sec::request_receiver_down
         || err == caf::exit_reason::remote_link_unreachable;
}

class actor_backend : public rpc::backend {
public:
  actor_backend(worker_actor::pointer self, node_context_ptr ctx,
                node_handles handles, std::chrono::milliseconds timeout)
    : self_(self),
      ctx_(std::move(ctx)),
      handles_(std::move(handles)),
      timeout_(timeout) {
    // nop
  }

  void start_agent(const std::string& name, const json& memory,
                   rpc::callback<start_result> cb) override {
    auto& sys = self_->system();
    self_
      ->request(handles_.supervisor, timeout_, start_atom::value, name,
                dump(memory))
      .then([cb](start_result& r) { cb(std::move(r)); },
            [cb, name, &sys](caf::error& err) {
              cb(to_failure(sys, err, name, {}));
            });
  }

  void stop_agent(const std::string& agent, rpc::callback<bool> cb) override {
    call<bool>(agent, {}, std::move(cb),
               [](const dir_entry& e, bool found) -> rpc::outcome<bool> {
                 if (!found) // stopped by someone else meanwhile
                   return failure::agent_not_found(e.name);
                 return true;
               },
               stop_atom::value);
  }

  void send_message(const std::string& agent, const std::string& action,
                    const json& params,
                    rpc::callback<rpc::task_ack> cb) override {
    call<std::string>(agent, {}, std::move(cb),
                      [](const dir_entry& e,
                         std::string& id) -> rpc::outcome<rpc::task_ack> {
                        return rpc::task_ack{std::move(id), e.node};
                      },
                      enqueue_atom::value, action, dump(params));
  }

  void get_agent_state(const std::string& agent,
                       rpc::callback<agent_status> cb) override {
    call<agent_status>(agent, {}, std::move(cb), pass<agent_status>,
                       state_atom::value);
  }

  void process_next(const std::string& agent,
                    rpc::callback<process_result> cb) override {
    call<process_result>(agent, {}, std::move(cb), pass<process_result>,
                         process_atom::value);
  }

  void list_agents(rpc::callback<std::vector<agent_location>> cb) override {
    std::vector<agent_location> result;
    ctx_->directory->for_each([&](const std::string& name, const dir_entry& e) {
      result.push_back(agent_location{name, e.node});
    });
    cb(std::move(result));
  }

  void get_cluster_info(rpc::callback<cluster_info> cb) override {
    if (!handles_.membership)
      return cb(cluster_info{ctx_->node_name, {}});
    auto& sys = self_->system();
    self_->request(handles_.membership, timeout_, info_atom::value)
      .then([cb](cluster_info& info) { cb(std::move(info)); },
            [cb, &sys](caf::error& err) {
              cb(to_failure(sys, err, {}, {}));
            });
  }

  void get_task(const std::string& task_id,
                rpc::callback<task_view> cb) override {
    auto& sys = self_->system();
    self_
      ->request(handles_.directory, timeout_, task_atom::value, task_id, true)
      .then([cb](task_view& x) { cb(std::move(x)); },
            [cb, task_id, &sys](caf::error& err) {
              // An agent that went away took its tasks along.
              if (err == caf::sec::request_receiver_down
                  || err == caf::exit_reason::remote_link_unreachable)
                return cb(failure::task_not_found(task_id));
              cb(to_failure(sys, err, {}, task_id));
            });
  }

  void cancel_task(const std::string& agent, const std::string& task_id,
                   rpc::callback<bool> cb) override {
    call<bool>(agent, task_id, std::move(cb),
               [task_id](const dir_entry&, bool ok) -> rpc::outcome<bool> {
                 if (!ok)
                   return failure::task_not_found(task_id);
                 return true;
               },
               cancel_atom::value, task_id);
  }

private:
  template <class T>
  static rpc::outcome<T> pass(const dir_entry&, T& x) {
    return std::move(x);
  }

  /// Sends `xs...` to the agent named `agent` and shapes its answer with
  /// `f(entry, answer)`. A stale handle is looked up once more.
  template <class Answer, class Out, class F, class... Ts>
  void call(const std::string& agent, const std::string& task_id,
            rpc::callback<Out> cb, F f, Ts... xs) {
    if (auto entry = ctx_->directory->find(agent))
      return send_to<Answer>(*entry, task_id, cb, f, 0, xs...);
    lookup_and_send<Answer>(agent, {}, task_id, cb, f, 0, xs...);
  }

  /// Asks the directory actor (which widens to every peer) and sends to
  /// what it finds, unless that is the handle that just failed.
  template <class Answer, class Out, class F, class... Ts>
  void lookup_and_send(const std::string& agent, agent_actor failed,
                       const std::string& task_id, rpc::callback<Out> cb, F f,
                       int attempt, Ts... xs) {
    auto& sys = self_->system();
    self_
      ->request(handles_.directory, timeout_, lookup_atom::value, agent, true)
      .then(
        [=](std::vector<dir_entry>& found) {
          if (found.empty() || (failed && found.front().handle == failed))
            return cb(failure::agent_not_found(agent));
          send_to<Answer>(found.front(), task_id, cb, f, attempt, xs...);
        },
        [=, &sys](caf::error& err) {
          cb(to_failure(sys, err, agent, task_id));
        });
  }

  /// A local agent's handle failed: it is being restarted (or was stopped).
  /// Its supervisor answers with the new handle once the restart is done.
  template <class Answer, class Out, class F, class... Ts>
  void resolve_and_send(const dir_entry& e, const std::string& task_id,
                        rpc::callback<Out> cb, F f, Ts... xs) {
    auto& sys = self_->system();
    self_
      ->request(handles_.supervisor, timeout_, resolve_atom::value, e.name,
                e.handle)
      .then(
        [=](agent_actor& fresh) {
          if (!fresh)
            return cb(failure::agent_not_found(e.name));
          auto next = e;
          next.handle = std::move(fresh);
          send_to<Answer>(next, task_id, cb, f, 1, xs...);
        },
        [=, &sys](caf::error& err) {
          cb(to_failure(sys, err, e.name, task_id));
        });
  }

  template <class Answer, class Out, class F, class... Ts>
  void send_to(const dir_entry& e, const std::string& task_id,
               rpc::callback<Out> cb, F f, int attempt, Ts... xs) {
    auto& sys = self_->system();
    self_->request(e.handle, timeout_, xs...)
      .then([cb, f, e](Answer& answer) { cb(f(e, answer)); },
            [=, &sys](caf::error& err) {
              if (!handle_is_stale(err))
                return cb(to_failure(sys, err, e.name, task_id));
              if (attempt > 0)
                return cb(failure::agent_not_found(e.name));
              if (e.node == ctx_->node_name)
                return resolve_and_send<Answer>(e, task_id, cb, f, xs...);
              // Drop the stale entry, then look the agent up once more; the
              // directory handles both in this order.
              self_->send(handles_.directory, stop_atom::value, e.name,
                          e.handle);
              lookup_and_send<Answer>(e.name, e.handle, task_id, cb, f, 1,
                                      xs...);
            });
  }

  worker_actor::pointer self_;
  node_context_ptr ctx_;
  node_handles handles_;
  std::chrono::milliseconds timeout_;
};

struct worker_state {
  std::unique_ptr<actor_backend> backend;
  static inline const char* name = "http_worker";
};

worker_actor::behavior_type
worker(worker_actor::stateful_pointer<worker_state> self, node_context_ptr ctx,
       node_handles handles, std::chrono::milliseconds timeout) {
  self->state.backend = std::make_unique<actor_backend>(self, ctx, handles,
                                                        timeout);
  return {
    [=](http_atom, const request& req) -> caf::result<reply> {
      auto rp = self->make_response_promise<reply>();
      auto keep_alive = req.keep_alive;
      rpc::handle(*self->state.backend, req.body,
                  [rp, keep_alive](std::optional<std::string> body) mutable {
                    response res = body ? response{200, "application/json",
                                                   std::move(*body)}
                                        : response{204, "", ""};
                    rp.deliver(
                      reply{serialize(res, false, keep_alive), !keep_alive});
                  });
      return rp;
    },
  };
}

} // namespace

worker_actor spawn_worker(caf::actor_system& sys, node_context_ptr ctx,
                          node_handles handles,
                          std::chrono::milliseconds timeout) {
  return sys.spawn(worker, std::move(ctx), std::move(handles), timeout);
}

} // namespace am::http
