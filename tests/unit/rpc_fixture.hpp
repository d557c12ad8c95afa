#pragma once

// A fixture that runs request bodies through the codec against the fake
// backend, shared by the jsonrpc and a2a suites.

#include <caf/test/unit_test.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/fake_backend.hpp"

namespace am::rpc::test {

struct fixture {
  fake_backend b;
  call_context cx;
  /// Set when the last call started a stream.
  bool streamed = false;

  /// Runs one body; returns the parsed response or null for "no body".
  json call(const std::string& body) {
    std::optional<std::string> out;
    bool called = false;
    streamed = false;
    handle(b, body, cx, [&](response_body res) {
      CAF_CHECK(!called);
      called = true;
      if (res.kind == response_body::json_text)
        out = std::move(res.text);
      streamed = res.kind == response_body::stream;
    });
    CAF_REQUIRE(called);
    if (!out)
      return json{};
    auto result = json::parse(*out, nullptr, false);
    CAF_REQUIRE(!result.is_discarded());
    return result;
  }

  json rpc(const std::string& method, const std::string& params,
           const std::string& id = "1") {
    return call(R"({"jsonrpc":"2.0","method":")" + method + R"(","params":)"
                + params + R"(,"id":)" + id + "}");
  }

  static int code(const json& res) {
    return res.at("error").at("code").get<int>();
  }
};

} // namespace am::rpc::test
