// The floor under "start 1,000,000 agents": what CAF 0.17 itself costs to
// spawn N actors that do nothing, all from one actor, until every one has
// run its setup, and the resident memory each one adds. Built with the node's
// allocator, so the figures compare with the node's own.
//
// Usage: bare_actors KIND [N]   (default N: 1000000)
// KIND: `stateless` (an event_based_actor with one handler) or `stateful` (a
// stateful_actor holding a name, as small as an agent's state can be); one
// kind per process, so freed memory of one does not hide the other's.
// Prints "kind=K actors=N seconds=S bytes_per_actor=B".

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace {

long rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::strtol(line.c_str() + 6, nullptr, 10);
  return 0;
}

/// Actors whose setup has run (CAF runs it later, on a scheduler thread).
std::atomic<size_t> started{0};

struct named {
  std::string name;
};

caf::behavior stateless(caf::event_based_actor*) {
  started.fetch_add(1, std::memory_order_relaxed);
  return {[](int x) { return x; }};
}

caf::behavior stateful(caf::stateful_actor<named>* self, std::string name) {
  self->state.name = std::move(name);
  started.fetch_add(1, std::memory_order_relaxed);
  return {[self](int) { return self->state.name; }};
}

/// Spawns `n` actors from one (blocking) actor; returns the seconds until
/// every one has run its setup, and keeps the handles in `out` (sized and
/// touched by the caller).
template <class Spawn>
double spawn_all(caf::actor_system& sys, size_t n, std::vector<caf::actor>& out,
                 Spawn spawn) {
  caf::scoped_actor self{sys};
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i)
    out[i] = spawn(self, i);
  while (started.load() < n)
    std::this_thread::yield();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
    .count();
}

void report(const char* kind, size_t n, double seconds, long kib0,
            long kib1) {
  std::printf("kind=%s actors=%zu seconds=%.3f bytes_per_actor=%.0f\n", kind,
              n, seconds, (kib1 - kib0) * 1024.0 / static_cast<double>(n));
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  std::string kind = argc > 1 ? argv[1] : "";
  size_t n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000000;
  if (n == 0 || (kind != "stateless" && kind != "stateful")) {
    std::fprintf(stderr, "usage: bare_actors stateless|stateful [N]\n");
    return 2;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  // Written before the baseline: the handles' pages are not the actors'.
  std::vector<caf::actor> xs(n);
  auto kib0 = rss_kib();
  auto s = kind == "stateless"
             ? spawn_all(sys, n, xs,
                         [](caf::scoped_actor& self, size_t) {
                           return self->spawn(stateless);
                         })
             : spawn_all(sys, n, xs, [](caf::scoped_actor& self, size_t i) {
                 return self->spawn(stateful, "S-" + std::to_string(i));
               });
  report(kind.c_str(), n, s, kib0, rss_kib());
  for (auto& x : xs)
    caf::anon_send_exit(x, caf::exit_reason::kill);
  return 0;
}
