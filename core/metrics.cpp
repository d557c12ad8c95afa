#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace am::metrics {

histogram::histogram(std::vector<double> upper_bounds)
  : bounds_(std::move(upper_bounds)),
    buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double x) {
  // The first bucket whose upper bound is >= x (le is inclusive).
  auto i = static_cast<size_t>(
    std::lower_bound(bounds_.begin(), bounds_.end(), x) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  auto old_bits = sum_bits_.load(std::memory_order_relaxed);
  for (;;) {
    double old_sum;
    std::memcpy(&old_sum, &old_bits, sizeof(double));
    double new_sum = old_sum + x;
    uint64_t new_bits;
    std::memcpy(&new_bits, &new_sum, sizeof(double));
    if (sum_bits_.compare_exchange_weak(old_bits, new_bits,
                                        std::memory_order_relaxed))
      return;
  }
}

std::vector<uint64_t> histogram::cumulative() const {
  std::vector<uint64_t> result;
  result.reserve(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    result.push_back(total);
  }
  return result;
}

double histogram::sum() const {
  auto bits = sum_bits_.load(std::memory_order_relaxed);
  double result;
  std::memcpy(&result, &bits, sizeof(double));
  return result;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
          5,      10};
}

std::string escape_label_value(const std::string& x) {
  std::string result;
  result.reserve(x.size());
  for (char c : x) {
    switch (c) {
      case '\\':
        result += "\\\\";
        break;
      case '"':
        result += "\\\"";
        break;
      case '\n':
        result += "\\n";
        break;
      default:
        result += c;
    }
  }
  return result;
}

std::string escape_help(const std::string& x) {
  std::string result;
  result.reserve(x.size());
  for (char c : x) {
    if (c == '\\')
      result += "\\\\";
    else if (c == '\n')
      result += "\\n";
    else
      result += c;
  }
  return result;
}

std::string format_value(double x) {
  if (std::isnan(x))
    return "NaN";
  if (std::isinf(x))
    return x > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (x == std::floor(x) && std::fabs(x) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", x);
    return buf;
  }
  // The shortest text that reads back as the same double.
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, x);
    if (std::strtod(buf, nullptr) == x)
      break;
  }
  return buf;
}

void writer::family(const std::string& name, const std::string& help,
                    const std::string& type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void writer::sample(const std::string& name, const labels& ls, double value) {
  out_ += name;
  if (!ls.empty()) {
    out_ += '{';
    for (size_t i = 0; i < ls.size(); ++i) {
      if (i > 0)
        out_ += ',';
      out_ += ls[i].first;
      out_ += "=\"";
      out_ += escape_label_value(ls[i].second);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void writer::histogram_samples(const std::string& name, const labels& ls,
                               const histogram& h) {
  auto counts = h.cumulative();
  auto& bounds = h.upper_bounds();
  for (size_t i = 0; i < counts.size(); ++i) {
    auto with_le = ls;
    with_le.emplace_back("le", i < bounds.size() ? format_value(bounds[i])
                                                 : std::string{"+Inf"});
    sample(name + "_bucket", with_le, static_cast<double>(counts[i]));
  }
  sample(name + "_sum", ls, h.sum());
  sample(name + "_count", ls, static_cast<double>(counts.back()));
}

} // namespace am::metrics
