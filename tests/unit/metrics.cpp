#define CAF_SUITE metrics

#include <caf/test/unit_test.hpp>

#include <cmath>
#include <set>
#include <limits>
#include <thread>
#include <vector>

#include "core/metrics.hpp"

using namespace am::metrics;

CAF_TEST(label values escape backslash quote and newline) {
  CAF_CHECK_EQUAL(escape_label_value(R"(a\b"c)" "\nd"), R"(a\\b\"c\nd)");
  CAF_CHECK_EQUAL(escape_label_value("plain"), "plain");
  CAF_CHECK_EQUAL(escape_help("x\\y\nz\"q"), "x\\\\y\\nz\"q");
}

CAF_TEST(values) {
  CAF_CHECK_EQUAL(format_value(0), "0");
  CAF_CHECK_EQUAL(format_value(42), "42");
  CAF_CHECK_EQUAL(format_value(-3), "-3");
  CAF_CHECK_EQUAL(format_value(0.25), "0.25");
  CAF_CHECK_EQUAL(format_value(0.0001), "0.0001");
  CAF_CHECK_EQUAL(format_value(std::numeric_limits<double>::infinity()),
                  "+Inf");
  CAF_CHECK_EQUAL(format_value(-std::numeric_limits<double>::infinity()),
                  "-Inf");
  CAF_CHECK_EQUAL(format_value(std::nan("")), "NaN");
}

CAF_TEST(a family with labelled samples) {
  writer w;
  w.family("agentmesh_requests_total", "Requests\nby method",
           "counter");
  w.sample("agentmesh_requests_total", {{"method", "Send\"Message"}}, 3);
  w.sample("agentmesh_up", {}, 1);
  CAF_CHECK_EQUAL(w.text(),
                  "# HELP agentmesh_requests_total Requests\\nby method\n"
                  "# TYPE agentmesh_requests_total counter\n"
                  "agentmesh_requests_total{method=\"Send\\\"Message\"} 3\n"
                  "agentmesh_up 1\n");
}

CAF_TEST(histogram buckets are cumulative and end with +Inf) {
  histogram h{{0.1, 1, 0.5}}; // sorted on construction
  for (double x : {0.05, 0.1, 0.3, 0.7, 2.0, 5.0})
    h.observe(x);
  CAF_CHECK_EQUAL(h.cumulative(), (std::vector<uint64_t>{2, 3, 4, 6}));
  CAF_CHECK_EQUAL(h.count(), 6u);
  CAF_CHECK(std::fabs(h.sum() - 8.15) < 1e-9);
  writer w;
  w.histogram_samples("lat_seconds", {{"m", "x"}}, h);
  auto expected = std::string{"lat_seconds_bucket{m=\"x\",le=\"0.1\"} 2\n"
                              "lat_seconds_bucket{m=\"x\",le=\"0.5\"} 3\n"
                              "lat_seconds_bucket{m=\"x\",le=\"1\"} 4\n"
                              "lat_seconds_bucket{m=\"x\",le=\"+Inf\"} 6\n"
                              "lat_seconds_sum{m=\"x\"} "}
                  + format_value(h.sum())
                  + "\nlat_seconds_count{m=\"x\"} 6\n";
  CAF_CHECK_EQUAL(w.text(), expected);
}

CAF_TEST(counters and histograms count from many threads) {
  counter c;
  histogram h{latency_buckets()};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.001);
      }
    });
  for (auto& t : ts)
    t.join();
  CAF_CHECK_EQUAL(c.value(), 40000u);
  CAF_CHECK_EQUAL(h.count(), 40000u);
  auto cumulative = h.cumulative();
  CAF_CHECK_EQUAL(cumulative.back(), 40000u);
  CAF_CHECK(std::fabs(h.sum() - 40.0) < 1e-6);
}

// -- a node's metrics ---------------------------------------------------------

#include "core/agent_state.hpp"
#include "core/node_metrics.hpp"

