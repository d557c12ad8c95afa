#include "app/node.hpp"

#include <algorithm>
#include <set>

#include <arpa/inet.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/directory.hpp"
#include "app/cluster_gate.hpp"
#include "actors/event_bus.hpp"
#include "core/log.hpp"
#include "actors/membership.hpp"
#include "actors/replica_keeper.hpp"
#include "actors/store_writer.hpp"
#include "actors/supervisor.hpp"

namespace am::app {

namespace {

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1")
    return true;
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1
         && (ntohl(a.s_addr) >> 24) == 127;
}

/// SPEC 11: say what a cluster port reachable from other hosts without
/// TLS means.
void warn_if_exposed(const config& cfg) {
  if (cfg.cluster_cookie.empty())
    log::warning("[ClusterMonitor] cluster.cookie is empty: any process "
                 "that reaches the cluster port can join this cluster");
  if (cfg.tls() || is_loopback(cfg.cluster_host))
    return;
  log::warning("[ClusterMonitor] cluster port on " + cfg.cluster_host
               + " without TLS: peers prove the cookie before joining, but "
                 "node-to-node traffic is neither encrypted nor protected "
                 "from tampering; anyone on the network path can read it. "
                 "Set openssl.* (scripts/certs makes the certificates) or "
                 "keep the port on a trusted network (docs/SECURITY.md)");
}

/// Stops every local agent, from this thread and a batch at a time. Sent
/// by the supervisor, 200,000 exits would all queue on its scheduler
/// thread; CAF 0.17's work stealing then walks that whole queue for every
/// job it steals (`double_ended_queue::take_tail`), which took minutes.
/// Short batches sent from outside keep every queue short.
void stop_agents(caf::scoped_actor& self, const supervisor_actor& sup) {
  std::vector<agent_actor> agents;
  self->request(sup, std::chrono::seconds(5), shutdown_atom::value)
    .receive([&](std::vector<agent_actor>& xs) { agents = std::move(xs); },
             [](caf::error& err) {
               // The supervisor's own exit handler stops them then.
               log::warning("[Supervisor] no list of agents to stop: "
                            + to_string(err));
             });
  constexpr size_t batch = 1000;
  for (size_t i = 0; i < agents.size(); i += batch) {
    auto end = std::min(agents.size(), i + batch);
    std::set<caf::actor_addr> left;
    for (auto j = i; j < end; ++j) {
      left.insert(agents[j].address());
      self->monitor(agents[j]);
      self->send_exit(agents[j], caf::exit_reason::user_shutdown);
    }
    // This batch's ends (other down messages are not ours to count); an
    // agent that takes longer delays only its own batch.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool late = false;
    while (!left.empty() && !late) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      self->receive(
        [&](const caf::down_msg& dm) { left.erase(dm.source); },
        caf::after(std::max(wait, std::chrono::milliseconds(1))) >> [&] {
          late = true;
          log::warning("[Supervisor] " + std::to_string(left.size())
                       + " agents did not stop within 5 s of the shutdown");
        });
    }
  }
}

} // namespace

