#include "core/placement.hpp"

#include <algorithm>
#include <cstdint>

namespace am {

namespace {

uint64_t score(const std::string& name, const std::string& node) {
  // FNV-1a over name, a separator and node, then a 64-bit finaliser
  // (splitmix64) so that similar names spread.
  uint64_t h = 14695981039346656037ull;
  auto feed = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  feed(name);
  h ^= 0xff;
  h *= 1099511628211ull;
  feed(node);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

} // namespace

std::vector<std::string> rendezvous_order(const std::string& name,
                                          std::vector<std::string> nodes) {
  std::vector<std::pair<uint64_t, std::string>> scored;
  scored.reserve(nodes.size());
  for (auto& n : nodes)
    scored.emplace_back(score(name, n), std::move(n));
  std::sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });
  std::vector<std::string> result;
  result.reserve(scored.size());
  for (auto& x : scored)
    result.push_back(std::move(x.second));
  return result;
}

const std::string* rendezvous_first(const std::string& name,
                                    const std::vector<std::string>& nodes) {
  const std::string* best = nullptr;
  uint64_t best_score = 0;
  for (auto& n : nodes) {
    auto x = score(name, n);
    if (!best || x > best_score || (x == best_score && n < *best)) {
      best = &n;
      best_score = x;
    }
  }
  return best;
}

} // namespace am
