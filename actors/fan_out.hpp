#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include <caf/error.hpp>

namespace am {

/// Sends `n` requests and gathers their answers. `send(i)` makes the i-th
/// request and returns its response handle. `on_answer(T&)` sees each
/// answer and returns true once it needs no more; `done()` then runs, or
/// after the last answer or error (an error or a timeout counts as
/// answered). `done` runs exactly once, at once for `n == 0`.
template <class T, class Send, class OnAnswer, class Done>
void fan_out(size_t n, Send send, OnAnswer on_answer, Done done) {
  struct gather {
    size_t pending;
    bool finished;
    OnAnswer on_answer;
    Done done;
    void finish() {
      finished = true;
      done();
    }
    void one() {
      if (--pending == 0 && !finished)
        finish();
    }
  };
  auto g = std::make_shared<gather>(
    gather{n, false, std::move(on_answer), std::move(done)});
  if (n == 0) {
    g->finish();
    return;
  }
  for (size_t i = 0; i < n; ++i)
    send(i).then(
      [g](T& x) {
        if (!g->finished && g->on_answer(x)) {
          g->finish();
          return;
        }
        g->one();
      },
      [g](caf::error&) { g->one(); });
}

} // namespace am
