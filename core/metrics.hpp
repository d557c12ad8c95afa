#pragma once
// Prometheus metrics without a client library (Debian has none for C++):
// counters and gauges as lock-free atomics that any thread updates and the
// scrape reads without a message round trip, histograms with fixed
// buckets, and the text exposition format 0.0.4. Plain code, no actors.

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace am::metrics {

/// A monotonically increasing count.
class counter {
public:
  void inc(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }

  uint64_t value() const {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down.
class gauge {
public:
  void set(int64_t x) {
    value_.store(x, std::memory_order_relaxed);
  }

  void add(int64_t n) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }

  int64_t value() const {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<int64_t> value_{0};
};

/// Observations counted in fixed buckets (upper bounds, ascending; +Inf is
/// implicit), with their sum and count.
class histogram {
public:
  explicit histogram(std::vector<double> upper_bounds);

  void observe(double x);

  const std::vector<double>& upper_bounds() const {
    return bounds_;
  }

  /// Cumulative counts per bound, then the +Inf bucket (= count).
  std::vector<uint64_t> cumulative() const;

  double sum() const;

  uint64_t count() const {
    return count_.load(std::memory_order_relaxed);
  }

private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_; // not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_bits_{0}; // a double, updated by CAS
};

/// Seconds buckets for request latencies: 100 us .. 10 s.
std::vector<double> latency_buckets();

using labels = std::vector<std::pair<std::string, std::string>>;

/// Renders metric families in the text format 0.0.4.
class writer {
public:
  /// `# HELP` and `# TYPE` of a family (`type`: counter, gauge, histogram,
  /// untyped); its samples follow.
  void family(const std::string& name, const std::string& help,
              const std::string& type);

  void sample(const std::string& name, const labels& ls, double value);

  /// `name_bucket{..., le="..."}` (cumulative), `name_sum`, `name_count`.
  void histogram_samples(const std::string& name, const labels& ls,
                         const histogram& h);

  const std::string& text() const {
    return out_;
  }

private:
  std::string out_;
};

/// Label values: backslash, double quote and line feed escaped.
std::string escape_label_value(const std::string& x);

/// HELP text: backslash and line feed escaped.
std::string escape_help(const std::string& x);

/// A sample value: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
std::string format_value(double x);

} // namespace am::metrics
