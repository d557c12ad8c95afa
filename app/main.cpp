// agentmesh: one node of a distributed multi-agent runtime.

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <caf/actor_system.hpp>

#include "core/log.hpp"
#include "app/config.hpp"
#include "app/node.hpp"

int main(int argc, char** argv) {
  am::app::config cfg;
  if (auto code = am::app::load(cfg, argc, argv))
    return *code;
  // Block the shutdown signals in every thread; main waits for them below.
  // (Reset first: a shell may have started us with SIGINT ignored, and an
  // ignored signal never reaches sigwait.)
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  caf::actor_system sys{cfg};
  auto n = am::app::start_node(sys, cfg, am::action_registry::builtin());
  if (!n) {
    std::cerr << "agentmesh: cannot start: " << sys.render(n.error()) << '\n';
    return 1;
  }
  std::cout << "agentmesh " << AGENTMESH_VERSION << " node " << n->ctx->node_name
            << " http://" << cfg.http_host << ':' << n->http.port
            << " cluster "
            << (cfg.cluster_enabled
                  ? cfg.cluster_host + ":" + std::to_string(n->cluster_port)
                  : std::string{"off"})
            << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  am::log::info("agentmesh: shutting down (signal " + std::to_string(sig)
                + ")");
  // A second signal, or a shutdown that takes too long, ends the process.
  std::thread{[signals] {
    int again = 0;
    sigwait(&signals, &again);
    am::log::warning("agentmesh: second signal, exiting at once");
    std::_Exit(130);
  }}.detach();
  // The watchdog leaves room for a handoff (drain time plus adopts).
  // stop_node: leave (3 s) + drain + adopts (11 s) + grace + HTTP drain
  // (5 s), with room to spare.
  auto limit = std::chrono::seconds(25)
               + std::chrono::duration_cast<std::chrono::seconds>(
                 cfg.handoff_drain + std::chrono::milliseconds(999));
  std::thread{[limit] {
    std::this_thread::sleep_for(limit);
    am::log::error("agentmesh: shutdown took longer than "
                   + std::to_string(limit.count()) + " s, exiting");
    std::_Exit(1);
  }}.detach();
  am::app::stop_node(sys, *n);
  return 0;
}
