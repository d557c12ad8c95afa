#include "actors/directory.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <memory>
#include <set>

#include "actors/fan_out.hpp"
#include "core/log.hpp"

namespace am {

bool wins_conflict(const dir_entry& x, const dir_entry& y) {
  if (x.generation != y.generation)
    return x.generation > y.generation;
  if (x.started_at != y.started_at)
    return x.started_at < y.started_at;
  return x.node < y.node;
}

namespace {

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

} // namespace

void directory_state::init(directory_pointer ptr, node_context_ptr context,
                           std::chrono::milliseconds peer_timeout) {
  self = ptr;
  ctx = std::move(context);
  timeout = peer_timeout;
}

// -- local changes ------------------------------------------------------------

void directory_state::watch(const dir_entry& entry) {
  if (!entry.handle)
    return;
  self->monitor(entry.handle);
  watched[entry.handle.address()] = entry.name;
}

void directory_state::assign(const dir_entry& entry) {
  ctx->directory->assign(entry.name, entry);
  if (moving.count(entry.name) == 0 || entry.node == ctx->node_name)
    return;
  // The moving agent arrived at its new node.
  moved[entry.name] = entry;
  release(entry.name, {entry});
}

void directory_state::release(const std::string& name,
                              const std::vector<dir_entry>& answer) {
  auto i = moving.find(name);
  if (i == moving.end())
    return;
  for (auto& rp : i->second)
    rp.deliver(answer);
  moving.erase(i);
}

std::string directory_state::insert_free(dir_entry& entry,
                                         std::vector<dir_entry>& inserted) {
  if (auto existing = ctx->directory->find(entry.name))
    return existing->node;
  watch(entry);
  ctx->directory->insert(entry.name, entry);
  inserted.push_back(std::move(entry));
  return {};
}

template <class Answer>
caf::result<Answer>
directory_state::answer_once_known(Answer answer,
                                   std::vector<dir_entry> inserted) {
  if (inserted.empty() || peers.empty())
    return answer;
  // Answer once every connected node knows the names: a StartAgent for one
  // of them anywhere afterwards gets already_exists.
  auto rp = self->make_response_promise<Answer>();
  to_peers([rp, answer{std::move(answer)}]() mutable { rp.deliver(answer); },
           replicate_atom::value, inserted);
  return rp;
}

caf::result<std::string> directory_state::put(dir_entry& entry) {
  std::vector<dir_entry> inserted;
  auto holder = insert_free(entry, inserted);
  return answer_once_known(std::move(holder), std::move(inserted));
}

caf::result<std::vector<std::string>>
directory_state::put(std::vector<dir_entry>& entries) {
  std::vector<std::string> holders;
  holders.reserve(entries.size());
  std::vector<dir_entry> inserted;
  inserted.reserve(entries.size());
  for (auto& entry : entries)
    holders.push_back(insert_free(entry, inserted));
  return answer_once_known(std::move(holders), std::move(inserted));
}

void directory_state::update(dir_entry& entry) {
  watch(entry);
  auto existing = ctx->directory->find(entry.name);
  if (existing && existing->node != ctx->node_name
      && wins_conflict(*existing, entry)) {
    // Lost a name conflict while restarting (the conflict message went to
    // the dead actor) or while dormant: stop this one.
    lost_conflict(entry);
    return;
  }
  assign(entry);
  to_peers(nullptr, replicate_atom::value, entry);
}

caf::result<bool> directory_state::erase(const std::string& name,
                                         const agent_actor& handle) {
  // Of this node: a dormant agent's entry has no handle, and neither may
  // the entry of a member's agent that won the name meanwhile.
  auto erased = ctx->directory->erase_if(name, [&](const dir_entry& e) {
    return e.node == ctx->node_name && e.handle == handle;
  });
  if (!erased)
    return false;
  // Answer once every connected node forgot it ("removed everywhere").
  auto rp = self->make_response_promise<bool>();
  to_peers([rp]() mutable { rp.deliver(true); }, erase_atom::value, name,
           ctx->node_name);
  return rp;
}

void directory_state::on_down(const caf::down_msg& dm) {
  auto i = watched.find(dm.source);
  if (i == watched.end())
    return;
  auto name = i->second;
  watched.erase(i);
  // A crashed agent keeps its entry: its supervisor either points it at the
  // restarted actor or removes it (restart limit), so the name never
  // disappears during a restart.
  if (dm.reason && dm.reason != caf::exit_reason::user_shutdown)
    return;
  // A moved agent's entry stays until its new one replaces it.
  if (moving.count(name) > 0)
    return;
  auto erased = ctx->directory->erase_if(name, [&](const dir_entry& e) {
    return e.handle.address() == dm.source;
  });
  if (erased)
    to_peers(nullptr, erase_atom::value, name, ctx->node_name);
}

// -- peers --------------------------------------------------------------------

std::vector<directory_actor> directory_state::peer_list() const {
  std::vector<directory_actor> result;
  result.reserve(peers.size());
  for (auto& kvp : peers)
    result.push_back(kvp.second);
  return result;
}

template <class... Ts>
void directory_state::to_peers(std::function<void()> done, const Ts&... xs) {
  auto targets = peer_list();
  auto ptr = self;
  auto t = timeout;
  fan_out<bool>(
    targets.size(),
    [&](size_t i) { return ptr->request(targets[i], t, xs...); },
    [](bool) { return false; },
    [done] {
      if (done)
        done();
    });
}

template <class... Ts>
void directory_state::first_from_peers(
  std::function<void(std::vector<dir_entry>)> done, const Ts&... xs) {
  auto targets = peer_list();
  auto found = std::make_shared<std::vector<dir_entry>>();
  auto ptr = self;
  auto t = timeout;
  fan_out<std::vector<dir_entry>>(
    targets.size(),
    [&](size_t i) { return ptr->request(targets[i], t, xs...); },
    [found](std::vector<dir_entry>& xs) {
      if (xs.empty())
        return false;
      *found = std::move(xs);
      return true;
    },
    [found, done] { done(std::move(*found)); });
}

void directory_state::apply_remote(const dir_entry& entry) {
  auto existing = ctx->directory->find(entry.name);
  if (!existing || existing->node == entry.node) {
    assign(entry);
    return;
  }
  if (!wins_conflict(entry, *existing))
    return; // ours (or the entry we know) wins; its node stops the other
  assign(entry);
  if (existing->node != ctx->node_name)
    return;
  if (entry.generation > existing->generation)
    log::info("[Directory] " + entry.name + " moved to " + entry.node);
  else
    log::warning("[Directory] name conflict: " + entry.name + " on "
                 + entry.node + " wins; stopping the local agent");
  lost_conflict(*existing);
}

void directory_state::lost_conflict(const dir_entry& local) {
  if (local.handle)
    self->send(local.handle, conflict_atom::value);
  else if (supervisor)
    caf::anon_send(supervisor, stop_atom::value, local.name,
                   std::string{"name_conflict"});
}

void directory_state::resync(const std::string& node,
                             const std::vector<dir_entry>& entries) {
  if (peers.count(node) == 0)
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
    apply_remote(e);
}

void directory_state::peer_up(const std::string& node,
                              const caf::actor& peer) {
  auto dir = caf::actor_cast<directory_actor>(peer);
  peers[node] = dir;
  // Our local entries go straight to the peer's directory, ahead of any
  // later replication from us (same sender, same order).
  self->send(dir, sync_atom::value, ctx->node_name, local_entries());
  // And ask for theirs: a sync they pushed before we purged an earlier
  // incarnation of that node may have been wiped by the purge.
  auto ptr = self;
  self->request(dir, timeout, caf::get_atom::value)
    .then(
      [ptr, node](std::vector<dir_entry>& entries) {
        // Applied right here, in arrival order: a snapshot sent to
        // ourselves could overtake a fresher sync or replication.
        ptr->state.resync(node, entries);
      },
      [](caf::error&) {
        // The peer went away again; its down handling cleans up.
      });
}

void directory_state::peer_down(const std::string& node) {
  peers.erase(node);
  ctx->directory->erase_all_if(
    [&](const std::string&, const dir_entry& e) { return e.node == node; });
}

std::vector<dir_entry> directory_state::local_entries() const {
  std::vector<dir_entry> result;
  ctx->directory->for_each([&](const std::string&, const dir_entry& e) {
    if (e.node == ctx->node_name)
      result.push_back(e);
  });
  return result;
}

// -- queries ------------------------------------------------------------------

caf::result<std::vector<dir_entry>>
directory_state::lookup(const std::string& name, bool widen) {
  if (auto e = ctx->directory->find(name)) {
    if (widen)
      return std::vector<dir_entry>{*e};
    // A peer asking gets only what this node hosts (we may hold a stale
    // copy of a third node's entry), or where its agent moved.
    if (e->node != ctx->node_name) {
      if (auto m = moved.find(name); m != moved.end())
        return std::vector<dir_entry>{e->generation >= m->second.generation
                                        ? *e
                                        : m->second};
      return std::vector<dir_entry>{};
    }
    if (auto i = moving.find(name); i != moving.end()) {
      // Moving away: the answer is its new entry, once it arrived.
      auto rp = self->make_response_promise<std::vector<dir_entry>>();
      i->second.push_back(rp);
      return rp;
    }
    return std::vector<dir_entry>{*e};
  }
  if (!widen || peers.empty())
    return std::vector<dir_entry>{};
  auto rp = self->make_response_promise<std::vector<dir_entry>>();
  auto ptr = self;
  first_from_peers(
    [ptr, rp](std::vector<dir_entry> xs) mutable {
      // Keep what a connected peer reported for its own agent.
      if (!xs.empty() && ptr->state.peers.count(xs.front().node) > 0)
        ptr->state.apply_remote(xs.front());
      rp.deliver(std::move(xs));
    },
    lookup_atom::value, name, false);
  return rp;
}

std::optional<dir_entry>
directory_state::task_holder(const std::string& id) const {
  auto t = ctx->tasks->find(id);
  if (!t)
    return std::nullopt;
  auto e = ctx->directory->find(t->agent);
  if (!e || e->node != ctx->node_name)
    return std::nullopt;
  return e;
}

caf::result<std::vector<dir_entry>>
directory_state::locate(const std::string& id, bool widen) {
  if (auto e = task_holder(id))
    return std::vector<dir_entry>{*e};
  if (!widen || peers.empty())
    return std::vector<dir_entry>{};
  auto rp = self->make_response_promise<std::vector<dir_entry>>();
  first_from_peers(
    [rp](std::vector<dir_entry> xs) mutable { rp.deliver(std::move(xs)); },
    locate_atom::value, id, false);
  return rp;
}

void directory_state::local_page(const task_query& q,
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
  std::vector<std::pair<agent_actor, std::string>> asks;
  for (auto& r : rows)
    if (auto e = ctx->directory->find(r.agent); e && e->node == ctx->node_name)
      asks.emplace_back(e->handle, r.id);
  auto result = std::make_shared<task_page>(std::move(page));
  auto ptr = self;
  auto t = timeout;
  fan_out<task_view>(
    asks.size(),
    [&](size_t i) {
      return ptr->request(asks[i].first, t, task_atom::value, asks[i].second);
    },
    [result](task_view& v) {
      result->tasks.push_back(std::move(v));
      return false;
    },
    [result, done] {
      std::sort(result->tasks.begin(), result->tasks.end(), newer_view);
      done(std::move(*result));
    });
}

caf::result<task_page> directory_state::list(const task_query& q,
                                             bool widen) {
  auto rp = self->make_response_promise<task_page>();
  auto ptr = self;
  local_page(q, [ptr, rp, q, widen](task_page page) mutable {
    auto& st = ptr->state;
    if (!widen || st.peers.empty()) {
      rp.deliver(std::move(page));
      return;
    }
    auto targets = st.peer_list();
    auto result = std::make_shared<task_page>(std::move(page));
    fan_out<task_page>(
      targets.size(),
      [&](size_t i) {
        return ptr->request(targets[i], st.timeout, list_atom::value, q,
                            false);
      },
      [result, n = q.page_size](task_page& other) {
        merge_page(*result, std::move(other), n);
        return false;
      },
      [result, rp]() mutable { rp.deliver(std::move(*result)); });
  });
  return rp;
}

// -- the actor ----------------------------------------------------------------

directory_actor::behavior_type directory(directory_pointer self,
                                         node_context_ptr ctx,
                                         std::chrono::milliseconds timeout) {
  auto& st = self->state;
  st.init(self, std::move(ctx), timeout);
  self->set_down_handler(
    [self](caf::down_msg& dm) { self->state.on_down(dm); });
  return {
    [self](put_atom, dir_entry& entry) { return self->state.put(entry); },
    [self](put_atom, std::vector<dir_entry>& entries) {
      return self->state.put(entries);
    },
    [self](update_atom, dir_entry& entry) { self->state.update(entry); },
    [self](move_atom, dir_entry& entry) -> caf::result<bool> {
      auto& st = self->state;
      st.watch(entry);
      st.assign(entry);
      auto rp = self->make_response_promise<bool>();
      st.to_peers([rp]() mutable { rp.deliver(true); }, replicate_atom::value,
                  entry);
      return rp;
    },
    [self](erase_atom, const std::string& name, const agent_actor& handle) {
      return self->state.erase(name, handle);
    },
    // Changes from nodes that are not (or no longer) members are ignored:
    // when a node becomes a member we pull its complete state anyway.
    [self](replicate_atom, const dir_entry& entry) {
      if (self->state.peers.count(entry.node) > 0)
        self->state.apply_remote(entry);
      return true;
    },
    [self](replicate_atom, const std::vector<dir_entry>& entries) {
      for (auto& entry : entries)
        if (self->state.peers.count(entry.node) > 0)
          self->state.apply_remote(entry);
      return true;
    },
    [self](erase_atom, const std::string& name, const std::string& node) {
      auto& st = self->state;
      if (st.peers.count(node) > 0)
        st.ctx->directory->erase_if(
          name, [&](const dir_entry& e) { return e.node == node; });
      return true;
    },
    [self](peer_up_atom, const std::string& node, const caf::actor& peer) {
      self->state.peer_up(node, peer);
    },
    [self](sync_atom, const std::string& node,
           const std::vector<dir_entry>& entries) {
      self->state.resync(node, entries);
    },
    [self](peer_down_atom, const std::string& node) {
      self->state.peer_down(node);
      return true;
    },
    [self](lookup_atom, const std::string& name, bool widen) {
      return self->state.lookup(name, widen);
    },
    [self](locate_atom, const std::string& id, bool widen) {
      return self->state.locate(id, widen);
    },
    [self](list_atom, const task_query& q, bool widen) {
      return self->state.list(q, widen);
    },
    [self](stop_atom, const std::string& name, const agent_actor& handle) {
      // Only remote entries: local ones belong to the supervisor (a failed
      // local handle is an agent being restarted).
      auto& ctx = self->state.ctx;
      if (!handle)
        return; // dormant entries have none: nothing failed
      ctx->directory->erase_if(name, [&](const dir_entry& e) {
        return e.handle == handle && e.node != ctx->node_name;
      });
    },
    [self](caf::get_atom) { return self->state.local_entries(); },
    [](sync_atom) { return true; },
    [self](watch_atom, const caf::actor& supervisor) {
      self->state.supervisor = caf::actor_cast<supervisor_actor>(supervisor);
    },
    [self](move_atom, const std::string& name, bool starts) {
      auto& st = self->state;
      if (starts) {
        st.moving[name]; // lookups of it wait from now on
        return;
      }
      // The move failed: the agent stays, waiting lookups get it.
      auto e = st.ctx->directory->find(name);
      st.release(name, e ? std::vector<dir_entry>{*e}
                         : std::vector<dir_entry>{});
    },
  };
}

} // namespace am
