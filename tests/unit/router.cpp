#define CAF_SUITE router

#include <caf/test/unit_test.hpp>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "http/router.hpp"

using namespace am;
using namespace am::http;

namespace {

struct fixture {
  site s{"n1@h", "agentmesh", "1.2.3", "127.0.0.1:4000"};

  route get(const std::string& method, const std::string& path,
            const std::string& query = "") {
    request req;
    req.method = method;
    req.path = path;
    req.query = query;
    req.headers.emplace_back("host", "example:4000");
    return route_request(req, s);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(router_tests, fixture)

CAF_TEST(health with and without trailing slash) {
  for (auto path : {"/health", "/health/", "/health//"}) {
    auto r = get("GET", path);
    CAF_REQUIRE(r.kind == route::respond);
    CAF_CHECK_EQUAL(r.res.status, 200);
    CAF_CHECK_EQUAL(r.res.content_type, "application/json");
    auto body = json::parse(r.res.body);
    CAF_CHECK(body["status"] == "healthy");
    CAF_CHECK(body["node"] == "n1@h");
    CAF_CHECK(body["timestamp"].get<std::string>().back() == 'Z');
  }
}

CAF_TEST(health is valid JSON for any node name and keeps the key order) {
  for (std::string name : {"a\"b\\c@h", "x\ny@h", "n1@h", "n2@h"}) {
    s.node_name = name;
    auto text = get("GET", "/health").res.body;
    auto body = json::parse(text);
    CAF_CHECK_EQUAL(body["node"].get<std::string>(), name);
    CAF_CHECK_EQUAL(text, dump(body));
    CAF_CHECK_EQUAL(body.size(), 3u);
  }
}

CAF_TEST(timestamps are ISO 8601 in UTC with microseconds) {
  using namespace std::chrono;
  auto at = [](int64_t us) {
    return iso8601(system_clock::time_point{microseconds{us}});
  };
  CAF_CHECK_EQUAL(at(0), "1970-01-01T00:00:00.000000Z");
  CAF_CHECK_EQUAL(at(1'795'000'000'000'007), "2026-11-18T11:06:40.000007Z");
  // The same second again, then the next one, then an earlier one.
  CAF_CHECK_EQUAL(at(1'795'000'000'999'999), "2026-11-18T11:06:40.999999Z");
  CAF_CHECK_EQUAL(at(1'795'000'001'000'000), "2026-11-18T11:06:41.000000Z");
  CAF_CHECK_EQUAL(at(1'795'000'000'123'456), "2026-11-18T11:06:40.123456Z");
  CAF_CHECK_EQUAL(at(-1), "1969-12-31T23:59:59.999999Z");
}

CAF_TEST(the agent card) {
  auto r = get("GET", "/.well-known/agent.json");
  auto card = json::parse(r.res.body);
  CAF_CHECK(card["name"] == "agentmesh");
  CAF_CHECK(card["version"] == "1.2.3");
  CAF_CHECK(card["url"] == "http://example:4000");
  CAF_CHECK(card["capabilities"]
            == json::parse(R"({"streaming":false,"pushNotifications":false})"));
  CAF_REQUIRE_EQUAL(card["skills"].size(), 3u);
  std::vector<std::string> ids, params;
  for (auto& sk : card["skills"]) {
    ids.push_back(sk["id"]);
    params.push_back(sk["inputSchema"]["required"][0]);
    CAF_CHECK(sk.contains("name") && sk.contains("description"));
  }
  CAF_CHECK_EQUAL(ids, (std::vector<std::string>{"search", "analyze",
                                                 "summarize"}));
  CAF_CHECK_EQUAL(params, (std::vector<std::string>{"query", "data", "text"}));
}

CAF_TEST(routes and verbs) {
  CAF_CHECK(get("POST", "/a2a").kind == route::rpc);
  CAF_CHECK(get("POST", "/a2a/").kind == route::rpc);
  auto r = get("GET", "/a2a");
  CAF_CHECK_EQUAL(r.res.status, 404);
  CAF_CHECK_EQUAL(r.res.body, R"({"errors":{"detail":"Not Found"}})");
  CAF_CHECK(get("POST", "/health").res.status == 404);
  CAF_CHECK(get("DELETE", "/health").res.status == 404);
  CAF_CHECK(get("GET", "/nope").res.status == 404);
  CAF_CHECK(get("HEAD", "/health").res.status == 200);
}

CAF_TEST(event streams with topic filters) {
  auto r = get("GET", "/events/", "topic=agent%3Aevents%3AW&x=1&topic=cluster:events");
  CAF_REQUIRE(r.kind == route::events);
  CAF_CHECK_EQUAL(r.topics, (std::vector<std::string>{"agent:events:W",
                                                      "cluster:events"}));
  CAF_CHECK(get("GET", "/events").topics.empty());
  // agent:events covers the per-agent topics; duplicates go.
  r = get("GET", "/events", "topic=agent:events:W&topic=agent:events"
                            "&topic=cluster:events&topic=cluster:events");
  CAF_CHECK_EQUAL(r.topics, (std::vector<std::string>{"agent:events",
                                                      "cluster:events"}));
  // Unknown or oversized topics are refused.
  for (auto q : {"topic=nope", "topic=agent:events:", "topic=agent:eventsX"}) {
    auto bad = get("GET", "/events", q);
    CAF_CHECK(bad.kind == route::respond);
    CAF_CHECK_EQUAL(bad.res.status, 400);
  }
  auto long_name = "topic=agent:events:" + std::string(300, 'x');
  CAF_CHECK_EQUAL(get("GET", "/events", long_name).res.status, 400);
}

CAF_TEST(serialization) {
  response res{200, "application/json", "{}"};
  CAF_CHECK_EQUAL(serialize(res, false, true),
                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n{}");
  CAF_CHECK_EQUAL(serialize(res, true, false),
                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  "Content-Length: 2\r\nConnection: close\r\n\r\n");
  CAF_CHECK_EQUAL(serialize(response{204, "", ""}, false, true),
                  "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
}

CAF_TEST(the auth token guards every route but health and the cards) {
  s.auth_token = "s3cret";
  auto with = [&](const std::string& method, const std::string& path,
                  const std::string& authorization) {
    request req;
    req.method = method;
    req.path = path;
    req.headers.emplace_back("host", "example:4000");
    if (!authorization.empty())
      req.headers.emplace_back("authorization", authorization);
    return route_request(req, s);
  };
  for (auto path : {"/a2a", "/agents/x/a2a"}) {
    auto r = with("POST", path, "");
    CAF_CHECK_EQUAL(r.kind, route::respond);
    CAF_CHECK_EQUAL(r.res.status, 401);
    CAF_CHECK_EQUAL(r.res.body, R"({"errors":{"detail":"Unauthorized"}})");
    CAF_CHECK_EQUAL(serialize(r.res, false, true).rfind(
                      "HTTP/1.1 401 Unauthorized\r\n", 0),
                    0u);
    CAF_CHECK(r.res.extra_headers.find("WWW-Authenticate: Bearer\r\n")
              != std::string::npos);
    CAF_CHECK_EQUAL(with("POST", path, "Bearer wrong").res.status, 401);
    CAF_CHECK_EQUAL(with("POST", path, "Basic s3cret").res.status, 401);
    CAF_CHECK_EQUAL(with("POST", path, "Bearer s3cret").kind, route::rpc);
    CAF_CHECK_EQUAL(with("POST", path, "bearer s3cret").kind, route::rpc);
  }
  for (auto path : {"/", "/metrics", "/events"})
    CAF_CHECK_EQUAL(with("GET", path, "").res.status, 401);
  CAF_CHECK_EQUAL(with("GET", "/nope", "").res.status, 401);
  // Open without a token.
  CAF_CHECK_EQUAL(with("GET", "/health", "").res.status, 200);
  CAF_CHECK_EQUAL(with("GET", "/.well-known/agent.json", "").res.status, 200);
  auto card = with("GET", "/.well-known/agent-card.json", "");
  CAF_CHECK_EQUAL(card.res.status, 200);
  auto body = json::parse(card.res.body);
  CAF_CHECK(body["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]
              ["scheme"]
            == "Bearer");
  CAF_CHECK(body["securityRequirements"][0]["schemes"].contains("bearer"));
  CAF_CHECK_EQUAL(with("GET", "/agents/x/.well-known/agent-card.json", "")
                    .kind,
                  route::agent_card);
  // Without a token nothing is guarded and the cards declare nothing.
  s.auth_token.clear();
  CAF_CHECK_EQUAL(with("POST", "/a2a", "").kind, route::rpc);
  body = json::parse(with("GET", "/.well-known/agent-card.json", "").res.body);
  CAF_CHECK(!body.contains("securitySchemes"));
}

CAF_TEST_FIXTURE_SCOPE_END()
