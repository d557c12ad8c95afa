#pragma once

#include <caf/test/unit_test.hpp>

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

} // namespace e2e
