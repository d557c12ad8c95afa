// Directory lookups per second from 1 and 2 threads: the node's directory
// map (what request workers read on every call) filled with 100,000 agents,
// looked up by random names for a fixed time. bench/compare runs it next to
// ETS with read_concurrency.
//
// Two kinds of lookup, as the node makes them:
// - `read`: the entry read in place (GetAgentState reads an agent's board
//   this way, the most frequent lookup);
// - `copy`: a copy of the entry (a call to an agent keeps the handle and
//   the node for its answer and a retry).
//
// Usage: directory_lookups [SECONDS] [NAMES]   (defaults: 2, 100000)
// Prints: "mode=M threads=N lookups=L seconds=S per_second=R misses=M".

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/node_context.hpp"

using namespace am;

namespace {

struct outcome {
  uint64_t lookups = 0;
  uint64_t misses = 0;
};

outcome run(const directory_map& dir, const std::vector<std::string>& names,
            bool copy, unsigned threads, double seconds) {
  std::atomic<bool> stop{false};
  std::vector<outcome> per(threads);
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937_64 gen{t + 1};
      std::uniform_int_distribution<size_t> pick{0, names.size() - 1};
      uint64_t n = 0, misses = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 256; ++i) {
          auto& name = names[pick(gen)];
          bool ok = false;
          if (copy) {
            auto e = dir.find(name);
            ok = e && e->handle && !e->node.empty();
          } else {
            dir.read(name, [&](const dir_entry& e) {
              ok = e.handle && !e.node.empty();
            });
          }
          if (!ok)
            ++misses;
        }
        n += 256;
      }
      per[t] = outcome{n, misses};
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  outcome total;
  for (auto& t : ts)
    t.join();
  for (auto& o : per) {
    total.lookups += o.lookups;
    total.misses += o.misses;
  }
  return total;
}

} // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  size_t count = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 100000;
  caf::actor_system_config cfg;
  // The actors only hold handles: a sharing scheduler's idle worker
  // sleeps, where work-stealing workers would poll beside the lookups.
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  // Real handles (a lookup copies one), shared by 100 agents each as a
  // node's agents would not be: copying bumps a reference count.
  std::vector<agent_actor> handles;
  for (size_t i = 0; i < std::max<size_t>(count / 100, 1); ++i)
    handles.push_back(caf::actor_cast<agent_actor>(
      sys.spawn([](caf::event_based_actor*) -> caf::behavior {
        return {[](int) {}};
      })));
  directory_map dir;
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) {
    names.push_back("agent-" + std::to_string(i));
    dir.assign(names.back(), dir_entry{names.back(), "bench@host",
                                       handles[i % handles.size()], 0, 1});
  }
  for (bool copy : {false, true})
    for (unsigned threads : {1u, 2u}) {
      auto o = run(dir, names, copy, threads, seconds);
      std::printf("mode=%s threads=%u lookups=%llu seconds=%g "
                  "per_second=%.0f misses=%llu\n",
                  copy ? "copy" : "read", threads,
                  static_cast<unsigned long long>(o.lookups), seconds,
                  o.lookups / seconds,
                  static_cast<unsigned long long>(o.misses));
    }
  for (auto& h : handles)
    caf::anon_send_exit(h, caf::exit_reason::kill);
  return 0;
}
