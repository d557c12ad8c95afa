#define CAF_SUITE membership

// Several nodes in one process on CAF's simulated network: joining, gossip
// to a third node, node down, directory purge and resynchronisation.

#include <caf/test/io_dsl.hpp>

#include "actors/directory.hpp"
#include "actors/event_bus.hpp"
#include "actors/membership.hpp"
#include "actors/replica_keeper.hpp"
#include "actors/supervisor.hpp"

using namespace am;

namespace {

struct cluster_config : caf::actor_system_config {
  cluster_config() {
    load<caf::io::middleman>();
    register_types(*this);
  }
};

using base = test_coordinator_fixture<cluster_config>;
using planet_type = test_node_fixture<base>;

/// One node's actors on one planet.
struct node_actors {
  std::shared_ptr<node_context> ctx = std::make_shared<node_context>();
  event_bus_actor bus;
  directory_actor dir;
  supervisor_actor sup;
  membership_actor mem;
  replica_actor keeper; // with replicas only
  std::string address;
};

struct fixture : test_network_fixture_base<planet_type> {
  planet_type earth;
  planet_type mars;
  planet_type jupiter;
  std::map<planet_type*, node_actors> nodes;
  std::map<planet_type*, caf::io::accept_handle> acceptors;

  fixture()
    : test_network_fixture_base<planet_type>({&earth, &mars, &jupiter}),
      earth(exec_all_callback()),
      mars(exec_all_callback()),
      jupiter(exec_all_callback()) {
    // nop
  }

  ~fixture() {
    for (auto& kvp : nodes)
      for (auto h : {caf::actor_cast<caf::actor>(kvp.second.mem),
                     caf::actor_cast<caf::actor>(kvp.second.keeper),
                     caf::actor_cast<caf::actor>(kvp.second.sup),
                     caf::actor_cast<caf::actor>(kvp.second.dir),
                     caf::actor_cast<caf::actor>(kvp.second.bus)})
        if (h)
          caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    settle();
  }

  /// Runs messages and network traffic on every planet until nothing moves;
  /// unlike `exec_all` it fires no timeouts (gossip and retry timers stay
  /// pending until a test fires them).
  void settle() {
    std::vector<planet_type*> ps{&earth, &mars, &jupiter};
    auto advance = [](planet_type* x) {
      bool result = false;
      while (x->sched.try_run_once())
        result = true;
      while (x->mpx.try_exec_runnable())
        result = true;
      while (x->mpx.try_accept_connection())
        result = true;
      while (x->mpx.try_read_data())
        result = true;
      return result;
    };
    for (;;) {
      bool any = false;
      for (auto* p : ps)
        any = advance(p) || any;
      if (!any)
        break;
    }
  }

  /// Lets `client` reach `server` at host `name`, port 8080.
  void wire(planet_type& server, const std::string& name, planet_type& client) {
    if (acceptors.count(&server) == 0)
      acceptors[&server] = next_accept_handle();
    prepare_connection(server, client, name, 8080, acceptors[&server]);
  }

  /// Publishes on port 8080, running the simulation while `publish` waits.
  void publish(planet_type& p, const membership_actor& mem,
               uint16_t port = 8080) {
    if (acceptors.count(&p) == 0) {
      acceptors[&p] = next_accept_handle();
      p.mpx.provide_acceptor(port, acceptors[&p]);
    }
    settle(); // publish blocks: nothing else may be waiting to run
    p.publish(mem, port);
  }

  node_actors& boot(planet_type& p, const std::string& name,
                    std::vector<std::string> seeds,
                    const std::string& cookie = "secret",
                    bool replicas = false) {
    auto& n = nodes[&p];
    n.ctx->node_name = name + "@sim";
    if (replicas)
      n.ctx->cluster = std::make_shared<cluster_view>(n.ctx->node_name);
    n.address = name + ":8080";
    node_context_ptr ctx = n.ctx;
    n.bus = p.sys.spawn(event_bus, nullptr, n.ctx->event_audience);
    n.dir = p.sys.spawn(directory, ctx, std::chrono::milliseconds{1000});
    n.sup = p.sys.spawn(supervisor, ctx, n.dir, n.bus);
    membership_config mc;
    mc.cookie = cookie;
    mc.seeds = std::move(seeds);
    mc.gossip_interval = std::chrono::milliseconds{0};
    if (replicas) {
      n.keeper = p.sys.spawn(replica_keeper, ctx);
      mc.keeper = n.keeper;
    }
    n.mem = p.sys.spawn(membership, ctx, mc, p.mm.actor_handle(), n.dir, n.bus,
                        n.sup);
    publish(p, n.mem);
    caf::anon_send(n.mem, start_atom::value, n.address);
    settle();
    return n;
  }

