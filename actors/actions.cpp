#include "actors/actions.hpp"

namespace am {

std::string param_text(const json& params, const std::string& key) {
  if (!params.is_object())
    return {};
  auto i = params.find(key);
  if (i == params.end())
    return {};
  if (i->is_string())
    return i->get<std::string>();
  return dump(*i);
}

std::string utf8_prefix(const std::string& str, size_t n) {
  size_t points = 0;
  for (size_t i = 0; i < str.size(); ++i) {
    // A byte that is not a continuation byte (10xxxxxx) starts a code point.
    if ((static_cast<unsigned char>(str[i]) & 0xC0) != 0x80) {
      if (points == n)
        return str.substr(0, i);
      ++points;
    }
  }
  return str;
}

action_registry action_registry::builtin() {
  action_registry result;
  result.add("search", [](const json& p) {
    return json{{"ok", "Search results for: " + param_text(p, "query")}};
  });
  result.add("analyze", [](const json& p) {
    return json{{"ok", "Analysis of: " + param_text(p, "data")}};
  });
  result.add("summarize", [](const json& p) {
    return json{
      {"ok", "Summary: " + utf8_prefix(param_text(p, "text"), 50) + "..."}};
  });
  return result;
}

void action_registry::add(std::string name, action_fn fn) {
  actions_[std::move(name)] = std::move(fn);
}

bool action_registry::contains(const std::string& name) const {
  return actions_.count(name) > 0;
}

json action_registry::run(const std::string& action,
                          const json& params) const {
  auto i = actions_.find(action);
  if (i == actions_.end())
    return json{{"error", "unknown_action: " + action}};
  return i->second(params);
}

std::vector<std::string> action_registry::names() const {
  std::vector<std::string> result;
  for (auto& kvp : actions_)
    result.push_back(kvp.first);
  return result;
}

} // namespace am
