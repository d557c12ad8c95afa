#include "tests/e2e/harness.hpp"

#include <caf/test/unit_test.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace e2e {

const char* agentmesh_bin() {
  if (auto env = std::getenv("AGENTMESH_BIN"))
    return env;
  return AGENTMESH_BIN;
}

// -- temp_file ----------------------------------------------------------------

temp_file::temp_file(const std::string& content) {
  char tmpl[] = "/tmp/agentmesh-e2e-XXXXXX";
  auto fd = mkstemp(tmpl);
  if (fd >= 0) {
    if (!content.empty())
      (void) !write(fd, content.data(), content.size());
    close(fd);
  }
  path = tmpl;
}

temp_file::~temp_file() {
  unlink(path.c_str());
}

// -- node_process -------------------------------------------------------------

namespace {

int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

} // namespace

node_process::node_process(std::vector<std::string> args,
                           std::map<std::string, std::string> env,
                           clock_type::duration timeout) {
  int out[2];
  if (pipe(out) != 0)
    return;
  auto parent = getpid();
  pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    // A test that aborts (a failed CAF_REQUIRE) skips our destructor: the
    // node then dies with the test process instead of lingering.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    dup2(out[1], STDOUT_FILENO);
    auto err = open(err_.path.c_str(), O_WRONLY | O_TRUNC);
    dup2(err, STDERR_FILENO);
    close(out[0]);
    close(out[1]);
    unsetenv("PORT");
    // Sanitizer builds: a leak report is judged by sanitizer_report (it
    // knows CAF's own exit cycle), not by LeakSanitizer's exit code 23.
    if (auto lsan = getenv("LSAN_OPTIONS"))
      setenv("LSAN_OPTIONS", (std::string{lsan} + ":exitcode=0").c_str(), 1);
    for (auto& [k, v] : env)
      setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    std::string bin = agentmesh_bin();
    argv.push_back(bin.data());
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  out_fd_ = out[0];
  // Wait for the start-up line: "agentmesh <v> node <name> http://<h>:<p> ..."
  auto deadline = clock_type::now() + timeout;
  std::string text;
  while (clock_type::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    pollfd pfd{out_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count()) + 1) <= 0)
      break;
    char buf[512];
    auto n = read(out_fd_, buf, sizeof(buf));
    if (n <= 0)
      break;
    text.append(buf, static_cast<size_t>(n));
    auto nl = text.find('\n');
    if (nl == std::string::npos)
      continue;
    startup_line = text.substr(0, nl);
    std::istringstream in{startup_line};
    std::string word, version, node_kw, url, cluster_kw, cluster;
    in >> word >> version >> node_kw >> node_name >> url >> cluster_kw
      >> cluster;
    auto colon = url.rfind(':');
    if (word == "agentmesh" && colon != std::string::npos)
      http_port = static_cast<uint16_t>(std::atoi(url.c_str() + colon + 1));
    if (auto c = cluster.rfind(':'); c != std::string::npos)
      cluster_port = static_cast<uint16_t>(std::atoi(cluster.c_str() + c + 1));
    break;
  }
}

node_process::~node_process() {
  if (pid > 0 && !exited_) {
    // A graceful end, so that a sanitizer build checks for leaks too (a
    // frozen node is thawed first).
    kill(pid, SIGCONT);
    if (stop(SIGTERM, 15s) == -1) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
    }
  }
  if (out_fd_ >= 0)
    close(out_fd_);
}

namespace {

/// CAF 0.17.6 can leave its own BASP broker in a reference cycle when a
/// node that has peers exits (its spawn servers and the actors it
/// monitors for peers notify it while it is exiting): LeakSanitizer then
/// reports only indirect leaks, CAF's BASP broker among them, and no frame
/// of ours. That one report is a known CAF bug (docs/ARCHITECTURE.md), not
/// a failure; any direct leak, or a cycle without the broker, still is.
/// (tests/observe/sanitizers.py has the same rule.)
bool caf_basp_exit_cycle(const std::string& text, size_t at) {
  auto end = text.find("SUMMARY: AddressSanitizer", at);
  auto block = text.substr(at, end == std::string::npos ? end : end - at);
  return block.find("Direct leak") == std::string::npos
         && block.find("spawn_impl<caf::io::basp_broker") != std::string::npos;
}

} // namespace