caf::expected<node> start_node(caf::actor_system& sys, const config& cfg,
                               action_registry actions) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  auto ctx = std::make_shared<node_context>();
  ctx->node_name = cfg.full_node_name();
  ctx->metrics->node_name = ctx->node_name;
  ctx->metrics->version = AGENTMESH_VERSION;
  ctx->metrics->cluster_nodes.set(1);
  ctx->metrics->enabled = cfg.metrics_enabled;
  // The bus and the store writer count into this (nothing when off).
  auto counting = cfg.metrics_enabled ? ctx->metrics : nullptr;
  ctx->actions = std::make_shared<action_registry>(std::move(actions));
  ctx->agents.max_restarts = cfg.max_restarts;
  ctx->agents.restart_window = duration_cast<milliseconds>(cfg.restart_window);
  ctx->agents.history_limit = cfg.task_history;
  ctx->agents.handoff_drain = duration_cast<milliseconds>(cfg.handoff_drain);
  ctx->agents.max_inbox = cfg.max_inbox;
  ctx->agents.passivate = cfg.passivate;
  ctx->max_batch = cfg.max_batch;
  ctx->bearer = !cfg.auth_token.empty();
  if (cfg.cluster_enabled && cfg.replicas > 0)
    ctx->cluster = std::make_shared<cluster_view>(ctx->node_name);
  std::vector<agent_snapshot> kept;
  if (!cfg.store_path.empty()) {
    std::shared_ptr<store> db;
    try {
      db = std::make_shared<store>(cfg.store_path, cfg.store_fsync);
      kept = db->load();
    } catch (const std::exception& e) {
      return caf::make_error(caf::sec::runtime_error, e.what());
    }
    // Without fsync a commit only copies pages to the OS: the writer runs
    // on the scheduler (measured about 1.3x the requests per second of a
    // thread of its own). With fsync it waits for the disk on every commit
    // and gets its own thread.
    ctx->store = cfg.store_fsync
                   ? sys.spawn<caf::detached>(store_writer, std::move(db),
                                              counting)
                   : sys.spawn(store_writer, std::move(db), counting);
    ctx->metrics->has_store = true;
  }
  node n;
  n.ctx = ctx;
  n.bus = sys.spawn(event_bus, counting, ctx->event_audience);
  n.logger = sys.spawn(event_logger);
  {
    // Subscribed before anything can publish: agents skip events while
    // nobody listens, so an early agent_started would not be logged.
    caf::scoped_actor self{sys};
    self->request(n.bus, caf::infinite, subscribe_atom::value,
                  event_logger_topics(), n.logger)
      .receive([](bool) {},
               [&](caf::error& err) {
                 log::error("[Node] event logger not subscribed: "
                            + sys.render(err));
               });
  }
  n.directory = sys.spawn(directory, n.ctx, milliseconds{2000});
  n.supervisor = sys.spawn(supervisor, n.ctx, n.directory, n.bus);
  size_t recovered = 0;
  if (!kept.empty()) {
    // The agents come back before the node joins a cluster or answers /a2a.
    auto t0 = std::chrono::steady_clock::now();
    auto count = kept.size();
    caf::scoped_actor self{sys};
    size_t adopted = 0;
    recovered = count;
    self->request(n.supervisor, caf::infinite, adopt_atom::value,
                  std::move(kept))
      .receive([&](size_t x) { adopted = x; },
               [&](caf::error& err) {
                 log::error("[Store] recovery failed: " + sys.render(err));
               });
    auto ms = duration_cast<milliseconds>(std::chrono::steady_clock::now()
                                          - t0);
    log::info("[Store] recovered " + std::to_string(adopted) + " of "
              + std::to_string(count) + " agents in "
              + std::to_string(ms.count()) + " ms");
  }
  if (cfg.cluster_enabled) {
    membership_config mc;
    mc.cookie = cfg.cluster_cookie;
    mc.seeds = cfg.cluster_seeds;
    if (ctx->cluster) {
      n.keeper = sys.spawn(replica_keeper, n.ctx);
      mc.keeper = n.keeper;
      // Members that list this node as their seed dial it: wait for them
      // too (at most `await_timeout`).
      mc.await_quorum = recovered > 0;
    }
    // Our gate owns the cluster port: a peer proves the cookie on a raw
    // socket before CAF's node protocol sees a byte (SPEC 11), and with
    // openssl.* set the connection then speaks mutually authenticated TLS.
    gate_config gc;
    gc.cookie = cfg.cluster_cookie;
    gc.host = cfg.cluster_host;
    gc.port = cfg.cluster_port;
    gc.handshake_timeout = duration_cast<milliseconds>(
      cfg.cluster_handshake_timeout);
    gc.tls = cfg.tls();
    // A dial may take the whole handshake timeout before it succeeds.
    mc.dial_timeout = gc.handshake_timeout + std::chrono::seconds(1);
    auto connector = spawn_connector(sys, gc);
    n.connector = caf::actor_cast<caf::actor>(connector);
    n.membership = sys.spawn(membership, n.ctx, mc, connector, n.directory,
                             n.bus, n.supervisor);
    auto published = caf::actor_cast<caf::strong_actor_ptr>(n.membership);
    auto port = cluster_gate::start(sys, gc, published,
                                    sys.message_types(n.membership));
    if (!port) {
      stop_node(sys, n);
      return std::move(port.error());
    }
    n.gate = std::shared_ptr<cluster_gate>{std::move(*port)};
    warn_if_exposed(cfg);
    n.cluster_port = n.gate->port();
    n.handoff = cfg.cluster_handoff;
    caf::anon_send(n.membership, start_atom::value,
                   cfg.cluster_host + ":" + std::to_string(n.cluster_port));
  }
  http::site s{ctx->node_name, cfg.card_name, AGENTMESH_VERSION,
               cfg.http_host + ":" + std::to_string(cfg.http_port), {}};
  for (auto& name : ctx->actions->names()) {
    auto info = ctx->actions->info(name);
    s.skills.push_back(a2a::skill_row{name, info ? info->description : ""});
  }
  auto timeout = duration_cast<milliseconds>(cfg.request_timeout);
  for (unsigned i = 0, count = http::worker_count(); i < count; ++i)
    n.workers.push_back(http::spawn_worker(
      sys, ctx,
      http::node_handles{n.supervisor, n.directory, n.bus, n.membership},
      timeout, AGENTMESH_VERSION, cfg.inline_reads));
  http::server_config sc;
  sc.host = cfg.http_host;
  sc.port = cfg.http_port;
  sc.lim.max_header_bytes = cfg.max_header_bytes;
  sc.lim.max_body_bytes = cfg.max_body_bytes;
  sc.idle_timeout = duration_cast<milliseconds>(cfg.idle_timeout);
  sc.header_timeout = duration_cast<milliseconds>(cfg.header_timeout);
  sc.max_connections = cfg.max_connections;
  sc.request_timeout = timeout;
  sc.info = s;
  sc.info.auth_token = cfg.auth_token;
  sc.metrics = ctx->metrics;
  if (cfg.inline_reads)
    sc.inline_rpc = http::inline_rpc(ctx);
  auto srv = http::start_server(sys, sc, n.workers, n.bus);
  if (!srv) {
    stop_node(sys, n);
    return std::move(srv.error());
  }
  n.http = *srv;
  return n;
}

