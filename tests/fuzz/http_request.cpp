// libFuzzer target: HTTP request assembly (framing, limits, strictness)
// and routing. The input's first byte picks how the rest is split into
// reads (bits 0-3), the limits (bits 4-6: heads of 128 B to 16 KiB, so
// that inputs cross them) and the auth token (bit 7); every split of the
// same bytes must give the same verdict and the same requests.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "http/request_parser.hpp"
#include "http/router.hpp"

using namespace am::http;

namespace {

struct outcome {
  std::vector<request> reqs;
  request_parser::status status = request_parser::status::ok;
};

outcome parse(const std::string& bytes, size_t step, limits lim) {
  outcome result;
  request_parser parser{lim};
  for (size_t pos = 0; pos < bytes.size(); pos += step) {
    auto n = std::min(step, bytes.size() - pos);
    result.status = parser.feed(bytes.data() + pos, n, result.reqs);
    if (result.status != request_parser::status::ok)
      break;
    // A head in progress is always part of a request in progress.
    if (parser.mid_head() && !parser.mid_request())
      abort();
  }
  return result;
}

bool same(const request& x, const request& y) {
  return x.method == y.method && x.path == y.path && x.query == y.query
         && x.body == y.body && x.headers == y.headers
         && x.keep_alive == y.keep_alive;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  auto step = static_cast<size_t>(data[0] % 16) + 1;
  auto head_limit = size_t{128} << ((data[0] >> 4) & 7);
  auto lim = limits{head_limit, 4 * head_limit};
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto whole = parse(bytes, bytes.size() + 1, lim);
  auto split = parse(bytes, step, lim);
  // Where reads end must not change the verdict (a proxy that splits
  // differently would disagree about where requests end) ...
  if (whole.status != split.status)
    abort();
  // ... nor the requests.
  if (whole.reqs.size() != split.reqs.size())
    abort();
  auto n = std::min(whole.reqs.size(), split.reqs.size());
  for (size_t i = 0; i < n; ++i)
    if (!same(whole.reqs[i], split.reqs[i]))
      abort();
  site s;
  s.node_name = "n1@h";
  s.auth_token = (data[0] & 0x80) != 0 ? "s3cret" : "";
  for (auto& req : whole.reqs) {
    if (req.method.empty() || req.body.size() > lim.max_body_bytes)
      abort();
    auto r = route_request(req, s);
    (void) r;
  }
  return 0;
}
