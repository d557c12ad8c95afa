#define CAF_SUITE e2e_http

#include "tests/e2e/fixture.hpp"

using namespace e2e;

namespace {

struct fixture : single_node {
  fixture()
    : single_node({"--http.max-body-bytes=1024", "--http.max-header-bytes=1024",
                   "--http.idle-timeout=700ms", "--http.max-connections=8"}) {
    // nop
  }

  bool still_serving() {
    return request(port(), "GET", "/health").status == 200;
  }
};

std::string post(const std::string& body, const std::string& extra = "") {
  return "POST /a2a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         + extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"
         + body;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(e2e_http_tests, fixture)

CAF_TEST(three pipelined requests in one write come back in order) {
  connection conn{port()};
  CAF_REQUIRE(conn.connected());
  auto bytes = post(R"({"jsonrpc":"2.0","method":"StartAgent","params":{"name":"P"},"id":1})")
               + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
               + post(R"({"jsonrpc":"2.0",)");
  CAF_REQUIRE(conn.send(bytes));
  auto r1 = conn.read_response();
  auto r2 = conn.read_response();
  auto r3 = conn.read_response();
  CAF_REQUIRE(r1 && r2 && r3);
  CAF_CHECK(json::parse(r1->body)["result"]["status"] == "started");
  CAF_CHECK(json::parse(r2->body)["status"] == "healthy");
  CAF_CHECK(json::parse(r3->body)["error"]["code"] == -32700);
  // The connection stays open for more.
  conn.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r4 = conn.read_response();
  CAF_REQUIRE(r4);
  CAF_CHECK_EQUAL(r4->status, 200);
}

CAF_TEST(a request split across writes) {
  connection conn{port()};
  auto bytes = post(R"({"jsonrpc":"2.0","method":"ListAgents","id":1})",
                    "Connection: close\r\n");
  conn.send(bytes.substr(0, 20));
  conn.send(bytes.substr(20, 40));
  conn.send(bytes.substr(60));
  auto res = conn.read_response();
  CAF_REQUIRE(res);
  CAF_CHECK(json::parse(res->body)["result"]["count"] == 0);
  CAF_CHECK_EQUAL(res->headers["connection"], "close");
  CAF_CHECK(conn.wait_closed());
}

CAF_TEST(chunked request bodies) {
  connection conn{port()};
  std::string body = R"({"jsonrpc":"2.0","method":"ListAgents","id":7})";
  conn.send("POST /a2a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "10\r\n" + body.substr(0, 16) + "\r\n"
            + [&] {
                char hex[16];
                std::snprintf(hex, sizeof(hex), "%zx", body.size() - 16);
                return std::string{hex};
              }()
            + "\r\n" + body.substr(16) + "\r\n0\r\n\r\n");
  auto res = conn.read_response();
  CAF_REQUIRE(res);
  CAF_CHECK(json::parse(res->body)["id"] == 7);
}

CAF_TEST(bodies over the limit get 413 and a close) {
  connection conn{port()};
  std::string big(2000, 'x');
  conn.send(post(big));
  auto res = conn.read_response();
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 413);
  CAF_CHECK(conn.wait_closed());
  CAF_CHECK(still_serving());
}

CAF_TEST(a client still sending its oversized body reads the 413) {
  connection conn{port()};
  std::string body(2 * 1024 * 1024, 'x');
  conn.send("POST /a2a HTTP/1.1\r\nHost: x\r\nContent-Length: "
            + std::to_string(body.size()) + "\r\n\r\n" + body);
  auto res = conn.read_response();
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 413);
  CAF_CHECK(conn.wait_closed());
}

CAF_TEST(headers over the limit get 431 and a close) {
  connection conn{port()};
  conn.send("GET /health HTTP/1.1\r\nX-Big: " + std::string(3000, 'y')
            + "\r\n\r\n");
  auto res = conn.read_response();
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 431);
  CAF_CHECK(conn.wait_closed());
  CAF_CHECK(still_serving());
}

CAF_TEST(malformed HTTP gets 400 and a close) {
  connection conn{port()};
  conn.send("THIS IS NOT HTTP\r\n\r\n");
  auto res = conn.read_response();
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 400);
  CAF_CHECK(conn.wait_closed());
  CAF_CHECK(still_serving());
}

CAF_TEST(unknown routes and verbs get 404 JSON) {
  for (auto [method, path] : {std::pair{"GET", "/nope"}, {"GET", "/a2a"},
                              {"DELETE", "/health"}, {"PUT", "/a2a"}}) {
    auto res = request(port(), method, path);
    CAF_CHECK_EQUAL(res.status, 404);
    CAF_CHECK_EQUAL(res.headers["content-type"], "application/json");
    CAF_CHECK_EQUAL(res.body, R"({"errors":{"detail":"Not Found"}})");
  }
}

