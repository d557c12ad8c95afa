#include "actors/supervisor.hpp"

#include <caf/all.hpp>

#include "actors/agent.hpp"
#include "core/clock.hpp"
#include "core/events.hpp"
#include "core/log.hpp"
#include "core/placement.hpp"

namespace am {

bool may_restart(std::vector<caf::actor_clock::time_point>& restarts,
                 caf::actor_clock::time_point now,
                 std::chrono::milliseconds window, size_t max_restarts) {
  while (!restarts.empty() && now - restarts.front() >= window)
    restarts.erase(restarts.begin());
  return restarts.size() < max_restarts;
}

namespace {

/// The member holding an agent's replica.
using backup_ref = cluster_view::keeper_ref;

/// A callback to call twice (the store's and the backup's answer): the
/// second call calls `then` with the first error, if any.
std::function<void(const caf::error&)>
after_both(std::function<void(const caf::error&)> then) {
  struct tally {
    size_t left = 2;
    caf::error err;
    std::function<void(const caf::error&)> then;
  };
  auto t = std::make_shared<tally>();
  t->then = std::move(then);
  return [t](const caf::error& err) {
    if (err && !t->err)
      t->err = err;
    if (--t->left == 0)
      t->then(t->err);
  };
}

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
    st->track_changes(ctx->keeps_changes(), everything);
    st->count_tasks(ctx->metrics->task_counts());
    return st;
  }

  /// Hands `d` to the store and calls `then(err)` once it is kept (at once
  /// without a store or a change).
  void store(agent_delta d, std::function<void(const caf::error&)> then) const {
    if (!ctx->store || empty(d)) {
      then(caf::error{});
      return;
    }
    auto name = d.name;
    self->request(ctx->store, caf::infinite, store_atom::value, std::move(d))
      .then([then](bool) { then(caf::error{}); },
            [then, name](caf::error& err) {
              log::error("[Supervisor] " + name
                         + ": a change was not kept: " + to_string(err));
              then(err);
            });
  }

  /// Keeps the changes of a state the supervisor holds (no actor runs on
  /// it) in the store and copies the whole agent to its backup, then calls
  /// `then(err, backup)` (with the backup it tried also on an error: see
  /// `known` and `discard`).
  void keep(agent_state& st,
            std::function<void(const caf::error&, backup_ref)> then) const {
    if (!ctx->keeps_changes()) {
      then(caf::error{}, backup_ref{}); // nothing records changes
      return;
    }
    if (!ctx->cluster) {
      store(st.take_changes(),
            [then](const caf::error& err) { then(err, backup_ref{}); });
      return;
    }
    if (auto err = refuse_changes()) {
      then(err, backup_ref{});
      return;
    }
    auto chosen = std::make_shared<backup_ref>();
    auto one = after_both([then, chosen](const caf::error& err) {
      then(err, *chosen);
    });
    store(st.take_changes(), one);
    auto target = ctx->cluster->backup_for(st.name());
    if (!target) {
      one(caf::error{});
      return;
    }
    *chosen = *target;
    // Bounded: a backup that goes down meanwhile would never answer.
    self
      ->request(target->handle, std::chrono::seconds(5), seed_atom::value,
                ctx->node_name, st.snapshot())
      .then([one](bool) { one(caf::error{}); },
            [one](caf::error& err) { one(err); });
  }

  /// What an agent may assume of its backup after `keep` answered `err`:
  /// on an error, only that a copy may be there (it seeds afresh).
  static backup_ref known(const caf::error& err, backup_ref b) {
    if (err) {
      b.handle = replica_actor{};
      b.incarnation = 0;
    }
    return b;
  }

  /// Undoes a `keep` that failed half-way: the store and the backup forget
  /// what they may have kept of `name`.
  void discard(const std::string& name, const backup_ref& b) const {
    store(removal(name), [](const caf::error&) {});
    if (b.handle)
      caf::anon_send(b.handle, store_atom::value, ctx->node_name,
                     removal(name));
  }

  /// Without the quorum this node starts, stops and adopts nothing.
  caf::error refuse_changes() const {
    return ctx->cluster ? ctx->cluster->refusal() : caf::error{};
  }

  /// Spawns the actor serving `sa` (named `name`) on `parcel`'s state.
  void spawn_agent(supervised_agent& sa, const std::string& name,
                   agent_parcel parcel, backup_ref backup = {}) const {
    // Aliases the state: the board lives and dies with it.
    sa.board = std::shared_ptr<const agent_board>(parcel.st,
                                                  &parcel.st->board());
    auto handle = self->spawn(agent, std::move(parcel.st),
                              std::move(parcel.obs), ctx,
                              supervisor_actor{self}, bus, std::move(backup));
    self->monitor(handle);
    self->state.names[handle.address()] = name;
    // A start, restart or adoption that finished after the node began to
    // shut down (a store commit or a backup was still on its way): the
    // list of agents to stop is taken already, so this one stops now.
    if (self->state.stopping)
      self->send_exit(handle, caf::exit_reason::user_shutdown);
    sa.handle = std::move(handle);
  }

