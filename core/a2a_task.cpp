#include "core/a2a_task.hpp"

#include <chrono>
#include <utility>

#include "core/clock.hpp"

namespace am::a2a {

namespace {

/// task_view status <-> A2A task state.
constexpr std::pair<const char*, const char*> states[] = {
  {"queued", "TASK_STATE_SUBMITTED"},
  {"running", "TASK_STATE_WORKING"},
  {"completed", "TASK_STATE_COMPLETED"},
  {"failed", "TASK_STATE_FAILED"},
  {"cancelled", "TASK_STATE_CANCELED"},
};

} // namespace

const char* state_name(const std::string& status) {
  for (auto& [ours, theirs] : states)
    if (status == ours)
      return theirs;
  return "TASK_STATE_UNSPECIFIED";
}

std::string status_of_state(const std::string& state) {
  for (auto& [ours, theirs] : states)
    if (state == theirs)
      return ours;
  return {};
}

namespace {

std::string timestamp(int64_t us) {
  using namespace std::chrono;
  return iso8601(system_clock::time_point{duration_cast<system_clock::duration>(
    microseconds{us})});
}

/// Adds taskId and contextId to an object (contextId only when known).
void add_ids(json& obj, const task_view& t) {
  obj["taskId"] = t.task_id;
  if (!t.context_id.empty())
    obj["contextId"] = t.context_id;
}

} // namespace

json status_json(const task_view& t) {
  json result{{"state", state_name(t.status)},
              {"timestamp", timestamp(t.updated_us)}};
  auto& r = *t.result;
  if (t.status == "failed" && r.is_object() && r.contains("error")) {
    auto& e = r["error"];
    json msg{{"messageId", t.task_id + "-status"},
             {"role", "ROLE_AGENT"},
             {"parts", {{{"text", e.is_string() ? e.get<std::string>()
                                                : dump(e)}}}}};
    add_ids(msg, t);
    result["message"] = std::move(msg);
  }
  return result;
}

json artifact_json(const task_view& t) {
  auto& r = *t.result;
  if (r.is_null())
    return nullptr;
  auto parts = json::array();
  parts.push_back(json{{"data", r}, {"mediaType", "application/json"}});
  if (r.is_object()) {
    auto ok = r.find("ok");
    if (ok != r.end() && ok->is_string())
      parts.push_back(json{{"text", *ok}, {"mediaType", "text/plain"}});
  }
  return json{{"artifactId", "result"},
              {"name", t.action},
              {"parts", std::move(parts)}};
}

json history_message(const task_view& t) {
  json msg;
  if (t.standard && t.message->is_object()) {
    msg = *t.message;
  } else {
    msg = json{{"messageId", t.task_id},
               {"role", "ROLE_USER"},
               {"parts",
                {{{"data",
                   {{"action", t.action}, {"params", *t.params}}}}}}};
  }
  add_ids(msg, t);
  return msg;
}

json task_json(const task_view& t, std::optional<size_t> history_length,
               bool include_artifacts) {
  json result{{"id", t.task_id}, {"status", status_json(t)}};
  if (!t.context_id.empty())
    result["contextId"] = t.context_id;
  if (include_artifacts) {
    auto artifact = artifact_json(t);
    result["artifacts"] = artifact.is_null() ? json::array()
                                             : json::array({artifact});
  }
  if (!history_length || *history_length > 0)
    result["history"] = json::array({history_message(t)});
  result["metadata"] = json{{"agent", t.agent},
                            {"node", t.node},
                            {"action", t.action}};
  if (!t.trace_id.empty())
    result["metadata"]["trace_id"] = t.trace_id;
  return result;
}

namespace {

/// Appends the history message of `t` as history_message would dump it,
/// without copying the user message: its members in nlohmann's (sorted)
/// order, with contextId and taskId merged in.
void append_history_message(std::string& out, const task_view& t) {
  auto& msg = *t.message;
  if (!t.standard || !msg.is_object()) {
    append_json(out, history_message(t));
    return;
  }
  static const std::string context_key = "contextId";
  static const std::string task_key = "taskId";
  std::pair<const std::string*, const std::string*> ours[2];
  size_t n = 0;
  if (!t.context_id.empty())
    ours[n++] = {&context_key, &t.context_id};
  ours[n++] = {&task_key, &t.task_id};
  out += '{';
  bool first = true;
  size_t k = 0;
  for (auto i = msg.begin(); i != msg.end(); ++i) {
    auto& key = i.key();
    for (; k < n && *ours[k].first < key; ++k) {
      append_key(out, first, *ours[k].first);
      append_text(out, *ours[k].second);
    }
    if (k < n && *ours[k].first == key) {
      append_key(out, first, key);
      append_text(out, *ours[k++].second);
      continue;
    }
    append_key(out, first, key);
    append_json(out, i.value());
  }
  for (; k < n; ++k) {
    append_key(out, first, *ours[k].first);
    append_text(out, *ours[k].second);
  }
  out += '}';
}

} // namespace

std::string task_text(const task_view& t,
                      std::optional<size_t> history_length,
                      bool include_artifacts) {
  std::string out;
  append_task_text(out, t, history_length, include_artifacts);
  return out;
}

void append_task_text(std::string& out, const task_view& t,
                      std::optional<size_t> history_length,
                      bool include_artifacts) {
  // A task with one short message and result takes 600-700 bytes.
  out.reserve(out.size() + 1024);
  // The members in nlohmann's (sorted) order: artifacts, contextId,
  // history, id, metadata, status.
  out += '{';
  auto& r = *t.result;
  if (include_artifacts) {
    out += "\"artifacts\":[";
    if (!r.is_null()) {
      out += "{\"artifactId\":\"result\",\"name\":";
      append_text(out, t.action);
      out += ",\"parts\":[{\"data\":";
      append_json(out, r);
      out += ",\"mediaType\":\"application/json\"}";
      if (r.is_object()) {
        auto ok = r.find("ok");
        if (ok != r.end() && ok->is_string()) {
          out += ",{\"mediaType\":\"text/plain\",\"text\":";
          append_json(out, *ok);
          out += '}';
        }
      }
      out += "]}";
    }
    out += "],";
  }
  if (!t.context_id.empty()) {
    out += "\"contextId\":";
    append_text(out, t.context_id);
    out += ',';
  }
  if (!history_length || *history_length > 0) {
    out += "\"history\":[";
    append_history_message(out, t);
    out += "],";
  }
  out += "\"id\":";
  append_text(out, t.task_id);
  out += ",\"metadata\":{\"action\":";
  append_text(out, t.action);
  out += ",\"agent\":";
  append_text(out, t.agent);
  out += ",\"node\":";
  append_text(out, t.node);
  if (!t.trace_id.empty()) {
    out += ",\"trace_id\":";
    append_text(out, t.trace_id);
  }
  out += "},\"status\":";
  if (t.status == "failed") {
    append_json(out, status_json(t)); // may carry the error message
  } else {
    out += "{\"state\":\"";
    out += state_name(t.status);
    out += "\",\"timestamp\":";
    append_text(out, timestamp(t.updated_us));
    out += '}';
  }
  out += '}';
}

json status_update(const task_view& t) {
  json ev{{"status", status_json(t)}};
  add_ids(ev, t);
  return json{{"statusUpdate", std::move(ev)}};
}

json artifact_update(const task_view& t) {
  json ev{{"artifact", artifact_json(t)}, {"lastChunk", true}};
  add_ids(ev, t);
  return json{{"artifactUpdate", std::move(ev)}};
}

std::string rpc_result_text(const std::string& id_text,
                            const std::string& result_text) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out += id_text.empty() ? "null" : id_text;
  out += R"(,"result":)";
  out += result_text;
  out += '}';
  return out;
}

} // namespace am::a2a
