#include "actors/agent.hpp"

#include <algorithm>
#include <atomic>

#include <caf/all.hpp>

#include "core/a2a_task.hpp"
#include "core/clock.hpp"
#include "core/events.hpp"
#include "core/log.hpp"

namespace am {

task_view view_of(const node_context& ctx, const agent_state& st,
                  const task_record& rec) {
  task_view v;
  v.task_id = rec.t.id;
  v.agent = st.name();
  v.node = ctx.node_name;
  v.action = rec.t.action;
  v.params = rec.t.params;
  v.status = to_string(rec.status);
  v.result = rec.result;
  v.standard = rec.t.standard;
  v.context_id = rec.t.context_id;
  v.message = rec.t.message;
  v.updated_us = rec.updated_us;
  v.trace_id = rec.t.trace_id;
  return v;
}

namespace {

void send_events(const std::vector<task_watcher>& ws,
                 const std::vector<std::string>& results, bool ends) {
  for (auto& w : ws)
    for (size_t i = 0; i < results.size(); ++i)
      caf::anon_send(w.sink,
                     stream_event{w.seq, a2a::rpc_result_text(w.rpc_id,
                                                              results[i]),
                                  ends && i + 1 == results.size()});
}

} // namespace

void announce(const node_context& ctx, agent_state& st, agent_observers& obs,
              const task_record& rec, bool crashed) {
  auto& id = rec.t.id;
  ctx.tasks->assign(id, task_entry{st.name(), to_string(rec.status),
                                   rec.t.context_id, rec.updated_us});
  for (auto& old : st.take_evicted())
    ctx.tasks->erase(old);
  auto terminal = is_terminal(rec.status);
  if (rec.status == task_status::queued)
    return;
  auto w = obs.watchers.find(id);
  auto wt = obs.waiters.find(id);
  auto p = obs.processing.find(id);
  // A view only for whoever gets one: streams on every change, blocking
  // senders at the end (ProcessNext answers with the result alone).
  auto streams = w != obs.watchers.end();
  auto waits = terminal && wt != obs.waiters.end();
  if (!streams && !waits && p == obs.processing.end())
    return;
  task_view view;
  if (streams || waits)
    view = view_of(ctx, st, rec);
  if (streams) {
    std::vector<std::string> results;
    if (terminal && !view.result.is_null())
      results.push_back(dump(a2a::artifact_update(view)));
    results.push_back(dump(a2a::status_update(view)));
    send_events(w->second, results, terminal);
    if (terminal)
      obs.watchers.erase(w);
  }
  if (!terminal)
    return;
  if (waits) {
    auto& xs = wt->second;
    for (size_t i = 0; i < xs.size(); ++i)
      if (i + 1 < xs.size())
        xs[i].rp.deliver(view);
      else
        xs[i].rp.deliver(std::move(view));
    obs.waiters.erase(wt);
  }
  if (p != obs.processing.end()) {
    if (crashed)
      p->second.deliver(make_error(errc::agent_crashed));
    else
      p->second.deliver(process_result{false, id, json_box{*rec.result}});
    obs.processing.erase(p);
  }
}

void forget(const node_context& ctx, agent_state& st, agent_observers& obs) {
  abandon(obs, st.name());
  for (auto& id : st.task_ids())
    ctx.tasks->erase(id);
  for (auto& id : st.take_evicted())
    ctx.tasks->erase(id);
}

namespace {

/// Ends every stream with a JSON-RPC error (-32603, `data`).
void end_streams(const std::vector<task_watcher>& ws, const std::string& data) {
  for (auto& w : ws) {
    auto id = json::parse(w.rpc_id, nullptr, false);
    json err{{"jsonrpc", "2.0"},
             {"id", id.is_discarded() ? json{} : id},
             {"error",
              {{"code", -32603}, {"message", "Internal error"}, {"data", data}}}};
    caf::anon_send(w.sink, stream_event{w.seq, dump(err), true});
  }
}

void end_streams(agent_observers& obs, const std::string& data) {
  for (auto& kvp : obs.watchers)
    end_streams(kvp.second, data);
  obs.watchers.clear();
}

} // namespace

void abandon(agent_observers& obs, const std::string& agent) {
  for (auto& kvp : obs.waiters)
    for (auto& x : kvp.second)
      x.rp.deliver(make_error(errc::agent_not_found, agent));
  for (auto& kvp : obs.processing)
    kvp.second.deliver(make_error(errc::agent_not_found, agent));
  end_streams(obs, "agent stopped: " + agent);
  obs.waiters.clear();
  obs.processing.clear();
}

namespace {

/// Publishes agent event `name` with the members `extra()` returns, which
/// is not even called when nobody would receive the event.
template <class F>
void publish(agent_pointer self, const char* name, F extra) {
  auto& s = self->state;
  if (!s.ctx->wants_agent_events())
    return;
  self->send(s.bus, publish_atom::value,
             make_agent_event(name, s.st->name(), s.ctx->node_name,
                              s.ctx->node_name, extra()));
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

void maybe_hand_over(agent_pointer self);

bool cut_off(const caf::error& err) {
  return code_of(err) == static_cast<uint8_t>(errc::no_quorum);
}

/// Without the quorum an agent changes nothing (the other side of the
/// partition may run it); reads are still served.
caf::error refuse_changes(agent_pointer self) {
  auto& cluster = self->state.ctx->cluster;
  return cluster ? cluster->refusal() : caf::error{};
}

/// The copy is to be seeded afresh; `backup_node` stays, so that an older
/// copy there can still be removed.
void no_current_backup(agent_pointer self) {
  self->state.backup = replica_actor{};
  self->state.backup_incarnation = 0;
}

/// Runs the callbacks of the oldest pending changes that are kept
/// everywhere, in order.
void settle(agent_pointer self) {
  auto& pending = self->state.pending;
  while (!pending.empty() && pending.front().stored
         && pending.front().replicated) {
    auto x = std::move(pending.front());
    pending.pop_front();
    // A change that was not kept fails every later one too: what they
    // report builds on it (a task acknowledged by one commit was created
    // by an earlier one).
    if (x.err)
      for (auto& y : pending)
        if (!y.err)
          y.err = x.err;
    x.then(x.err);
  }
  maybe_hand_over(self);
}

/// Marks the pending changes up to `id` (or exactly `id`) as kept by the
/// store or by the backup, or failed with `err`.
void mark(agent_pointer self, uint64_t id, bool up_to, bool store_side,
          const caf::error& err) {
  for (auto& x : self->state.pending) {
    if (x.id > id)
      break;
    if (!up_to && x.id != id)
      continue;
    (store_side ? x.stored : x.replicated) = true;
    if (err && !x.err)
      x.err = err;
  }
  settle(self);
}

/// Copies the whole agent to the backup the cluster names for it now (none:
/// it has no backup). Covers every change up to `id`; the member that held
/// the copy before (`backup_node`, kept even while no backup is current)
/// drops it.
void reseed(agent_pointer self, uint64_t id) {
  auto& s = self->state;
  auto& name = s.st->name();
  auto target = s.ctx->cluster->backup_for(name);
  if (!s.backup_node.empty() && (!target || target->node != s.backup_node))
    if (auto old = s.ctx->cluster->keeper_of(s.backup_node))
      caf::anon_send(old, store_atom::value, s.ctx->node_name, removal(name));
  auto epoch = ++s.seed_epoch;
  if (!target) {
    // Alone (with the quorum): nobody to copy to.
    s.backup = replica_actor{};
    s.backup_node.clear();
    s.backup_incarnation = 0;
    mark(self, id, true, false, caf::error{});
    return;
  }
  s.backup_node = target->node;
  s.backup = target->handle;
  s.backup_incarnation = target->incarnation;
  self->request(s.backup, caf::infinite, seed_atom::value, s.ctx->node_name,
                s.st->snapshot())
    .then(
      [self, id, epoch](bool) {
        // An answer from a backup replaced since does not count: the newer
        // seed covers this change (and that backup drops its copy).
        if (epoch == self->state.seed_epoch)
          mark(self, id, true, false, caf::error{});
      },
          [self, id, epoch](caf::error& err) {
            if (epoch != self->state.seed_epoch)
              return;
            log::warning("[Agent] " + self->state.st->name()
                         + ": the replica was refused: "
                         + self->system().render(err));
            // Seeded afresh with the next change (an older copy may still
            // be there: `backup_node` stays for its removal).
            no_current_backup(self);
            mark(self, id, true, false, err);
          });
}

/// True if the agent's copy must go to another member than the one that
/// holds it (or nowhere any more).
bool backup_changed(agent_pointer self) {
  auto& s = self->state;
  auto target = s.ctx->cluster->backup_for(s.st->name());
  return target ? target->incarnation != s.backup_incarnation
                : static_cast<bool>(s.backup);
}

/// Hands change `id` to the backup: the change alone if the backup holds
/// the agent already, else (`moved`: see `backup_changed`) a seed of the
/// whole agent.
void send_to_backup(agent_pointer self, uint64_t id, agent_delta d,
                    bool moved) {
  auto& s = self->state;
  if (auto err = refuse_changes(self)) {
    mark(self, id, false, false, err);
    return;
  }
  if (moved) {
    reseed(self, id);
    return;
  }
  if (!s.backup || empty(d)) {
    mark(self, id, false, false, caf::error{});
    return;
  }
  auto epoch = s.seed_epoch;
  self->request(s.backup, caf::infinite, store_atom::value, s.ctx->node_name,
                std::move(d))
    .then(
      [self, id, epoch](bool) {
        if (epoch == self->state.seed_epoch)
          mark(self, id, false, false, caf::error{});
      },
          [self, id, epoch](caf::error&) {
            // The backup lost its copy (it restarted): seed it again; the
            // seed covers this change. (Answers of a backup replaced since
            // do not count: a newer seed covers them.)
            if (epoch == self->state.seed_epoch)
              reseed(self, id);
          });
}

/// Calls `then(err)` once every change of the agent so far is kept: at
/// once when changes go nowhere, else when the store committed them and
/// the backup applied them (`err` set if either could not). Callbacks run
/// in the order of their changes.
///
/// Group commit: the first change opens a commit and sends the agent a
/// `flush_atom`, which queues behind the messages already in its mailbox.
/// Every change until then joins that commit, and `flush` hands them to
/// the store and the backup as one delta. An idle agent flushes right after
/// the message that changed it; a burst of 1000 SendMessage costs one
/// store write and one backup round trip instead of 1000.
template <class F>
void commit(agent_pointer self, F then) {
  auto& s = self->state;
  if (!s.ctx->keeps_changes()) {
    then(caf::error{});
    return;
  }
  auto& cluster = s.ctx->cluster;
  if (s.open_commit == 0) {
    // Asked once per commit: it locks the cluster view and hashes the name.
    if (!s.st->has_changes() && s.pending.empty()
        && (!cluster || (cluster->quorum() && !backup_changed(self)))) {
      then(caf::error{});
      return;
    }
    s.open_commit = ++s.next_commit;
    self->send(self, flush_atom::value);
  }
  s.pending.push_back(pending_commit{s.open_commit, std::move(then),
                                     !s.ctx->store, !cluster, caf::error{}});
}

/// Hands the open commit's changes to the store and the backup.
void flush(agent_pointer self) {
  auto& s = self->state;
  auto id = std::exchange(s.open_commit, 0);
  if (id == 0)
    return;
  auto& cluster = s.ctx->cluster;
  auto delta = s.st->take_changes();
  auto moved = cluster && backup_changed(self);
  if (!s.ctx->store) {
    send_to_backup(self, id, std::move(delta), moved);
    return;
  }
  if (cluster)
    send_to_backup(self, id, delta, moved);
  if (empty(delta)) {
    mark(self, id, false, true, caf::error{});
    return;
  }
  self->request(s.ctx->store, caf::infinite, store_atom::value,
                std::move(delta))
    .then([self, id](bool) { mark(self, id, false, true, caf::error{}); },
          [self, id](caf::error& err) {
            log::error("[Agent] " + self->state.st->name()
                       + ": a change was not kept: "
                       + self->system().render(err));
            // The store missed it: the next commit writes the whole agent.
            if (!self->state.retired)
              self->state.st->track_changes(true, true);
            mark(self, id, false, true,
                 make_error(errc::store_failed, self->system().render(err)));
          });
}

/// Delivers `value` through `rp` once the change it reports is kept.
template <class T>
void ack(agent_pointer self, caf::typed_response_promise<T> rp, T value) {
  commit(self, [rp, value{std::move(value)}](const caf::error& err) mutable {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(std::move(value));
  });
}

void announce_now(agent_pointer self, const task_record& rec) {
  auto& s = self->state;
  announce(*s.ctx, *s.st, *s.obs, rec);
  if (rec.status == task_status::completed
      || rec.status == task_status::failed)
    publish(self, "task_completed", [&] {
      return json{{"result", {{"task_id", rec.t.id}}},
                  {"trace_id", rec.t.trace_id}};
    });
}

/// Announces a change once it is kept and publishes the matching event.
void changed(agent_pointer self, const task_record& rec) {
  if (!self->state.ctx->keeps_changes()) {
    announce_now(self, rec);
    return;
  }
  commit(self, [self, rec](const caf::error& err) {
    // A retired agent's tasks left the index: announcing would put them
    // back.
    if (self->state.retired)
      return;
    if (!cut_off(err)) {
      announce_now(self, rec);
      return;
    }
    // Without the quorum the other side may run the agent: what happened
    // here is not reported, and whoever waits for this task is told so.
    auto& obs = *self->state.obs;
    auto& id = rec.t.id;
    if (auto i = obs.waiters.find(id); i != obs.waiters.end()) {
      for (auto& w : i->second)
        w.rp.deliver(err);
      obs.waiters.erase(i);
    }
    if (auto i = obs.processing.find(id); i != obs.processing.end()) {
      i->second.deliver(err);
      obs.processing.erase(i);
    }
    if (auto i = obs.watchers.find(id); i != obs.watchers.end()) {
      end_streams(i->second, "no quorum");
      obs.watchers.erase(i);
    }
  });
}

void received(agent_pointer self, const task_record& rec) {
  changed(self, rec);
  publish(self, "task_received", [&] {
    return json{{"task",
                 {{"task_id", rec.t.id},
                  {"action", rec.t.action},
                  {"params", *rec.t.params}}},
                {"trace_id", rec.t.trace_id}};
  });
}

/// Has the agent run its next standard task, if one waits (a `run` with
/// none would find nothing).
void kick(agent_pointer self) {
  if (self->state.st->standard_count() > 0)
    self->send(self, run_atom::value);
}

void drop_timers(agent_pointer self, const std::string& task_id) {
  auto& timers = self->state.timers;
  for (auto i = timers.begin(); i != timers.end();)
    i = i->second.first == task_id ? timers.erase(i) : std::next(i);
}

/// Timers for the asynchronous action of one task.
class agent_env : public action_env,
                  public std::enable_shared_from_this<agent_env> {
public:
  agent_env(agent_pointer self, std::string task_id)
    : self_(self), task_id_(std::move(task_id)) {
    // nop
  }

  void after(std::chrono::milliseconds delay,
             std::function<void()> fn) override {
    auto token = ++self_->state.obs->next_token;
    // The timer keeps the env alive, so a callback may set further timers.
    auto keep = shared_from_this();
    self_->state.timers.emplace(
      token, std::make_pair(task_id_, [keep, fn{std::move(fn)}] { fn(); }));
    self_->delayed_send(self_, delay, timer_atom::value, token);
  }

private:
  agent_pointer self_;
  std::string task_id_;
};

/// Finishes a running task (ignored if it is no longer running).
void finished(agent_pointer self, const std::string& id, json result) {
  auto& s = self->state;
  auto rec = s.st->complete(id, std::move(result));
  if (!rec)
    return;
  drop_timers(self, id);
  changed(self, *rec);
  if (rec->t.standard)
    kick(self);
  maybe_hand_over(self);
}

/// Runs a task that just started: a synchronous action at once, an
/// asynchronous one until it calls back.
void run_task(agent_pointer self, const task_record& rec) {
  auto& actions = *self->state.ctx->actions;
  if (!actions.is_async(rec.t.action)) {
    // May throw: the actor then dies and its supervisor fails the task.
    finished(self, rec.t.id, actions.run(rec.t.action, *rec.t.params));
    return;
  }
  caf::weak_actor_ptr weak{self->ctrl()};
  auto id = rec.t.id;
  auto fired = std::make_shared<std::atomic<bool>>(false);
  action_done done = [weak, id, fired](json result) {
    if (fired->exchange(true))
      return;
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<agent_actor>(strong), finish_atom::value,
                     id, json_box{std::move(result)});
  };
  auto env = std::make_shared<agent_env>(self, id);
  actions.start(rec.t.action, *rec.t.params, *env, std::move(done));
}

/// Starts a task's action once its running mark is kept: a task that was
/// running when the process died is failed after the restart, never run a
/// second time.
void start_kept(agent_pointer self, const task_record& rec) {
  if (!self->state.ctx->keeps_changes()) {
    run_task(self, rec);
    return;
  }
  commit(self, [self, rec](const caf::error& err) {
    auto& s = self->state;
    if (s.retired)
      return;
    // Cancelled or failed (drain time over) meanwhile: nothing to run.
    auto current = s.st->find(rec.t.id);
    if (!current || current->status != task_status::running)
      return;
    if (err) {
      // Not kept as running: running it could mean running it twice.
      finished(self, rec.t.id,
               json{{"error", cut_off(err) ? "no_quorum" : "store_failed"}});
      return;
    }
    run_task(self, rec);
  });
}

/// Follows a task on a stream: the task first, then its updates.
void watch(agent_pointer self, const task_record& rec, const task_view& view,
           const caf::actor& sink, uint64_t seq, const std::string& rpc_id) {
  auto terminal = is_terminal(rec.status);
  auto first = "{\"task\":" + a2a::task_text(view) + "}";
  send_events({task_watcher{sink, seq, rpc_id}}, {first}, terminal);
  if (terminal)
    return;
  self->monitor(sink);
  self->state.obs->watchers[view.task_id].push_back(
    task_watcher{sink, seq, rpc_id});
}

/// Arms the agent's one timer for blocking senders to fire at `at`, unless
/// it fires earlier anyway. Not sooner than 10 ms from now: waits that end
/// close together share one firing. (A timer per sender cost a message
/// through CAF's clock thread on every blocking call.)
void arm_expiry(agent_pointer self, caf::actor_clock::time_point at) {
  auto& s = self->state;
  if (s.expiry_at && *s.expiry_at <= at)
    return;
  auto now = self->clock().now();
  at = std::max(at, now + std::chrono::milliseconds{10});
  s.expiry_at = at;
  self->delayed_send(self, at - now, expire_atom::value);
}

/// Blocking senders whose wait is over get their task as it stands (an
/// error if the agent no longer knows it); the timer is armed again for
/// the earliest wait left.
void expire_waiters(agent_pointer self) {
  auto& s = self->state;
  auto now = self->clock().now();
  auto& q = s.obs->expiries;
  auto& ws = s.obs->waiters;
  while (!q.empty() && q.front().first <= now) {
    auto id = std::move(q.front().second);
    q.pop_front();
    auto i = ws.find(id);
    if (i == ws.end())
      continue; // answered before
    auto& xs = i->second;
    auto rec = s.st->find(id);
    for (auto j = xs.begin(); j != xs.end();) {
      if (j->deadline > now) {
        ++j;
        continue;
      }
      if (rec)
        ack(self, j->rp, view_of(*s.ctx, *s.st, *rec));
      else
        j->rp.deliver(make_error(errc::task_not_found));
      j = xs.erase(j);
    }
    if (xs.empty())
      ws.erase(i);
  }
  if (!q.empty())
    arm_expiry(self, q.front().first);
}

/// Adds a blocking sender's wait to the queue (in deadline order: waits
/// have one length per node, so this appends) and arms the timer.
void expect_expiry(agent_pointer self, caf::actor_clock::time_point at,
                   const std::string& id) {
  auto& q = self->state.obs->expiries;
  auto pos = q.end();
  while (pos != q.begin() && std::prev(pos)->first > at)
    --pos;
  q.emplace(pos, at, id);
  arm_expiry(self, at);
}

/// Moving away: answers the supervisor with everything the agent holds,
/// once no task runs and every acknowledged change is kept, then quits.
void maybe_hand_over(agent_pointer self) {
  auto& s = self->state;
  if (!s.draining || !s.leaving.pending() || s.st->busy()
      || !s.pending.empty())
    return;
  auto& obs = *s.obs;
  // Blocking senders get the task as it is now; streams end (the task goes
  // on at the new node, where SubscribeToTask finds it).
  for (auto& kvp : obs.waiters)
    for (auto& w : kvp.second)
      if (auto rec = s.st->find(kvp.first))
        w.rp.deliver(view_of(*s.ctx, *s.st, *rec));
  obs.waiters.clear();
  end_streams(obs, "agent moved to another node: subscribe again");
  abandon(obs, s.st->name());
  // The task index keeps its entries until the move is done (GetTask finds
  // the agent meanwhile and waits for it).
  s.timers.clear();
  *s.remains = agent_parcel{};
  s.leaving.deliver(s.st->snapshot(), s.backup_node);
  self->quit();
}

} // namespace

agent_actor::behavior_type agent(agent_pointer self,
                                 std::shared_ptr<agent_state> st,
                                 std::shared_ptr<agent_observers> obs,
                                 node_context_ptr ctx,
                                 supervisor_actor supervisor,
                                 event_bus_actor bus,
                                 cluster_view::keeper_ref backup) {
  self->set_exception_handler(crash_reason);
  // Stopped (node shutdown): the open commit still goes to the store, whose
  // writer stops after the agents. (As CAF's default: a normal exit of a
  // linked actor is ignored, any other reason stops the agent.)
  self->set_exit_handler([self](caf::exit_msg& em) {
    if (!em.reason)
      return;
    flush(self);
    self->quit(em.reason);
  });
  self->state.backup_node = std::move(backup.node);
  self->state.backup = std::move(backup.handle);
  self->state.backup_incarnation = backup.incarnation;
  // However the actor ends, its state goes to the supervisor once nothing
  // runs on it any more (the supervisor restarts or buries it).
  self->state.remains = std::make_shared<agent_parcel>(
    agent_parcel{st, obs, self->address()});
  // Agents hosted here: every agent actor counts itself while it lives.
  ctx->metrics->agents.add(1);
  // Workers read GetAgentState from the state's board while this actor
  // serves it (see agent_board).
  st->open_board(self->id());
  self->attach_functor([box{self->state.remains}, sup{supervisor},
                        m{ctx->metrics}, st, id{self->id()}](const caf::error&) {
    st->board().close(id);
    m->agents.add(-1);
    if (box->st)
      caf::anon_send(sup, crash_atom::value, std::move(*box));
  });
  self->state.st = std::move(st);
  self->state.obs = std::move(obs);
  self->state.ctx = std::move(ctx);
  self->state.supervisor = std::move(supervisor);
  self->state.bus = std::move(bus);
  // A client that goes away stops being served.
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& ws = self->state.obs->watchers;
    for (auto i = ws.begin(); i != ws.end();) {
      auto& xs = i->second;
      xs.erase(std::remove_if(xs.begin(), xs.end(),
                              [&](const task_watcher& w) {
                                return w.sink.address() == dm.source;
                              }),
               xs.end());
      i = xs.empty() ? ws.erase(i) : std::next(i);
    }
  });
  // A restarted agent keeps serving the streams of its predecessor and
  // continues with its queue.
  for (auto& kvp : self->state.obs->watchers)
    for (auto& w : kvp.second)
      self->monitor(w.sink);
  // Tasks that finished while a crashed predecessor waited for the store
  // were never announced.
  {
    auto& s = self->state;
    std::vector<std::string> ids;
    for (auto& kvp : s.obs->waiters)
      ids.push_back(kvp.first);
    for (auto& kvp : s.obs->watchers)
      ids.push_back(kvp.first);
    for (auto& kvp : s.obs->processing)
      ids.push_back(kvp.first);
    for (auto& id : ids)
      if (auto rec = s.st->find(id); rec && is_terminal(rec->status))
        announce(*s.ctx, *s.st, *s.obs, *rec);
    // The predecessor's timer died with it: senders still waiting get one.
    if (!s.obs->expiries.empty())
      expire_waiters(self);
  }
  kick(self);
  // Members may have changed while the agent was being (re)started.
  if (self->state.ctx->cluster)
    self->send(self, backup_atom::value);
  return {
    [self](enqueue_atom, const std::string& action, json_box& params,
           std::string& trace_id) -> caf::result<std::string> {
      auto& s = self->state;
      if (s.draining)
        return caf::skip;
      if (auto err = refuse_changes(self))
        return err;
      if (!params.value.is_object())
        return make_error(errc::invalid_argument, "params must be an object");
      if (s.st->unfinished_count() >= s.ctx->agents.max_inbox)
        return make_error(errc::inbox_full);
      if (auto problem = s.ctx->actions->check(action, params.value))
        return make_error(errc::invalid_argument, *problem);
      // The new task, not a search (find walks the queues: a SendMessage
      // cost grew with the inbox).
      auto id = s.st->enqueue(action, std::move(params.value),
                              std::move(trace_id));
      received(self, s.st->last_enqueued());
      auto rp = self->make_response_promise<std::string>();
      ack(self, rp, id);
      return rp;
    },
    [self](process_atom) -> caf::result<process_result> {
      auto& s = self->state;
      if (s.draining)
        return caf::skip;
      if (auto err = refuse_changes(self))
        return err;
      auto rec = s.st->begin_next();
      if (!rec)
        return process_result{};
      changed(self, *rec);
      // Answered when the task finishes: at once for a synchronous action.
      auto rp = self->make_response_promise<process_result>();
      s.obs->processing.emplace(rec->t.id, rp);
      start_kept(self, *rec);
      return rp;
    },
    [self](state_atom) {
      auto& st = *self->state.st;
      return to_status(st.name(),
                       agent_board::view{st.inbox_count(),
                                         st.processed_count(), st.busy(),
                                         st.memory_keys()},
                       self->state.ctx->node_name);
    },
    [self](task_atom, const std::string& id) -> caf::result<task_view> {
      auto& s = self->state;
      auto rec = s.st->find(id);
      if (!rec)
        return make_error(errc::task_not_found);
      return view_of(*s.ctx, *s.st, *rec);
    },
    [self](cancel_atom, const std::string& id) -> caf::result<bool> {
      auto& s = self->state;
      if (s.draining)
        return caf::skip;
      if (auto err = refuse_changes(self))
        return err;
      auto rec = s.st->cancel(id);
      if (!rec)
        return false;
      changed(self, *rec);
      auto rp = self->make_response_promise<bool>();
      ack(self, rp, true);
      return rp;
    },
    [self](stop_atom) -> caf::result<bool> {
      if (self->state.draining)
        return caf::skip; // it bounces to the node the agent moves to
      self->delegate(self->state.supervisor, stop_atom::value,
                     self->state.st->name(), std::string{"stopped"});
      return caf::delegated<bool>{};
    },
    [self](conflict_atom) {
      caf::anon_send(self->state.supervisor, stop_atom::value,
                     self->state.st->name(), std::string{"name_conflict"});
    },
    [self](submit_atom, submit_request& req) -> caf::result<task_view> {
      auto& s = self->state;
      if (s.draining)
        return caf::skip;
      if (auto err = refuse_changes(self))
        return err;
      // A retry of a message already taken is answered even when full.
      if (s.st->unfinished_count() >= s.ctx->agents.max_inbox
          && !s.st->knows_message(req.message_id))
        return make_error(errc::inbox_full);
      auto& actions = *s.ctx->actions;
      auto action = req.action.empty() ? s.st->default_action() : req.action;
      auto info = actions.info(action);
      if (!info)
        return make_error(errc::invalid_argument, "unknown action: " + action);
      // Without params, the text fills the action's one parameter.
      auto params = req.params->is_object()
                      ? std::move(req.params)
                      : shared_json{json{{info->text_param, req.text}}};
      if (auto problem = actions.check(action, *params))
        return make_error(errc::invalid_argument, *problem);
      task t;
      t.action = std::move(action);
      t.params = std::move(params);
      t.context_id = req.context_id.empty() ? random_task_id()
                                               + random_task_id()
                                            : std::move(req.context_id);
      t.message_id = std::move(req.message_id);
      t.trace_id = std::move(req.trace_id);
      t.message = std::move(req.message);
      auto submitted = s.st->submit(std::move(t));
      auto& rec = submitted.first;
      if (submitted.second) {
        received(self, rec);
        kick(self);
      }
      auto rp = self->make_response_promise<task_view>();
      // A blocking sender gets its view when the task ends, not now.
      auto answer_now = req.wait_ms == 0 || is_terminal(rec.status);
      if (req.sink || answer_now) {
        auto view = view_of(*s.ctx, *s.st, rec);
        if (req.sink)
          watch(self, rec, view, req.sink, req.seq, req.rpc_id);
        if (answer_now) {
          ack(self, rp, std::move(view));
          return rp;
        }
      }
      auto deadline = self->clock().now()
                      + std::chrono::milliseconds{req.wait_ms};
      s.obs->waiters[rec.t.id].push_back(task_waiter{deadline, rp});
      expect_expiry(self, deadline, rec.t.id);
      return rp;
    },
    [self](abort_atom, const std::string& id) -> caf::result<task_view> {
      auto& s = self->state;
      if (s.draining)
        return caf::skip;
      if (auto err = refuse_changes(self))
        return err;
      auto current = s.st->find(id);
      if (!current)
        return make_error(errc::task_not_found);
      auto info = s.ctx->actions->info(current->t.action);
      task_record rec;
      switch (s.st->cancel_task(id, info && info->cancelable, rec)) {
        case cancel_outcome::not_found:
          return make_error(errc::task_not_found);
        case cancel_outcome::not_cancelable:
          return make_error(errc::not_cancelable, to_string(rec.status));
        default:
          break;
      }
      auto was_running = current->status == task_status::running;
      drop_timers(self, id);
      changed(self, rec);
      if (was_running && rec.t.standard)
        kick(self);
      auto rp = self->make_response_promise<task_view>();
      ack(self, rp, view_of(*s.ctx, *s.st, rec));
      return rp;
    },
    [self](watch_atom, const std::string& id, const caf::actor& sink,
           uint64_t seq, const std::string& rpc_id) -> caf::result<task_view> {
      auto& s = self->state;
      if (s.draining)
        return caf::skip;
      auto rec = s.st->find(id);
      if (!rec)
        return make_error(errc::task_not_found);
      if (is_terminal(rec->status))
        return make_error(errc::task_finished);
      auto view = view_of(*s.ctx, *s.st, *rec);
      watch(self, *rec, view, sink, seq, rpc_id);
      return view;
    },
    [self](info_atom) {
      auto& s = self->state;
      agent_info info{s.st->name(), s.ctx->node_name, s.st->default_action(),
                      s.ctx->actions->names(), {}};
      for (auto& name : info.actions) {
        auto x = s.ctx->actions->info(name);
        info.descriptions.push_back(x ? x->description : std::string{});
      }
      return info;
    },
    [self](run_atom) {
      auto& s = self->state;
      if (s.draining)
        return; // the new node starts it
      if (refuse_changes(self))
        return; // kicked again when the quorum is back (backup_atom)
      auto rec = s.st->begin_standard();
      if (!rec)
        return;
      changed(self, *rec);
      start_kept(self, *rec);
    },
    [self](finish_atom, const std::string& id, json_box& result) {
      if (self->state.retired)
        return;
      finished(self, id, std::move(result.value));
    },
    [self](timer_atom, uint64_t token) {
      if (self->state.retired)
        return;
      auto& timers = self->state.timers;
      auto i = timers.find(token);
      if (i == timers.end())
        return;
      auto fn = std::move(i->second.second);
      timers.erase(i);
      fn();
    },
    [self](handoff_atom) -> caf::result<agent_snapshot, std::string> {
      auto& s = self->state;
      if (s.draining)
        return make_error(errc::shutting_down, "already moving");
      s.draining = true;
      s.leaving = self->make_response_promise<agent_snapshot, std::string>();
      if (s.st->busy())
        self->delayed_send(self, s.ctx->agents.handoff_drain,
                           drained_atom::value);
      auto rp = s.leaving;
      maybe_hand_over(self);
      return rp;
    },
    [self](flush_atom) { flush(self); },
    [self](drained_atom) {
      auto& s = self->state;
      // Still running after the drain time: the task fails here rather
      // than running twice.
      if (s.st->busy() && !s.pending.empty()) {
        auto& x = s.pending.front();
        log::warning("[Agent] " + s.st->name() + ": drain time over with "
                     + std::to_string(s.pending.size())
                     + " changes not kept (oldest: stored "
                     + std::to_string(x.stored) + ", replicated "
                     + std::to_string(x.replicated) + ", backup "
                     + s.backup_node + ")");
      }
      for (auto& rec : s.st->fail_running("node_shutdown")) {
        drop_timers(self, rec.t.id);
        changed(self, rec);
      }
      maybe_hand_over(self);
    },
    [self](retire_atom) -> caf::result<bool> {
      auto& s = self->state;
      // From now on it changes nothing: requests stay in the mailbox and
      // bounce when it quits, running actions are ignored, and no change
      // reaches the store after its removal.
      s.retired = true;
      s.draining = true;
      s.st->board().close(self->id());
      s.st->track_changes(false);
      *s.remains = agent_parcel{};
      forget(*s.ctx, *s.st, *s.obs);
      s.timers.clear();
      // The store and the backup forget it; then it answers and quits.
      struct tally {
        size_t left = 1;
        caf::error err;
      };
      auto t = std::make_shared<tally>();
      auto rp = self->make_response_promise<bool>();
      auto one = [self, rp, t](const caf::error& err) mutable {
        if (err && !t->err)
          t->err = err;
        if (--t->left > 0)
          return;
        if (t->err)
          rp.deliver(t->err);
        else
          rp.deliver(true);
        self->quit();
      };
      auto& name = s.st->name();
      if (s.ctx->store) {
        ++t->left;
        self->request(s.ctx->store, caf::infinite, store_atom::value,
                      removal(name))
          .then([one](bool) mutable { one(caf::error{}); },
                [one](caf::error& err) mutable { one(err); });
      }
      auto backup = s.backup_node.empty()
                      ? replica_actor{}
                      : s.ctx->cluster->keeper_of(s.backup_node);
      if (backup) {
        // Not confirmed: the stop is not acknowledged (the copy could be
        // promoted later).
        ++t->left;
        self->request(backup, std::chrono::seconds(5), store_atom::value,
                      s.ctx->node_name, removal(name))
          .then([one](bool) mutable { one(caf::error{}); },
                [one, name](caf::error& err) mutable {
                  log::warning("[Agent] " + name
                               + ": the backup did not confirm the removal: "
                               + to_string(err));
                  one(make_error(errc::store_failed,
                                 "the backup did not confirm the removal"));
                });
      }
      one(caf::error{});
      return rp;
    },
    [self](backup_atom) {
      auto& s = self->state;
      if (s.retired || !s.ctx->cluster)
        return;
      if (!s.ctx->cluster->quorum()) {
        // Changes waiting for a backup out of reach now are not kept, and
        // the copy is seeded afresh once the quorum is back.
        no_current_backup(self);
        auto err = refuse_changes(self);
        for (auto& x : s.pending)
          if (!x.replicated) {
            x.replicated = true;
            if (!x.err)
              x.err = err;
          }
        settle(self);
        return;
      }
      if (backup_changed(self))
        commit(self, [](const caf::error&) {});
      // Tasks held back while the quorum was lost.
      kick(self);
    },
    [self](expire_atom) {
      self->state.expiry_at.reset();
      expire_waiters(self);
    },
  };
}

} // namespace am
