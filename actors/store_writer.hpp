#pragma once

#include <memory>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/vocabulary.hpp"
#include "core/node_metrics.hpp"
#include "core/store.hpp"

namespace am {

struct store_writer_state {
  std::shared_ptr<store> db;
  /// Changes that arrived since the last commit, with whom to answer.
  std::vector<agent_delta> batch;
  std::vector<caf::typed_response_promise<bool>> waiting;
  bool flush_scheduled = false;
  static inline const char* name = "store_writer";
};

using store_writer_pointer
  = store_actor::stateful_pointer<store_writer_state>;

/// The only writer of a node's store. Changes that arrive while a commit
/// runs go into the next commit together (group commit): the flush message
/// queues behind them. With fsync, spawn it detached: commits wait for the
/// disk.
/// Each commit's time goes to `metrics` (may be null).
store_actor::behavior_type store_writer(store_writer_pointer self,
                                        std::shared_ptr<store> db,
                                        std::shared_ptr<node_metrics> metrics);

} // namespace am
