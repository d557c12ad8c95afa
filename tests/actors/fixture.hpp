#pragma once

// Shared fixture for deterministic actor tests: a test coordinator, the
// node's actors on it, and helpers to ask actors and capture log lines.

#include <caf/test/dsl.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/directory.hpp"
#include "actors/event_bus.hpp"
#include "actors/vocabulary.hpp"
#include "core/log.hpp"
#include "actors/node_context.hpp"
#include "actors/supervisor.hpp"

namespace am::test {

struct test_config : caf::actor_system_config {
  test_config() {
    register_types(*this);
  }
};

/// Records every log line while alive.
struct log_capture {
  std::shared_ptr<std::vector<std::string>> lines
    = std::make_shared<std::vector<std::string>>();

  log_capture() {
    auto xs = lines;
    log::set_sink([xs](log::level lvl, const std::string& msg) {
      xs->push_back(std::string{"["} + log::to_string(lvl) + "] " + msg);
    });
  }

  ~log_capture() {
    log::set_sink(nullptr);
  }

  bool contains_prefix(const std::string& prefix) const {
    for (auto& x : *lines)
      if (x.compare(0, prefix.size(), prefix) == 0)
        return true;
    return false;
  }

  bool contains(const std::string& line) const {
    for (auto& x : *lines)
      if (x == line)
        return true;
    return false;
  }
};

/// An actor that stores every event it receives.
inline caf::behavior recorder(caf::event_based_actor*,
                              std::shared_ptr<std::vector<event>> out) {
  return {
    [out](const event& ev) { out->push_back(ev); },
    [](bool) {},
  };
}

/// A stand-in agent: counts enqueues and never answers them, answers the
/// rest with defaults, and terminates only when told.
inline agent_actor::behavior_type stub_agent(agent_actor::pointer self,
                                             std::shared_ptr<int> enqueues) {
  return {
    [=](enqueue_atom, const std::string&, const json_box&,
        const std::string&) -> caf::result<std::string> {
      ++*enqueues;
      return self->make_response_promise<std::string>();
    },
    [](process_atom) { return process_result{}; },
    [](state_atom) { return agent_status{}; },
    [](task_atom, const std::string&) { return task_view{}; },
    [](cancel_atom, const std::string&) { return false; },
    [](stop_atom) { return false; },
    [](conflict_atom) {},
    [](submit_atom, const submit_request&) { return task_view{}; },
    [](abort_atom, const std::string&) { return task_view{}; },
    [](watch_atom, const std::string&, const caf::actor&, uint64_t,
       const std::string&) { return task_view{}; },
    [](info_atom) { return agent_info{}; },
    [](run_atom) {},
    [](finish_atom, const std::string&, const json_box&) {},
    [](timer_atom, uint64_t) {},
    [](expire_atom) {},
    [self](retire_atom) {
      self->quit();
      return true;
    },
    [](handoff_atom) -> caf::result<agent_snapshot, std::string> {
      return {agent_snapshot{}, std::string{}};
    },
    [](drained_atom) {},
    [](flush_atom) {},
    [](backup_atom) {},
  };
}

struct node_fixture : test_coordinator_fixture<test_config> {
  std::shared_ptr<node_context> ctx = std::make_shared<node_context>();
  event_bus_actor bus;
  directory_actor dir;
  supervisor_actor sup;
  log_capture logs;
  /// Further actors of a test, stopped with the node.
  std::vector<caf::actor> extras;

  node_fixture() {
    ctx->node_name = "test@host";
  }

  /// Spawns bus, directory and supervisor (call after adjusting `ctx`).
  void spawn_node() {
    bus = sys.spawn(event_bus, nullptr, ctx->event_audience);
    dir = sys.spawn(directory, node_context_ptr{ctx},
                    std::chrono::milliseconds{2000});
    sup = sys.spawn(supervisor, node_context_ptr{ctx}, dir, bus);
    sched.run();
  }

  ~node_fixture() {
    for (auto& h : extras)
      anon_send_exit(h, caf::exit_reason::user_shutdown);
    for (auto h : {caf::actor_cast<caf::actor>(sup),
                   caf::actor_cast<caf::actor>(dir),
                   caf::actor_cast<caf::actor>(bus)})
      if (h)
        anon_send_exit(h, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Spawns a stub agent; `enqueues` counts the tasks sent to it.
  agent_actor spawn_stub(std::shared_ptr<int> enqueues
                         = std::make_shared<int>(0)) {
    return sys.spawn(stub_agent, std::move(enqueues));
  }

  /// Tells two directories that their nodes joined each other.
  void peer(const directory_actor& a, const std::string& a_node,
            const directory_actor& b, const std::string& b_node) {
    self->send(a, peer_up_atom::value, b_node, caf::actor_cast<caf::actor>(b));
    self->send(b, peer_up_atom::value, a_node, caf::actor_cast<caf::actor>(a));
    sched.run();
  }

  /// Subscribes a recorder to `topics`; returns its event log.
  std::shared_ptr<std::vector<event>>
  record(std::vector<std::string> topics) {
    auto out = std::make_shared<std::vector<event>>();
    auto rec = sys.spawn(recorder, out);
    extras.push_back(rec);
    self->send(bus, subscribe_atom::value, std::move(topics), rec);
    sched.run();
    return out;
  }

  /// Sends a request, drains all mailboxes and returns the answer.
  template <class T, class Handle, class... Ts>
  T ask(const Handle& h, Ts... xs) {
    auto rh = self->request(h, caf::infinite, xs...);
    sched.run();
    T result{};
    rh.receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) {
                 CAF_FAIL("unexpected error: " << sys.render(err));
               });
    return result;
  }

  /// Sends a request that must fail; returns the error.
  template <class T, class Handle, class... Ts>
  caf::error ask_error(const Handle& h, Ts... xs) {
    auto rh = self->request(h, caf::infinite, xs...);
    sched.run();
    caf::error result;
    rh.receive([&](T&) { CAF_FAIL("expected an error"); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  start_result start(const std::string& name, const std::string& memory = "",
                     const std::string& default_action = "") {
    auto obj = memory.empty() ? json::object() : json::parse(memory);
    return ask<start_result>(sup, start_atom::value, name, json_box{obj},
                             default_action);
  }

  /// The agent's actor; a dormant agent is woken for it (the supervisor
  /// answers resolve_atom with its new actor).
  agent_actor handle_of(const std::string& name) {
    auto e = ctx->directory->find(name);
    CAF_REQUIRE(e.has_value());
    if (e->handle)
      return e->handle;
    auto h = ask<agent_actor>(sup, resolve_atom::value, name, agent_actor{});
    CAF_REQUIRE(h);
    return h;
  }
};

} // namespace am::test
