// The request worker: JSON-RPC on the scheduler, with an rpc::backend that
// talks to the node's actors.

#include "http/worker.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <functional>
#include <thread>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <type_traits>
#include <unordered_map>

#include "core/a2a_task.hpp"
#include "http/a2a.hpp"
#include "http/jsonrpc.hpp"

namespace am::http {

unsigned worker_count() {
  return std::max(2u, std::thread::hardware_concurrency());
}

down_action down_action_of(const caf::error& reason) {
  if (!reason || reason == caf::exit_reason::normal
      || reason == caf::exit_reason::unknown)
    return down_action::retry;
  if (reason == caf::exit_reason::remote_link_unreachable)
    return down_action::node_down;
  if (reason == caf::exit_reason::user_shutdown)
    return down_action::not_found;
  return down_action::crashed;
}

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
    case errc::invalid_argument: {
      auto detail = context_of(err);
      return failure::invalid_params(detail.empty() ? sys.render(err)
                                                    : detail);
    }
    case errc::not_cancelable:
      return failure::not_cancelable(task_id);
    case errc::task_finished:
      return failure::unsupported("the task has already finished");
    case errc::no_quorum:
      return failure::internal("no quorum");
    case errc::inbox_full:
      return failure::inbox_full(agent);
    default:
      break;
  }
  if (err == caf::sec::request_receiver_down)
    return failure::agent_not_found(agent);
  if (err == caf::sec::request_timeout)
    return failure::internal("timeout");
  return failure::internal(sys.render(err));
}

/// The standard family names unknown agents in -32602 and unknown tasks
/// with its own -32001. (The dialect's errors carry no `data` here; the
/// standard ones carry their ErrorInfo.)
failure standard(failure f, const std::string& agent,
                 const std::string& task_id) {
  bool dialect = f.data.is_null();
  bool no_agent = dialect && f.code == failure::agent_not_found({}).code;
  bool no_task = dialect && f.code == failure::task_not_found({}).code;
  if (!task_id.empty() && (no_agent || no_task))
    return failure::a2a_task_not_found(task_id);
  if (no_agent)
    return failure::invalid_params("unknown agent: " + agent);
  return f;
}

template <class T>
rpc::callback<T> standard_cb(rpc::callback<T> cb, std::string agent,
                             std::string task_id) {
  return [cb{std::move(cb)}, agent, task_id](rpc::outcome<T> x) {
    if (auto f = std::get_if<failure>(&x))
      return cb(standard(std::move(*f), agent, task_id));
    cb(std::move(x));
  };
}

/// True if the handle is unusable: the agent is gone (or restarting) or
/// its node is. A timeout is not: the call may have been carried out, and
/// calls like SendMessage must never run twice.
bool handle_is_stale(const caf::error& err) {
  return err == caf::sec::request_receiver_down
         || err == caf::exit_reason::remote_link_unreachable;
}

/// Feeds one call's task stream to its reply sink; done after the last
/// event. Agents monitor it: when the client goes, the loop stops it.
caf::behavior relay(caf::event_based_actor* self,
                    std::shared_ptr<reply_sink> out) {
  return {
    [=](stream_event& ev) {
      auto last = ev.last;
      out->event(ev.seq, std::move(ev.data), last);
      if (last)
        self->quit();
    },
  };
}

/// The status of `agent` from its board, if it is an agent of this node
/// whose board is open (see agent_board). The board is read in place in
/// the directory map (no copy of the entry); the status is built after.
std::optional<agent_status> board_status(const node_context& ctx,
                                         const std::string& agent) {
  agent_board::view v;
  bool open = false;
  ctx.directory->read(agent, [&](const dir_entry& e) {
    open = e.board && e.node == ctx.node_name && e.board->read(v);
  });
  if (!open)
    return std::nullopt;
  return to_status(agent, std::move(v), ctx.node_name);
}

class actor_backend : public rpc::backend {
public:
  // The actor clock (simulated in tests).
  using clock_type = caf::actor_clock::clock_type;

