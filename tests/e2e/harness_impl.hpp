#pragma once

#include <thread>

namespace e2e {

template <class Pred>
bool eventually(Pred pred, clock_type::duration timeout,
                clock_type::duration interval) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (clock_type::now() >= deadline)
      return false;
    // A poll interval between checks of an external process.
    std::this_thread::sleep_for(interval);
  }
}

} // namespace e2e
