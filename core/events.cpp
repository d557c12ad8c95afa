#include "core/events.hpp"

#include "core/clock.hpp"

namespace am {

event make_agent_event(const std::string& name, const std::string& agent,
                       const std::string& node, const std::string& source_node,
                       json extra) {
  // The members of `extra` are moved in, not copied (task params can be
  // large); they win over the fixed ones, as documented.
  json obj = extra.is_object() ? std::move(extra) : json::object();
  auto& members = obj.get_ref<json::object_t&>();
  members.emplace("event", name);
  members.emplace("agent", agent);
  members.emplace("node", node);
  members.emplace("source_node", source_node);
  members.emplace("timestamp", iso8601_now());
  return event{name, agent, node, dump(obj)};
}

event make_cluster_event(const std::string& name, const std::string& node,
                         const std::string& source_node,
                         const std::vector<std::string>& connected) {
  json obj{{"event", name},
           {"node", node},
           {"source_node", source_node},
           {"connected", connected},
           {"timestamp", iso8601_now()}};
  return event{name, {}, node, dump(obj)};
}

std::vector<std::string> topics_of(const event& ev) {
  if (ev.agent.empty())
    return {cluster_events_topic};
  return {agent_events_topic, agent_topic(ev.agent)};
}

std::string log_line(const event& ev) {
  if (ev.agent.empty())
    return "[AgentEventLogger] cluster: " + ev.name + " " + ev.node;
  return "[AgentEventLogger] " + ev.name + ": " + ev.agent + " on " + ev.node;
}

} // namespace am