  /// The board owner of a dormant agent: no actor has this id.
  static constexpr uint64_t dormant_owner = ~uint64_t{0};

  /// Keeps `st` as the dormant agent of `sa`, without an actor: workers
  /// read its board, and its first message wakes it (`wake`).
  void rest(supervised_agent& sa, std::shared_ptr<agent_state> st,
            backup_ref backup) const {
    sa.board = std::shared_ptr<const agent_board>(st, &st->board());
    st->open_board(dormant_owner);
    sa.dormant = std::make_unique<dormant_agent>(
      dormant_agent{std::move(st), std::move(backup)});
    ctx->metrics->agents.add(1);
    ctx->metrics->dormant_agents.add(1);
  }

  /// Takes the record of a dormant agent out of `sa` (its actor, if any,
  /// counts itself from now on).
  std::unique_ptr<dormant_agent> take_dormant(supervised_agent& sa) const {
    if (sa.dormant) {
      ctx->metrics->agents.add(-1);
      ctx->metrics->dormant_agents.add(-1);
    }
    return std::move(sa.dormant);
  }

  /// Starts the actor of `st` (a new, recovered or restored agent), or
  /// keeps it dormant if passivation is on and it holds no task.
  void bring_up(supervised_agent& sa, const std::string& name,
                std::shared_ptr<agent_state> st, backup_ref backup) const {
    if (ctx->agents.passivate && st->task_ids().empty())
      rest(sa, std::move(st), std::move(backup));
    else
      spawn_agent(sa, name,
                  agent_parcel{std::move(st),
                               std::make_shared<agent_observers>()},
                  std::move(backup));
  }

  /// Gives a dormant agent its actor and the directory its handle.
  void wake(const std::string& name, supervised_agent& sa) const {
    auto d = take_dormant(sa);
    if (!d)
      return;
    spawn_agent(sa, name,
                agent_parcel{std::move(d->st),
                             std::make_shared<agent_observers>()},
                std::move(d->backup));
    self->send(directory, update_atom::value, entry(name, sa));
  }

  /// Sends a dormant agent's copy where the cluster wants it now, as its
  /// actor would (`reseed` in agent.cpp): the member that held it drops
  /// it. Without waking it: a member joining a node that ran alone would
  /// otherwise wake every agent of that node.
  void reseed_dormant(const std::string& name, dormant_agent& d) const {
    auto target = ctx->cluster->backup_for(name);
    if (target ? target->incarnation == d.backup.incarnation
               : !d.backup.handle)
      return; // where it is
    if (!d.backup.node.empty() && (!target || target->node != d.backup.node))
      if (auto old = ctx->cluster->keeper_of(d.backup.node))
        caf::anon_send(old, store_atom::value, ctx->node_name, removal(name));
    if (!target) {
      d.backup = backup_ref{};
      return;
    }
    // Current once it answered; until then an actor that wakes meanwhile
    // seeds it itself (its backup has no handle).
    d.backup = backup_ref{target->node, replica_actor{}, 0};
    auto e = *this;
    auto st = d.st;
    auto fresh = *target;
    self
      ->request(fresh.handle, caf::infinite, seed_atom::value, ctx->node_name,
                st->snapshot())
      .then(
        [e, name, st, fresh](bool) {
          auto i = e.self->state.agents.find(name);
          if (i != e.self->state.agents.end() && i->second.dormant
              && i->second.dormant->st == st)
            i->second.dormant->backup = fresh;
        },
        [name](caf::error& err) {
          // Tried again at the next change of the members.
          log::warning("[Supervisor] " + name
                       + ": the replica was refused: " + to_string(err));
        });
  }

  /// Stops a dormant agent for good, as its actor would on `retire_atom`:
  /// the store and its backup forget it; `then(err)` once they confirmed.
  void retire_dormant(const std::string& name, dormant_agent& d,
                      std::function<void(caf::error)> then) const {
    d.st->board().close(dormant_owner);
    auto one = after_both(std::move(then));
    store(removal(name), one);
    auto backup = d.backup.node.empty() || !ctx->cluster
                    ? replica_actor{}
                    : ctx->cluster->keeper_of(d.backup.node);
    if (!backup) {
      one(caf::error{});
      return;
    }
    // Not confirmed: the stop is not acknowledged (the copy could be
    // promoted later).
    self
      ->request(backup, std::chrono::seconds(5), store_atom::value,
                ctx->node_name, removal(name))
      .then([one](bool) { one(caf::error{}); },
            [one, name](caf::error& err) {
              log::warning("[Supervisor] " + name
                           + ": the backup did not confirm the removal: "
                           + to_string(err));
              one(make_error(errc::store_failed,
                             "the backup did not confirm the removal"));
            });
  }

