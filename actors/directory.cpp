#include "actors/directory.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>

#include "actors/log.hpp"

namespace am {

bool wins_conflict(const dir_entry& x, const dir_entry& y) {
  if (x.started_at != y.started_at)
    return x.started_at < y.started_at;
  return x.node < y.node;
}

namespace {

void watch(directory_pointer self, const dir_entry& entry) {
  if (!entry.handle)
    return;
  self->monitor(entry.handle);
  self->state.watched[entry.handle.address()] = entry.name;
}

/// Sends `xs...` to every peer directory and calls `done` once each one
/// applied it (or failed to answer within `timeout`).
template <class... Ts>
void to_peers(directory_pointer self, std::chrono::milliseconds timeout,
              std::function<void()> done, Ts... xs) {
  auto pending = std::make_shared<size_t>(self->state.peers.size());
  if (*pending == 0) {
    if (done)
      done();
    return;
  }
  auto one_done = [pending, done] {
    if (--*pending == 0 && done)
      done();
  };
  for (auto& kvp : self->state.peers)
    self->request(kvp.second, timeout, xs...)
      .then([one_done](bool) { one_done(); },
            [one_done](caf::error&) { one_done(); });
}

std::vector<dir_entry> local_entries(const node_context_ptr& ctx) {
  std::vector<dir_entry> result;
  ctx->directory->for_each([&](const std::string&, const dir_entry& e) {
    if (e.node == ctx->node_name)
      result.push_back(e);
  });
  return result;
}

/// Applies an entry that a peer reports (snapshot or replication).
void apply_remote(directory_pointer self, const node_context_ptr& ctx,
                  const dir_entry& entry) {
  auto& map = *ctx->directory;
  auto existing = map.find(entry.name);
  if (!existing || existing->node == entry.node) {
    map.assign(entry.name, entry);
    return;
  }
  if (!wins_conflict(entry, *existing))
    return; // ours (or the entry we know) wins; its node stops the other
  map.assign(entry.name, entry);
  if (existing->node == ctx->node_name) {
    log::warning("[Directory] name conflict: " + entry.name + " on "
                 + entry.node + " wins; stopping the local agent");
    self->send(existing->handle, conflict_atom::value);
  }
}

/// Replaces what we hold of `node`'s agents with its complete list.
void resync(directory_pointer self, const node_context_ptr& ctx,
            const std::string& node, const std::vector<dir_entry>& entries) {
  if (self->state.peers.count(node) == 0)
    return;
  // Entries of that node we still hold but it no longer has are stale.
  std::set<std::string> names;
  for (auto& e : entries)
    names.insert(e.name);
  ctx->directory->erase_all_if([&](const std::string& name,
                                    const dir_entry& e) {
    return e.node == node && names.count(name) == 0;
  });
  for (auto& e : entries)
    apply_remote(self, ctx, e);
}

/// Asks every peer with `xs...` in parallel; `done(result)` gets the first
/// answer accepted by `accept`, or `fallback` when none (after at most
/// `timeout`).
template <class T, class Accept, class Done, class... Ts>
void ask_peers(directory_pointer self, std::chrono::milliseconds timeout,
               T fallback, Accept accept, Done done, Ts... xs) {
  struct fan_out {
    size_t pending;
    bool finished = false;
  };
  auto st = std::make_shared<fan_out>(fan_out{self->state.peers.size()});
  if (st->pending == 0)
    return done(std::move(fallback));
  auto finish_one = [st, fallback, done]() mutable {
    if (--st->pending == 0 && !st->finished) {
      st->finished = true;
      done(std::move(fallback));
    }
  };
  for (auto& kvp : self->state.peers) {
    self->request(kvp.second, timeout, xs...)
      .then(
        [st, accept, done, finish_one](T& x) mutable {
          if (!st->finished && accept(x)) {
            st->finished = true;
            done(std::move(x));
            return;
          }
          finish_one();
        },
        [finish_one](caf::error&) mutable { finish_one(); });
  }
}

/// The local entry of the agent holding task `id`, if this node has it.
std::optional<dir_entry> task_holder(const node_context_ptr& ctx,
                                     const std::string& id) {
  auto t = ctx->tasks->find(id);
  if (!t)
    return std::nullopt;
  auto e = ctx->directory->find(t->agent);
  if (!e || e->node != ctx->node_name)
    return std::nullopt;
  return e;
}

/// Newest first: by status time, then by id.
bool newer(int64_t xus, const std::string& xid, int64_t yus,
           const std::string& yid) {
  return xus != yus ? xus > yus : xid > yid;
}

bool newer_view(const task_view& x, const task_view& y) {
  return newer(x.updated_us, x.task_id, y.updated_us, y.task_id);
}

/// Merges `other` into `page`, keeping the newest `n` tasks.
void merge_page(task_page& page, task_page other, size_t n) {
  page.total += other.total;
  page.remaining += other.remaining;
  for (auto& t : other.tasks)
    page.tasks.push_back(std::move(t));
  std::sort(page.tasks.begin(), page.tasks.end(), newer_view);
  if (page.tasks.size() > n)
    page.tasks.resize(n);
}

/// The tasks of this node's agents that match `q`: counts, and the first
/// page after the cursor, fetched from the agents.
void local_page(directory_pointer self, const node_context_ptr& ctx,
                const task_query& q, std::chrono::milliseconds timeout,
                std::function<void(task_page)> done) {
  struct row {
    int64_t us;
    std::string id;
    std::string agent;
  };
  std::vector<row> rows;
  task_page page;
  bool has_cursor = q.cursor_us != 0 || !q.cursor_id.empty();
  ctx->tasks->for_each([&](const std::string& id, const task_entry& t) {
    if ((!q.status.empty() && t.status != q.status)
        || (!q.context_id.empty() && t.context_id != q.context_id)
        || (q.updated_after_us != 0 && t.updated_us <= q.updated_after_us))
      return;
    ++page.total;
    if (has_cursor && !newer(q.cursor_us, q.cursor_id, t.updated_us, id))
      return;
    ++page.remaining;
    rows.push_back(row{t.updated_us, id, t.agent});
  });
  size_t n = std::min<size_t>(q.page_size, rows.size());
  std::partial_sort(rows.begin(), rows.begin() + n, rows.end(),
                    [](const row& x, const row& y) {
                      return newer(x.us, x.id, y.us, y.id);
                    });
  rows.resize(n);
  struct gather {
    task_page page;
    size_t pending;
    std::function<void(task_page)> done;
  };
  auto g = std::make_shared<gather>(gather{std::move(page), 0, std::move(done)});
  std::vector<std::pair<agent_actor, std::string>> asks;
  for (auto& r : rows)
    if (auto e = ctx->directory->find(r.agent); e && e->node == ctx->node_name)
      asks.emplace_back(e->handle, r.id);
  g->pending = asks.size();
  if (g->pending == 0)
    return g->done(std::move(g->page));
  auto one_done = [g] {
    if (--g->pending > 0)
      return;
    std::sort(g->page.tasks.begin(), g->page.tasks.end(), newer_view);
    g->done(std::move(g->page));
  };
  for (auto& [handle, id] : asks)
    self->request(handle, timeout, task_atom::value, id)
      .then(
        [g, one_done](task_view& v) {
          g->page.tasks.push_back(std::move(v));
          one_done();
        },
        [one_done](caf::error&) { one_done(); });
}

} // namespace

directory_actor::behavior_type directory(directory_pointer self,
                                         node_context_ptr ctx,
                                         std::chrono::milliseconds timeout) {
  self->set_down_handler([=](caf::down_msg& dm) {
    auto i = self->state.watched.find(dm.source);
    if (i == self->state.watched.end())
      return;
    auto name = i->second;
    self->state.watched.erase(i);
    // A crashed agent keeps its entry: its supervisor either points it at
    // the restarted actor or removes it (restart limit), so the name never
    // disappears during a restart.
    if (dm.reason && dm.reason != caf::exit_reason::user_shutdown)
      return;
    auto erased = ctx->directory->erase_if(name, [&](const dir_entry& e) {
      return e.handle.address() == dm.source;
    });
    if (erased)
      to_peers(self, timeout, nullptr, erase_atom::value, name,
               ctx->node_name);
  });
  return {
    [=](put_atom, dir_entry& entry) -> caf::result<std::string> {
      if (auto existing = ctx->directory->find(entry.name))
        return existing->node;
      watch(self, entry);
      ctx->directory->insert(entry.name, entry);
      // Answer once every connected node knows the name: a StartAgent for
      // it anywhere afterwards gets already_exists.
      auto rp = self->make_response_promise<std::string>();
      to_peers(self, timeout, [rp]() mutable { rp.deliver(std::string{}); },
               replicate_atom::value, entry);
      return rp;
    },
    [=](update_atom, dir_entry& entry) {
      watch(self, entry);
      auto existing = ctx->directory->find(entry.name);
      if (existing && existing->node != ctx->node_name
          && wins_conflict(*existing, entry)) {
        // Lost a name conflict while restarting: the conflict message went
        // to the dead actor, so tell the new one.
        self->send(entry.handle, conflict_atom::value);
        return;
      }
      auto name = entry.name;
      ctx->directory->assign(name, entry);
      to_peers(self, timeout, nullptr, replicate_atom::value, entry);
    },
    [=](erase_atom, const std::string& name,
        const agent_actor& handle) -> caf::result<bool> {
      auto erased = ctx->directory->erase_if(
        name, [&](const dir_entry& e) { return e.handle == handle; });
      if (!erased)
        return false;
      // Answer once every connected node forgot it ("removed everywhere").
      auto rp = self->make_response_promise<bool>();
      to_peers(self, timeout, [rp]() mutable { rp.deliver(true); },
               erase_atom::value, name, ctx->node_name);
      return rp;
    },
    // Changes from nodes that are not (or no longer) members are ignored:
    // when a node becomes a member we pull its complete state anyway.
    [=](replicate_atom, const dir_entry& entry) {
      if (self->state.peers.count(entry.node) > 0)
        apply_remote(self, ctx, entry);
      return true;
    },
    [=](erase_atom, const std::string& name, const std::string& node) {
      if (self->state.peers.count(node) > 0)
        ctx->directory->erase_if(
          name, [&](const dir_entry& e) { return e.node == node; });
      return true;
    },
    [=](peer_up_atom, const std::string& node, const caf::actor& peer) {
      auto dir = caf::actor_cast<directory_actor>(peer);
      self->state.peers[node] = dir;
      // Our local entries go straight to the peer's directory, ahead of any
      // later replication from us (same sender, same order).
      self->send(dir, sync_atom::value, ctx->node_name,
                 local_entries(ctx));
      // And ask for theirs: a sync they pushed before we purged an earlier
      // incarnation of that node may have been wiped by the purge.
      self->request(dir, timeout, caf::get_atom::value)
        .then(
          [=](std::vector<dir_entry>& entries) {
            // Applied right here, in arrival order: a snapshot sent to
            // ourselves could overtake a fresher sync or replication.
            resync(self, ctx, node, entries);
          },
          [](caf::error&) {
            // The peer went away again; its down handling cleans up.
          });
    },
    [=](sync_atom, const std::string& node,
        const std::vector<dir_entry>& entries) {
      resync(self, ctx, node, entries);
    },
    [=](peer_down_atom, const std::string& node) {
      self->state.peers.erase(node);
      ctx->directory->erase_all_if(
        [&](const std::string&, const dir_entry& e) { return e.node == node; });
      return true;
    },
    [=](lookup_atom, const std::string& name,
        bool widen) -> caf::result<std::vector<dir_entry>> {
      if (auto e = ctx->directory->find(name)) {
        // A peer asking gets only what this node hosts: we may hold a stale
        // copy of a third node's entry.
        if (widen || e->node == ctx->node_name)
          return std::vector<dir_entry>{*e};
        return std::vector<dir_entry>{};
      }
      if (!widen || self->state.peers.empty())
        return std::vector<dir_entry>{};
      auto rp = self->make_response_promise<std::vector<dir_entry>>();
      ask_peers(
        self, timeout, std::vector<dir_entry>{},
        [](const std::vector<dir_entry>& xs) { return !xs.empty(); },
        [=](std::vector<dir_entry> xs) mutable {
          // Keep what a connected peer reported for its own agent.
          if (!xs.empty() && self->state.peers.count(xs.front().node) > 0)
            apply_remote(self, ctx, xs.front());
          rp.deliver(std::move(xs));
        },
        lookup_atom::value, name, false);
      return rp;
    },
    [=](locate_atom, const std::string& id,
        bool widen) -> caf::result<std::vector<dir_entry>> {
      if (auto e = task_holder(ctx, id))
        return std::vector<dir_entry>{*e};
      if (!widen || self->state.peers.empty())
        return std::vector<dir_entry>{};
      auto rp = self->make_response_promise<std::vector<dir_entry>>();
      ask_peers(
        self, timeout, std::vector<dir_entry>{},
        [](const std::vector<dir_entry>& xs) { return !xs.empty(); },
        [=](std::vector<dir_entry> xs) mutable { rp.deliver(std::move(xs)); },
        locate_atom::value, id, false);
      return rp;
    },
    [=](list_atom, const task_query& q, bool widen) -> caf::result<task_page> {
      auto rp = self->make_response_promise<task_page>();
      local_page(self, ctx, q, timeout, [=](task_page page) mutable {
        if (!widen || self->state.peers.empty()) {
          rp.deliver(std::move(page));
          return;
        }
        struct gather {
          task_page page;
          size_t pending;
        };
        auto g = std::make_shared<gather>(
          gather{std::move(page), self->state.peers.size()});
        auto one_done = [g, rp]() mutable {
          if (--g->pending == 0)
            rp.deliver(std::move(g->page));
        };
        for (auto& kvp : self->state.peers)
          self->request(kvp.second, timeout, list_atom::value, q, false)
            .then(
              [g, one_done, n = q.page_size](task_page& other) mutable {
                merge_page(g->page, std::move(other), n);
                one_done();
              },
              [one_done](caf::error&) mutable { one_done(); });
      });
      return rp;
    },
    [=](stop_atom, const std::string& name, const agent_actor& handle) {
      // Only remote entries: local ones belong to the supervisor (a failed
      // local handle is an agent being restarted).
      ctx->directory->erase_if(name, [&](const dir_entry& e) {
        return e.handle == handle && e.node != ctx->node_name;
      });
    },
    [=](caf::get_atom) { return local_entries(ctx); },
  };
}

} // namespace am
