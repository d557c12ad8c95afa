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
  /// Bytes of the head in progress, counted as the parser consumes them
  /// (request line, header lines, and any empty lines before it); then of
  /// the trailer section, if a chunked body has one.
  size_t head_bytes = 0;
  /// Past a chunked body's last chunk: header lines now are trailers,
  /// held to the head's limit and dropped (RFC 9110 6.5.1: a recipient
  /// must not merge them into the headers unless it knows them).
  bool in_trailer = false;
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

  void push_header() {
    if (field.empty() || in_trailer) {
      field.clear();
      value.clear();
      return;
    }
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
    // Where http-parser's own count fires would depend on how reads are
    // split: it must never be the one that does.
    lim.max_header_bytes = std::min(lim.max_header_bytes, max_head_limit);
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
      s.in_message = true;
      s.in_head = true;
      s.awaiting_value = false;
      return 0;
    };
    settings.on_url = [](http_parser* p, const char* at, size_t n) {
      auto& s = self(p);
      s.url.append(at, n);
      return 0;
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
      s.field.append(at, n);
      s.awaiting_value = true;
      s.field_end = at + n;
      s.lf_after_field = 0;
      return 0;
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
      return 0;
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
      // Decided by the head: http-parser reads Connection in trailers too.
      s.cur.keep_alive = http_should_keep_alive(p) != 0;
      // Stop here, so feed() knows where the head ended.
      http_parser_pause(p, 1);
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
      s.cur.keep_alive = s.cur.keep_alive && p->upgrade == 0;
      s.out->push_back(std::move(s.cur));
      s.cur = request{};
      s.in_message = false;
      s.in_trailer = false;
      // Stop here, so feed() knows where the next head begins.
      http_parser_pause(p, 1);
      return 0;
    };
    settings.on_chunk_header = [](http_parser* p) {
      if (p->content_length != 0)
        return 0;
      // The last chunk: what follows is the trailer section. Stop here,
      // so feed() counts it from its first byte.
      auto& s = self(p);
      s.in_trailer = true;
      http_parser_pause(p, 1);
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
  s.out = &out;
  s.buf_begin = data;
  // The parser pauses where a head, a body and a message end, and a head
  // (or trailer section) gets at most its limit's worth of bytes: where
  // the limit is crossed then does not depend on how reads are split, and
  // neither does what is found first, a malformed byte or the limit.
  size_t pos = 0;
  while (pos < n && s.error == status::ok) {
    if (s.parser.upgrade != 0 && !s.in_message)
      break; // bytes after an upgrade request are not HTTP
    auto limited = !s.in_message || s.in_head || s.in_trailer;
    auto len = n - pos;
    if (limited) {
      if (s.head_bytes >= s.lim.max_header_bytes) {
        s.error = status::header_too_large;
        break;
      }
      len = std::min(len, s.lim.max_header_bytes - s.head_bytes);
    }
    auto from = data + pos;
    auto consumed = http_parser_execute(&s.parser, &s.settings, from, len);
    if (limited)
      s.head_bytes += consumed;
    if (s.awaiting_value) {
      auto lf_from = s.field_end != nullptr ? s.field_end : from;
      s.lf_after_field += static_cast<size_t>(
        std::count(lf_from, from + consumed, '\n'));
      s.field_end = from + consumed;
    }
    pos += consumed;
    auto err = static_cast<http_errno>(s.parser.http_errno);
    if (err == HPE_PAUSED) {
      // A section ended (head, body or message): the next one that is
      // limited, a head or a trailer section, counts from zero. So does
      // http-parser's own count, which a pause in a callback leaves
      // unsaved (it would then depend on where reads end).
      http_parser_pause(&s.parser, 0);
      s.head_bytes = 0;
      s.parser.nread = 0;
      continue;
    }
    if (err != HPE_OK) {
      // http-parser's own limit (80 KiB) is above any head's (64 KiB at
      // most), but it also counts a chunk's size line: one that long is
      // malformed, not a large head.
      if (s.error == status::ok)
        s.error = err == HPE_HEADER_OVERFLOW && limited
                    ? status::header_too_large
                    : status::bad_request;
      break;
    }
    // Only an upgrade stops the parser early without a pause or an error;
    // anything else would loop here forever.
    if (consumed != len && s.parser.upgrade == 0)
      s.error = status::bad_request;
  }
  s.out = nullptr;
  s.field_end = nullptr; // the next read starts counting line feeds anew
  for (auto i = n; i > 0; --i)
    if (data[i - 1] != ' ' && data[i - 1] != '\t') {
      s.last_non_ws = data[i - 1];
      break;
    }
  return s.error;
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
