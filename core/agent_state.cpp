#include "core/agent_state.hpp"

#include <algorithm>

#include "core/clock.hpp"

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

task_status status_from_string(const std::string& x) {
  for (auto st : {task_status::running, task_status::completed,
                  task_status::failed, task_status::cancelled})
    if (x == to_string(st))
      return st;
  return task_status::queued;
}

bool is_terminal(task_status x) {
  return x == task_status::completed || x == task_status::failed
         || x == task_status::cancelled;
}

agent_state::agent_state(std::string name, json memory, size_t history_limit,
                         std::string default_action)
  : name_(std::move(name)),
    memory_(memory.is_object() ? std::move(memory) : json::object()),
    history_limit_(std::max<size_t>(history_limit, 1)),
    default_action_(std::move(default_action)),
    started_at_(now_us()) {
  // nop
}

namespace {

json parse_or(const std::string& text, json fallback) {
  if (text.empty())
    return fallback;
  auto result = json::parse(text, nullptr, false);
  return result.is_discarded() ? fallback : result;
}

stored_task to_stored(const task_record& rec) {
  stored_task x;
  x.id = rec.t.id;
  x.seq = rec.seq;
  x.status = to_string(rec.status);
  x.standard = rec.t.standard;
  x.action = rec.t.action;
  x.params = dump(*rec.t.params);
  x.context_id = rec.t.context_id;
  x.message_id = rec.t.message_id;
  x.trace_id = rec.t.trace_id;
  if (!rec.t.message.is_null())
    x.message = dump(*rec.t.message);
  if (!rec.result.is_null())
    x.result = dump(*rec.result);
  x.updated_us = rec.updated_us;
  return x;
}

task_record from_stored(const stored_task& x) {
  task_record rec;
  rec.t.id = x.id;
  rec.t.action = x.action;
  rec.t.params = parse_or(x.params, json::object());
  rec.t.context_id = x.context_id;
  rec.t.standard = x.standard;
  rec.t.message_id = x.message_id;
  rec.t.trace_id = x.trace_id;
  rec.t.message = parse_or(x.message, json{});
  rec.status = status_from_string(x.status);
  rec.result = parse_or(x.result, json{});
  rec.updated_us = x.updated_us;
  rec.seq = x.seq;
  return rec;
}

} // namespace

agent_state::agent_state(const agent_snapshot& x, size_t history_limit)
  : agent_state(x.header.name, parse_or(x.header.memory, json::object()),
                history_limit, x.header.default_action) {
  processed_count_ = x.header.processed;
  started_at_ = x.header.started_at;
  generation_ = x.header.generation;
  seq_ = x.header.seq;
  std::vector<const stored_task*> tasks;
  tasks.reserve(x.tasks.size());
  for (auto& t : x.tasks)
    tasks.push_back(&t);
  std::sort(tasks.begin(), tasks.end(),
            [](const stored_task* a, const stored_task* b) {
              return a->seq < b->seq;
            });
  for (auto* st : tasks) {
    auto rec = from_stored(*st);
    seq_ = std::max(seq_, rec.seq);
    if (rec.t.standard && !rec.t.message_id.empty())
      tw().message_ids[rec.t.message_id] = rec.t.id;
    switch (rec.status) {
      case task_status::queued:
        push_live(rec.t.standard ? tw().standard : tw().inbox, std::move(rec));
        break;
      case task_status::running:
        push_live(tw().running, std::move(rec));
        break;
      default: {
        auto id = rec.t.id;
        tw().history_order.push_back(id);
        tw().history.insert_or_assign(std::move(id), std::move(rec));
      }
    }
  }
  // A smaller limit than the one the agent was stored with.
  while (tasks_.ptr && tw().history_order.size() > history_limit_) {
    auto i = tw().history.find(tw().history_order.front());
    if (i != tw().history.end()) {
      auto m = tw().message_ids.find(i->second.t.message_id);
      if (m != tw().message_ids.end() && m->second == i->first)
        tw().message_ids.erase(m);
      tw().history.erase(i);
    }
    tw().evicted.push_back(tw().history_order.front());
    tw().history_order.pop_front();
  }
}

void agent_state::track_changes(bool on, bool everything) {
  tracking_ = on;
  header_dirty_ = on && everything;
  replace_ = on && everything;
  if (!tasks_.ptr)
    return; // no task, no row to keep
  tw().upserts.clear();
  tw().deletes.clear();
  if (on && !everything)
    tw().deletes = tw().evicted; // rows a smaller history limit dropped
  if (!on || !everything)
    return;
  for (auto* xs : {&tw().running, &tw().inbox, &tw().standard})
    for (auto& r : *xs)
      tw().upserts.push_back(to_stored(r));
  for (auto& id : tw().history_order)
    if (auto i = tw().history.find(id); i != tw().history.end())
      tw().upserts.push_back(to_stored(i->second));
  tw().deletes = tw().evicted;
}