  actor_backend(worker_actor::pointer self, node_context_ptr ctx,
                node_handles handles, std::chrono::milliseconds timeout,
                bool read_boards)
    : self_(self),
      ctx_(std::move(ctx)),
      handles_(std::move(handles)),
      timeout_(timeout),
      read_boards_(read_boards) {
    // nop
  }

  /// The connection and sequence number of the request being handled.
  /// `rpc::handle` calls the backend before it returns, so streams read
  /// them synchronously.
  void current(caf::actor sink, uint64_t seq, std::string trace_id,
               std::shared_ptr<reply_sink> reply = nullptr) {
    sink_ = std::move(sink);
    seq_ = seq;
    trace_id_ = std::move(trace_id);
    reply_ = std::move(reply);
  }

  /// Where the current call's stream events go: the caller's sink, or a
  /// relay to its reply sink, made on first use.
  caf::actor sink() {
    if (!sink_ && reply_) {
      sink_ = self_->spawn(relay, reply_);
      reply_->relay(seq_, sink_);
    }
    return sink_;
  }

  /// StartAgent calls wait here until `flush`: the calls of a batch go to
  /// the supervisor as one group.
  void start_agent(const std::string& name, const json& memory,
                   const std::string& default_action,
                   rpc::callback<start_result> cb) override {
    starts_.push_back(
      held_start{start_request{name, json_box{memory}, default_action},
                 std::move(cb)});
  }

  /// Forgets the StartAgent calls held back (their request failed).
  void drop_held() {
    starts_.clear();
  }

  void flush() override {
    if (starts_.empty())
      return;
    auto held = std::move(starts_);
    starts_.clear();
    std::vector<start_request> reqs;
    reqs.reserve(held.size());
    auto cbs = std::make_shared<std::vector<rpc::callback<start_result>>>();
    auto names = std::make_shared<std::vector<std::string>>();
    for (auto& x : held) {
      names->push_back(x.req.name);
      reqs.push_back(std::move(x.req));
      cbs->push_back(std::move(x.cb));
    }
    auto& sys = self_->system();
    auto fail_all = [=, &sys](const caf::error& err) {
      for (size_t i = 0; i < cbs->size(); ++i)
        (*cbs)[i](to_failure(sys, err, (*names)[i], {}));
    };
    // The worker's own deadline, not a CAF request timeout (a clock entry
    // per request: a fifth of the CPU of starting agents in batches).
    auto once = std::make_shared<bool>(false);
    auto deadline = expire_after(timeout_, [=] {
      if (!std::exchange(*once, true))
        fail_all(caf::make_error(caf::sec::request_timeout));
    });
    self_
      ->request(handles_.supervisor, caf::infinite, start_atom::value,
                std::move(reqs))
      .then(
        [=, &sys](std::vector<start_answer>& xs) {
          if (std::exchange(*once, true))
            return;
          forget(deadline);
          for (size_t i = 0; i < cbs->size(); ++i) {
            if (i >= xs.size())
              (*cbs)[i](failure::internal("no answer"));
            else if (xs[i].error)
              (*cbs)[i](to_failure(sys, xs[i].error, (*names)[i], {}));
            else
              (*cbs)[i](std::move(xs[i].result));
          }
        },
        [=](caf::error& err) {
          if (std::exchange(*once, true))
            return;
          forget(deadline);
          fail_all(err);
        });
  }