  /// Why agent `name` cannot start here: an error, or an answer of its own
  /// (already_exists); nothing if it can, and then `taken` is its new
  /// record (the name is taken from now on).
  std::optional<start_answer> refuse_start(const std::string& name,
                                           const json& memory,
                                           const std::string& action,
                                           supervised_agent*& taken) const {
    auto no = [](caf::error err) {
      return start_answer{start_result{}, std::move(err)};
    };
    if (self->state.leaving_self)
      return no(make_error(errc::shutting_down, "this node is leaving"));
    if (auto err = refuse_changes())
      return no(std::move(err));
    if (auto x = ctx->directory->find(name))
      return start_answer{start_result{"already_exists", name, x->node}, {}};
    auto exists = [&] {
      return start_answer{
        start_result{"already_exists", name, ctx->node_name}, {}};
    };
    if (!memory.is_null() && !memory.is_object())
      return self->state.agents.count(name) > 0
               ? exists()
               : no(make_error(errc::invalid_argument,
                               "memory must be an object"));
    if (!ctx->actions->contains(action.empty() ? "search" : action))
      return self->state.agents.count(name) > 0
               ? exists()
               : no(make_error(errc::invalid_argument,
                               "unknown action: "
                                 + (action.empty() ? "search" : action)));
    // Takes the name (one lookup for the check and the insertion).
    auto [i, fresh] = self->state.agents.try_emplace(name);
    if (!fresh)
      return exists();
    taken = &i->second;
    return std::nullopt;
  }

  /// After `keep` of a new agent: its record, or null if the keep failed
  /// (`err`) or the agent was stopped meanwhile; then what may have been
  /// kept is undone, the name is free again and `why` says what happened.
  supervised_agent* kept_new(const std::string& name, const caf::error& err,
                             const backup_ref& backup, caf::error& why) const {
    auto& agents = self->state.agents;
    auto i = agents.find(name);
    if (!err && i != agents.end())
      return &i->second;
    if (i != agents.end() && !i->second.handle)
      agents.erase(i);
    discard(name, backup);
    why = err ? err : make_error(errc::agent_not_found, name);
    return nullptr;
  }

  /// The state of agent `name`, whose name `refuse_start` took (its actor
  /// starts once the store holds it).
  std::shared_ptr<agent_state> reserve(supervised_agent& sa,
                                       const std::string& name, json memory,
                                       const std::string& action) const {
    auto st = make_state(std::make_shared<agent_state>(
                           name, std::move(memory), ctx->agents.history_limit,
                           action.empty() ? std::string{"search"} : action),
                         true);
    sa.started_at = st->started_at();
    sa.generation = st->generation();
    return st;
  }

  /// Starts a group of agents (the StartAgent calls of a batch, or one):
  /// each is kept, comes up (dormant if it may), and the group's entries go
  /// to the directory in one round; `done` gets one answer per request, in
  /// order.
  void start_group(std::vector<start_request> xs,
                   std::function<void(std::vector<start_answer>)> done) const {
    auto e = *this;
    // The agents that came up, and their entries: one directory round
    // for all of them once every one is kept.
    struct group {
      std::vector<start_answer> out;
      std::vector<size_t> up;
      std::vector<dir_entry> entries;
      size_t left = 1;
    };
    auto g = std::make_shared<group>();
    g->out.resize(xs.size());
    auto one_done = [e, g, done]() mutable {
      if (--g->left > 0)
        return;
      if (g->up.empty()) {
        done(std::move(g->out));
        return;
      }
      e.self
        ->request(e.directory, caf::infinite, put_atom::value,
                  std::move(g->entries))
        .then(
          [e, g, done](std::vector<std::string>& holders) mutable {
            for (size_t k = 0; k < g->up.size(); ++k) {
              auto& out = g->out[g->up[k]];
              auto& name = out.result.agent;
              // This node: the agent's own entry, which a wake or a
              // restart wrote while the group waited for the store.
              if (holders[k].empty() || holders[k] == e.ctx->node_name) {
                e.publish("agent_started", name);
                out.result = start_result{"started", name, e.ctx->node_name};
                continue;
              }
              // Lost a race against an entry from another node.
              if (e.self->state.agents.count(name) > 0)
                e.stop(name, "", [](const caf::error&) {});
              out.result = start_result{"already_exists", name, holders[k]};
            }
            done(std::move(g->out));
          },
          [g, done](caf::error& err) mutable {
            for (auto i : g->up)
              g->out[i].error = err;
            done(std::move(g->out));
          });
    };
    g->up.reserve(xs.size());
    g->entries.reserve(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      auto& x = xs[i];
      supervised_agent* taken = nullptr;
      if (auto no = e.refuse_start(x.name, x.memory.value, x.default_action,
                                   taken)) {
        g->out[i] = std::move(*no);
        continue;
      }
      auto st = e.reserve(*taken, x.name, std::move(x.memory.value),
                          x.default_action);
      ++g->left;
      e.keep(*st, [e, st, g, i, name{x.name},
                   one_done](const caf::error& err,
                             backup_ref backup) mutable {
        auto* taken = e.kept_new(name, err, backup, g->out[i].error);
        if (taken) {
          e.bring_up(*taken, name, std::move(st), std::move(backup));
          g->out[i].result.agent = name;
          g->up.push_back(i);
          g->entries.push_back(e.entry(name, *taken));
        }
        one_done();
      });
    }
    one_done();
  }