void agent_state::incarnate(int64_t started_at, uint64_t generation) {
  started_at_ = started_at;
  generation_ = generation;
  header_dirty_ = tracking_;
}

agent_header agent_state::header() const {
  return agent_header{name_,      default_action_, dump(memory_),
                      processed_count_, started_at_, generation_, seq_};
}

agent_delta agent_state::take_changes() {
  agent_delta result;
  result.name = name_;
  if (header_dirty_) {
    result.has_header = true;
    result.header = header();
    header_dirty_ = false;
  }
  if (tasks_.ptr) {
    result.upserts = std::exchange(tw().upserts, {});
    result.deletes = std::exchange(tw().deletes, {});
  }
  result.replace = std::exchange(replace_, false);
  return result;
}

agent_snapshot agent_state::snapshot() const {
  agent_snapshot result;
  result.header = header();
  auto& t = tr();
  for (auto* xs : {&t.running, &t.inbox, &t.standard})
    for (auto& r : *xs)
      result.tasks.push_back(to_stored(r));
  for (auto& id : t.history_order)
    if (auto i = t.history.find(id); i != t.history.end())
      result.tasks.push_back(to_stored(i->second));
  return result;
}

void agent_state::stamp(task_record& rec, bool created) {
  rec.seq = ++seq_;
  if (!tracking_)
    return;
  if (created) {
    tw().upserts.push_back(to_stored(rec));
    return;
  }
  stored_task x;
  x.id = rec.t.id;
  x.seq = rec.seq;
  x.status = to_string(rec.status);
  if (!rec.result.is_null())
    x.result = dump(*rec.result);
  x.updated_us = rec.updated_us;
  x.full = false;
  tw().upserts.push_back(std::move(x));
}

void agent_state::show() {
  board_.show(tr().inbox.size(), processed_count_, busy(), memory_.size(),
              [this] { return memory_keys(); });
}

void agent_state::open_board(uint64_t owner) {
  show();
  board_.open(owner);
}

std::vector<std::string> agent_state::memory_keys() const {
  std::vector<std::string> result;
  result.reserve(memory_.size());
  for (auto& kvp : memory_.items())
    result.push_back(kvp.key());
  return result;
}

std::optional<task_record> agent_state::find(const std::string& id) const {
  if (!tasks_.ptr)
    return std::nullopt;
  auto& t = *tasks_.ptr;
  if (auto i = t.history.find(id); i != t.history.end())
    return i->second;
  auto& live = this->live(t);
  if (auto i = live.find(id); i != live.end())
    return *i->second.pos;
  return std::nullopt;
}

const agent_state::task_part& agent_state::no_tasks() {
  static const task_part none;
  return none;
}

agent_state::location_map& agent_state::live(task_part& t) const {
  if (t.live.owner != this) {
    t.live.map.clear();
    for (auto* xs : {&t.running, &t.inbox, &t.standard})
      for (auto i = xs->begin(); i != xs->end(); ++i)
        t.live.map.insert_or_assign(i->t.id, location{xs, i});
    t.live.owner = this;
  }
  return t.live.map;
}

void agent_state::push_live(task_list& xs, task_record rec) {
  auto id = rec.t.id;
  auto& live = this->live(tw());
  xs.push_back(std::move(rec));
  live.insert_or_assign(std::move(id), location{&xs, std::prev(xs.end())});
}

task_record agent_state::take_live(location_map::iterator i) {
  auto [list, pos] = i->second;
  tw().live.map.erase(i);
  auto rec = std::move(*pos);
  list->erase(pos);
  return rec;
}

std::vector<std::string> agent_state::task_ids() const {
  std::vector<std::string> result;
  auto& t = tr();
  result.reserve(t.inbox.size() + t.standard.size() + t.running.size()
                 + t.history.size());
  for (auto* xs : {&t.running, &t.inbox, &t.standard})
    for (auto& r : *xs)
      result.push_back(r.t.id);
  for (auto& kvp : t.history)
    result.push_back(kvp.first);
  return result;
}

std::optional<std::string> agent_state::running_standard() const {
  for (auto& r : tr().running)
    if (r.t.standard)
      return r.t.id;
  return std::nullopt;
}

std::string agent_state::enqueue(std::string action, json params,
                                 std::string trace_id) {
  auto id = random_task_id();
  task_record rec;
  rec.t.id = id;
  rec.t.trace_id = std::move(trace_id);
  rec.t.context_id = id; // a dialect task is its own context
  rec.t.action = std::move(action);
  rec.t.params = std::move(params);
  rec.updated_us = now_us();
  stamp(rec, true);
  push_live(tw().inbox, std::move(rec));
  if (counters_)
    counters_->created.inc();
  show();
  return id;
}

task_record& agent_state::start_head(std::list<task_record>& queue) {
  tw().running.splice(tw().running.end(), queue, queue.begin());
  auto& rec = tw().running.back();
  auto& live = this->live(tw());
  if (auto i = live.find(rec.t.id);
      i != live.end() && i->second.pos == std::prev(tw().running.end()))
    i->second.list = &tw().running;
  else
    tw().live.owner = nullptr; // a duplicate id: index the lists afresh
  rec.status = task_status::running;
  rec.updated_us = now_us();
  stamp(rec, false);
  show();
  return rec;
}

