#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "http/message.hpp"

namespace am::http {

/// The largest head limit a parser takes (larger ones are lowered to it):
/// below http-parser's own limit (80 KiB, global to the process), which
/// must never be the one that fires for a head.
constexpr size_t max_head_limit = 64 * 1024;

/// Size limits for one request.
struct limits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
};

/// Assembles HTTP/1.1 requests from a byte stream (split reads, pipelining,
/// Content-Length and chunked bodies) on top of http-parser. No sockets: the
/// connection broker feeds it whatever arrives.
class request_parser {
public:
  enum class status {
    ok,
    /// Malformed HTTP: answer 400 and close.
    bad_request,
    /// A head (request line plus headers) or a chunked body's trailer
    /// section exceeds the limit: answer 431 and close.
    header_too_large,
    /// Body exceeds the limit: answer 413 and close.
    body_too_large,
  };

  explicit request_parser(limits lim = {});
  ~request_parser();

  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;

  /// Consumes `n` bytes and appends every request completed by them to
  /// `out`. After an error status the parser accepts no more input.
  status feed(const char* data, size_t n, std::vector<request>& out);

  /// True if bytes of an incomplete request were consumed.
  bool mid_request() const;

  /// True if bytes of a request were consumed whose head (request line
  /// and headers) is not complete yet.
  bool mid_head() const;

  /// True once per request whose headers asked for `Expect: 100-continue`
  /// and whose body has not arrived yet.
  bool take_expect_continue();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace am::http
