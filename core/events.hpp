#pragma once

#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/messages.hpp"

namespace am {

/// Builds an agent event: `{"event", "agent", "node", "source_node",
/// "timestamp"}` plus the members of `extra` (an object or null).
event make_agent_event(const std::string& name, const std::string& agent,
                       const std::string& node, const std::string& source_node,
                       json extra = nullptr);

/// Builds a cluster event (`node_up` / `node_down`).
event make_cluster_event(const std::string& name, const std::string& node,
                         const std::string& source_node,
                         const std::vector<std::string>& connected);

/// The topics an event is published to.
std::vector<std::string> topics_of(const event& ev);

/// The line the event logger writes for `ev` (without the level prefix).
std::string log_line(const event& ev);

} // namespace am