  void stop_agent(const std::string& agent, rpc::callback<bool> cb) override {
    call<bool>(agent, {}, timeout_, std::move(cb),
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
    call<std::string>(agent, {}, timeout_, std::move(cb),
                      [](const dir_entry& e,
                         std::string& id) -> rpc::outcome<rpc::task_ack> {
                        return rpc::task_ack{std::move(id), e.node};
                      },
                      enqueue_atom::value, action, json_box{params}, trace_id_);
  }

  void get_agent_state(const std::string& agent,
                       rpc::callback<agent_status> cb) override {
    // A local agent whose actor serves it: read its board, no message.
    if (read_boards_)
      if (auto st = board_status(*ctx_, agent))
        return cb(std::move(*st));
    call<agent_status>(agent, {}, timeout_, std::move(cb),
                       pass<agent_status>, state_atom::value);
  }

  void process_next(const std::string& agent,
                    rpc::callback<process_result> cb) override {
    // An asynchronous action may take up to the request timeout on top.
    call<process_result>(agent, {}, timeout_ * 2, std::move(cb),
                         pass<process_result>, process_atom::value);
  }

  void list_agents(const rpc::list_query& q,
                   rpc::callback<rpc::agent_page> cb) override {
    cb(rpc::select_page(q, [this](auto visit) {
      ctx_->directory->for_each(
        [&](const std::string& name, const dir_entry& e) {
          visit(name, e.node);
        });
    }));
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
    rpc::callback<task_view> found = [cb, task_id](rpc::outcome<task_view> x) {
      // An agent that went away took its tasks along.
      auto f = std::get_if<failure>(&x);
      if (f && f->code == failure::agent_not_found({}).code)
        return cb(failure::task_not_found(task_id));
      cb(std::move(x));
    };
    on_task<task_view>(task_id, std::move(found), pass<task_view>,
                       task_atom::value, task_id);
  }

  void cancel_task(const std::string& agent, const std::string& task_id,
                   rpc::callback<bool> cb) override {
    call<bool>(agent, task_id, timeout_, std::move(cb),
               [task_id](const dir_entry&, bool ok) -> rpc::outcome<bool> {
                 if (!ok)
                   return failure::task_not_found(task_id);
                 return true;
               },
               cancel_atom::value, task_id);
  }

  // -- standard A2A -----------------------------------------------------------

  void a2a_send(const rpc::send_params& p,
                rpc::callback<task_view> cb) override {
    auto req = submit_of(p);
    req.wait_ms = p.return_immediately
                    ? 0
                    : static_cast<uint32_t>(timeout_.count());
    // The agent answers after at most wait_ms: allow for that and the call.
    call<task_view>(p.agent, {}, timeout_ * 2,
                    standard_cb(std::move(cb), p.agent, {}),
                    pass<task_view>, submit_atom::value, std::move(req));
  }

  void a2a_stream(const rpc::send_params& p, const std::string& rpc_id,
                  rpc::callback<bool> cb) override {
    auto req = submit_of(p);
    req.sink = sink();
    req.seq = seq_;
    req.rpc_id = rpc_id;
    call<task_view>(p.agent, {}, timeout_, standard_cb(std::move(cb), p.agent, {}),
                    [](const dir_entry&, task_view&) -> rpc::outcome<bool> {
                      return true;
                    },
                    submit_atom::value, std::move(req));
  }

  void a2a_get_task(const std::string& id,
                    rpc::callback<task_view> cb) override {
    get_task(id, standard_cb(std::move(cb), {}, id));
  }

  void a2a_list_tasks(const task_query& q,
                      rpc::callback<task_page> cb) override {
    auto& sys = self_->system();
    self_->request(handles_.directory, timeout_ * 2, list_atom::value, q, true)
      .then([cb](task_page& page) { cb(std::move(page)); },
            [cb, &sys](caf::error& err) {
              cb(to_failure(sys, err, {}, {}));
            });
  }

  void a2a_cancel_task(const std::string& id,
                       rpc::callback<task_view> cb) override {
    on_task<task_view>(id, standard_cb(std::move(cb), {}, id), pass<task_view>,
                       abort_atom::value, id);
  }

  void a2a_subscribe(const std::string& id, const std::string& rpc_id,
                     rpc::callback<bool> cb) override {
    on_task<task_view>(id, standard_cb(std::move(cb), {}, id),
                       [](const dir_entry&, task_view&) -> rpc::outcome<bool> {
                         return true;
                       },
                       watch_atom::value, id, sink(), seq_, rpc_id);
  }

  /// The card of an agent anywhere in the cluster.
  void agent_info_of(const std::string& agent,
                     rpc::callback<agent_info> cb) {
    call<agent_info>(agent, {}, timeout_, std::move(cb), pass<agent_info>,
                     info_atom::value);
  }

private:
  template <class T>
  static rpc::outcome<T> pass(const dir_entry&, T& x) {
    return std::move(x);
  }

  submit_request submit_of(const rpc::send_params& p) const {
    submit_request req;
    req.action = p.action;
    req.params = p.params;
    req.text = p.text;
    req.message = p.message;
    req.context_id = p.context_id;
    req.message_id = p.message_id;
    req.trace_id = trace_id_;
    return req;
  }

  struct watched_call {
    bool done = false;
    std::function<void(const caf::error&)> on_down;
  };

  /// One call to an agent: what it sends and how its answer is shaped and
  /// delivered. The handlers of every attempt (answer, error, watch,
  /// deadline, retry) share it: none copies the request or the callback.
  template <class Out, class F, class... Ts>
  struct agent_call {
    std::string task_id;
    std::chrono::milliseconds timeout;
    rpc::callback<Out> cb;
    F f;
    std::tuple<Ts...> xs;
  };

  template <class Out, class F, class... Ts>
  using call_ptr = std::shared_ptr<agent_call<Out, F, Ts...>>;

  template <class Out, class F, class... Ts>
  static auto make_call(const std::string& task_id,
                        std::chrono::milliseconds timeout,
                        rpc::callback<Out> cb, F f, Ts... xs) {
    return std::make_shared<agent_call<Out, F, Ts...>>(agent_call<
      Out, F, Ts...>{task_id, timeout, std::move(cb), std::move(f),
                     std::tuple<Ts...>{std::move(xs)...}});
  }

  /// Sends `xs...` to the agent holding task `id`, wherever it is.
  template <class Answer, class Out, class F, class... Ts>
  void on_task(const std::string& id, rpc::callback<Out> cb, F f, Ts... xs) {
    auto& sys = self_->system();
    auto c = make_call(id, timeout_, std::move(cb), std::move(f),
                       std::move(xs)...);
    self_->request(handles_.directory, timeout_, locate_atom::value, id, true)
      .then(
        [this, c](std::vector<dir_entry>& found) {
          if (found.empty())
            return c->cb(failure::task_not_found(c->task_id));
          // A stale handle (the agent restarted or moved) is followed once.
          send_to<Answer>(found.front(), c, 0);
        },
        [c, &sys](caf::error& err) {
          c->cb(to_failure(sys, err, {}, c->task_id));
        });
  }

  /// Sends `xs...` to the agent named `agent` and shapes its answer with
  /// `f(entry, answer)`. A stale handle is looked up once more.
  template <class Answer, class Out, class F, class... Ts>
  void call(const std::string& agent, const std::string& task_id,
            std::chrono::milliseconds timeout, rpc::callback<Out> cb, F f,
            Ts... xs) {
    auto c = make_call(task_id, timeout, std::move(cb), std::move(f),
                       std::move(xs)...);
    if (auto entry = ctx_->directory->find(agent))
      return send_to<Answer>(*entry, c, 0);
    lookup_and_send<Answer>(agent, {}, c, 0);
  }

  /// Asks the directory actor (which widens to every peer) and sends to
  /// what it finds, unless that is the handle that just failed.
  template <class Answer, class Out, class F, class... Ts>
  void lookup_and_send(const std::string& agent, agent_actor failed,
                       call_ptr<Out, F, Ts...> c, int attempt) {
    auto& sys = self_->system();
    self_
      ->request(handles_.directory, timeout_, lookup_atom::value, agent, true)
      .then(
        [this, agent, failed, c, attempt](std::vector<dir_entry>& found) {
          if (found.empty() || (failed && found.front().handle == failed))
            return c->cb(failure::agent_not_found(agent));
          send_to<Answer>(found.front(), c, attempt);
        },
        [agent, c, &sys](caf::error& err) {
          c->cb(to_failure(sys, err, agent, c->task_id));
        });
  }

  /// A local agent's handle failed: it is being restarted (or was stopped).
  /// Its supervisor answers with the new handle once the restart is done.
  /// Also for an entry without a handle (a dormant agent, here or on a
  /// member): the supervisor wakes it, or has its member's supervisor wake
  /// it.
  template <class Answer, class Out, class F, class... Ts>
  void resolve_and_send(const dir_entry& e, call_ptr<Out, F, Ts...> c) {
    auto& sys = self_->system();
    self_
      ->request(handles_.supervisor, timeout_, resolve_atom::value, e.name,
                e.handle)
      .then(
        [this, e, c](agent_actor& fresh) {
          if (!fresh)
            return c->cb(failure::agent_not_found(e.name));
          auto next = e;
          next.handle = std::move(fresh);
          send_to<Answer>(next, c, 1);
        },
        [name{e.name}, c, &sys](caf::error& err) {
          c->cb(to_failure(sys, err, name, c->task_id));
        });
  }

  /// One attempt of a call: whichever comes first (answer, error, the
  /// watch, the deadline) ends it; the others find it done.
  struct call_attempt {
    dir_entry e;
    int attempt = 0;
    bool done = false;
    std::shared_ptr<watched_call> w;
    uint64_t deadline = 0;
  };

  template <class Answer, class Out, class F, class... Ts>
  void send_to(const dir_entry& e, call_ptr<Out, F, Ts...> c, int attempt) {
    auto& sys = self_->system();
    // A dormant agent: its actor starts first (the answer has a handle).
    if (!e.handle)
      return resolve_and_send<Answer>(e, std::move(c));
    auto a = std::make_shared<call_attempt>();
    a->e = e;
    a->attempt = attempt;
    // What to do when the handle turned out stale: the request was not
    // carried out.
    auto retry = [this, c](const std::shared_ptr<call_attempt>& a) {
      auto& e = a->e;
      if (a->attempt > 0)
        return c->cb(failure::agent_not_found(e.name));
      if (e.node == ctx_->node_name)
        return resolve_and_send<Answer>(e, c);
      // Drop the stale entry, then look the agent up once more; the
      // directory handles both in this order.
      self_->send(handles_.directory, stop_atom::value, e.name, e.handle);
      lookup_and_send<Answer>(e.name, e.handle, c, 1);
    };
    // CAF 0.17 drops requests to a proxy whose remote actor terminated
    // (no error, only a timeout): watch remote handles while we wait. Not
    // for StopAgent: the agent hands it to its supervisor and terminates
    // before the answer arrives.
    constexpr bool stops = (std::is_same_v<Ts, stop_atom> || ...);
    if (!stops)
      a->w = watch(e);
    // No CAF request timeout: CAF 0.17 never cancels one, so every request
    // left an entry in the clock thread's map and a timeout message for
    // later (measured: 11% of the node's CPU under GetAgentState load).
    // The worker's own deadlines expire calls instead.
    a->deadline = expire_after(c->timeout, [this, c, a, &sys] {
      if (std::exchange(a->done, true))
        return;
      settle(a->e, a->w);
      c->cb(to_failure(sys, caf::make_error(caf::sec::request_timeout),
                       a->e.name, c->task_id));
    });
    auto finish = [this, a]() {
      if (std::exchange(a->done, true))
        return false;
      settle(a->e, a->w);
      forget(a->deadline);
      return true;
    };
    std::apply(
      [&](const auto&... xs) {
        return self_->request(e.handle, caf::infinite, xs...);
      },
      c->xs)
      .then(
        [c, a, finish](Answer& answer) {
          if (finish())
            c->cb(c->f(a->e, answer));
        },
        [c, a, finish, retry, &sys](caf::error& err) {
          if (!finish())
            return;
          if (!handle_is_stale(err))
            return c->cb(to_failure(sys, err, a->e.name, c->task_id));
          retry(a);
        });
    // The watch is held by the attempt: it must not hold the attempt back
    // (the response handler and the deadline keep it while it runs).
    if (a->w)
      a->w->on_down = [this, c, weak = std::weak_ptr<call_attempt>{a},
                       retry](const caf::error& reason) {
        auto a = weak.lock();
        if (!a || std::exchange(a->done, true))
          return;
        forget(a->deadline);
        // Only an agent that quit on purpose (moved, retired: `normal`, or
        // `unknown` as CAF reports some remote ends) answered every request
        // it took before it quit: ours was not taken, it is sent again. A
        // crashed agent, a stopped node or a lost one may have run it.
        switch (down_action_of(reason)) {
          case down_action::retry:
            return retry(a);
          case down_action::not_found:
            return c->cb(failure::agent_not_found(a->e.name));
          case down_action::node_down:
            return c->cb(failure::internal("node_down: " + a->e.node));
          default:
            c->cb(failure::internal("agent_crashed"));
        }
      };
  }

  /// Runs `fire` after `timeout` (unless forgotten before). One timer
  /// message is pending at a time, for the earliest deadline.
  uint64_t expire_after(std::chrono::milliseconds timeout,
                        std::function<void()> fire) {
    auto id = next_deadline_++;
    pending_.emplace(id, std::move(fire));
    // One queue per timeout value: each is in deadline order. Calls end
    // roughly in the order they started: drop the ended ones in front.
    auto& q = deadlines_[timeout];
    while (!q.empty() && pending_.count(q.front().second) == 0)
      q.pop_front();
    auto at = self_->clock().now() + timeout;
    q.emplace_back(at, id);
    arm(at);
    return id;
  }

  /// The call ended before its deadline.
  void forget(uint64_t id) {
    pending_.erase(id);
  }

  void arm(clock_type::time_point at) {
    if (ticking_ && tick_at_ <= at)
      return;
    ticking_ = true;
    tick_at_ = at;
    auto now = self_->clock().now();
    // A tick armed before for a later time is stale from now on.
    caf::delayed_anon_send(caf::actor_cast<caf::actor>(self_),
                           at > now ? at - now : clock_type::duration{0},
                           tick_atom::value, ++tick_generation_);
  }

public:
  /// Fires the deadlines that passed and waits for the next one.
  void tick(uint64_t generation) {
    if (generation != tick_generation_)
      return;
    auto now = self_->clock().now();
    ticking_ = false;
    std::vector<std::function<void()>> due;
    std::optional<clock_type::time_point> next;
    for (auto i = deadlines_.begin(); i != deadlines_.end();) {
      auto& q = i->second;
      while (!q.empty() && (q.front().first <= now
                            || pending_.count(q.front().second) == 0)) {
        if (auto j = pending_.find(q.front().second); j != pending_.end()) {
          due.push_back(std::move(j->second));
          pending_.erase(j);
        }
        q.pop_front();
      }
      if (q.empty()) {
        i = deadlines_.erase(i);
        continue;
      }
      if (!next || q.front().first < *next)
        next = q.front().first;
      ++i;
    }
    if (next)
      arm(*next);
    for (auto& fire : due)
      fire();
  }

  /// A remote actor we wait for terminated (its proxy is dead).
  void on_down(const caf::down_msg& dm) {
    auto range = watching_.equal_range(dm.source);
    std::vector<std::shared_ptr<watched_call>> calls;
    for (auto i = range.first; i != range.second; ++i)
      calls.push_back(i->second);
    watching_.erase(range.first, range.second);
    for (auto& w : calls)
      if (!w->done) {
        w->done = true;
        if (w->on_down)
          w->on_down(dm.reason);
      }
  }

private:
  /// Monitors the handle of a remote agent while a request to it runs;
  /// nothing for local ones (CAF bounces requests to dead local actors).
  std::shared_ptr<watched_call> watch(const dir_entry& e) {
    // By the handle's node: a resolved handle may live elsewhere (moved).
    if (!e.handle || e.handle.node() == self_->node())
      return nullptr;
    auto addr = e.handle.address();
    if (watching_.count(addr) == 0)
      self_->monitor(e.handle);
    auto w = std::make_shared<watched_call>();
    watching_.emplace(addr, w);
    return w;
  }

  /// The request got its answer: false if the watch already failed it.
  bool settle(const dir_entry& e, const std::shared_ptr<watched_call>& w) {
    if (!w)
      return true;
    if (w->done)
      return false;
    w->done = true;
    auto addr = e.handle.address();
    auto range = watching_.equal_range(addr);
    for (auto i = range.first; i != range.second; ++i)
      if (i->second == w) {
        watching_.erase(i);
        break;
      }
    if (watching_.count(addr) == 0)
      self_->demonitor(addr);
    return true;
  }

  std::unordered_multimap<caf::actor_addr, std::shared_ptr<watched_call>>
    watching_;


  /// Per timeout value: (deadline, id), in deadline order.
  std::map<std::chrono::milliseconds,
           std::deque<std::pair<clock_type::time_point, uint64_t>>>
    deadlines_;
  std::unordered_map<uint64_t, std::function<void()>> pending_;
  uint64_t next_deadline_ = 0;
  bool ticking_ = false;
  clock_type::time_point tick_at_;
  uint64_t tick_generation_ = 0;

  worker_actor::pointer self_;
  node_context_ptr ctx_;
  node_handles handles_;
  std::chrono::milliseconds timeout_;
  bool read_boards_;
  caf::actor sink_;
  std::shared_ptr<reply_sink> reply_;
  struct held_start {
    start_request req;
    rpc::callback<start_result> cb;
  };
  std::vector<held_start> starts_;
  uint64_t seq_ = 0;
  std::string trace_id_;
};

struct worker_state {
  std::unique_ptr<actor_backend> backend;
  static inline const char* name = "http_worker";
};

/// The backend of `inline_rpc`: GetAgentState from an open board, and
/// every other call declined (without a side effect).
class board_backend final : public rpc::backend {
public:
  explicit board_backend(const node_context& ctx) : ctx_(ctx) {
    // nop
  }