CAF_TEST(agents count the tasks they create and end) {
  am::node_metrics m;
  auto actions = am::action_registry::builtin();
  am::agent_state st{"A"};
  st.count_tasks(&m.tasks);
  st.enqueue("search", am::json{{"query", "1"}});
  auto gone = st.enqueue("search", am::json{{"query", "2"}});
  st.process_next(actions);
  st.cancel(gone);
  am::task t;
  t.action = "search";
  st.submit(t);
  auto rec = st.begin_standard();
  CAF_REQUIRE(rec);
  st.complete(rec->t.id, am::json{{"error", "boom"}});
  CAF_CHECK_EQUAL(m.tasks.created.value(), 3u);
  CAF_CHECK_EQUAL(m.tasks.completed.value(), 1u);
  CAF_CHECK_EQUAL(m.tasks.cancelled.value(), 1u);
  CAF_CHECK_EQUAL(m.tasks.failed.value(), 1u);
}

CAF_TEST(the exposition shows every family of SPEC 12) {
  am::node_metrics m;
  m.node_name = "n1@host";
  m.version = "1.2.3";
  m.agents.set(7);
  m.cluster_nodes.set(3);
  m.tasks.completed.inc(5);
  m.http.observe(am::http_route::a2a, 200, 0.002);
  m.http.observe(am::http_route::a2a, 200, 0.004);
  m.http.observe(am::http_route::agent_a2a, 404, 0.001);
  auto text = m.exposition();
  auto has = [&](const std::string& line) {
    auto found = text.find(line + "\n") != std::string::npos;
    if (!found)
      CAF_MESSAGE("missing: " << line);
    return found;
  };
  CAF_CHECK(has(R"(agentmesh_info{node="n1@host",version="1.2.3"} 1)"));
  CAF_CHECK(has("agentmesh_agents 7"));
  CAF_CHECK(has("agentmesh_cluster_nodes 3"));
  CAF_CHECK(has(R"(agentmesh_tasks_total{status="completed"} 5)"));
  CAF_CHECK(has(R"(agentmesh_tasks_total{status="failed"} 0)"));
  CAF_CHECK(has("# TYPE agentmesh_http_requests_total counter"));
  CAF_CHECK(has(R"(agentmesh_http_requests_total{route="/a2a",code="200"} 2)"));
  CAF_CHECK(has(R"(agentmesh_http_requests_total{route="/agents/{name}/a2a",code="404"} 1)"));
  CAF_CHECK(has(R"(agentmesh_http_request_duration_seconds_bucket{route="/a2a",le="0.001"} 0)"));
  CAF_CHECK(has(R"(agentmesh_http_request_duration_seconds_bucket{route="/a2a",le="0.0025"} 1)"));
  CAF_CHECK(has(R"(agentmesh_http_request_duration_seconds_bucket{route="/a2a",le="+Inf"} 2)"));
  CAF_CHECK(has(R"(agentmesh_http_request_duration_seconds_count{route="/a2a"} 2)"));
  CAF_CHECK(has(R"(agentmesh_http_request_duration_seconds_sum{route="/a2a"} 0.006)"));
  CAF_CHECK(has("agentmesh_agent_restarts_total 0"));
  CAF_CHECK(has("agentmesh_events_published_total 0"));
  CAF_CHECK(has("# TYPE process_resident_memory_bytes gauge"));
  // The store's histogram only with a store.
  CAF_CHECK(text.find("agentmesh_store_commit_seconds") == std::string::npos);
  m.has_store = true;
  m.store_commit.observe(0.01);
  CAF_CHECK(m.exposition().find("agentmesh_store_commit_seconds_count 1\n")
            != std::string::npos);
  // Route labels are the route templates, all distinct.
  std::set<std::string> labels;
  for (size_t i = 0; i < am::http_route_count; ++i)
    labels.insert(am::label_of(static_cast<am::http_route>(i)));
  CAF_CHECK_EQUAL(labels.size(), am::http_route_count);
}
