#include "actors/event_bus.hpp"

#include <caf/all.hpp>

#include "core/events.hpp"
#include "core/log.hpp"

namespace am {

event_bus_actor::behavior_type
event_bus(event_bus_pointer self, std::shared_ptr<node_metrics> metrics,
          std::shared_ptr<std::atomic<size_t>> audience) {
  auto recount = [self, audience] {
    if (audience)
      audience->store(self->state.agent_listeners.size()
                      + self->state.peers.size());
  };
  self->set_down_handler([=](caf::down_msg& dm) {
    auto i = self->state.subscribers.find(dm.source);
    if (i == self->state.subscribers.end())
      return;
    auto ptr = caf::actor_cast<caf::actor_control_block*>(i->second.first);
    for (auto& g : i->second.second)
      g.get()->unsubscribe(ptr);
    self->state.subscribers.erase(i);
    self->state.agent_listeners.erase(dm.source);
    recount();
  });
  // Sends the events waiting for the peers.
  auto flush = [self] {
    auto& st = self->state;
    if (st.outgoing.empty())
      return;
    auto batch = std::move(st.outgoing);
    st.outgoing.clear();
    for (auto i = st.peers.begin(); i != st.peers.end(); ++i)
      if (std::next(i) == st.peers.end())
        self->send(i->second, forward_atom::value, std::move(batch));
      else
        self->send(i->second, forward_atom::value, batch);
  };
  // Leave the groups on shutdown (the state is gone once we terminated).
  self->set_exit_handler([=](caf::exit_msg& em) {
    flush();
    for (auto& kvp : self->state.subscribers) {
      auto ptr = caf::actor_cast<caf::actor_control_block*>(kvp.second.first);
      for (auto& g : kvp.second.second)
        g.get()->unsubscribe(ptr);
    }
    self->state.subscribers.clear();
    self->state.agent_listeners.clear();
    self->state.peers.clear();
    recount();
    self->quit(em.reason);
  });
  auto deliver = [self](const event& ev) {
    auto msg = caf::make_message(ev);
    for (auto& topic : topics_of(ev)) {
      auto i = self->state.groups.find(topic);
      if (i != self->state.groups.end())
        i->second.get()->enqueue(nullptr, caf::make_message_id(), msg,
                                 self->context());
    }
  };
  return {
    [=](publish_atom, event& ev) {
      if (metrics)
        metrics->events_published.inc();
      deliver(ev);
      auto& st = self->state;
      if (ev.agent.empty() || st.peers.empty())
        return;
      if (!st.flush_pending) {
        st.flush_pending = true;
        self->send(self, flush_atom::value);
      }
      st.outgoing.push_back(std::move(ev));
      if (st.outgoing.size() >= 512)
        flush();
    },
    [=](flush_atom) {
      self->state.flush_pending = false;
      flush();
    },
    [=](forward_atom, const std::vector<event>& evs) {
      for (auto& ev : evs)
        deliver(ev);
    },
    // Peers change between bursts: what was published before goes to the
    // peers that were there.
    [=](peer_up_atom, const std::string& node, const caf::actor& bus) {
      flush();
      self->state.peers[node] = caf::actor_cast<event_bus_actor>(bus);
      recount();
    },
    [=](peer_down_atom, const std::string& node) {
      flush();
      self->state.peers.erase(node);
      recount();
    },
    [=](subscribe_atom, const std::vector<std::string>& topics,
        caf::actor who) {
      if (!who)
        return false;
      auto& sub = self->state.subscribers[who.address()];
      if (!sub.first) {
        sub.first = who;
        self->monitor(who);
      }
      for (auto& topic : topics) {
        auto& g = self->state.groups[topic];
        if (!g)
          g = self->system().groups().get_local(topic);
        if (g.get()->subscribe(caf::actor_cast<caf::strong_actor_ptr>(who)))
          sub.second.push_back(g);
        if (topic != cluster_events_topic)
          self->state.agent_listeners.insert(who.address());
      }
      recount();
      return true;
    },
  };
}

std::vector<std::string> event_logger_topics() {
  // Agent events are logged at info: above that level the logger does not
  // listen to them (agents then skip building events nobody receives).
  std::vector<std::string> topics{cluster_events_topic};
  if (log::level::info >= log::current_level())
    topics.push_back(agent_events_topic);
  return topics;
}

caf::behavior event_logger(caf::event_based_actor*) {
  return {
    [](const event& ev) {
      auto lvl = ev.name == "node_down" ? log::level::warning
                                        : log::level::info;
      if (lvl >= log::current_level()) // format only what gets written
        log::write_event(lvl, log_line(ev), ev.json);
    },
  };
}

} // namespace am