  bool declined = false;

  void get_agent_state(const std::string& agent,
                       rpc::callback<agent_status> cb) override {
    if (declined) // a batch goes to a worker as a whole
      return;
    auto st = board_status(ctx_, agent);
    if (!st) {
      declined = true;
      return;
    }
    cb(std::move(*st));
  }

  void start_agent(const std::string&, const json&, const std::string&,
                   rpc::callback<start_result>) override {
    declined = true;
  }
  void stop_agent(const std::string&, rpc::callback<bool>) override {
    declined = true;
  }
  void send_message(const std::string&, const std::string&, const json&,
                    rpc::callback<rpc::task_ack>) override {
    declined = true;
  }
  void process_next(const std::string&,
                    rpc::callback<process_result>) override {
    declined = true;
  }
  void list_agents(const rpc::list_query&,
                   rpc::callback<rpc::agent_page>) override {
    declined = true;
  }
  void get_cluster_info(rpc::callback<cluster_info>) override {
    declined = true;
  }
  void get_task(const std::string&, rpc::callback<task_view>) override {
    declined = true;
  }
  void cancel_task(const std::string&, const std::string&,
                   rpc::callback<bool>) override {
    declined = true;
  }
  void a2a_send(const rpc::send_params&, rpc::callback<task_view>) override {
    declined = true;
  }
  void a2a_stream(const rpc::send_params&, const std::string&,
                  rpc::callback<bool>) override {
    declined = true;
  }
  void a2a_get_task(const std::string&, rpc::callback<task_view>) override {
    declined = true;
  }
  void a2a_list_tasks(const task_query&, rpc::callback<task_page>) override {
    declined = true;
  }
  void a2a_cancel_task(const std::string&,
                       rpc::callback<task_view>) override {
    declined = true;
  }
  void a2a_subscribe(const std::string&, const std::string&,
                     rpc::callback<bool>) override {
    declined = true;
  }

private:
  const node_context& ctx_;
};

const std::string not_found_body = R"({"errors":{"detail":"Not Found"}})";

worker_actor::behavior_type
worker(worker_actor::stateful_pointer<worker_state> self, node_context_ptr ctx,
       node_handles handles, std::chrono::milliseconds timeout,
       std::string version, bool read_boards) {
  self->state.backend = std::make_unique<actor_backend>(self, ctx, handles,
                                                        timeout, read_boards);
  self->set_down_handler(
    [self](caf::down_msg& dm) { self->state.backend->on_down(dm); });
  return {
    [=](tick_atom, uint64_t generation) {
      self->state.backend->tick(generation);
    },
    [=](rpc_atom, call& c) -> caf::result<call_result> {
      auto rp = self->make_response_promise<call_result>();
      // The HTTP loop takes the answer directly (no actor hop back).
      auto deliver = [rp, reply{c.reply}, id{c.seq}](call_result res) mutable {
        if (reply)
          reply->result(id, std::move(res));
        else
          rp.deliver(std::move(res));
      };
      auto& b = *self->state.backend;
      if (c.kind == call::agent_card) {
        b.agent_info_of(c.agent, [deliver, host{c.host}, version, ctx](
                                   rpc::outcome<agent_info> x) mutable {
          if (auto info = std::get_if<agent_info>(&x))
            deliver(call_result{
              200, dump(a2a::agent_card(*info, version, host, ctx->bearer)),
              false});
          else
            deliver(call_result{404, not_found_body, false});
        });
        return rp;
      }
      b.current(std::move(c.sink), c.seq, std::move(c.trace_id),
                std::move(c.reply));
      auto answer = [deliver](rpc::response_body body) mutable {
        switch (body.kind) {
          case rpc::response_body::stream:
            deliver(call_result{200, {}, true});
            break;
          case rpc::response_body::empty:
            deliver(call_result{204, {}, false});
            break;
          default:
            deliver(call_result{200, std::move(body.text), false});
        }
      };
      // Nothing a request carries may take a worker down: a worker that
      // threw would stay dead and fail every later request routed to it.
      try {
        rpc::handle(b, c.body,
                    rpc::call_context{c.version, c.agent, ctx->max_batch},
                    answer);
      } catch (const std::exception& e) {
        // The client is told the request failed: what it held back must
        // not start with the next request.
        b.drop_held();
        answer(rpc::response_body{
          rpc::response_body::json_text,
          dump(rpc::error_response(rpc::failure::internal(e.what()),
                                   nullptr))});
      }
      b.current(caf::actor{}, 0, {});
      return rp;
    },
  };
}

} // namespace

