#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace am::http {

/// A complete HTTP request, as the connection broker hands it on.
struct request {
  std::string method;
  std::string path;  // without the query string
  std::string query; // without the '?'
  std::vector<std::pair<std::string, std::string>> headers; // names lowercase
  std::string body;
  bool keep_alive = true;

  /// The value of the first header named `name` (lowercase), or "".
  std::string header(std::string_view name) const;
};

/// A response before serialisation.
struct response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// Further header lines, each ending in CRLF.
  std::string extra_headers = {};
};

/// What a connection writes for one request.
struct reply {
  std::string bytes;
  /// Close the connection after writing.
  bool close = false;
  /// Switch to an event stream on these topics after writing `bytes`.
  bool stream = false;
  std::vector<std::string> topics;
  /// With `stream`: a task stream, fed by an agent, that ends by itself.
  bool task_stream = false;
};

const char* reason_phrase(int status);

/// Serialises status line, headers and (unless `head_only`) body.
std::string serialize(const response& res, bool head_only, bool keep_alive);

/// `{"errors":{"detail":"<detail>"}}` with the given status.
response error_response(int status, const std::string& detail);

} // namespace am::http
