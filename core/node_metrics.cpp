#include "core/node_metrics.hpp"

#include <chrono>
#include <cstdio>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace am {

const char* label_of(http_route x) {
  switch (x) {
    case http_route::health:
      return "/health";
    case http_route::agent_json:
      return "/.well-known/agent.json";
    case http_route::agent_card:
      return "/.well-known/agent-card.json";
    case http_route::a2a:
      return "/a2a";
    case http_route::agent_a2a:
      return "/agents/{name}/a2a";
    case http_route::agent_agent_card:
      return "/agents/{name}/.well-known/agent-card.json";
    case http_route::events:
      return "/events";
    case http_route::metrics:
      return "/metrics";
    case http_route::page:
      return "/";
    case http_route::unknown:
      return "unknown";
    default:
      return "invalid";
  }
}

http_metrics::http_metrics() = default;

void http_metrics::observe(http_route route, int status, double seconds) {
  auto& r = routes_[static_cast<size_t>(route)];
  if (status < min_status || status > max_status)
    status = 500;
  r.codes[status - min_status].inc();
  r.duration.observe(seconds);
}

uint64_t http_metrics::requests(http_route route, int status) const {
  if (status < min_status || status > max_status)
    return 0;
  return routes_[static_cast<size_t>(route)].codes[status - min_status].value();
}

void http_metrics::for_each(
  const std::function<void(http_route, int, uint64_t)>& f) const {
  for (size_t i = 0; i < routes_.size(); ++i)
    for (size_t j = 0; j < routes_[i].codes.size(); ++j)
      if (auto n = routes_[i].codes[j].value(); n > 0)
        f(static_cast<http_route>(i), static_cast<int>(j) + min_status, n);
}

node_metrics::node_metrics() {
  start_time = std::chrono::duration<double>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
}

namespace {

struct process_sample {
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double cpu_seconds = 0;
  double open_fds = 0;
  double max_fds = 0;
};

/// What /proc says about this process (zeros where it says nothing).
process_sample sample_process() {
  process_sample x;
  auto page = static_cast<double>(sysconf(_SC_PAGESIZE));
  if (auto f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2) {
      x.virtual_bytes = size * page;
      x.resident_bytes = resident * page;
    }
    std::fclose(f);
  }
  if (auto f = std::fopen("/proc/self/stat", "r")) {
    char buf[1024];
    auto n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // The command name may hold spaces and parentheses: fields count from
    // the last ')'. utime and stime are fields 14 and 15.
    std::string s{buf};
    auto close = s.rfind(')');
    if (close != std::string::npos) {
      unsigned long utime = 0, stime = 0;
      if (std::sscanf(s.c_str() + close + 1,
                      " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                      &utime, &stime)
          == 2)
        x.cpu_seconds = static_cast<double>(utime + stime)
                        / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  if (auto dir = opendir("/proc/self/fd")) {
    size_t n = 0;
    while (auto e = readdir(dir))
      if (e->d_name[0] != '.')
        ++n;
    closedir(dir);
    x.open_fds = n > 0 ? static_cast<double>(n - 1) : 0; // minus opendir's
  }
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    x.max_fds = static_cast<double>(lim.rlim_cur);
  return x;
}

} // namespace

std::string node_metrics::exposition() const {
  metrics::writer w;
  // A family of one sample without labels.
  auto one = [&w](const char* name, const char* help, const char* type,
                  double x) {
    w.family(name, help, type);
    w.sample(name, {}, x);
  };
  w.family("agentmesh_info", "The node and its version (always 1).", "gauge");
  w.sample("agentmesh_info", {{"node", node_name}, {"version", version}}, 1);
  one("agentmesh_agents",
      "Agents hosted on this node.",
      "gauge", static_cast<double>(agents.value()));
  one("agentmesh_agents_dormant",
      "Agents hosted on this node that hold no task and have no actor yet "
      "(included in agentmesh_agents).",
      "gauge", static_cast<double>(dormant_agents.value()));
  one("agentmesh_cluster_nodes",
      "Members of the cluster this node is connected to, itself included.",
      "gauge", static_cast<double>(cluster_nodes.value()));
  one("agentmesh_tasks_created_total",
      "Tasks queued on the agents of this node.",
      "counter", static_cast<double>(tasks.created.value()));
  w.family("agentmesh_tasks_total",
           "Tasks that ended on the agents of this node, by final status.",
           "counter");
  w.sample("agentmesh_tasks_total", {{"status", "completed"}},
           static_cast<double>(tasks.completed.value()));
  w.sample("agentmesh_tasks_total", {{"status", "failed"}},
           static_cast<double>(tasks.failed.value()));
  w.sample("agentmesh_tasks_total", {{"status", "cancelled"}},
           static_cast<double>(tasks.cancelled.value()));
  one("agentmesh_agent_restarts_total",
      "Agents of this node restarted after a crash.",
      "counter", static_cast<double>(agent_restarts.value()));
  one("agentmesh_events_published_total",
      "Events published by this node (agent and cluster events).",
      "counter", static_cast<double>(events_published.value()));
  w.family("agentmesh_http_requests_total",
           "HTTP requests answered, by route template and status code.",
           "counter");
  http.for_each([&](http_route r, int status, uint64_t n) {
    w.sample("agentmesh_http_requests_total",
             {{"route", label_of(r)}, {"code", std::to_string(status)}},
             static_cast<double>(n));
  });
  w.family("agentmesh_http_request_duration_seconds",
           "Time from a parsed request to its reply (to the headers, for "
           "streams), by route template.",
           "histogram");
  for (size_t i = 0; i < http_route_count; ++i) {
    auto r = static_cast<http_route>(i);
    if (http.duration(r).count() > 0)
      w.histogram_samples("agentmesh_http_request_duration_seconds",
                          {{"route", label_of(r)}}, http.duration(r));
  }
  if (has_store) {
    w.family("agentmesh_store_commit_seconds",
             "One group commit of the store (every change waiting, one "
             "transaction).",
             "histogram");
    w.histogram_samples("agentmesh_store_commit_seconds", {}, store_commit);
  }
  auto p = sample_process();
  one("process_resident_memory_bytes",
      "Resident memory size in bytes.",
      "gauge", p.resident_bytes);
  one("process_virtual_memory_bytes",
      "Virtual memory size in bytes.",
      "gauge", p.virtual_bytes);
  one("process_cpu_seconds_total",
      "Total user and system CPU time spent in seconds.",
      "counter", p.cpu_seconds);
  one("process_open_fds",
      "Number of open file descriptors.",
      "gauge", p.open_fds);
  one("process_max_fds",
      "Maximum number of open file descriptors.",
      "gauge", p.max_fds);
  one("process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.",
      "gauge", start_time);
  return w.text();
}

} // namespace am