  cluster_info info(planet_type& p) {
    caf::scoped_actor self{p.sys};
    auto rh = self->request(nodes[&p].mem, caf::infinite, info_atom::value);
    settle();
    cluster_info result;
    rh.receive([&](cluster_info& x) { result = std::move(x); },
               [&](caf::error& err) { CAF_FAIL(p.sys.render(err)); });
    std::sort(result.connected.begin(), result.connected.end());
    return result;
  }

  void start_agent(planet_type& p, const std::string& name) {
    caf::scoped_actor self{p.sys};
    auto rh = self->request(nodes[&p].sup, caf::infinite, start_atom::value,
                            name, json_box{json::object()}, std::string{});
    settle();
    rh.receive([](start_result& r) { CAF_CHECK_EQUAL(r.status, "started"); },
               [&](caf::error& err) { CAF_FAIL(p.sys.render(err)); });
  }

  /// Sends a request from a scoped actor on `p`, runs the simulation and
  /// returns the answer.
  template <class T, class Handle, class... Ts>
  T ask(planet_type& p, const Handle& h, Ts... xs) {
    caf::scoped_actor self{p.sys};
    auto rh = self->request(h, caf::infinite, xs...);
    settle();
    T result{};
    rh.receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { CAF_FAIL(p.sys.render(err)); });
    return result;
  }

  /// The actor of agent `name` on `p`; a dormant one is woken for it.
  agent_actor handle_on(planet_type& p, const std::string& name) {
    auto e = nodes[&p].ctx->directory->find(name);
    CAF_REQUIRE(e.has_value());
    if (e->handle)
      return e->handle;
    return ask<agent_actor>(p, nodes[&p].sup, resolve_atom::value, name,
                            agent_actor{});
  }