  /// Logs tasks the supervisor failed (the agent was gone): a warning
  /// with the task's trace id in JSON logs.
  static void log_failed(const std::string& name,
                         const std::vector<task_record>& failed,
                         const std::string& reason) {
    for (auto& rec : failed)
      log::write_event(log::level::warning,
                       "[Supervisor] task " + rec.t.id + " of agent " + name
                         + " failed: " + reason,
                       dump(json{{"agent", name},
                                 {"task_id", rec.t.id},
                                 {"reason", reason},
                                 {"trace_id", rec.t.trace_id}}));
  }

  void publish(const char* event_name, const std::string& name,
               json extra = json::object()) const {
    if (!ctx->wants_agent_events())
      return;
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

  dir_entry entry(const std::string& name, const supervised_agent& sa) const {
    return dir_entry{name,          ctx->node_name, sa.handle,
                     sa.started_at, sa.generation,  sa.board};
  }

  /// Members that may take `name`, best first (rendezvous hashing).
  std::vector<std::pair<std::string, supervisor_actor>>
  targets_for(const std::string& name) const {
    auto& st = self->state;
    std::vector<std::string> nodes;
    for (auto& kvp : st.peers)
      if (st.leaving.count(kvp.first) == 0)
        nodes.push_back(kvp.first);
    std::vector<std::pair<std::string, supervisor_actor>> result;
    for (auto& node : rendezvous_order(name, std::move(nodes)))
      result.emplace_back(node, st.peers.at(node));
    return result;
  }

  /// Moves every local agent to a member; `done(moved)` at the end.
  void hand_off_all(std::function<void(size_t)> done) const {
    auto& st = self->state;
    st.leaving_self = true;
    std::vector<std::string> names;
    for (auto& kvp : st.agents)
      if ((kvp.second.handle || kvp.second.dormant) && !kvp.second.moving)
        names.push_back(kvp.first);
    struct tally {
      size_t pending;
      size_t moved = 0;
      std::function<void(size_t)> done;
    };
    auto t = std::make_shared<tally>(tally{names.size() + 1, 0, done});
    auto one_done = [t](bool moved) {
      if (moved)
        ++t->moved;
      if (--t->pending == 0)
        t->done(t->moved);
    };
    auto takers = std::count_if(
      st.peers.begin(), st.peers.end(),
      [&](const auto& kvp) { return st.leaving.count(kvp.first) == 0; });
    if (takers == 0) {
      if (!names.empty())
        log::warning("[Supervisor] no member to hand "
                     + std::to_string(names.size()) + " agents to");
      done(0);
      return;
    }
    for (auto& name : names)
      hand_off(name, one_done);
    one_done(false);
  }

  /// Moves one agent: it drains and hands over its state, a member adopts
  /// it, then this node's store forgets it. The agent always answers (its
  /// drain time is bounded); if it crashes meanwhile, the supervisor moves
  /// what it left (see `restart`).
  void hand_off(const std::string& name, std::function<void(bool)> done) const {
    auto& sa = self->state.agents[name];
    if (sa.dormant) {
      // Nothing runs on a dormant agent: its state moves as it is. Resolves
      // of it wait for the move from now on (no handle, no record).
      auto d = take_dormant(sa);
      d->st->board().close(dormant_owner);
      sa.moving = true;
      sa.moved = done;
      sa.backup = d->backup.node;
      self->send(directory, move_atom::value, name, true);
      place(name, std::make_shared<agent_snapshot>(d->st->snapshot()));
      return;
    }
    sa.moving = true;
    sa.moved = done;
    auto handle = sa.handle;
    self->send(directory, move_atom::value, name, true);
    auto e = *this;
    self->request(handle, caf::infinite, handoff_atom::value)
      .then(
        [e, name, handle](agent_snapshot& snap, std::string& backup) {
          // The actor quits now: not a crash.
          e.self->state.names.erase(handle.address());
          e.self->state.agents[name].backup = std::move(backup);
          e.place(name, std::make_shared<agent_snapshot>(std::move(snap)));
        },
        [e, name, handle](caf::error& err) {
          // It died before it answered: what it left arrives with its
          // down_msg, and `restart` moves that.
          if (err == caf::sec::request_receiver_down)
            return;
          // Refused (it was moving already): it stays.
          log::warning("[Supervisor] agent " + name
                       + " did not hand over: " + to_string(err));
          auto i = e.self->state.agents.find(name);
          if (i == e.self->state.agents.end() || i->second.handle != handle)
            return;
          auto done = std::move(i->second.moved);
          i->second.moving = false;
          e.self->send(e.directory, move_atom::value, name, false);
          e.answer_waiting(name, i->second.handle);
          if (done)
            done(false);
        });
  }

  /// Offers a drained agent to the members in rendezvous order.
  void place(const std::string& name,
             std::shared_ptr<agent_snapshot> snap) const {
    place(name, std::move(snap), targets_for(name), 0);
  }

  /// Calls (and forgets) the completion callback of a moving agent.
  void moved(const std::string& name, bool ok) const {
    auto i = self->state.agents.find(name);
    if (i == self->state.agents.end() || !i->second.moved)
      return;
    auto done = std::move(i->second.moved);
    i->second.moved = nullptr;
    done(ok);
  }

  void place(const std::string& name, std::shared_ptr<agent_snapshot> snap,
             std::vector<std::pair<std::string, supervisor_actor>> order,
             size_t i) const {
    auto e = *this;
    if (i == order.size()) {
      // Nobody took it: it stays (its store rows are current).
      log::error("[Supervisor] no member took agent " + name
                 + "; it stays on this node");
      // A full rewrite: the changes of a crash while moving were not kept.
      auto st = make_state(std::make_shared<agent_state>(
                             *snap, ctx->agents.history_limit),
                           true);
      index(*st);
      auto& sa = self->state.agents[name];
      sa.moving = false;
      // Its copy may still be where it was: seeded afresh (or dropped
      // there) with the next change.
      spawn_agent(
        sa, name, agent_parcel{st, std::make_shared<agent_observers>()},
        backup_ref{sa.backup, replica_actor{}, 0});
      self->send(directory, update_atom::value, entry(name, sa));
      self->send(directory, move_atom::value, name, false);
      answer_waiting(name, sa.handle);
      moved(name, false);
      return;
    }
    auto target = order[i];
    auto generation = snap->header.generation + 1;
    auto started_at = snap->header.started_at;
    // Long enough for a busy target (its commit and directory round);
    // a timeout is not taken as a refusal (the adopt may have happened).
    self
      ->request(target.second, std::chrono::seconds(10), adopt_atom::value,
                *snap, std::string{"handoff"})
      .then(
        [e, name, target, snap, generation, started_at](agent_actor& fresh) {
          // The replica this node kept up goes (the new host seeded its
          // own backup).
          e.drop_replica(name);
          // Our directory learns the move now (not only when the new
          // node's broadcast arrives), and late resolves find it.
          caf::anon_send(e.directory, replicate_atom::value,
                         dir_entry{name, target.first, fresh, started_at,
                                   generation});
          e.self->state.moved_to[name] = fresh;
          for (auto& t : snap->tasks)
            e.ctx->tasks->erase(t.id);
          e.store(removal(name), [e, name, fresh,
                                  target](const caf::error&) {
            e.moved(name, true);
            e.self->state.agents.erase(name);
            e.answer_waiting(name, fresh);
            log::info("[Supervisor] agent " + name + " moved to "
                      + target.first);
            e.publish("agent_stopped", name,
                      json{{"reason", "handoff"}, {"to", target.first}});
          });
        },
        [e, name, snap, order, i](caf::error& err) {
          log::warning("[Supervisor] " + order[i].first + " did not adopt "
                       + name + ": " + to_string(err));
          if (err == caf::sec::request_timeout) {
            // Unknown outcome: trying another member could make a second
            // copy. It stays here; if the target did adopt it, its higher
            // generation wins and this copy stops.
            e.place(name, snap, {}, 0);
            return;
          }
          e.place(name, snap, order, i + 1);
        });
  }

  /// Sends the removal of `name` to the member that kept its replica while
  /// it was hosted here (recorded when it handed over).
  void drop_replica(const std::string& name) const {
    auto i = self->state.agents.find(name);
    if (!ctx->cluster || i == self->state.agents.end())
      return;
    if (auto k = ctx->cluster->keeper_of(i->second.backup))
      caf::anon_send(k, store_atom::value, ctx->node_name, removal(name));
  }

  /// Starts an agent that comes from another node with generation + 1:
  /// moved here (`handoff`, its running task failed with node_shutdown)
  /// or promoted from its replica (`failover`, node_down). Calls `done`
  /// with its handle once it is kept and every member knows its entry.
  void adopt(const agent_snapshot& snap, const std::string& reason,
             std::function<void(caf::expected<agent_actor>)> done) const {
    auto& st = self->state;
    auto name = snap.header.name;
    if (st.leaving_self) {
      done(make_error(errc::shutting_down, "this node is leaving"));
      return;
    }
    if (st.agents.count(name) > 0) {
      done(make_error(errc::invalid_argument,
                      "agent " + name + " already runs here"));
      return;
    }
    auto state = std::make_shared<agent_state>(snap, ctx->agents.history_limit);
    state->incarnate(snap.header.started_at, snap.header.generation + 1);
    // Tasks failed here count here.
    state->count_tasks(ctx->metrics->task_counts());
    auto why = reason == "failover" ? "node_down" : "node_shutdown";
    log_failed(name, state->fail_running(why), why);
    state = make_state(state, true);
    index(*state);
    auto& sa = st.agents[name];
    sa.started_at = state->started_at();
    sa.generation = state->generation();
    auto e = *this;
    keep(*state, [e, state, name, reason, done](const caf::error& err,
                                                backup_ref backup) mutable {
      auto i = e.self->state.agents.find(name);
      // A promoted copy starts even if its new backup failed: it seeds one
      // with its next change (the copy exists nowhere else any more).
      auto fatal = err && reason != "failover";
      if (err && !fatal)
        log::warning("[Supervisor] " + name + " starts without a backup: "
                     + to_string(err));
      if (fatal || i == e.self->state.agents.end()) {
        if (i != e.self->state.agents.end() && !i->second.handle)
          e.self->state.agents.erase(i);
        e.discard(name, backup);
        done(err ? err : make_error(errc::agent_not_found, name));
        return;
      }
      auto& sa = i->second;
      e.spawn_agent(
        sa, name, agent_parcel{state, std::make_shared<agent_observers>()},
        known(err, std::move(backup)));
      state.reset();
      // Answer once every member knows the new entry: the old node then
      // receives no more requests for it.
      auto handle = sa.handle;
      e.self
        ->request(e.directory, caf::infinite, move_atom::value,
                  e.entry(name, sa))
        .then([e, name, reason, handle, done](bool) mutable {
          e.publish("agent_started", name, json{{"reason", reason}});
          done(handle);
        });
    });
  }

  /// `node` went down and this side holds the quorum: its agents whose
  /// replica is here start here, unless they run elsewhere already (moved
  /// before it went down).
  void fail_over(const std::string& node, std::vector<agent_snapshot>& xs) const {
    auto t0 = std::chrono::steady_clock::now();
    auto pending = std::make_shared<size_t>(xs.size() + 1);
    auto started = std::make_shared<size_t>(0);
    auto one_done = [pending, started, node, t0] {
      if (--*pending > 0 || *started == 0)
        return;
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
      log::info("[Supervisor] failover of " + node + ": "
                + std::to_string(*started) + " agents started in "
                + std::to_string(ms.count()) + " ms");
    };
    for (auto& x : xs) {
      auto& name = x.header.name;
      auto e = ctx->directory->find(name);
      if (e && e->node != node && e->generation > x.header.generation) {
        one_done();
        continue;
      }
      adopt(x, "failover",
            [one_done, started, name](caf::expected<agent_actor> h) {
              if (h)
                ++*started;
              else
                log::warning("[Supervisor] failover of " + name
                             + " failed: " + to_string(h.error()));
              one_done();
            });
    }
    one_done();
  }

  /// The members changed: every agent checks where its replica goes.
  void rebalance() const {
    if (!ctx->cluster)
      return;
    // Moving ones too: a drained agent hands over only once its changes
    // are kept, which may need a new backup.
    for (auto& kvp : self->state.agents) {
      auto& sa = kvp.second;
      if (sa.dormant) {
        reseed_dormant(kvp.first, *sa.dormant);
        continue;
      }
      if (sa.handle)
        self->send(sa.handle, backup_atom::value);
    }
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
    forget(*ctx, *p.st, *p.obs);
    store(removal(name), [](const caf::error&) {});
  }

  /// An agent actor terminated: restarts it once both its down_msg and
  /// what it left have arrived (in either order).
  void on_down(const caf::down_msg& dm) const {
    auto& st = self->state;
    if (st.stopping || st.names.count(dm.source) == 0)
      return; // retired on purpose, or the node is going
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
    log_failed(name, failed, "agent_crashed");
    if (sa.moving) {
      // It crashed while draining for a move: move what it left.
      for (auto& rec : failed)
        announce(*ctx, *parcel.st, *parcel.obs, rec, true);
      abandon(*parcel.obs, name);
      place(name, std::make_shared<agent_snapshot>(parcel.st->snapshot()));
      return;
    }
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
    if (ctx->metrics->enabled)
      ctx->metrics->agent_restarts.inc();
    sa.handle = agent_actor{};
    auto reason = self->system().render(why);
    auto e = *this;
    auto p = std::make_shared<agent_parcel>(std::move(parcel));
    keep(*p->st, [e, p, name, failed, reason](const caf::error& err,
                                              backup_ref backup) {
      for (auto& rec : failed)
        announce(*e.ctx, *p->st, *p->obs, rec, true);
      auto i = e.self->state.agents.find(name);
      if (i == e.self->state.agents.end()) {
        e.bury(*p); // stopped while we waited for the store
        return;
      }
      // Tasks announced by the dead actor may be missing from the index.
      e.index(*p->st);
      e.spawn_agent(i->second, name, std::move(*p),
                    known(err, std::move(backup)));
      log::info("[Supervisor] restarted agent " + name + " after " + reason);
      e.self->send(e.directory, update_atom::value, e.entry(name, i->second));
      e.answer_waiting(name, i->second.handle);
    });
  }

  /// Stops a local agent for good: it leaves the store, then the directory.
  /// An empty `reason`: it was never announced, so no event either.
  void stop(const std::string& name, const std::string& reason,
            std::function<void(const caf::error&)> done) const {
    auto& st = self->state;
    moved(name, false);
    auto i = st.agents.find(name);
    auto handle = i->second.handle; // invalid if dormant
    auto dormant = take_dormant(i->second);
    if (handle)
      st.names.erase(handle.address());
    st.agents.erase(i);
    answer_waiting(name, agent_actor{});
    auto e = *this;
    auto leave = [e, name, reason, handle, done](caf::error err) mutable {
      e.self
        ->request(e.directory, caf::infinite, erase_atom::value, name, handle)
        .then([e, name, reason, done, err](bool) mutable {
          if (!reason.empty())
            e.publish("agent_stopped", name, json{{"reason", reason}});
          done(err);
        });
    };
    if (dormant) {
      retire_dormant(name, *dormant, std::move(leave));
      return;
    }
    self->request(handle, caf::infinite, retire_atom::value)
      .then([leave](bool) mutable { leave(caf::error{}); },
            [leave](caf::error& err) mutable {
              // It crashed meanwhile (its down_msg buries what it left), or
              // its backup did not confirm the removal.
              leave(code_of(err) == 0 ? caf::error{} : std::move(err));
            });
  }
};

} // namespace

