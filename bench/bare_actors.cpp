// The floor under "start 1,000,000 agents": what CAF 0.17 itself costs to
// spawn N actors that do nothing, from one actor (as the supervisor spawns
// agents), and the resident memory each one adds. Built with the node's
// allocator, so the figures compare with the node's own.
//
// Usage: bare_actors KIND [N]   (default N: 1000000)
// KIND: `stateless` (an event_based_actor with one handler) or `stateful` (a
// stateful_actor holding a name, as small as an agent's state can be); one
// kind per process, so freed memory of one does not hide the other's.
// Prints "kind=K actors=N seconds=S bytes_per_actor=B".

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
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

struct named {
  std::string name;
};

caf::behavior stateless(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

caf::behavior stateful(caf::stateful_actor<named>* self, std::string name) {
  self->state.name = std::move(name);
  return {[self](int) { return self->state.name; }};
}

/// Spawns `n` actors from one spawner actor; returns the seconds it took
/// and keeps the handles in `out` (reserved by the caller).
template <class Spawn>
double spawn_all(caf::actor_system& sys, size_t n, std::vector<caf::actor>& out,
                 Spawn spawn) {
  caf::scoped_actor self{sys};
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i)
    out.push_back(spawn(self, i));
  // Every actor answers once: all of them are running, not only allocated.
  for (size_t i = 0; i < n; i += n / 8 + 1)
    self->request(out[i], caf::infinite, 1).receive([](caf::message&) {},
                                                    [](caf::error&) {});
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
  std::vector<caf::actor> xs;
  xs.reserve(n);
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
