#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/persist.hpp"

namespace am {

/// The copies of other nodes' agents that this node keeps as their backup:
/// a full snapshot to start from, then every change (`agent_delta`) in
/// order. Plain data, no actors.
class replica_set {
public:
  /// Starts (or restarts) the copy of an agent hosted on `primary`.
  void seed(const std::string& primary, const agent_snapshot& x);

  /// Applies a change of an agent hosted on `primary`. Returns false if
  /// there is no copy of `primary` to apply it to (the change needs a seed
  /// first). A removal drops the copy only if `primary` seeded it.
  bool apply(const std::string& primary, const agent_delta& d);

  /// Takes every copy whose primary is `node` out, as snapshots.
  std::vector<agent_snapshot> take(const std::string& node);

  /// The generation of the copy of `name`, if there is one.
  std::optional<uint64_t> generation_of(const std::string& name) const;

  /// The names of the agents whose primary is `node`.
  std::vector<std::string> hosted_by(const std::string& node) const;

  /// The agent as the copy has it.
  std::optional<agent_snapshot> snapshot(const std::string& name) const;

  size_t size() const {
    return copies_.size();
  }

private:
  struct copy {
    std::string primary;
    agent_header header;
    std::unordered_map<std::string, stored_task> tasks;
  };
  std::unordered_map<std::string, copy> copies_;
};

} // namespace am
