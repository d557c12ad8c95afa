// libFuzzer target: the JSON-RPC dispatch of both families (the dialect
// and standard A2A 1.0) against an in-memory backend. Every body gets
// exactly one answer, and a JSON answer is well-formed JSON-RPC.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "tests/unit/fake_backend.hpp"

using namespace am;
using namespace am::rpc;

namespace {

void check_response(const json& x) {
  if (!x.is_object() || x.value("jsonrpc", "") != "2.0" || !x.contains("id"))
    abort();
  if (x.contains("result") == x.contains("error"))
    abort();
  if (x.contains("error")) {
    auto& e = x["error"];
    if (!e.is_object() || !e["code"].is_number_integer()
        || !e["message"].is_string())
      abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  // The first byte picks the route and headers.
  call_context cx;
  if (data[0] & 1)
    cx.agent = "Worker-1";
  if (data[0] & 2)
    cx.version = (data[0] & 4) ? "1.0" : "0.3";
  cx.max_batch = (data[0] & 8) ? 3 : 1000;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  test::fake_backend b;
  // Something to talk to.
  b.start_agent("Worker-1", json::object(), "", [](auto) {});
  int calls = 0;
  response_body out;
  handle(b, body, cx, [&](response_body r) {
    ++calls;
    out = std::move(r);
  });
  if (calls != 1)
    abort();
  if (out.kind != response_body::json_text)
    return 0;
  auto x = json::parse(out.text, nullptr, false);
  if (x.is_discarded())
    abort();
  if (x.is_array()) {
    if (x.empty())
      abort();
    for (auto& y : x)
      check_response(y);
  } else {
    check_response(x);
  }
  return 0;
}