std::string sanitizer_report(const std::string& text) {
  for (auto marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                      "runtime error:", "UndefinedBehaviorSanitizer"}) {
    auto i = text.find(marker);
    while (i != std::string::npos
           && std::string_view{marker} == "ERROR: LeakSanitizer"
           && caf_basp_exit_cycle(text, i)) {
      CAF_MESSAGE("ignored: CAF's BASP broker left in a cycle at exit");
      i = text.find(marker, i + 1);
    }
    if (i != std::string::npos)
      return text.substr(i > 2000 ? i - 2000 : 0, 8000);
  }
  return {};
}

int node_process::wait_exit(clock_type::duration timeout) {
  if (pid <= 0)
    return -1;
  int result = -1;
  eventually(
    [&] {
      int status = 0;
      auto r = waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        exited_ = true;
        result = decode_status(status);
        // Sanitizer builds: any report in the node's stderr fails the test.
        auto report = sanitizer_report(stderr_text());
        CAF_CHECK_EQUAL(report, "");
        return true;
      }
      return false;
    },
    timeout, 5ms);
  return result;
}

int node_process::stop(int sig, clock_type::duration timeout) {
  if (pid <= 0 || exited_)
    return -1;
  kill(pid, sig);
  return wait_exit(timeout);
}

std::string node_process::stderr_text() const {
  std::ifstream in{err_.path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool node_process::wait_for_log(const std::string& line,
                                clock_type::duration timeout) {
  return eventually(
    [&] { return stderr_text().find(line) != std::string::npos; }, timeout);
}

// -- connection ---------------------------------------------------------------

connection::connection(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

connection::~connection() {
  if (fd_ >= 0)
    close(fd_);
}

bool connection::send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

ssize_t connection::recv_some(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  if (left.count() < 0)
    return -2;
  pollfd pfd{fd_, POLLIN, 0};
  if (poll(&pfd, 1, static_cast<int>(left.count()) + 1) <= 0)
    return -2;
  char buf[16384];
  auto n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n > 0)
    buf_.append(buf, static_cast<size_t>(n));
  return n;
}

bool connection::fill(clock_type::time_point deadline) {
  return recv_some(deadline) > 0;
}

std::optional<http_response> connection::read_response(
  clock_type::duration timeout, bool head_only) {
  auto deadline = clock_type::now() + timeout;
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline))
      return std::nullopt;
  http_response res;
  std::istringstream head{buf_.substr(0, end)};
  std::string line;
  std::getline(head, line);
  if (line.size() < 12)
    return std::nullopt;
  res.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    auto name = line.substr(0, colon);
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.erase(0, 1);
    res.headers[name] = value;
  }
  buf_.erase(0, end + 4);
  size_t len = 0;
  if (auto i = res.headers.find("content-length"); i != res.headers.end())
    len = std::stoul(i->second);
  if (head_only)
    len = 0;
  while (buf_.size() < len)
    if (!fill(deadline))
      return std::nullopt;
  res.body = buf_.substr(0, len);
  buf_.erase(0, len);
  return res;
}

std::optional<std::string> connection::read_until(const std::string& marker,
                                                  clock_type::duration timeout) {
  auto deadline = clock_type::now() + timeout;
  size_t pos;
  while ((pos = buf_.find(marker)) == std::string::npos)
    if (!fill(deadline))
      return std::nullopt;
  auto result = buf_.substr(0, pos + marker.size());
  buf_.erase(0, pos + marker.size());
  return result;
}

bool connection::wait_closed(clock_type::duration timeout) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    auto n = recv_some(deadline);
    if (n == 0 || (n == -1 && errno == ECONNRESET))
      return true;
    if (n < 0)
      return false;
  }
}

// -- helpers ------------------------------------------------------------------

http_response request(uint16_t port, const std::string& method,
                      const std::string& path, const std::string& body,
                      const std::string& extra_headers) {
  connection conn{port};
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:"
                    + std::to_string(port) + "\r\n" + extra_headers;
  if (!body.empty() || method == "POST")
    req += "Content-Type: application/json\r\nContent-Length: "
           + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (!conn.send(req))
    return {};
  auto res = conn.read_response(10s, method == "HEAD");
  return res ? *res : http_response{};
}

json rpc(uint16_t port, const std::string& method, const json& params,
         const json& id) {
  json req{{"jsonrpc", "2.0"}, {"method", method}, {"params", params},
           {"id", id}};
  auto res = request(port, "POST", "/a2a", req.dump());
  auto result = json::parse(res.body, nullptr, false);
  return result.is_discarded() ? json{} : result;
}

} // namespace e2e
