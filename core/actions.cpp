#include "core/actions.hpp"

#include <memory>

namespace am {

action_env::~action_env() {
  // nop
}

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

std::optional<int64_t> sleep_ms(const json& params) {
  if (!params.is_object())
    return std::nullopt;
  auto i = params.find("ms");
  if (i == params.end())
    return std::nullopt;
  int64_t ms = -1;
  if (i->is_number_integer()) {
    ms = i->get<int64_t>();
  } else if (i->is_string()) {
    auto& s = i->get_ref<const std::string&>();
    if (s.empty() || s.size() > 6
        || s.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    ms = std::stoll(s);
  } else {
    return std::nullopt;
  }
  if (ms < 0 || ms > max_sleep_ms)
    return std::nullopt;
  return ms;
}

action_registry action_registry::builtin() {
  action_registry result;
  result.add(
    "search",
    [](const json& p) {
      return json{{"ok", "Search results for: " + param_text(p, "query")}};
    },
    {"Searches for a query.", "query"});
  result.add(
    "analyze",
    [](const json& p) {
      return json{{"ok", "Analysis of: " + param_text(p, "data")}};
    },
    {"Analyzes data.", "data"});
  result.add(
    "summarize",
    [](const json& p) {
      return json{
        {"ok", "Summary: " + utf8_prefix(param_text(p, "text"), 50) + "..."}};
    },
    {"Summarizes text (first 50 characters).", "text"});
  action_info sleep_info;
  sleep_info.description = "Waits ms milliseconds (0..60000) without holding "
                           "a thread; can be cancelled while it runs.";
  sleep_info.text_param = "ms";
  sleep_info.cancelable = true;
  sleep_info.check = [](const json& p) -> std::optional<std::string> {
    if (!sleep_ms(p))
      return "ms must be an integer in 0.." + std::to_string(max_sleep_ms);
    return std::nullopt;
  };
  result.add_async(
    "sleep",
    [](const json& p, action_env& env, action_done done) {
      auto ms = sleep_ms(p).value_or(0);
      env.after(std::chrono::milliseconds{ms}, [done, ms] {
        done(json{{"ok", "slept " + std::to_string(ms) + " ms"}});
      });
    },
    std::move(sleep_info));
  return result;
}

void action_registry::add(std::string name, action_fn fn, action_info info) {
  actions_[std::move(name)] = entry{std::move(fn), nullptr, std::move(info)};
}

void action_registry::add_async(std::string name, async_action_fn fn,
                                action_info info) {
  actions_[std::move(name)] = entry{nullptr, std::move(fn), std::move(info)};
}

bool action_registry::contains(const std::string& name) const {
  return actions_.count(name) > 0;
}

bool action_registry::is_async(const std::string& name) const {
  auto i = actions_.find(name);
  return i != actions_.end() && i->second.async != nullptr;
}

const action_info* action_registry::info(const std::string& name) const {
  auto i = actions_.find(name);
  return i == actions_.end() ? nullptr : &i->second.info;
}

std::optional<std::string> action_registry::check(const std::string& action,
                                                  const json& params) const {
  auto i = actions_.find(action);
  if (i == actions_.end() || !i->second.info.check)
    return std::nullopt;
  return i->second.info.check(params);
}

json action_registry::run(const std::string& action,
                          const json& params) const {
  auto i = actions_.find(action);
  if (i == actions_.end())
    return json{{"error", "unknown_action: " + action}};
  if (!i->second.sync)
    return json{{"error", "asynchronous action: " + action}};
  return i->second.sync(params);
}

void action_registry::start(const std::string& action, const json& params,
                            action_env& env, action_done done) const {
  auto i = actions_.find(action);
  if (i == actions_.end() || i->second.sync) {
    done(run(action, params));
    return;
  }
  i->second.async(params, env, std::move(done));
}

std::vector<std::string> action_registry::names() const {
  std::vector<std::string> result;
  for (auto& kvp : actions_)
    result.push_back(kvp.first);
  return result;
}

} // namespace am