CAF_TEST(HEAD answers headers only and trailing slashes are ignored) {
  connection conn{port()};
  conn.send("HEAD /health/ HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /.well-known/agent.json/ HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = conn.read_response(10s, true);
  CAF_REQUIRE(head);
  CAF_CHECK_EQUAL(head->status, 200);
  CAF_CHECK(head->body.empty());
  CAF_CHECK_GREATER(std::stoul(head->headers["content-length"]), 0u);
  auto card = conn.read_response();
  CAF_REQUIRE(card);
  CAF_CHECK(json::parse(card->body)["url"] == "http://x");
}

CAF_TEST(a slow client is closed by the idle timeout) {
  connection slow{port()};
  slow.send("GET /health HTTP/1.1\r\nHo");
  auto t0 = clock_type::now();
  CAF_CHECK(slow.wait_closed(5s));
  CAF_CHECK_GREATER_OR_EQUAL(clock_type::now() - t0, 500ms);
  connection idle{port()};
  idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  CAF_CHECK(idle.read_response());
  CAF_CHECK(idle.wait_closed(5s));
  CAF_CHECK(still_serving());
}

CAF_TEST(connections over the limit get 503) {
  std::vector<std::unique_ptr<connection>> conns;
  for (int i = 0; i < 8; ++i) {
    conns.push_back(std::make_unique<connection>(port()));
    conns.back()->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CAF_REQUIRE(conns.back()->read_response());
  }
  connection extra{port()};
  auto res = extra.read_response();
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 503);
  CAF_CHECK(extra.wait_closed());
  conns.pop_back();
  CAF_CHECK(eventually([&] { return still_serving(); }));
}

CAF_TEST(expect 100-continue gets an interim response) {
  connection conn{port()};
  std::string body = R"({"jsonrpc":"2.0","method":"ListAgents","id":5})";
  conn.send("POST /a2a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  auto interim = conn.read_until("\r\n\r\n");
  CAF_REQUIRE(interim);
  CAF_CHECK_EQUAL(*interim, "HTTP/1.1 100 Continue\r\n\r\n");
  conn.send(body);
  auto res = conn.read_response();
  CAF_REQUIRE(res);
  CAF_CHECK(json::parse(res->body)["id"] == 5);
}

CAF_TEST(requests pipelined behind an event stream do not run) {
  connection conn{port()};
  conn.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"
            + post(R"({"jsonrpc":"2.0","method":"StartAgent","params":{"name":"Behind"},"id":1})"));
  CAF_REQUIRE(conn.read_until(": subscribed\n\n"));
  // A later agent start shows up on the stream; by then the pipelined
  // request would long have run.
  rpc(port(), "StartAgent", {{"name", "Marker"}});
  auto ev = conn.read_until("\n\n");
  CAF_REQUIRE(ev);
  CAF_CHECK(ev->find("Marker") != std::string::npos);
  CAF_CHECK(ev->find("Behind") == std::string::npos);
  CAF_CHECK(rpc(port(), "GetAgentState", {{"agent", "Behind"}})["error"]["code"]
            == -32001);
}

CAF_TEST(unknown event topics get 400) {
  auto res = request(port(), "GET", "/events?topic=bogus");
  CAF_CHECK_EQUAL(res.status, 400);
  CAF_CHECK(still_serving());
}

CAF_TEST(bad JSON of every kind keeps the node serving) {
  std::vector<std::string> bodies{
    "", "null", "[", std::string(5000, '['), "\xff\xfe\xfd",
    R"({"jsonrpc":"2.0","method":"StartAgent","params":{"name":{"x":1}},"id":1})",
    R"({"jsonrpc":"2.0","method":"SendMessage","params":{"agent":"a","action":"b","params":[1]},"id":1})",
    R"({"jsonrpc":"2.0","method":"StartAgent","params":{"name":"Z","memory":"m"},"id":1})",
  };
  for (auto& body : bodies) {
    connection conn{port()};
    conn.send(post(body));
    auto res = conn.read_response();
    CAF_REQUIRE(res);
    CAF_CHECK(res->status == 200 || res->status == 413);
    if (res->status == 200)
      CAF_CHECK(json::parse(res->body).contains("error"));
  }
  CAF_CHECK(still_serving());
}

CAF_TEST_FIXTURE_SCOPE_END()
