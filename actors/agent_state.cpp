#include "actors/agent_state.hpp"

#include <algorithm>

#include "actors/clock.hpp"

namespace am {

const char* to_string(task_status x) {
  switch (x) {
    case task_status::queued:
      return "queued";
    case task_status::completed:
      return "completed";
    case task_status::failed:
      return "failed";
    default:
      return "cancelled";
  }
}

agent_state::agent_state(std::string name, json memory, size_t history_limit)
  : name_(std::move(name)),
    memory_(memory.is_object() ? std::move(memory) : json::object()),
    history_limit_(std::max<size_t>(history_limit, 1)) {
  // nop
}

std::vector<std::string> agent_state::memory_keys() const {
  std::vector<std::string> result;
  result.reserve(memory_.size());
  for (auto& kvp : memory_.items())
    result.push_back(kvp.key());
  return result;
}

std::optional<task_record> agent_state::find(const std::string& id) const {
  if (auto i = history_.find(id); i != history_.end())
    return i->second;
  if (in_flight_ && in_flight_->id == id)
    return task_record{*in_flight_, task_status::queued, nullptr};
  auto i = std::find_if(inbox_.begin(), inbox_.end(),
                        [&](const task& t) { return t.id == id; });
  if (i != inbox_.end())
    return task_record{*i, task_status::queued, nullptr};
  return std::nullopt;
}

std::vector<std::string> agent_state::task_ids() const {
  std::vector<std::string> result;
  result.reserve(inbox_.size() + history_.size() + 1);
  for (auto& t : inbox_)
    result.push_back(t.id);
  if (in_flight_)
    result.push_back(in_flight_->id);
  for (auto& kvp : history_)
    result.push_back(kvp.first);
  return result;
}

std::string agent_state::enqueue(std::string action, json params) {
  auto id = random_task_id();
  inbox_.push_back(task{id, std::move(action), std::move(params)});
  return id;
}

std::optional<task_record> agent_state::process_next(
  const action_registry& actions) {
  if (inbox_.empty())
    return std::nullopt;
  in_flight_ = std::move(inbox_.front());
  inbox_.pop_front();
  // May throw: the task then stays in flight until `fail_in_flight`.
  auto result = actions.run(in_flight_->action, in_flight_->params);
  memory_["last_result"] = result;
  ++processed_count_;
  task_record rec{std::move(*in_flight_), task_status::completed,
                  std::move(result)};
  in_flight_.reset();
  finish(rec);
  return rec;
}

bool agent_state::cancel(const std::string& id) {
  auto i = std::find_if(inbox_.begin(), inbox_.end(),
                        [&](const task& t) { return t.id == id; });
  if (i == inbox_.end())
    return false;
  task_record rec{std::move(*i), task_status::cancelled, nullptr};
  inbox_.erase(i);
  finish(std::move(rec));
  return true;
}

std::optional<task_record>
agent_state::fail_in_flight(const std::string& reason) {
  if (!in_flight_)
    return std::nullopt;
  task_record rec{std::move(*in_flight_), task_status::failed,
                  json{{"error", reason}}};
  in_flight_.reset();
  finish(rec);
  return rec;
}

std::vector<std::string> agent_state::take_evicted() {
  return std::exchange(evicted_, {});
}

void agent_state::finish(task_record rec) {
  auto id = rec.t.id;
  history_order_.push_back(id);
  history_.insert_or_assign(std::move(id), std::move(rec));
  while (history_order_.size() > history_limit_) {
    history_.erase(history_order_.front());
    evicted_.push_back(std::move(history_order_.front()));
    history_order_.pop_front();
  }
}

} // namespace am
