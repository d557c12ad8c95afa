#pragma once

// An in-memory JSON-RPC backend, shared by the jsonrpc and a2a suites and
// the JSON-RPC fuzzer (no test framework in here).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "http/jsonrpc.hpp"

namespace am::rpc::test {

/// An in-memory backend that answers synchronously, like a one-node cluster.
struct fake_backend : backend {
  std::map<std::string, agent_status> agents;
  std::map<std::string, std::string> tasks; // id -> agent
  std::vector<std::string> calls;
  int next_id = 0;

  void start_agent(const std::string& name, const json& memory,
                   const std::string& default_action,
                   callback<start_result> cb) override {
    calls.push_back("start " + name + " " + memory.dump()
                    + (default_action.empty() ? "" : " " + default_action));
    if (agents.count(name))
      return cb(start_result{"already_exists", name, "n1@h"});
    agents[name] = agent_status{name, "idle", 0, 0, {}, "n1@h"};
    cb(start_result{"started", name, "n1@h"});
  }

  void stop_agent(const std::string& agent, callback<bool> cb) override {
    if (agents.erase(agent) == 0)
      return cb(failure::agent_not_found(agent));
    cb(true);
  }

  void send_message(const std::string& agent, const std::string& action,
                    const json& params, callback<task_ack> cb) override {
    calls.push_back("send " + agent + " " + action + " " + params.dump());
    auto i = agents.find(agent);
    if (i == agents.end())
      return cb(failure::agent_not_found(agent));
    ++i->second.inbox_count;
    auto id = std::string(15, '0') + std::to_string(next_id++);
    tasks[id] = agent;
    cb(task_ack{id, "n1@h"});
  }

  void get_agent_state(const std::string& agent,
                       callback<agent_status> cb) override {
    auto i = agents.find(agent);
    if (i == agents.end())
      return cb(failure::agent_not_found(agent));
    cb(i->second);
  }

  void process_next(const std::string& agent,
                    callback<process_result> cb) override {
    auto i = agents.find(agent);
    if (i == agents.end())
      return cb(failure::agent_not_found(agent));
    if (i->second.inbox_count == 0)
      return cb(process_result{});
    --i->second.inbox_count;
    ++i->second.processed_count;
    cb(process_result{false, "0000000000000000",
                      json_box{{{"ok", "Search results for: OTP"}}}});
  }

  void list_agents(const list_query& q, callback<agent_page> cb) override {
    // Backwards, so that the sorting is tested.
    cb(select_page(q, [this](auto visit) {
      for (auto i = agents.rbegin(); i != agents.rend(); ++i)
        visit(i->first, std::string{"n1@h"});
    }));
  }

  void get_cluster_info(callback<cluster_info> cb) override {
    cb(cluster_info{"n1@h", {"n3@h", "n2@h"}});
  }

  void get_task(const std::string& id, callback<task_view> cb) override {
    auto i = tasks.find(id);
    if (i == tasks.end())
      return cb(failure::task_not_found(id));
    task_view v;
    v.task_id = id;
    v.agent = i->second;
    v.node = "n1@h";
    v.action = "search";
    v.params = json{{"query", "x"}};
    v.status = "queued";
    cb(v);
  }

  void cancel_task(const std::string& agent, const std::string& id,
                   callback<bool> cb) override {
    if (!agents.count(agent))
      return cb(failure::agent_not_found(agent));
    if (tasks.erase(id) == 0)
      return cb(failure::task_not_found(id));
    cb(true);
  }

  // -- standard A2A: tasks complete at once unless sent with
  // returnImmediately -------------------------------------------------------

  std::map<std::string, task_view> std_tasks;
  std::vector<send_params> sends;
  std::vector<task_query> queries;
  std::vector<std::string> streams; // "send <rpc id>" / "subscribe <rpc id>"

  task_view make_task(const send_params& p) {
    task_view v;
    v.task_id = "a2a" + std::to_string(next_id++);
    v.agent = p.agent;
    v.node = "n1@h";
    v.action = p.action.empty() ? "search" : p.action;
    v.params = p.params.is_null() ? json{{"query", p.text}} : p.params;
    v.standard = true;
    v.context_id = p.context_id.empty() ? "ctx" : p.context_id;
    v.message = p.message;
    v.updated_us = 1000 + next_id;
    if (p.return_immediately) {
      v.status = "queued";
    } else {
      v.status = "completed";
      v.result = json{
        {"ok", "Search results for: " + v.params->value("query", "")}};
    }
    std_tasks[v.task_id] = v;
    return v;
  }

  void a2a_send(const send_params& p, callback<task_view> cb) override {
    sends.push_back(p);
    if (!agents.count(p.agent))
      return cb(failure::invalid_params("unknown agent: " + p.agent));
    cb(make_task(p));
  }

  void a2a_stream(const send_params& p, const std::string& rpc_id,
                  callback<bool> cb) override {
    sends.push_back(p);
    if (!agents.count(p.agent))
      return cb(failure::invalid_params("unknown agent: " + p.agent));
    make_task(p);
    streams.push_back("send " + rpc_id);
    cb(true);
  }

  void a2a_get_task(const std::string& id, callback<task_view> cb) override {
    auto i = std_tasks.find(id);
    if (i == std_tasks.end())
      return cb(failure::a2a_task_not_found(id));
    cb(i->second);
  }

  void a2a_list_tasks(const task_query& q, callback<task_page> cb) override {
    queries.push_back(q);
    task_page page;
    for (auto i = std_tasks.rbegin(); i != std_tasks.rend(); ++i)
      page.tasks.push_back(i->second);
    page.total = page.remaining = page.tasks.size() + 1;
    cb(page);
  }

  void a2a_cancel_task(const std::string& id,
                       callback<task_view> cb) override {
    auto i = std_tasks.find(id);
    if (i == std_tasks.end())
      return cb(failure::a2a_task_not_found(id));
    if (i->second.status != "queued")
      return cb(failure::not_cancelable(id));
    i->second.status = "cancelled";
    cb(i->second);
  }

  void a2a_subscribe(const std::string& id, const std::string& rpc_id,
                     callback<bool> cb) override {
    auto i = std_tasks.find(id);
    if (i == std_tasks.end())
      return cb(failure::a2a_task_not_found(id));
    if (i->second.status != "queued")
      return cb(failure::unsupported("the task has already finished"));
    streams.push_back("subscribe " + rpc_id);
    cb(true);
  }
};

} // namespace am::rpc::test