std::optional<task_record> agent_state::begin_next() {
  if (tr().inbox.empty())
    return std::nullopt;
  return start_head(tw().inbox);
}

std::optional<task_record>
agent_state::process_next(const action_registry& actions) {
  auto rec = begin_next();
  if (!rec)
    return std::nullopt;
  // May throw: the task then stays running until `fail_running`.
  return complete(rec->t.id, actions.run(rec->t.action, *rec->t.params));
}

std::optional<task_record> agent_state::cancel(const std::string& id) {
  if (!tasks_.ptr)
    return std::nullopt;
  auto& live = this->live(tw());
  auto i = live.find(id);
  if (i == live.end() || i->second.list == &tw().running)
    return std::nullopt;
  auto rec = take_live(i);
  rec.status = task_status::cancelled;
  rec.updated_us = now_us();
  finish(rec);
  return rec;
}

std::pair<task_record, bool> agent_state::submit(task t) {
  if (!t.message_id.empty()) {
    if (auto i = tr().message_ids.find(t.message_id);
        i != tr().message_ids.end())
      if (auto existing = find(i->second))
        return {std::move(*existing), false};
  }
  t.id = random_task_id();
  if (!t.message_id.empty())
    tw().message_ids[t.message_id] = t.id;
  t.standard = true;
  task_record rec;
  rec.t = std::move(t);
  rec.updated_us = now_us();
  stamp(rec, true);
  push_live(tw().standard, rec);
  if (counters_)
    counters_->created.inc();
  return {std::move(rec), true};
}

std::optional<task_record> agent_state::begin_standard() {
  if (tr().standard.empty() || running_standard())
    return std::nullopt;
  return start_head(tw().standard);
}

cancel_outcome agent_state::cancel_task(const std::string& id,
                                        bool running_cancelable,
                                        task_record& out) {
  if (auto rec = cancel(id)) {
    out = std::move(*rec);
    return cancel_outcome::cancelled;
  }
  if (!tasks_.ptr)
    return cancel_outcome::not_found;
  if (auto i = live(tw()).find(id);
      i != tw().live.map.end() && i->second.list == &tw().running) {
    if (!running_cancelable) {
      out = *i->second.pos;
      return cancel_outcome::not_cancelable;
    }
    auto rec = take_live(i);
    rec.status = task_status::cancelled;
    rec.updated_us = now_us();
    finish(rec);
    out = std::move(rec);
    return cancel_outcome::cancelled;
  }
  if (auto h = tw().history.find(id); h != tw().history.end()) {
    out = h->second;
    return cancel_outcome::not_cancelable;
  }
  return cancel_outcome::not_found;
}

std::optional<task_record> agent_state::complete(const std::string& id,
                                                 json result) {
  if (!tasks_.ptr)
    return std::nullopt;
  auto& live = this->live(tw());
  auto i = live.find(id);
  if (i == live.end() || i->second.list != &tw().running)
    return std::nullopt;
  auto rec = take_live(i);
  memory_["last_result"] = result;
  ++processed_count_;
  header_dirty_ = tracking_;
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
  while (!tr().running.empty()) {
    auto& live = this->live(tw());
    auto i = live.find(tw().running.front().t.id);
    if (i == live.end() || i->second.pos != tw().running.begin()) {
      tw().live.owner = nullptr; // a duplicate id: index the lists afresh
      i = this->live(tw()).find(tw().running.front().t.id);
    }
    auto rec = take_live(i);
    rec.status = task_status::failed;
    rec.result = json{{"error", reason}};
    rec.updated_us = now_us();
    finish(rec);
    result.push_back(std::move(rec));
  }
  return result;
}

std::vector<std::string> agent_state::take_evicted() {
  if (!tasks_.ptr)
    return {};
  return std::exchange(tw().evicted, {});
}

void agent_state::finish(task_record& rec) {
  stamp(rec, false);
  if (counters_) {
    if (rec.status == task_status::completed)
      counters_->completed.inc();
    else if (rec.status == task_status::failed)
      counters_->failed.inc();
    else
      counters_->cancelled.inc();
  }
  tw().history_order.push_back(rec.t.id);
  tw().history.insert_or_assign(rec.t.id, rec);
  while (tw().history_order.size() > history_limit_) {
    auto& old = tw().history_order.front();
    if (auto i = tw().history.find(old); i != tw().history.end()) {
      auto m = tw().message_ids.find(i->second.t.message_id);
      if (m != tw().message_ids.end() && m->second == i->first)
        tw().message_ids.erase(m);
      tw().history.erase(i);
    }
    if (tracking_)
      tw().deletes.push_back(old);
    tw().evicted.push_back(std::move(old));
    tw().history_order.pop_front();
  }
  show();
}

} // namespace am
