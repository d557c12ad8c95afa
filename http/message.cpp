#include "http/message.hpp"

namespace am::http {

std::string request::header(std::string_view name) const {
  for (auto& kvp : headers)
    if (kvp.first == name)
      return kvp.second;
  return {};
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string serialize(const response& res, bool head_only, bool keep_alive) {
  std::string out;
  out.reserve(128 + (head_only ? 0 : res.body.size()));
  out += "HTTP/1.1 ";
  out += std::to_string(res.status);
  out += ' ';
  out += reason_phrase(res.status);
  out += "\r\n";
  out += res.extra_headers;
  if (res.status != 204 && res.status != 304) {
    if (!res.content_type.empty()) {
      out += "Content-Type: ";
      out += res.content_type;
      out += "\r\n";
    }
    out += "Content-Length: ";
    out += std::to_string(res.body.size());
    out += "\r\n";
  }
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  if (!head_only && res.status != 204 && res.status != 304)
    out += res.body;
  return out;
}

response error_response(int status, const std::string& detail) {
  std::string body = "{\"errors\":{\"detail\":\"";
  body += detail; // callers pass plain ASCII phrases
  body += "\"}}";
  return response{status, "application/json", std::move(body)};
}

} // namespace am::http
