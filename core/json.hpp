#pragma once

#include <charconv>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace am {

using json = nlohmann::json;

/// Serialises JSON compactly; invalid UTF-8 is replaced instead of throwing.
inline std::string dump(const json& x) {
  return x.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Appends `x` as JSON text, byte for byte what nlohmann writes (keys of an
/// object in its order are the caller's business): printable ASCII with
/// quotes and backslashes escaped; anything else goes through nlohmann.
inline void append_text(std::string& out, const std::string& x) {
  for (auto c : x)
    if (static_cast<unsigned char>(c) < 0x20
        || static_cast<unsigned char>(c) >= 0x7f) {
      out += dump(json(x));
      return;
    }
  out += '"';
  for (auto c : x) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
}

/// Appends `"key":` to an object being written; `first` says whether no
/// member came before (and is false afterwards).
inline void append_key(std::string& out, bool& first, const std::string& key) {
  if (!first)
    out += ',';
  first = false;
  append_text(out, key);
  out += ':';
}

/// Appends `x` as dump(x) writes it, without dump's own buffer and
/// serializer for each call: objects in their (sorted) order, strings as
/// append_text, integers in decimal; floating-point numbers and binary
/// values go through nlohmann.
inline void append_json(std::string& out, const json& x) {
  switch (x.type()) {
    case json::value_t::null:
      out += "null";
      return;
    case json::value_t::boolean:
      out += x.get<bool>() ? "true" : "false";
      return;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: {
      char buf[24];
      auto end = x.is_number_unsigned()
                   ? std::to_chars(buf, buf + sizeof(buf), x.get<uint64_t>())
                   : std::to_chars(buf, buf + sizeof(buf), x.get<int64_t>());
      out.append(buf, end.ptr);
      return;
    }
    case json::value_t::string:
      append_text(out, x.get_ref<const std::string&>());
      return;
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (auto& y : x) {
        if (!first)
          out += ',';
        first = false;
        append_json(out, y);
      }
      out += ']';
      return;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto i = x.begin(); i != x.end(); ++i) {
        append_key(out, first, i.key());
        append_json(out, i.value());
      }
      out += '}';
      return;
    }
    default:
      out += dump(x);
  }
}

/// Parses JSON object text as it travels between actors; empty text is
/// `{}`. Returns nothing for malformed text or a non-object.
inline std::optional<json> parse_object(const std::string& text) {
  if (text.empty())
    return json::object();
  auto result = json::parse(text, nullptr, false);
  if (result.is_discarded() || !result.is_object())
    return std::nullopt;
  return result;
}

/// A JSON value as a message field: local messages carry it parsed (no
/// dump and re-parse between actors of one node); it crosses nodes as text.
struct json_box {
  json value;
};

/// An immutable JSON value that every copy shares: a task's params, user
/// message and result are written once and then copied with the task, its
/// views and the messages that carry them (a copy is a reference count,
/// not a tree). Null is the empty pointer. Crosses nodes as text, like
/// json_box.
class shared_json {
public:
  shared_json() noexcept = default;

  shared_json(json x) // NOLINT: implicit, a json is assigned in place
    : ptr_(x.is_null() ? nullptr
                       : std::make_shared<const json>(std::move(x))) {
  }

  const json& operator*() const noexcept {
    return ptr_ ? *ptr_ : null_value();
  }

  const json* operator->() const noexcept {
    return &**this;
  }

  bool is_null() const noexcept {
    return !ptr_;
  }

  friend bool operator==(const shared_json& x, const shared_json& y) {
    return *x == *y;
  }

private:
  static const json& null_value() noexcept {
    static const json null;
    return null;
  }

  std::shared_ptr<const json> ptr_;
};

} // namespace am