  /// Starts `n` agents on `p`, each with one queued task.
  std::vector<std::string> start_queued(planet_type& p, int n) {
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) {
      names.push_back("j" + std::to_string(i));
      start_agent(p, names.back());
      auto h = handle_on(p, names.back());
      ask<std::string>(p, h, enqueue_atom::value, std::string{"search"},
                       json_box{json{{"query", names.back()}}}, std::string{});
    }
    return names;
  }

  /// Every agent runs on earth or mars now (both take some), generation 1,
  /// with its queued task, and both agree where.
  void check_moved_off_jupiter(const std::vector<std::string>& names) {
    std::map<std::string, int> per_node;
    for (auto& name : names) {
      auto e = nodes[&earth].ctx->directory->find(name);
      CAF_REQUIRE(e.has_value());
      CAF_CHECK_NOT_EQUAL(e->node, "jupiter@sim");
      CAF_CHECK_EQUAL(e->generation, 1u);
      ++per_node[e->node];
      CAF_CHECK(host_of(mars, name) == std::optional<std::string>{e->node});
      auto& host = e->node == "earth@sim" ? earth : mars;
      auto local = handle_on(host, name);
      CAF_CHECK_EQUAL(ask<agent_status>(host, local, state_atom::value)
                        .inbox_count,
                      1u);
    }
    CAF_CHECK_EQUAL(per_node.size(), 2u);
  }

  std::optional<std::string> host_of(planet_type& p, const std::string& agent) {
    if (auto e = nodes[&p].ctx->directory->find(agent))
      return e->node;
    return std::nullopt;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(membership_tests, fixture)

CAF_TEST(two nodes join and exchange their directories) {
  wire(mars, "mars", earth);
  boot(mars, "mars", {});
  start_agent(mars, "on-mars");
  boot(earth, "earth", {"mars:8080"});
  start_agent(earth, "on-earth");
  CAF_CHECK_EQUAL(info(earth).connected, std::vector<std::string>{"mars@sim"});
  CAF_CHECK_EQUAL(info(mars).connected, std::vector<std::string>{"earth@sim"});
  // The snapshot on join brought the older agent, replication the newer.
  CAF_CHECK(host_of(earth, "on-mars") == std::optional<std::string>{"mars@sim"});
  CAF_CHECK(host_of(mars, "on-earth")
            == std::optional<std::string>{"earth@sim"});
}

CAF_TEST(gossip brings a third node into a full mesh) {
  wire(mars, "mars", earth);
  wire(mars, "mars", jupiter);
  wire(earth, "earth", jupiter);
  boot(mars, "mars", {});
  boot(earth, "earth", {"mars:8080"});
  start_agent(earth, "on-earth");
  // Jupiter only knows mars; the welcome lists earth, which it then joins.
  boot(jupiter, "jupiter", {"mars:8080"});
  CAF_CHECK_EQUAL(info(jupiter).connected,
                  (std::vector<std::string>{"earth@sim", "mars@sim"}));
  CAF_CHECK_EQUAL(info(earth).connected,
                  (std::vector<std::string>{"jupiter@sim", "mars@sim"}));
  CAF_CHECK(host_of(jupiter, "on-earth")
            == std::optional<std::string>{"earth@sim"});
}

CAF_TEST(a node going down is purged and comes back resynchronised) {
  wire(mars, "mars", earth);
  boot(mars, "mars", {});
  boot(earth, "earth", {"mars:8080"});
  start_agent(mars, "m1");
  start_agent(earth, "e1");
  CAF_REQUIRE(host_of(earth, "m1"));
  // Mars's membership actor goes away: earth sees the node down, purges
  // its agents and tells its bus.
  caf::anon_send_exit(nodes[&mars].mem, caf::exit_reason::kill);
  settle();
  CAF_CHECK(info(earth).connected.empty());
  CAF_CHECK(!host_of(earth, "m1"));
  CAF_CHECK(host_of(earth, "e1"));
  // Mars rejoins through earth with a new membership actor; once the
  // snapshots are exchanged its agents are reachable again.
  auto& m = nodes[&mars];
  membership_config mc;
  mc.cookie = "secret";
  mc.seeds = {"earth:8080"};
  mc.gossip_interval = std::chrono::milliseconds{0};
  m.mem = mars.sys.spawn(membership, node_context_ptr{m.ctx}, mc,
                         mars.mm.actor_handle(), m.dir, m.bus, m.sup);
  wire(earth, "earth", mars);
  caf::anon_send(m.mem, start_atom::value, m.address);
  settle();
  CAF_CHECK_EQUAL(info(earth).connected, std::vector<std::string>{"mars@sim"});
  CAF_CHECK(host_of(earth, "m1") == std::optional<std::string>{"mars@sim"});
  CAF_CHECK(host_of(mars, "e1") == std::optional<std::string>{"earth@sim"});
}

CAF_TEST(a leaving node hands its agents to the two others) {
  wire(mars, "mars", earth);
  wire(mars, "mars", jupiter);
  wire(earth, "earth", jupiter);
  boot(mars, "mars", {});
  boot(earth, "earth", {"mars:8080"});
  boot(jupiter, "jupiter", {"mars:8080"});
  CAF_REQUIRE_EQUAL(info(jupiter).connected.size(), 2u);
  auto names = start_queued(jupiter, 12);
  CAF_CHECK(ask<bool>(jupiter, nodes[&jupiter].mem, leave_atom::value));
  CAF_CHECK_EQUAL(ask<size_t>(jupiter, nodes[&jupiter].sup,
                              handoff_atom::value),
                  12u);
  check_moved_off_jupiter(names);
  // Jupiter agrees too.
  for (auto& name : names)
    CAF_CHECK(host_of(jupiter, name) == host_of(earth, name));
}

CAF_TEST(the agents of a crashed node start on their backups) {
  wire(mars, "mars", earth);
  wire(mars, "mars", jupiter);
  wire(earth, "earth", jupiter);
  boot(mars, "mars", {}, "secret", true);
  boot(earth, "earth", {"mars:8080"}, "secret", true);
  boot(jupiter, "jupiter", {"mars:8080"}, "secret", true);
  CAF_REQUIRE_EQUAL(info(jupiter).connected.size(), 2u);
  auto names = start_queued(jupiter, 12);
  // Jupiter's membership dies (its other actors live on: a cut-off node).
  caf::anon_send_exit(nodes[&jupiter].mem, caf::exit_reason::kill);
  settle();
  // The two others decide once the settle time is over: 2 of 3 is the
  // majority, so every agent starts on its backup, generation 1.
  for (auto* p : {&earth, &mars})
    p->sched.trigger_timeouts();
  settle();
  check_moved_off_jupiter(names);
  CAF_CHECK(nodes[&earth].ctx->cluster->quorum());
  CAF_CHECK(nodes[&mars].ctx->cluster->quorum());
}

CAF_TEST(a node with another cookie is refused) {
  wire(mars, "mars", earth);
  boot(mars, "mars", {});
  start_agent(mars, "hidden");
  boot(earth, "earth", {"mars:8080"}, "wrong");
  CAF_CHECK(info(earth).connected.empty());
  CAF_CHECK(info(mars).connected.empty());
  CAF_CHECK(!host_of(earth, "hidden"));
}

CAF_TEST_FIXTURE_SCOPE_END()
