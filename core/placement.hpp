#pragma once

#include <string>
#include <vector>

namespace am {

/// Rendezvous (highest random weight) hashing: `nodes` ordered by their
/// score for `name`, best first. Every node computes the same order from
/// the same members, a name's choice changes only when its best node comes
/// or goes, and names spread evenly.
std::vector<std::string> rendezvous_order(const std::string& name,
                                          std::vector<std::string> nodes);

/// The first of `rendezvous_order(name, nodes)` without sorting (null if
/// `nodes` is empty).
const std::string* rendezvous_first(const std::string& name,
                                    const std::vector<std::string>& nodes);

} // namespace am
