#include "actors/membership.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <functional>

#include "core/auth.hpp"
#include "core/events.hpp"
#include "actors/fan_out.hpp"
#include "core/log.hpp"

namespace am {

using std::chrono::milliseconds;

const std::string& membership_state::node() {
  return ctx->node_name;
}

std::vector<std::string> membership_state::connected() {
  std::vector<std::string> result;
  for (auto& kvp : members)
    result.push_back(kvp.first);
  return result;
}

std::vector<std::string> membership_state::addresses() {
  std::vector<std::string> result{address};
  for (auto& kvp : members)
    result.push_back(kvp.second.address);
  return result;
}

bool membership_state::trusted() {
  auto sender = self->current_sender();
  if (!sender)
    return false;
  if (sender->node() == self->node())
    return true;
  for (auto& kvp : members)
    if (kvp.second.nid == sender->node())
      return true;
  return false;
}

void membership_state::publish(const char* name, const std::string& who) {
  auto members = connected();
  ctx->metrics->cluster_nodes.set(static_cast<int64_t>(members.size()) + 1);
  self->send(bus, publish_atom::value,
             make_cluster_event(name, who, node(), std::move(members)));
}

void membership_state::schedule_retry(const std::string& address) {
  auto& t = targets[address];
  if (t.retry_scheduled)
    return;
  t.retry_scheduled = true;
  t.backoff = t.backoff.count() == 0
                ? cfg.min_backoff
                : std::min(cfg.max_backoff, t.backoff * 2);
  self->delayed_send(self, t.backoff, retry_atom::value, address);
}

void membership_state::failed(const std::string& address, const std::string& why) {
  auto& t = targets[address];
  if (t.state == target::connected)
    return;
  t.state = target::idle;
  log::debug("[ClusterMonitor] cannot join " + address + ": " + why);
  schedule_retry(address);
}

void membership_state::warn_once(const std::string& address,
                                 const std::string& text) {
  auto& t = targets[address];
  if (!t.warned)
    log::warning("[ClusterMonitor] " + text);
  t.warned = true;
}

void membership_state::failed(const std::string& address,
                              const caf::error& err, const char* refusal) {
  if (code_of(err) == static_cast<uint8_t>(errc::unauthorized))
    warn_once(address, address + refusal + ": cookie mismatch");
  failed(address, self->system().render(err));
}

void membership_state::connect(const std::string& address) {
  auto& st = *this;
  if (st.address.empty() || address == st.address)
    return;
  auto& t = st.targets[address];
  if (t.state != target::idle)
    return;
  for (auto& kvp : st.members)
    if (kvp.second.address == address) {
      t.state = target::connected;
      return;
    }
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return;
  auto host = address.substr(0, colon);
  auto port = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
  t.state = target::connecting;
  auto e = this;
  self
    ->request(mm, cfg.dial_timeout, caf::connect_atom::value, host, port)
    .then(
      [e, address](const caf::node_id& nid, caf::strong_actor_ptr& ptr,
                   const std::set<std::string>&) {
        auto& t = e->targets[address];
        if (nid == e->self->node()) {
          // A seed that points at this very node.
          t.state = target::connected;
          return;
        }
        if (!ptr)
          return e->failed(address, "no membership actor at this address");
        // The same node as the one that went down is fine (a healed
        // partition or a resumed process); a stale cached proxy of a dead
        // one fails the handshake by timeout and we try again.
        e->handshake(address, caf::actor_cast<membership_actor>(ptr), nid);
      },
      [e, address](caf::error& err) {
        e->failed(address, err, " refused us at the cluster port");
      });
}

void membership_state::handshake(const std::string& address, membership_actor peer,
               caf::node_id nid) {
  auto nonce = auth::make_nonce();
  auto e = this;
  self
    ->request(peer, cfg.connect_timeout, hello_atom::value,
              hello_msg{node(), this->address, nonce})
    .then(
      [e, address, peer, nid, nonce](challenge_msg& c) {
        auto expected = auth::server_proof(e->cfg.cookie, nonce, c.nonce,
                                           c.node);
        if (!auth::equal(c.mac, expected)) {
          e->warn_once(address, "refusing " + c.node + " at " + address
                                  + ": cookie mismatch");
          return e->failed(address, "cookie mismatch");
        }
        auto proof = auth::client_proof(e->cfg.cookie, nonce, c.nonce,
                                        e->node());
        e->join(address, peer, nid, c.nonce, proof);
      },
      [e, address](caf::error& err) {
        e->failed(address, e->self->system().render(err));
      });
}

void membership_state::join(const std::string& address, membership_actor peer,
          caf::node_id nid, std::string server_nonce,
          std::string proof) {
  auto e = this;
  self
    ->request(peer, cfg.connect_timeout, join_atom::value, server_nonce,
              proof, info())
    .then(
      [e, address, peer, nid](welcome_msg& w) {
        e->add_member(w.info, peer, nid, address);
        for (auto& a : w.members)
          e->connect(a);
      },
      [e, address](caf::error& err) {
        e->failed(address, err, " refused to let us join");
      });
}

peer_info membership_state::info() {
  return peer_info{node(),     address,    directory,
                   bus,        supervisor, cfg.keeper,
                   static_cast<bool>(ctx->store)};
}

void membership_state::reached(const std::string& address) {
  if (address.empty())
    return;
  auto& t = targets[address];
  t.state = target::connected;
  t.backoff = milliseconds{0};
  t.warned = false;
}

void membership_state::add_member(const peer_info& info, const membership_actor& handle,
                const caf::node_id& nid, const std::string& dialed) {
  auto& st = *this;
  auto i = st.members.find(info.node);
  if (i != st.members.end()) {
    if (i->second.nid == nid) {
      // Both sides connected at once: same node, same connection.
      reached(dialed);
      return;
    }
    // The node restarted before we noticed it going down: report it down
    // (after the purge) and only then up again.
    auto e = this;
    member_down(info.node, [e, info, handle, nid, dialed] {
      e->add_member(info, handle, nid, dialed);
    });
    return;
  }
  // Back before its failover was decided. The same process was only cut
  // off and still runs its agents; a restarted one with a store brought
  // them back itself, with every acknowledged change. Either way the
  // copies here go (promoting them would race with the agents it serves).
  // A restarted one without a store lost them: they start here.
  if (auto i = suspects.find(info.node); i != suspects.end()) {
    auto same = i->second == nid;
    suspects.erase(i);
    auto promote = !same && !info.durable && ctx->cluster->quorum();
    log::info("[ClusterMonitor] " + info.node + " is back before its failover"
              + (promote ? ": promoting the copies of its agents" : ""));
    release(info.node, promote);
  }
  st.members[info.node] = member{info.address, dialed, handle, nid};
  reached(info.address);
  reached(dialed);
  if (auto& cluster = ctx->cluster) {
    cluster->up(info.node, info.replicas);
    // Only a node on the majority side admits members to the agreement
    // (a cut-off node must not reach a majority with newcomers).
    if (cluster->quorum())
      agreed.insert(info.node);
    update_quorum();
  }
  self->monitor(handle);
  self->send(directory, peer_up_atom::value, info.node,
             caf::actor_cast<caf::actor>(info.directory));
  self->send(bus, peer_up_atom::value, info.node,
             caf::actor_cast<caf::actor>(info.bus));
  if (supervisor && info.supervisor)
    self->send(supervisor, peer_up_atom::value, info.node,
               caf::actor_cast<caf::actor>(info.supervisor));
  log::info("[ClusterMonitor] Node connected: " + info.node);
  publish("node_up", info.node);
}

void membership_state::member_down(const std::string& node_name,
                 std::function<void()> then) {
  auto& st = *this;
  auto i = st.members.find(node_name);
  if (i == st.members.end())
    return;
  auto m = i->second;
  st.members.erase(i);
  self->demonitor(m.handle.address());
  for (auto& address : {m.address, m.dialed}) {
    if (address.empty())
      continue;
    auto& t = st.targets[address];
    t.state = target::idle;
    t.backoff = milliseconds{0};
    schedule_retry(address);
  }
  log::warning("[ClusterMonitor] Node disconnected: " + node_name);
  if (auto& cluster = ctx->cluster) {
    cluster->down(node_name);
    // Its copies are set aside now: a new incarnation's seeds stay apart.
    if (cfg.keeper)
      self->send(cfg.keeper, suspend_atom::value, node_name);
    suspects[node_name] = m.nid;
    if (leavers.erase(node_name) > 0) {
      // It left: its agents moved (those that could not are promoted from
      // their replicas like after a crash).
      agreed.erase(node_name);
      update_quorum();
      decide();
    } else {
      update_quorum();
      if (!decision_scheduled && !suspects.empty()) {
        decision_scheduled = true;
        self->delayed_send(self, cfg.settle, decide_atom::value,
                           decision_round);
      }
    }
  }
  self->send(bus, peer_down_atom::value, node_name);
  if (supervisor)
    self->send(supervisor, peer_down_atom::value, node_name);
  // Purge its directory entries before anyone hears of node_down.
  auto e = this;
  self->request(directory, caf::infinite, peer_down_atom::value, node_name)
    .then([e, node_name, then](bool) {
      e->publish("node_down", node_name);
      if (then)
        then();
    });
}

std::set<std::string> membership_state::reachable() {
  std::set<std::string> result{node()};
  for (auto& kvp : members)
    result.insert(kvp.first);
  return result;
}

void membership_state::update_quorum(bool now) {
  auto& cluster = ctx->cluster;
  auto q = holds_quorum(agreed, reachable());
  if (q == cluster->quorum())
    return;
  if (q && !now) {
    // Back on the majority side: wait until every member that saw this
    // node down has decided on its agents (promoted them, or seen it back
    // first), so that no copy here acknowledges a change that a promotion
    // elsewhere then overrides.
    if (!regain_scheduled) {
      regain_scheduled = true;
      self->delayed_send(self, cfg.settle, quorum_atom::value, false);
    }
    return;
  }
  cluster->set_quorum(q);
  if (q) {
    for (auto& node : reachable())
      agreed.insert(node); // members admitted while the quorum was lost
    log::info("[ClusterMonitor] quorum regained: acknowledging changes again");
  } else {
    decide(); // nothing is promoted without the quorum: the copies go
    log::warning("[ClusterMonitor] no quorum (" + std::to_string(members.size() + 1)
                 + " of " + std::to_string(agreed.size())
                 + " members reachable): changes are refused");
  }
  // Agents re-check where their replicas go and whether they may change.
  if (supervisor)
    self->send(supervisor, backup_atom::value);
}

void membership_state::decide() {
  // A timer still pending is for this round: it must not decide on later
  // suspects before their settle time.
  decision_scheduled = false;
  ++decision_round;
  if (suspects.empty())
    return;
  auto now = reachable();
  // Only a node that kept the quorum all along promotes: one that lost it
  // (a frozen node sees everyone down) or waits to take it back may have a
  // distorted view.
  auto q = ctx->cluster->quorum() && holds_quorum(agreed, now);
  if (q)
    agreed = now; // the new agreement: the side that goes on
  auto nodes = std::move(suspects);
  suspects.clear();
  for (auto& kvp : nodes)
    release(kvp.first, q);
}

void membership_state::release(const std::string& node, bool promote) {
  if (!cfg.keeper)
    return;
  auto sup = supervisor;
  self->request(cfg.keeper, caf::infinite, detach_atom::value, node, promote)
    .then([self{self}, sup, node](std::vector<agent_snapshot>& xs) {
      if (!xs.empty() && sup)
        self->send(sup, failover_atom::value, node, std::move(xs));
    });
}

membership_actor::behavior_type
membership(membership_pointer self, node_context_ptr ctx,
           membership_config cfg, connector_actor mm,
           directory_actor directory, event_bus_actor bus,
           supervisor_actor supervisor) {
  auto e = &self->state;
  e->self = self;
  e->ctx = std::move(ctx);
  e->cfg = std::move(cfg);
  e->mm = std::move(mm);
  e->directory = std::move(directory);
  e->bus = std::move(bus);
  e->supervisor = std::move(supervisor);
  e->agreed.insert(e->node());
  if (e->ctx->cluster && e->cfg.await_quorum) {
    e->ctx->cluster->set_quorum(false);
    log::info("[ClusterMonitor] waiting for a member before acknowledging "
              "changes to recovered agents");
    // Alone after that time: the node goes on by itself.
    self->delayed_send(self, e->cfg.await_timeout, quorum_atom::value, true);
  }
  self->set_down_handler([e](caf::down_msg& dm) {
    for (auto& kvp : e->members)
      if (kvp.second.handle.address() == dm.source) {
        auto name = kvp.first;
        return e->member_down(name);
      }
  });
  return {
    [e](start_atom, const std::string& address) {
      if (!e->address.empty())
        return; // started once, by the node itself
      e->address = address;
      for (auto& seed : e->cfg.seeds)
        e->connect(seed);
      e->self->send(e->self, tick_atom::value);
    },
    [e](hello_atom, const hello_msg& h) {
      // Strangers may ask; keep the pending challenges bounded.
      auto& challenges = e->challenges;
      if (challenges.size() >= 1024) {
        auto oldest = challenges.begin();
        for (auto i = challenges.begin(); i != challenges.end(); ++i)
          if (i->second.issued < oldest->second.issued)
            oldest = i;
        challenges.erase(oldest);
      }
      auto nonce = auth::make_nonce();
      e->challenges[nonce]
        = pending_challenge{h.node, h.nonce, e->self->clock().now()};
      return challenge_msg{e->node(), nonce,
                           auth::server_proof(e->cfg.cookie, h.nonce, nonce,
                                              e->node())};
    },
    [e](join_atom, const std::string& server_nonce, const std::string& proof,
        peer_info& info) -> caf::result<welcome_msg> {
      auto& challenges = e->challenges;
      auto i = challenges.find(server_nonce);
      if (i == challenges.end())
        return make_error(errc::unauthorized, "unknown challenge");
      auto ch = i->second;
      challenges.erase(i);
      auto expected = auth::client_proof(e->cfg.cookie, ch.client_nonce,
                                         server_nonce, ch.node);
      if (!auth::equal(proof, expected) || info.node != ch.node) {
        log::warning("[ClusterMonitor] refusing " + ch.node
                     + ": cookie mismatch");
        return make_error(errc::unauthorized, "cookie mismatch");
      }
      auto sender = e->self->current_sender();
      if (!sender)
        return make_error(errc::unauthorized, "anonymous join");
      auto peer = caf::actor_cast<membership_actor>(sender);
      e->add_member(info, peer, sender->node(), {});
      return welcome_msg{e->info(), e->addresses()};
    },
    [e](gossip_atom, const std::vector<std::string>& addresses) {
      if (!e->trusted())
        return;
      for (auto& a : addresses)
        e->connect(a);
    },
    [e](tick_atom) {
      if (e->self->current_sender() != e->self->ctrl())
        return;
      auto& st = *e;
      auto addrs = e->addresses();
      for (auto& kvp : st.members)
        e->self->send(kvp.second.handle, gossip_atom::value, addrs);
      auto now = e->self->clock().now();
      for (auto i = st.challenges.begin(); i != st.challenges.end();)
        if (now - i->second.issued > std::chrono::seconds(10))
          i = st.challenges.erase(i);
        else
          ++i;
      if (e->cfg.gossip_interval.count() > 0)
        e->self->delayed_send(e->self, e->cfg.gossip_interval, tick_atom::value);
    },
    [e](decide_atom, uint64_t round) {
      if (e->self->current_sender() == e->self->ctrl()
          && round == e->decision_round)
        e->decide();
    },
    [e](quorum_atom, bool awaited) {
      if (e->self->current_sender() != e->self->ctrl() || !e->ctx->cluster)
        return;
      if (awaited) {
        // Nobody came since start-up: go on alone.
        if (e->members.empty() && e->agreed.size() == 1)
          e->update_quorum(true);
        return;
      }
      e->regain_scheduled = false;
      e->update_quorum(true);
    },
    [e](retry_atom, const std::string& address) {
      if (e->self->current_sender() != e->self->ctrl())
        return;
      auto& t = e->targets[address];
      t.retry_scheduled = false;
      e->connect(address);
    },
    [e](info_atom) -> caf::result<cluster_info> {
      if (!e->trusted())
        return make_error(errc::unauthorized);
      return cluster_info{e->node(), e->connected()};
    },
    [e](leave_atom) -> caf::result<bool> {
      auto sender = e->self->current_sender();
      if (!sender || sender->node() != e->self->node())
        return make_error(errc::unauthorized);
      std::vector<membership_actor> members;
      for (auto& kvp : e->members)
        members.push_back(kvp.second.handle);
      auto rp = e->self->make_response_promise<bool>();
      auto self = e->self;
      auto node = e->node();
      auto timeout = e->cfg.connect_timeout;
      fan_out<bool>(
        members.size(),
        [&](size_t i) {
          return self->request(members[i], timeout, leave_atom::value, node);
        },
        [](bool) { return false; }, [rp]() mutable { rp.deliver(true); });
      return rp;
    },
    [e](leave_atom, const std::string& node) -> caf::result<bool> {
      if (!e->trusted())
        return make_error(errc::unauthorized);
      auto& st = *e;
      auto i = st.members.find(node);
      if (i == st.members.end())
        return false;
      log::info("[ClusterMonitor] Node leaving: " + node);
      if (e->ctx->cluster) {
        e->ctx->cluster->leaving(node);
        e->leavers.insert(node);
      }
      if (e->supervisor)
        e->self->send(e->supervisor, leave_atom::value, node);
      return true;
    },
  };
}

} // namespace am
