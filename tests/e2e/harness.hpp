#pragma once

// End-to-end harness: real agentmesh processes on ephemeral ports, a raw
// socket HTTP client, and readiness polling with deadlines (no sleeps).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "core/json.hpp"

namespace e2e {

using namespace std::chrono_literals;
using am::json;
using clock_type = std::chrono::steady_clock;

/// Path of the agentmesh executable under test.
const char* agentmesh_bin();

/// A temporary file that is removed with this object.
struct temp_file {
  explicit temp_file(const std::string& content = "");
  ~temp_file();
  std::string path;
};

/// An agentmesh process. Started with `--http.port=0`; the constructor waits
/// for the start-up line and reads the port from it. The destructor kills
/// the process if it still runs.
class node_process {
public:
  /// Starts `agentmesh args...` and waits up to `timeout` for start-up.
  explicit node_process(std::vector<std::string> args,
                        std::map<std::string, std::string> env = {},
                        clock_type::duration timeout = 20s);
  ~node_process();

  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// True once the start-up line was seen.
  bool ready() const {
    return http_port != 0;
  }

  /// Sends `sig` and waits for the exit status (or -1 on timeout).
  int stop(int sig, clock_type::duration timeout = 10s);

  /// Waits for the process to exit by itself; -1 on timeout.
  int wait_exit(clock_type::duration timeout = 10s);

  /// Everything the process wrote to stderr so far.
  std::string stderr_text() const;

  /// Waits until stderr contains `line`.
  bool wait_for_log(const std::string& line, clock_type::duration timeout = 5s);

  pid_t pid = -1;
  uint16_t http_port = 0;
  uint16_t cluster_port = 0; // 0 without clustering
  std::string node_name;
  std::string startup_line;

private:
  temp_file err_;
  int out_fd_ = -1;
  bool exited_ = false;
};

/// The first sanitizer report (ASan, LSan, UBSan) in a process's stderr,
/// with some context; "" if there is none.
std::string sanitizer_report(const std::string& text);

/// A parsed HTTP response.
struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers; // lowercase names
  std::string body;
};

/// A client connection speaking raw bytes.
class connection {
public:
  explicit connection(uint16_t port);
  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  bool connected() const {
    return fd_ >= 0;
  }

  /// Writes all bytes (one write call when possible).
  bool send(const std::string& bytes);

  /// Reads one response. `head_only` for replies to HEAD.
  std::optional<http_response> read_response(clock_type::duration timeout = 10s,
                                             bool head_only = false);

  /// Reads until `marker` appears in the unread input; returns all read
  /// text up to and including it, or nothing on timeout or EOF.
  std::optional<std::string> read_until(const std::string& marker,
                                        clock_type::duration timeout = 10s);

  /// Waits until the peer closes the connection.
  bool wait_closed(clock_type::duration timeout = 10s);

private:
  /// Waits for input and appends it to the buffer. Returns what recv
  /// returned (0 on EOF, -1 on error) or -2 when the deadline passed.
  ssize_t recv_some(clock_type::time_point deadline);

  /// Reads more bytes into the buffer; false on EOF, error or deadline.
  bool fill(clock_type::time_point deadline);

  int fd_ = -1;
  std::string buf_;
};

/// One request on a fresh connection.
http_response request(uint16_t port, const std::string& method,
                      const std::string& path, const std::string& body = "",
                      const std::string& extra_headers = "");

/// POSTs a JSON-RPC call to /a2a and returns the parsed response body.
json rpc(uint16_t port, const std::string& method, const json& params,
         const json& id = 1);

/// Milliseconds since `t0`.
inline std::chrono::milliseconds ms_since(clock_type::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
    clock_type::now() - t0);
}

/// Polls `pred` until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, clock_type::duration timeout = 5s,
                clock_type::duration interval = 10ms);

} // namespace e2e

#include "tests/e2e/harness_impl.hpp"
