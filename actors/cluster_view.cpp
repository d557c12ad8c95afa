#include "actors/cluster_view.hpp"

#include <mutex>
#include <vector>

#include "core/placement.hpp"

namespace am {

cluster_view::cluster_view(std::string self) : self_(std::move(self)) {
  // nop
}

void cluster_view::up(const std::string& node, replica_actor keeper) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  members_[node] = std::make_pair(std::move(keeper), ++joins_);
  leaving_.erase(node);
}

void cluster_view::down(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  members_.erase(node);
  leaving_.erase(node);
}

void cluster_view::leaving(const std::string& node) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  if (members_.count(node) > 0)
    leaving_.insert(node);
}

std::optional<cluster_view::keeper_ref>
cluster_view::backup_for(const std::string& agent) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  std::vector<std::string> nodes;
  for (auto& kvp : members_)
    if (kvp.second.first && leaving_.count(kvp.first) == 0
        && kvp.first != self_)
      nodes.push_back(kvp.first);
  if (nodes.empty())
    return std::nullopt;
  auto best = rendezvous_first(agent, nodes);
  auto& m = members_.at(*best);
  return keeper_ref{*best, m.first, m.second};
}

replica_actor cluster_view::keeper_of(const std::string& node) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto i = members_.find(node);
  return i == members_.end() ? replica_actor{} : i->second.first;
}

caf::error cluster_view::refusal() const {
  if (quorum())
    return caf::error{};
  return make_error(errc::no_quorum,
                    "this node is cut off from the majority of the cluster");
}

bool holds_quorum(const std::set<std::string>& agreed,
                  const std::set<std::string>& reachable) {
  size_t present = 0;
  for (auto& node : agreed)
    present += reachable.count(node);
  if (2 * present > agreed.size())
    return true;
  return 2 * present == agreed.size() && !agreed.empty()
         && reachable.count(*agreed.begin()) > 0;
}

} // namespace am
