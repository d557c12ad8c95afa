#pragma once

#include <caf/test/unit_test.hpp>

#include <map>
#include <memory>

#include "tests/e2e/harness.hpp"

namespace e2e {

/// One fresh single node per test, on an ephemeral port.
struct single_node {
  temp_file conf{""};
  node_process node;

  explicit single_node(std::vector<std::string> extra = {})
    : node(args(conf.path, std::move(extra))) {
    CAF_REQUIRE(node.ready());
  }

  static std::vector<std::string> args(const std::string& conf,
                                       std::vector<std::string> extra) {
    std::vector<std::string> result{"--config-file=" + conf, "--http.port=0"};
    result.insert(result.end(), extra.begin(), extra.end());
    return result;
  }

  json call(const std::string& method, const json& params, const json& id = 1) {
    return rpc(node.http_port, method, params, id);
  }

  uint16_t port() const {
    return node.http_port;
  }
};

/// A cluster node on ephemeral ports (or fixed ones, for a restart).
/// SendMessage params of a standard message that answers at once, routed
/// by `metadata` (agent, action, params).
inline json standard_message(const std::string& id, const json& metadata) {
  return {{"message",
           {{"messageId", id},
            {"role", "ROLE_USER"},
            {"parts", {{{"text", "kept"}}}},
            {"metadata", metadata}}},
          {"configuration", {{"returnImmediately", true}}}};
}

struct cluster_node {
  temp_file conf;
  std::unique_ptr<node_process> proc;

  cluster_node(const std::string& name, std::vector<uint16_t> seeds,
               const std::string& cookie = "e2e-cookie", uint16_t http = 0,
               uint16_t cluster = 0, std::vector<std::string> extra = {})
    : conf("[node]\nname=\"" + name + "\"\n[cluster]\nenabled=true\n"
           "host=\"127.0.0.1\"\ncookie=\"" + cookie + "\"\n"
           "[middleman]\nheartbeat-interval=200ms\nconnection-timeout=1s\n") {
    std::string seed_list = "[";
    for (auto p : seeds) {
      if (seed_list.size() > 1)
        seed_list += ",";
      seed_list += "\"127.0.0.1:" + std::to_string(p) + "\"";
    }
    seed_list += "]";
    std::vector<std::string> args{"--config-file=" + conf.path,
                                  "--http.port=" + std::to_string(http),
                                  "--cluster.port=" + std::to_string(cluster),
                                  "--cluster.seeds=" + seed_list};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<node_process>(std::move(args));
    CAF_REQUIRE(proc->ready());
    CAF_REQUIRE(proc->cluster_port != 0);
  }

  uint16_t port() const {
    return proc->http_port;
  }

  const std::string& name() const {
    return proc->node_name;
  }

  json call(const std::string& method, const json& params) const {
    return rpc(port(), method, params);
  }

  size_t total_nodes() const {
    auto r = call("GetClusterInfo", json::object());
    return r["result"].value("total_nodes", size_t{0});
  }

  bool sees(size_t n, clock_type::duration timeout = 5s) const {
    return eventually([&] { return total_nodes() == n; }, timeout);
  }

  /// Names of all agents this node lists, with their nodes.
  std::map<std::string, std::string> agents() const {
    std::map<std::string, std::string> result;
    auto r = call("ListAgents", json::object());
    for (auto& d : r["result"]["agents_detail"])
      result[d["name"]] = d["node"];
    return result;
  }
};

} // namespace e2e
