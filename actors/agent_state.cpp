#include "actors/agent_state.hpp"

#include <algorithm>

#include "actors/clock.hpp"

namespace am {

const char* to_string(task_status x) {
  switch (x) {
    case task_status::queued:
      return "queued";
    case task_status::running:
      return "running";
    case task_status::completed:
      return "completed";
    case task_status::failed:
      return "failed";
    default:
      return "cancelled";
  }
}

bool is_terminal(task_status x) {
  return x == task_status::completed || x == task_status::failed
         || x == task_status::cancelled;
}

namespace {

template <class List>
auto find_in(List& xs, const std::string& id) {
  return std::find_if(xs.begin(), xs.end(),
                      [&](const task_record& r) { return r.t.id == id; });
}

} // namespace

agent_state::agent_state(std::string name, json memory, size_t history_limit,
                         std::string default_action)
  : name_(std::move(name)),
    memory_(memory.is_object() ? std::move(memory) : json::object()),
    history_limit_(std::max<size_t>(history_limit, 1)),
    default_action_(std::move(default_action)) {
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
  for (auto* xs : {&running_, &inbox_, &standard_})
    if (auto i = find_in(*xs, id); i != xs->end())
      return *i;
  return std::nullopt;
}

std::vector<std::string> agent_state::task_ids() const {
  std::vector<std::string> result;
  result.reserve(inbox_.size() + standard_.size() + running_.size()
                 + history_.size());
  for (auto* xs : {&running_, &inbox_, &standard_})
    for (auto& r : *xs)
      result.push_back(r.t.id);
  for (auto& kvp : history_)
    result.push_back(kvp.first);
  return result;
}

std::optional<std::string> agent_state::running_standard() const {
  for (auto& r : running_)
    if (r.t.standard)
      return r.t.id;
  return std::nullopt;
}

std::string agent_state::enqueue(std::string action, json params) {
  auto id = random_task_id();
  task_record rec;
  rec.t.id = id;
  rec.t.context_id = id; // a dialect task is its own context
  rec.t.action = std::move(action);
  rec.t.params = std::move(params);
  rec.updated_us = now_us();
  inbox_.push_back(std::move(rec));
  return id;
}

task_record& agent_state::start_head(std::list<task_record>& queue) {
  running_.splice(running_.end(), queue, queue.begin());
  auto& rec = running_.back();
  rec.status = task_status::running;
  rec.updated_us = now_us();
  return rec;
}

std::optional<task_record> agent_state::begin_next() {
  if (inbox_.empty())
    return std::nullopt;
  return start_head(inbox_);
}

std::optional<task_record>
agent_state::process_next(const action_registry& actions) {
  auto rec = begin_next();
  if (!rec)
    return std::nullopt;
  // May throw: the task then stays running until `fail_running`.
  return complete(rec->t.id, actions.run(rec->t.action, rec->t.params));
}

std::optional<task_record> agent_state::cancel(const std::string& id) {
  for (auto* xs : {&inbox_, &standard_}) {
    auto i = find_in(*xs, id);
    if (i == xs->end())
      continue;
    auto rec = std::move(*i);
    xs->erase(i);
    rec.status = task_status::cancelled;
    rec.updated_us = now_us();
    finish(rec);
    return rec;
  }
  return std::nullopt;
}

std::pair<task_record, bool> agent_state::submit(task t) {
  if (!t.message_id.empty()) {
    if (auto i = message_ids_.find(t.message_id); i != message_ids_.end())
      if (auto existing = find(i->second))
        return {std::move(*existing), false};
  }
  t.id = random_task_id();
  if (!t.message_id.empty())
    message_ids_[t.message_id] = t.id;
  t.standard = true;
  task_record rec;
  rec.t = std::move(t);
  rec.updated_us = now_us();
  standard_.push_back(rec);
  return {std::move(rec), true};
}

std::optional<task_record> agent_state::begin_standard() {
  if (standard_.empty() || running_standard())
    return std::nullopt;
  return start_head(standard_);
}

cancel_outcome agent_state::cancel_task(const std::string& id,
                                        bool running_cancelable,
                                        task_record& out) {
  if (auto rec = cancel(id)) {
    out = std::move(*rec);
    return cancel_outcome::cancelled;
  }
  auto i = find_in(running_, id);
  if (i != running_.end()) {
    if (!running_cancelable) {
      out = *i;
      return cancel_outcome::not_cancelable;
    }
    auto rec = std::move(*i);
    running_.erase(i);
    rec.status = task_status::cancelled;
    rec.updated_us = now_us();
    finish(rec);
    out = std::move(rec);
    return cancel_outcome::cancelled;
  }
  if (auto h = history_.find(id); h != history_.end()) {
    out = h->second;
    return cancel_outcome::not_cancelable;
  }
  return cancel_outcome::not_found;
}

std::optional<task_record> agent_state::complete(const std::string& id,
                                                 json result) {
  auto i = find_in(running_, id);
  if (i == running_.end())
    return std::nullopt;
  auto rec = std::move(*i);
  running_.erase(i);
  memory_["last_result"] = result;
  ++processed_count_;
  // Dialect tasks always complete (their result may hold an error, as it
  // always did); standard tasks with an error fail.
  rec.status = rec.t.standard && result.is_object() && result.contains("error")
                 ? task_status::failed
                 : task_status::completed;
  rec.result = std::move(result);
  rec.updated_us = now_us();
  finish(rec);
  return rec;
}

std::vector<task_record> agent_state::fail_running(const std::string& reason) {
  std::vector<task_record> result;
  while (!running_.empty()) {
    auto rec = std::move(running_.front());
    running_.pop_front();
    rec.status = task_status::failed;
    rec.result = json{{"error", reason}};
    rec.updated_us = now_us();
    finish(rec);
    result.push_back(std::move(rec));
  }
  return result;
}

std::vector<std::string> agent_state::take_evicted() {
  return std::exchange(evicted_, {});
}

void agent_state::finish(task_record rec) {
  auto id = rec.t.id;
  history_order_.push_back(id);
  history_.insert_or_assign(std::move(id), std::move(rec));
  while (history_order_.size() > history_limit_) {
    auto& old = history_order_.front();
    if (auto i = history_.find(old); i != history_.end()) {
      if (!i->second.t.message_id.empty())
        message_ids_.erase(i->second.t.message_id);
      history_.erase(i);
    }
    evicted_.push_back(std::move(old));
    history_order_.pop_front();
  }
}

} // namespace am