worker_actor spawn_worker(caf::actor_system& sys, node_context_ptr ctx,
                          node_handles handles,
                          std::chrono::milliseconds timeout,
                          std::string version, bool read_boards) {
  return sys.spawn(worker, std::move(ctx), std::move(handles), timeout,
                   std::move(version), read_boards);
}

inline_rpc_fn inline_rpc(node_context_ptr ctx) {
  return [ctx](const std::string& body,
               const std::string& version) -> std::optional<call_result> {
    // Parsing costs and this is the HTTP thread: only small bodies that
    // may be all GetAgentState try.
    if (body.size() > max_inline_body
        || body.find("GetAgentState") == std::string::npos)
      return std::nullopt;
    board_backend b{*ctx};
    std::optional<call_result> out;
    try {
      rpc::handle(b, body, rpc::call_context{version, {}, ctx->max_batch},
                  [&out](rpc::response_body res) {
                    if (res.kind == rpc::response_body::empty)
                      out = call_result{204, {}, false};
                    else if (res.kind == rpc::response_body::json_text)
                      out = call_result{200, std::move(res.text), false};
                  });
    } catch (const std::exception&) {
      return std::nullopt; // the worker answers with the error
    }
    if (b.declined)
      return std::nullopt;
    return out;
  };
}

} // namespace am::http