supervisor_actor::behavior_type supervisor(supervisor_pointer self,
                                           node_context_ptr ctx,
                                           directory_actor directory,
                                           event_bus_actor bus) {
  env e{self, std::move(ctx), std::move(directory), std::move(bus)};
  // The directory stops dormant agents that lose a name conflict here.
  self->send(e.directory, watch_atom::value, caf::actor_cast<caf::actor>(self));
  self->set_down_handler([e](caf::down_msg& dm) { e.on_down(dm); });
  // A request without an error handler of its own (the directory or a
  // peer gone, as at shutdown) must not take the supervisor down with it:
  // agents are not linked to it, and nobody would stop them.
  self->set_error_handler([](caf::error& err) {
    log::debug("[Supervisor] a request failed: " + to_string(err));
  });
  // Agents are not linked to us: take them down when we are told to go.
  self->set_exit_handler([self, e](caf::exit_msg& em) {
    // Dormant agents end with the supervisor: readers stop seeing them.
    for (auto& kvp : self->state.agents)
      if (auto d = e.take_dormant(kvp.second))
        d->st->board().close(env::dormant_owner);
    // After shutdown_atom the caller has stopped them already (in batches,
    // see app/node.cpp); a second exit to a dead actor costs nothing, and
    // stops any agent the caller could not know of.
    for (auto& kvp : self->state.agents)
      if (kvp.second.handle)
        self->send_exit(kvp.second.handle, em.reason);
    self->quit(em.reason);
  });
  return {
    [e](start_atom, std::string& name, json_box& memory,
        std::string& default_action) -> caf::result<start_result> {
      auto rp = e.self->make_response_promise<start_result>();
      std::vector<start_request> one;
      one.push_back(start_request{std::move(name), std::move(memory),
                                  std::move(default_action)});
      e.start_group(std::move(one),
                    [rp](std::vector<start_answer> xs) mutable {
                      if (xs.front().error)
                        rp.deliver(std::move(xs.front().error));
                      else
                        rp.deliver(std::move(xs.front().result));
                    });
      return rp;
    },
    [e](start_atom, std::vector<start_request>& xs)
      -> caf::result<std::vector<start_answer>> {
      auto rp = e.self->make_response_promise<std::vector<start_answer>>();
      e.start_group(std::move(xs), [rp](std::vector<start_answer> out) mutable {
        rp.deliver(std::move(out));
      });
      return rp;
    },
    [e](resolve_atom, const std::string& name,
        const agent_actor& failed) -> caf::result<agent_actor> {
      auto& st = e.self->state;
      auto i = st.agents.find(name);
      if (i == st.agents.end()) {
        // Moved away: callers that were late follow it.
        if (auto m = st.moved_to.find(name); m != st.moved_to.end())
          return m->second;
        // A dormant agent of a member: its supervisor wakes it. Only for
        // callers of this node (a delegated request is not passed on).
        auto x = e.ctx->directory->find(name);
        auto sender = e.self->current_sender();
        if (x && x->node != e.ctx->node_name && sender
            && sender->node() == e.self->node())
          if (auto p = st.peers.find(x->node); p != st.peers.end())
            return e.self->delegate(p->second, resolve_atom::value, name,
                                    failed);
        return agent_actor{};
      }
      if (i->second.dormant) {
        // The directory may hold a member's entry that won the name (this
        // record is about to stop): no wake for a copy the cluster does not
        // want.
        auto x = e.ctx->directory->find(name);
        if (x && x->node != e.ctx->node_name)
          return agent_actor{};
        e.wake(name, i->second);
      }
      if (i->second.handle && i->second.handle != failed
          && !i->second.moving)
        return i->second.handle;
      // Its down_msg has not reached us yet: answer after the restart.
      auto rp = e.self->make_response_promise<agent_actor>();
      st.waiting.emplace(name, rp);
      return rp;
    },
    [e](stop_atom, const std::string& name,
        const std::string& reason) -> caf::result<bool> {
      auto i = e.self->state.agents.find(name);
      if (i == e.self->state.agents.end()
          || (!i->second.handle && !i->second.dormant))
        return false;
      // A lost name conflict stops the copy the cluster no longer wants,
      // quorum or not.
      if (reason != "name_conflict")
        if (auto err = e.refuse_changes())
          return err;
      if (i->second.moving)
        return make_error(errc::shutting_down, "the agent is moving");
      auto rp = e.self->make_response_promise<bool>();
      e.stop(name, reason, [rp](const caf::error& err) mutable {
        if (err)
          rp.deliver(err);
        else
          rp.deliver(true);
      });
      return rp;
    },
    [e](adopt_atom, agent_snapshot& snap, const std::string& reason) {
      auto rp = e.self->make_response_promise<agent_actor>();
      e.adopt(snap, reason, [rp](caf::expected<agent_actor> x) mutable {
        if (x)
          rp.deliver(std::move(*x));
        else
          rp.deliver(std::move(x.error()));
      });
      return rp;
    },
    [e](handoff_atom) -> caf::result<size_t> {
      auto rp = e.self->make_response_promise<size_t>();
      e.hand_off_all([rp](size_t n) mutable { rp.deliver(n); });
      return rp;
    },
    [e](peer_up_atom, const std::string& node, const caf::actor& peer) {
      auto& st = e.self->state;
      st.peers[node] = caf::actor_cast<supervisor_actor>(peer);
      st.leaving.erase(node);
      e.rebalance();
    },
    [e](peer_down_atom, const std::string& node) {
      e.self->state.peers.erase(node);
      e.self->state.leaving.erase(node);
      e.rebalance();
    },
    [e](backup_atom) {
      e.rebalance();
    },
    [e](failover_atom, const std::string& node,
        std::vector<agent_snapshot>& xs) {
      e.fail_over(node, xs);
    },
    [e](leave_atom, const std::string& node) {
      // Our own name: this node is about to hand its agents off and takes
      // no more (set before the members hear of it).
      if (node == e.ctx->node_name) {
        e.self->state.leaving_self = true;
      } else {
        e.self->state.leaving.insert(node);
        e.rebalance();
      }
    },
    [e](crash_atom, agent_parcel& parcel) {
      if (parcel.st && !e.self->state.stopping)
        e.on_remains(parcel);
    },
    [e](shutdown_atom) {
      auto& st = e.self->state;
      st.stopping = true;
      st.leaving_self = true;
      std::vector<agent_actor> result;
      result.reserve(st.agents.size());
      for (auto& kvp : st.agents)
        if (kvp.second.handle)
          result.push_back(kvp.second.handle);
      return result;
    },
    [e](adopt_atom,
        std::vector<agent_snapshot>& xs) -> caf::result<size_t> {
      auto self = e.self;
      auto rp = self->make_response_promise<size_t>();
      auto pending = std::make_shared<size_t>(xs.size() + 1);
      auto adopted = std::make_shared<size_t>(0);
      // The answer waits until the directory holds every recovered agent:
      // the node answers /a2a right after it, and ListAgents reads the map.
      auto one_done = [self, dir = e.directory, rp, pending,
                       adopted]() mutable {
        if (--*pending > 0)
          return;
        self->request(dir, caf::infinite, sync_atom::value)
          .then([rp, adopted](bool) mutable { rp.deliver(*adopted); },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
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
        // It was running when the node died: failed, never run again. The
        // task ended with the process that died (and a member may have
        // failed it already, by failover): not counted again here.
        st->count_tasks(nullptr);
        env::log_failed(name, st->fail_running("agent_crashed"),
                        "agent_crashed");
        st->count_tasks(e.ctx->metrics->task_counts());
        e.index(*st);
        auto& fresh = self->state.agents[name];
        fresh.started_at = st->started_at();
        fresh.generation = st->generation();
        e.keep(*st, [e, st, name, adopted,
                     one_done](const caf::error& err,
                               backup_ref backup) mutable {
          auto i = e.self->state.agents.find(name);
          if (i == e.self->state.agents.end()) {
            one_done();
            return;
          }
          auto& sa = i->second;
          e.bring_up(sa, name, std::move(st), e.known(err, std::move(backup)));
          e.self->send(e.directory, update_atom::value, e.entry(name, sa));
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
