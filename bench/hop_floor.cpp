// The floor under a request that an actor must answer: agentmesh's own
// HTTP loop (the same `start_server` the node runs) with workers that do no
// work at all. Each answers every POST with the same canned A2A task reply
// the node sends for a blocking SendMessage (about 650 bytes):
//
//   hop_floor one PORT [CAF options]   loop -> worker -> loop
//   hop_floor two PORT [CAF options]   loop -> worker -> "agent" -> worker
//                                      -> loop
//   (the node's path: the agent is a second actor the worker asks, as for
//   a local agent; PORT 0 picks a free one)
//
// Scheduler settings, worker count and allocator are the node's
// (`app::scheduler_defaults`, `http::worker_count`; `--scheduler.max-threads=N`
// overrides). `bench/compare` drives it with the same wrk script as the
// A2A scenario, so the figure is the most any design of this shape can
// answer on this machine with the client beside it.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/vocabulary.hpp"
#include "app/config.hpp"
#include "http/server.hpp"

using namespace am;

namespace {

// What the node answers to a2a_send.lua's request (ids and times fixed).
const std::string canned_reply
  = R"({"id":1,"jsonrpc":"2.0","result":{"task":{"artifacts":[{"artifactId":)"
    R"("result","name":"search","parts":[{"data":{"ok":"Search results for: )"
    R"(wrk"},"mediaType":"application/json"},{"mediaType":"text/plain","text")"
    R"(:"Search results for: wrk"}]}],"contextId":"174da98e38d9fda8ae1dca10fc)"
    R"(e42cfc","history":[{"contextId":"174da98e38d9fda8ae1dca10fce42cfc","me)"
    R"(ssageId":"m-1","parts":[{"text":"wrk"}],"role":"ROLE_USER","taskId":"b)"
    R"(ca95c8f0f2ae583"}],"id":"bca95c8f0f2ae583","metadata":{"action":"searc)"
    R"(h","agent":"bench","node":"nonode@nohost","trace_id":"66b96cd3fed6b746)"
    R"(42097e37369e3cb9"},"status":{"state":"TASK_STATE_COMPLETED","timestamp)"
    R"(":"2026-11-29T06:08:08.294964Z"}}}})";

using agent_actor_t
  = caf::typed_actor<caf::replies_to<std::string>::with<std::string>>;

agent_actor_t::behavior_type null_agent() {
  return {[](std::string& x) { return std::move(x); }};
}

http::worker_actor::behavior_type
floor_worker(http::worker_actor::pointer self, agent_actor_t agent) {
  return {
    [=](rpc_atom, http::call& x) -> caf::result<http::call_result> {
      auto sink = std::move(x.reply);
      auto id = x.seq;
      // The answer goes to the sink, as the node's worker sends it.
      if (!agent) {
        sink->result(id, http::call_result{200, canned_reply});
        return caf::delegated<http::call_result>{};
      }
      self->request(agent, caf::infinite, std::move(x.body))
        .then([sink, id](std::string&) {
          sink->result(id, http::call_result{200, canned_reply});
        });
      return caf::delegated<http::call_result>{};
    },
    [](tick_atom, uint64_t) {},
  };
}

} // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "two";
  uint16_t port = argc > 2 ? static_cast<uint16_t>(std::atoi(argv[2])) : 0;
  if (mode != "one" && mode != "two") {
    std::cerr << "usage: hop_floor one|two PORT [--scheduler.*=...]\n";
    return 2;
  }
  caf::actor_system_config cfg;
  register_types(cfg);
  cfg.load<caf::io::middleman>();
  // CAF reads options after the program name: argv[2] (the port) stands in
  // for it.
  if (auto err = argc > 2 ? cfg.parse(argc - 2, argv + 2) : caf::error{}) {
    std::cerr << "hop_floor: " << cfg.render(err) << '\n';
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (!cfg.remainder.empty()) {
    std::cerr << "hop_floor: unexpected argument " << cfg.remainder.front()
              << '\n';
    return 2;
  }
  app::scheduler_defaults(cfg);
  caf::actor_system sys{cfg};
  agent_actor_t agent;
  if (mode == "two")
    agent = sys.spawn(null_agent);
  std::vector<http::worker_actor> workers;
  for (unsigned i = 0, n = http::worker_count(); i < n; ++i)
    workers.push_back(sys.spawn(floor_worker, agent));
  http::server_config sc;
  sc.port = port;
  auto srv = http::start_server(sys, sc, workers, event_bus_actor{});
  if (!srv) {
    std::cerr << "hop_floor: " << sys.render(srv.error()) << '\n';
    return 1;
  }
  std::cout << "listening http://127.0.0.1:" << srv->port << std::endl;
  // Runs until its standard input closes or it is killed (bench/compare
  // keeps a pipe open and stops it with SIGTERM).
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  caf::anon_send_exit(srv->acceptor, caf::exit_reason::user_shutdown);
  return 0;
}
