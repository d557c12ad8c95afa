#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "actors/json.hpp"

namespace am {

/// An action computes a task's result from its parameters. Throwing an
/// exception crashes the agent: its supervisor restarts it and reports the
/// task in flight as failed.
using action_fn = std::function<json(const json& params)>;

/// Maps action names (exact, case-sensitive) to their implementation. Users
/// extend a node by adding their own actions before the node starts.
class action_registry {
public:
  /// A registry with the built-in actions `search`, `analyze`, `summarize`.
  static action_registry builtin();

  /// Adds or replaces an action.
  void add(std::string name, action_fn fn);

  bool contains(const std::string& name) const;

  /// Runs `action`; an unknown action yields
  /// `{"error": "unknown_action: <action>"}`.
  json run(const std::string& action, const json& params) const;

  std::vector<std::string> names() const;

private:
  std::map<std::string, action_fn> actions_;
};

/// Reads a parameter as text: missing is "", a string is itself, any other
/// JSON value is its compact JSON text.
std::string param_text(const json& params, const std::string& key);

/// The first `n` Unicode code points of the UTF-8 string `str`.
std::string utf8_prefix(const std::string& str, size_t n);

} // namespace am
