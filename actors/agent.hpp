#pragma once

#include <memory>

#include "actors/agent_state.hpp"
#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

namespace am {

/// What an agent actor holds: the state it shares with its supervisor plus
/// the handles it needs. One small struct instead of captures in every
/// handler keeps an idle agent cheap.
struct agent_actor_state {
  std::shared_ptr<agent_state> st;
  node_context_ptr ctx;
  supervisor_actor supervisor;
  event_bus_actor bus;
  static inline const char* name = "agent";
};

using agent_pointer = agent_actor::stateful_pointer<agent_actor_state>;

/// The agent actor: a thin driver over an `agent_state` that its supervisor
/// owns as well, so a restarted agent continues with the same memory and
/// inbox. Exceptions thrown by actions terminate the actor with
/// `errc::agent_crashed`; the supervisor then restarts it.
agent_actor::behavior_type agent(agent_pointer self,
                                 std::shared_ptr<agent_state> st,
                                 node_context_ptr ctx,
                                 supervisor_actor supervisor,
                                 event_bus_actor bus);

} // namespace am