void stop_node(caf::actor_system& sys, node& n) {
  caf::scoped_actor self{sys};
  if (n.membership && n.handoff) {
    // Leave gracefully: members stop picking this node, every local agent
    // moves to one of them (requests keep being served and follow it), then
    // the node goes.
    auto t0 = std::chrono::steady_clock::now();
    // No agent starts or arrives here from now on.
    self->send(n.supervisor, leave_atom::value, n.ctx->node_name);
    self->request(n.membership, std::chrono::seconds(3), leave_atom::value)
      .receive([](bool) {}, [](caf::error&) {});
    size_t moved = 0;
    // Drain time, then an adopt (at most 10 s) per agent in parallel.
    auto budget = n.ctx->agents.handoff_drain + std::chrono::seconds(11);
    self->request(n.supervisor, budget, handoff_atom::value)
      .receive([&](size_t x) { moved = x; },
               [&](caf::error& err) {
                 log::error("[Supervisor] handoff failed: " + sys.render(err));
               });
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
    log::info("[Supervisor] handed off " + std::to_string(moved)
              + " agents in " + std::to_string(ms.count()) + " ms");
    if (moved > 0) {
      // Every member knows the new entries now, but requests sent to the
      // old ones may still be on the wire: stay reachable a moment so that
      // they bounce (and follow the agents) instead of being lost.
      self->receive(caf::after(std::chrono::milliseconds(300)) >> [] {});
    }
  }
  // No new peers from here on (established links stay until the end).
  n.gate.reset();
  if (n.http.acceptor) {
    // Answer what was asked (at most 5 s), then stop what is left; either
    // way the acceptor goes only after every connection is gone.
    self->monitor(n.http.acceptor);
    self->send(n.http.acceptor, drain_atom::value);
    bool down = false;
    self->receive([&](const caf::down_msg&) { down = true; },
                  caf::after(std::chrono::seconds(5)) >> [] {});
    if (!down) {
      self->send_exit(n.http.acceptor, caf::exit_reason::user_shutdown);
      self->receive([](const caf::down_msg&) {},
                    caf::after(std::chrono::seconds(5)) >> [] {
                      log::warning("[HTTP] connections did not stop in 5 s");
                    });
    }
  }
  auto stop = [&](const auto& hdl) {
    if (hdl)
      self->send_exit(hdl, caf::exit_reason::user_shutdown);
  };
  for (auto& w : n.workers)
    stop(w);
  stop(n.membership);
  // Its finished dials' request timeouts would keep it alive (and the
  // actor system waiting) for up to 15 s.
  stop(n.connector);
  stop(n.keeper);
  // The directory goes before the agents: their ends are no news to the
  // members (they purge this node, or fail its agents over).
  stop(n.directory);
  if (n.supervisor)
    stop_agents(self, n.supervisor);
  stop(n.supervisor);
  if (n.ctx && n.ctx->store) {
    // Changes not yet committed were never acknowledged; the database
    // closes once the writer is gone.
    self->monitor(n.ctx->store);
    self->send_exit(n.ctx->store, caf::exit_reason::user_shutdown);
    auto store = n.ctx->store.address();
    bool closed = false;
    self->receive_while([&] { return !closed; })(
      [&](const caf::down_msg& dm) { closed = dm.source == store; });
  }
  stop(n.logger);
  stop(n.bus);
}

} // namespace am::app
