#include "http/request_parser.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include <http_parser.h>

namespace am::http {

struct request_parser::impl {
  http_parser parser;
  http_parser_settings settings;
  limits lim;
  request cur;
  std::string url;
  std::string field;
  std::string value;
  bool last_was_value = false;
  size_t header_bytes = 0;
  bool in_message = false;
  bool in_head = false;
  bool expect_continue = false;
  status error = status::ok;
  std::vector<request>* out = nullptr;
  /// The buffer being parsed, and the last byte before it that is not a
  /// space or tab, to look behind a header value.
  const char* buf_begin = nullptr;
  char last_non_ws = 0;
  /// Between a field name and its value: where the name ended in this
  /// buffer (null: before it), and the line feeds seen there in earlier
  /// buffers. http-parser skips a folded line of only white space after
  /// an empty value; a line feed there is how it shows.
  bool awaiting_value = false;
  const char* field_end = nullptr;
  size_t lf_after_field = 0;

  static impl& self(http_parser* p) {
    return *static_cast<impl*>(p->data);
  }

  int count_header_bytes(size_t n) {
    header_bytes += n;
    if (header_bytes > lim.max_header_bytes) {
      error = status::header_too_large;
      return -1;
    }
    return 0;
  }

  void push_header() {
    if (field.empty())
      return;
    std::transform(field.begin(), field.end(), field.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    cur.headers.emplace_back(std::move(field), std::move(value));
    field.clear();
    value.clear();
  }

  void split_url() {
    auto target = std::string_view{url};
    // Absolute form: http://host/path?query
    if (auto scheme = target.find("://"); scheme != std::string_view::npos
                                          && scheme < target.find('/')) {
      auto slash = target.find('/', scheme + 3);
      target = slash == std::string_view::npos ? std::string_view{"/"}
                                               : target.substr(slash);
    }
    if (auto q = target.find('?'); q != std::string_view::npos) {
      cur.path = std::string{target.substr(0, q)};
      cur.query = std::string{target.substr(q + 1)};
    } else {
      cur.path = std::string{target};
    }
  }

  impl(limits l) : lim(l) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
    http_parser_settings_init(&settings);
    settings.on_message_begin = [](http_parser* p) {
      auto& s = self(p);
      s.cur = request{};
      s.url.clear();
      s.field.clear();
      s.value.clear();
      s.last_was_value = false;
      s.header_bytes = 0;
      s.in_message = true;
      s.in_head = true;
      s.awaiting_value = false;
      return 0;
    };
    settings.on_url = [](http_parser* p, const char* at, size_t n) {
      auto& s = self(p);
      s.url.append(at, n);
      return s.count_header_bytes(n);
    };
    settings.on_header_field = [](http_parser* p, const char* at, size_t n) {
      auto& s = self(p);
      if (s.last_was_value) {
        s.push_header();
        s.last_was_value = false;
      }
      // RFC 9112: no whitespace in a field name, nor between it and the
      // colon ("Transfer-Encoding : chunked"); a proxy may read it
      // otherwise.
      if (std::any_of(at, at + n, [](char c) { return c == ' ' || c == '\t'; })) {
        s.error = status::bad_request;
        return -1;
      }
      // Count the separators too (once per field, however the name is
      // split across reads), so many tiny headers add up.
      auto separators = s.field.empty() ? 4 : 0;
      s.field.append(at, n);
      s.awaiting_value = true;
      s.field_end = at + n;
      s.lf_after_field = 0;
      return s.count_header_bytes(n + separators);
    };
    settings.on_header_value = [](http_parser* p, const char* at, size_t n) {
      auto& s = self(p);
      if (s.awaiting_value) {
        // Only an empty value's own line end lies between the name and
        // where its value starts; more is obsolete line folding.
        s.awaiting_value = false;
        auto from = s.field_end != nullptr ? s.field_end : s.buf_begin;
        auto lfs = s.lf_after_field
                   + static_cast<size_t>(std::count(from, at, '\n'));
        if (lfs > (n == 0 ? 1u : 0u)) {
          s.error = status::bad_request;
          return -1;
        }
      }
      if (n == 0) {
        // An empty value ("X-Empty:"): http-parser points past its line.
        s.last_was_value = true;
        return 0;
      }
      // A piece of a value follows the colon (and optional white space)
      // or an earlier piece; after a line feed and white space it is an
      // obsolete line folding (RFC 9112: rejected).
      auto i = at;
      while (i > s.buf_begin && (i[-1] == ' ' || i[-1] == '\t'))
        --i;
      auto before = i > s.buf_begin ? i[-1] : s.last_non_ws;
      if (before == '\n' || before == '\r') {
        s.error = status::bad_request;
        return -1;
      }
      s.last_was_value = true;
      s.value.append(at, n);
      return s.count_header_bytes(n);
    };
    settings.on_headers_complete = [](http_parser* p) {
      auto& s = self(p);
      s.in_head = false;
      s.push_header();
      s.cur.method = http_method_str(static_cast<http_method>(p->method));
      s.split_url();
      if ((p->flags & F_CONTENTLENGTH) != 0
          && p->content_length > s.lim.max_body_bytes) {
        s.error = status::body_too_large;
        return -1;
      }
      auto expect = s.cur.header("expect");
      std::transform(expect.begin(), expect.end(), expect.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      s.expect_continue = expect == "100-continue";
      return 0;
    };
    settings.on_body = [](http_parser* p, const char* at, size_t n) {
      auto& s = self(p);
      if (s.cur.body.size() + n > s.lim.max_body_bytes) {
        s.error = status::body_too_large;
        return -1;
      }
      s.cur.body.append(at, n);
      return 0;
    };
    settings.on_message_complete = [](http_parser* p) {
      auto& s = self(p);
      s.expect_continue = false; // the body is here already
      s.cur.keep_alive = http_should_keep_alive(p) != 0 && p->upgrade == 0;
      s.out->push_back(std::move(s.cur));
      s.cur = request{};
      s.in_message = false;
      return 0;
    };
  }
};

request_parser::request_parser(limits lim) : impl_(new impl(lim)) {
  // nop
}

request_parser::~request_parser() {
  // nop
}

request_parser::status request_parser::feed(const char* data, size_t n,
                                            std::vector<request>& out) {
  auto& s = *impl_;
  if (s.error != status::ok)
    return s.error;
  if (s.parser.upgrade != 0)
    return status::ok; // bytes after an upgrade request are not HTTP
  s.out = &out;
  s.buf_begin = data;
  auto consumed = http_parser_execute(&s.parser, &s.settings, data, n);
  s.out = nullptr;
  if (s.awaiting_value) {
    auto from = s.field_end != nullptr ? s.field_end : data;
    s.lf_after_field += static_cast<size_t>(
      std::count(from, data + consumed, '\n'));
    s.field_end = nullptr;
  }
  for (auto i = n; i > 0; --i)
    if (data[i - 1] != ' ' && data[i - 1] != '\t') {
      s.last_non_ws = data[i - 1];
      break;
    }
  auto err = static_cast<http_errno>(s.parser.http_errno);
  if (err != HPE_OK) {
    if (s.error == status::ok)
      s.error = err == HPE_HEADER_OVERFLOW ? status::header_too_large
                                           : status::bad_request;
    return s.error;
  }
  if (consumed != n && s.parser.upgrade == 0) {
    s.error = status::bad_request;
    return s.error;
  }
  return status::ok;
}

bool request_parser::mid_request() const {
  return impl_->in_message;
}

bool request_parser::mid_head() const {
  return impl_->in_head;
}

bool request_parser::take_expect_continue() {
  return std::exchange(impl_->expect_continue, false);
}

} // namespace am::http
