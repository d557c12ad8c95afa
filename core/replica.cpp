#include "core/replica.hpp"

#include <algorithm>

namespace am {

void replica_set::seed(const std::string& primary, const agent_snapshot& x) {
  auto& c = copies_[x.header.name];
  c.primary = primary;
  c.header = x.header;
  c.tasks.clear();
  for (auto& t : x.tasks)
    c.tasks[t.id] = t;
}

bool replica_set::apply(const std::string& primary, const agent_delta& d) {
  auto i = copies_.find(d.name);
  if (d.removed) {
    // Only the primary of a copy removes it (a removal from a host the
    // agent left must not drop its new host's copy).
    if (i != copies_.end() && i->second.primary == primary)
      copies_.erase(i);
    return true;
  }
  if (i == copies_.end() || i->second.primary != primary)
    return false;
  auto& c = i->second;
  if (d.has_header)
    c.header = d.header;
  for (auto& t : d.upserts) {
    if (t.full) {
      c.tasks[t.id] = t;
      continue;
    }
    auto j = c.tasks.find(t.id);
    if (j == c.tasks.end())
      continue; // a status change of a row evicted meanwhile
    j->second.seq = t.seq;
    j->second.status = t.status;
    j->second.result = t.result;
    j->second.updated_us = t.updated_us;
  }
  for (auto& id : d.deletes)
    c.tasks.erase(id);
  return true;
}

std::vector<agent_snapshot> replica_set::take(const std::string& node) {
  std::vector<agent_snapshot> result;
  for (auto& name : hosted_by(node)) {
    if (auto x = snapshot(name))
      result.push_back(std::move(*x));
    copies_.erase(name);
  }
  return result;
}

std::optional<uint64_t>
replica_set::generation_of(const std::string& name) const {
  auto i = copies_.find(name);
  if (i == copies_.end())
    return std::nullopt;
  return i->second.header.generation;
}

std::vector<std::string> replica_set::hosted_by(const std::string& node) const {
  std::vector<std::string> result;
  for (auto& kvp : copies_)
    if (kvp.second.primary == node)
      result.push_back(kvp.first);
  std::sort(result.begin(), result.end());
  return result;
}

std::optional<agent_snapshot>
replica_set::snapshot(const std::string& name) const {
  auto i = copies_.find(name);
  if (i == copies_.end())
    return std::nullopt;
  agent_snapshot result;
  result.header = i->second.header;
  for (auto& kvp : i->second.tasks)
    result.tasks.push_back(kvp.second);
  std::sort(result.tasks.begin(), result.tasks.end(),
            [](const stored_task& x, const stored_task& y) {
              return x.seq < y.seq;
            });
  return result;
}

} // namespace am
