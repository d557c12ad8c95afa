#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>

#include "actors/vocabulary.hpp"

namespace am {

/// What every actor of a node may read about the cluster without asking
/// the membership actor: which members keep replicas, who is leaving, and
/// whether this node is on the side that holds the quorum. Written by the
/// membership actor only; thread-safe.
class cluster_view {
public:
  /// `self`: this node's name.
  explicit cluster_view(std::string self);

  /// A member joined; `keeper` holds its replicas.
  void up(const std::string& node, replica_actor keeper);

  /// A member went down or left.
  void down(const std::string& node);

  /// A member announced that it leaves: it keeps no new replicas.
  void leaving(const std::string& node);

  /// A member's replica keeper. `incarnation` grows with every join, so a
  /// member that reconnected (its old proxies are dead, though its handle
  /// compares equal) counts as a new backup.
  struct keeper_ref {
    std::string node;
    replica_actor handle;
    uint64_t incarnation = 0;
  };

  /// The member that keeps the replica of `agent` hosted here: the first
  /// member in rendezvous order of those not leaving. None when alone.
  std::optional<keeper_ref> backup_for(const std::string& agent) const;

  /// The replica keeper of a member, if it is one.
  replica_actor keeper_of(const std::string& node) const;

  /// False while this node is on the minority side of a partition: it then
  /// acknowledges no change.
  bool quorum() const {
    return quorum_.load(std::memory_order_acquire);
  }

  /// `no_quorum` while this node is cut off, else nothing.
  caf::error refusal() const;

  void set_quorum(bool x) {
    quorum_.store(x, std::memory_order_release);
  }

private:
  std::string self_;
  mutable std::shared_mutex mtx_;
  std::map<std::string, std::pair<replica_actor, uint64_t>> members_;
  uint64_t joins_ = 0;
  std::set<std::string> leaving_;
  std::atomic<bool> quorum_{true};
};

/// The keep-majority rule of SPEC 10: does a side holding `reachable` of
/// the last agreed members `agreed` (both include this node) hold the
/// quorum? More than half does; on an even split, the side with the
/// smallest name of `agreed` does.
bool holds_quorum(const std::set<std::string>& agreed,
                  const std::set<std::string>& reachable);

} // namespace am
