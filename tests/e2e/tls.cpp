#define CAF_SUITE e2e_tls

#include "tests/e2e/fixture.hpp"

using namespace e2e;

namespace {

std::string tls_dir() {
  return std::string{AGENTMESH_TEST_DATA} + "/tls/";
}

std::string tls_conf(const std::string& name, const std::string& cert,
                     const std::string& pass = "secret") {
  auto d = tls_dir();
  return "[node]\nname=\"" + name + "\"\n[cluster]\nenabled=true\n"
         "cookie=\"tls-cookie\"\n[openssl]\ncertificate=\"" + d + cert
         + ".pem\"\nkey=\"" + d + cert + ".key\"\npassphrase=\"" + pass
         + "\"\ncafile=\"" + d + "ca.pem\"\n";
}

size_t total_nodes(uint16_t port) {
  auto r = rpc(port, "GetClusterInfo", json::object());
  return r["result"].value("total_nodes", size_t{0});
}

std::vector<std::string> connected(uint16_t port) {
  auto r = rpc(port, "GetClusterInfo", json::object());
  return r["result"].value("connected", std::vector<std::string>{});
}

} // namespace

CAF_TEST(a bad key or passphrase stops start-up with exit code 2) {
  temp_file wrong_pass{tls_conf("t", "node", "not-it")};
  node_process p{{"--config-file=" + wrong_pass.path, "--http.port=0"}, {}, 5s};
  CAF_CHECK(!p.ready());
  CAF_CHECK_EQUAL(p.wait_exit(), 2);
  CAF_CHECK(p.stderr_text().find("openssl.key") != std::string::npos);
  temp_file missing{"[openssl]\ncertificate=\"/nonexistent.pem\"\n"};
  node_process q{{"--config-file=" + missing.path, "--http.port=0"}, {}, 5s};
  CAF_CHECK_EQUAL(q.wait_exit(), 2);
  CAF_CHECK(q.stderr_text().find("openssl.") != std::string::npos);
}

CAF_TEST(nodes with certificates of the cluster CA join over TLS) {
  temp_file c1{tls_conf("t1", "node")};
  node_process n1{{"--config-file=" + c1.path, "--http.port=0",
                   "--cluster.port=0"}};
  CAF_REQUIRE(n1.ready());
  temp_file c2{tls_conf("t2", "node")};
  node_process n2{{"--config-file=" + c2.path, "--http.port=0",
                   "--cluster.port=0",
                   "--cluster.seeds=[\"127.0.0.1:"
                     + std::to_string(n1.cluster_port) + "\"]"}};
  CAF_REQUIRE(n2.ready());
  CAF_CHECK(eventually([&] { return total_nodes(n1.http_port) == 2; }));
  rpc(n2.http_port, "StartAgent", {{"name", "Tls"}});
  auto r = rpc(n1.http_port, "SendMessage", {{"agent", "Tls"},
                                             {"action", "search"}});
  CAF_CHECK(r["result"]["node"] == n2.node_name);
  // A certificate from another CA never gets in.
  temp_file c3{tls_conf("rogue", "rogue")};
  node_process rogue{{"--config-file=" + c3.path, "--http.port=0",
                      "--cluster.port=0", "--log.level=\"debug\"",
                      "--cluster.seeds=[\"127.0.0.1:"
                        + std::to_string(n1.cluster_port) + "\"]"}};
  CAF_REQUIRE(rogue.ready());
  // Its attempts fail in the TLS handshake; it stays alone, and the link
  // between the legitimate nodes is not disturbed by its retries.
  // (Keep traffic flowing between the two while the rogue retries.)
  CAF_CHECK(eventually(
    [&] {
      rpc(n1.http_port, "GetAgentState", {{"agent", "Tls"}});
      auto text = rogue.stderr_text();
      size_t n = 0;
      for (auto pos = text.find("disconnect_during_handshake");
           pos != std::string::npos;
           pos = text.find("disconnect_during_handshake", pos + 1))
        ++n;
      return n >= 6;
    },
    15s));
  CAF_CHECK(n1.stderr_text().find("Node disconnected") == std::string::npos);
  CAF_CHECK_EQUAL(total_nodes(n1.http_port), 2u);
  for (int i = 0; i < 3; ++i) {
    CAF_CHECK_EQUAL(total_nodes(rogue.http_port), 1u);
    auto xs = connected(n1.http_port);
    CAF_CHECK(std::find(xs.begin(), xs.end(), rogue.node_name) == xs.end());
  }
  CAF_CHECK(rpc(rogue.http_port, "GetAgentState", {{"agent", "Tls"}})
              ["error"]["code"] == -32001);
}
