#define CAF_SUITE metrics

#include <caf/test/unit_test.hpp>

#include <cmath>
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
  CAF_CHECK_EQUAL(h.cumulative().back(), 40000u);
  CAF_CHECK(std::fabs(h.sum() - 40.0) < 1e-6);
}
