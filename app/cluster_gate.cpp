#include "app/cluster_gate.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/network/default_multiplexer.hpp>

#include "actors/atoms.hpp"
#include "app/tls_scribe.hpp"
#include "core/auth.hpp"
#include "core/log.hpp"

namespace am::app {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// The one handler of CAF's BASP broker we use on the connecting side
/// (it answers like the middleman actor's connect).
using basp_connector = caf::typed_actor<
  caf::replies_to<caf::connect_atom, caf::io::scribe_ptr, uint16_t>::with<
    caf::node_id, caf::strong_actor_ptr, std::set<std::string>>>;

caf::actor basp_of(caf::actor_system& sys) {
  return sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
}

/// Wraps an authenticated socket for CAF: plain TCP or TLS (the TLS
/// handshake then runs inside CAF's multiplexer, only for cookie holders).
/// Null when TLS cannot be set up: CAF's session reads the openssl.* files
/// for every connection and throws when they became unreadable. The socket
/// belongs to the scribe only when one is returned.
caf::io::scribe_ptr make_scribe(caf::actor_system& sys, int fd, bool tls,
                                bool accepted) {
  if (!tls)
    return sys.middleman().backend().new_scribe(fd);
  try {
    return make_tls_scribe(sys, fd, accepted);
  } catch (const std::exception& ex) {
    log::warning(std::string{"[ClusterMonitor] cannot set up TLS: "}
                 + ex.what());
    return nullptr;
  }
}

/// The remote address, and the group it counts against for the limits:
/// the address itself for IPv4, its /64 network for IPv6 (one host
/// commonly holds a whole /64).
std::pair<std::string, std::string> host_of(const sockaddr_storage& sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(sa).sin_addr,
              buf, sizeof(buf));
    return {buf, buf};
  }
  if (sa.ss_family == AF_INET6) {
    auto addr = reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&addr)) {
      // An IPv4 peer on a dual-stack port: counts as its IPv4 address.
      inet_ntop(AF_INET, addr.s6_addr + 12, buf, sizeof(buf));
      return {buf, buf};
    }
    inet_ntop(AF_INET6, &addr, buf, sizeof(buf));
    std::string text = buf;
    std::fill(addr.s6_addr + 8, addr.s6_addr + 16, 0);
    inet_ntop(AF_INET6, &addr, buf, sizeof(buf));
    return {text, std::string{buf} + "/64"};
  }
  return {"?", "?"};
}

int millis_until(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline
                                                       - clock_type::now());
  // Clamped: a poll timeout is an int (and negative means forever).
  return static_cast<int>(std::clamp<milliseconds::rep>(left.count() + 1, 0,
                                                        INT32_MAX));
}

/// Sends all of `data` on a fresh connection (a frame this small fits in
/// any socket buffer: a partial send means a broken peer).
bool send_frame(int fd, const std::string& data) {
  auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  return n == static_cast<ssize_t>(data.size());
}

/// Reads exactly `n` bytes before the deadline (never more: what follows
/// belongs to BASP).
caf::expected<std::string> read_exactly(int fd, size_t n,
                                        clock_type::time_point deadline) {
  std::string result;
  result.resize(n);
  size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    auto r = ::poll(&p, 1, millis_until(deadline));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return caf::make_error(caf::sec::cannot_connect_to_node,
                             "cluster handshake timed out");
    auto k = ::recv(fd, result.data() + got, n - got, 0);
    if (k < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (k <= 0)
      return caf::make_error(caf::sec::cannot_connect_to_node,
                             "connection closed in the cluster handshake");
    got += static_cast<size_t>(k);
  }
  return result;
}

/// Connects with a deadline (CAF's own connect blocks without one).
caf::expected<int> connect_to(const std::string& host, uint16_t port,
                              clock_type::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &res) != 0)
    return caf::make_error(caf::sec::cannot_connect_to_node,
                           "cannot resolve " + host);
  std::string why = "no address";
  int fd = -1;
  for (auto ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
    if (fd < 0)
      continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      auto ok = errno == EINPROGRESS;
      if (ok) {
        pollfd p{fd, POLLOUT, 0};
        int r;
        do
          r = ::poll(&p, 1, millis_until(deadline));
        while (r < 0 && errno == EINTR);
        int err = 0;
        socklen_t len = sizeof(err);
        ok = r > 0
             && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0
             && err == 0;
        why = r == 0 ? "connect timed out"
                     : std::string{strerror(r < 0 ? errno : err)};
      } else {
        why = strerror(errno);
      }
      if (!ok) {
        ::close(fd);
        fd = -1;
      }
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0)
    return caf::make_error(caf::sec::cannot_connect_to_node,
                           host + ":" + service + ": " + why);
  return fd;
}

/// The client side of the gate handshake on a connected socket.
caf::error handshake(int fd, const gate_config& cfg,
                     clock_type::time_point deadline) {
  auto hello = read_exactly(fd, auth::gate::hello_size, deadline);
  if (!hello)
    return std::move(hello.error());
  auto sn = auth::gate::nonce_of_hello(*hello);
  if (sn.empty())
    return caf::make_error(caf::sec::cannot_connect_to_node,
                           "not an agentmesh cluster port");
  auto cn = auth::make_nonce();
  if (!send_frame(fd, auth::gate::answer(cfg.cookie, sn, cn)))
    return caf::make_error(caf::sec::cannot_connect_to_node,
                           "connection closed in the cluster handshake");
  auto verdict = read_exactly(fd, auth::gate::verdict_size, deadline);
  if (!verdict)
    return std::move(verdict.error());
  if (*verdict == auth::gate::refuse())
    return make_error(errc::unauthorized, "cookie mismatch");
  if (!auth::equal(*verdict, auth::gate::accept(cfg.cookie, sn, cn)))
    return make_error(errc::unauthorized,
                      "cookie mismatch (the peer could not prove it)");
  if (!cfg.tls) {
    // Wait for the first bytes of the peer's BASP handshake (its broker
    // sends them as soon as it has the connection). CAF 0.17.6's BASP
    // broker starts a dialed connection with a last-seen time of zero, so
    // a heartbeat tick that comes before the peer's handshake is read
    // closes it as timed out; when that close falls in the multiplexer
    // round that registered the connection, CAF never frees it (see
    // tests/lsan.supp). With the bytes already here, BASP reads them in
    // its next round. (With TLS the peer speaks only after our hello.)
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, millis_until(deadline)) < 0 && errno == EINTR)
      ; // a signal: again
  }
  return caf::none;
}

/// Connects and runs the client side of the gate handshake; returns the
/// socket, or closes it (whatever failed, even by an exception).
caf::expected<int> dial(const std::string& host, uint16_t port,
                        const gate_config& cfg) {
  auto deadline = clock_type::now() + cfg.handshake_timeout;
  auto fd = connect_to(host, port, deadline);
  if (!fd)
    return fd;
  caf::error err;
  try {
    err = handshake(*fd, cfg, deadline);
  } catch (const std::exception& ex) {
    err = caf::make_error(caf::sec::cannot_connect_to_node, ex.what());
  }
  if (err) {
    ::close(*fd);
    return err;
  }
  return fd;
}

/// Dials one peer on a thread of its own, then leaves the answer to BASP.
connector_actor::behavior_type dialer(connector_actor::pointer self,
                                      gate_config cfg, basp_connector basp) {
  return {
    [=](caf::connect_atom, const std::string& host, uint16_t port)
      -> caf::result<caf::node_id, caf::strong_actor_ptr,
                     std::set<std::string>> {
      self->quit();
      auto fd = dial(host, port, cfg);
      if (!fd)
        return std::move(fd.error());
      auto sc = make_scribe(self->system(), *fd, cfg.tls, false);
      if (!sc) {
        ::close(*fd);
        return caf::make_error(caf::sec::cannot_connect_to_node,
                               "cannot set up TLS (see openssl.*)");
      }
      return self->delegate(basp, caf::connect_atom::value, std::move(sc),
                            port);
    },
  };
}

/// A connection in the handshake.
struct pending_conn {
  int fd;
  std::string host;
  std::string group; // what the per-address limit counts
  clock_type::time_point deadline;
  std::string nonce;
  std::string got; // the answer so far (at most answer_size bytes)
};

} // namespace

struct cluster_gate::impl {
  caf::actor_system& sys;
  gate_config cfg;
  caf::strong_actor_ptr published;
  std::set<std::string> sigs;
  caf::actor basp;
  int listener = -1;
  int wake = -1;
  uint16_t port = 0;
  std::thread thread;
  std::vector<pending_conn> conns;
  /// When accept failed for lack of descriptors: retry after a pause
  /// instead of spinning.
  clock_type::time_point accept_paused_until;
  /// When each remote address was last warned about (a flood of wrong
  /// cookies must not flood the log).
  std::map<std::string, clock_type::time_point> warned;
  /// And at most one such warning a second in all.
  clock_type::time_point last_warning;
  std::atomic<size_t> npending{0};
  std::atomic<uint64_t> admitted{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> dropped{0};

  impl(caf::actor_system& sys) : sys(sys) {
    // nop
  }

  ~impl() {
    if (thread.joinable()) {
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake, &one, sizeof(one));
      thread.join();
    }
    for (auto& c : conns)
      ::close(c.fd);
    if (listener >= 0)
      ::close(listener);
    if (wake >= 0)
      ::close(wake);
  }

  /// Opens the port as CAF's own publish would (same address rules, e.g.
  /// "0.0.0.0" for every interface), but for our thread.
  caf::error open() {
    namespace net = caf::io::network;
    auto host = cfg.host.empty() ? nullptr : cfg.host.c_str();
    auto fd = net::new_tcp_acceptor_impl(cfg.port, host, true);
    if (!fd)
      return std::move(fd.error());
    listener = *fd;
    net::nonblocking(listener, true);
    net::child_process_inherit(listener, false);
    auto bound = net::local_port_of_fd(listener);
    if (!bound)
      return std::move(bound.error());
    port = *bound;
    wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake < 0)
      return caf::make_error(caf::sec::cannot_open_port, "eventfd failed");
    return caf::none;
  }

  void drop(pending_conn& c, const char* why) {
    log::debug("[ClusterMonitor] dropped a connection from " + c.host + ": "
               + why);
    ::close(c.fd);
    ++dropped;
  }

  void refuse(pending_conn& c) {
    send_frame(c.fd, auth::gate::refuse());
    ::close(c.fd);
    ++refused;
    auto now = clock_type::now();
    if (warned.size() > 1024)
      warned.clear();
    auto i = warned.find(c.host);
    if ((i == warned.end() || now - i->second > std::chrono::minutes(1))
        && now - last_warning >= std::chrono::seconds(1)) {
      warned[c.host] = now;
      last_warning = now;
      log::warning("[ClusterMonitor] refusing a connection from " + c.host
                   + ": cookie mismatch");
    }
  }

  void admit(pending_conn& c, const std::string& client_nonce) {
    if (!send_frame(c.fd, auth::gate::accept(cfg.cookie, c.nonce,
                                             client_nonce))) {
      drop(c, "closed in the handshake");
      return;
    }
    // From here on the socket belongs to the scribe (it closes it).
    auto sc = make_scribe(sys, c.fd, cfg.tls, true);
    if (!sc) {
      drop(c, "cannot set up TLS");
      return;
    }
    caf::anon_send(basp, caf::publish_atom::value, std::move(sc), port,
                   published, sigs);
    ++admitted;
  }

  /// Reads what arrived of an answer; false once the connection is done.
  bool on_readable(pending_conn& c) {
    char buf[auth::gate::answer_size];
    auto want = auth::gate::answer_size - c.got.size();
    auto n = ::recv(c.fd, buf, want, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return true;
    if (n <= 0) {
      drop(c, "closed in the handshake");
      return false;
    }
    c.got.append(buf, static_cast<size_t>(n));
    // Anything but our frame (BASP, HTTP, a scan) is dropped at once.
    if (!auth::gate::may_be_answer(c.got)) {
      drop(c, "not the cluster handshake");
      return false;
    }
    if (c.got.size() < auth::gate::answer_size)
      return true;
    auto cn = auth::gate::check_answer(cfg.cookie, c.nonce, c.got);
    if (cn.empty())
      refuse(c);
    else
      admit(c, cn);
    return false;
  }

  /// Closes the connection that waited longest among `pred`'s.
  template <class Pred>
  void evict_oldest(Pred pred) {
    auto oldest = conns.end();
    for (auto k = conns.begin(); k != conns.end(); ++k)
      if (pred(*k) && (oldest == conns.end() || k->deadline < oldest->deadline))
        oldest = k;
    if (oldest == conns.end())
      return;
    drop(*oldest, "evicted: too many connections in the handshake");
    conns.erase(oldest);
  }

  /// Takes what the listener has (at most 64 a round, so that the
  /// handshakes in progress and the stop signal are served in between).
  void accept_some() {
    for (int round = 0; round < 64; ++round) {
      sockaddr_storage sa{};
      socklen_t len = sizeof(sa);
      auto fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&sa), &len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED)
          continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
            || errno == ENOMEM)
          accept_paused_until = clock_type::now() + milliseconds(100);
        return;
      }
      auto [host, group] = host_of(sa);
      // When full, the connection that waited longest goes, not the new
      // one: a real peer answers within a round trip, so idle sockets
      // cannot keep peers out.
      auto same = [&, g = group](const pending_conn& c) {
        return c.group == g;
      };
      if (static_cast<size_t>(std::count_if(conns.begin(), conns.end(), same))
          >= cfg.max_pending_per_host)
        evict_oldest(same);
      if (conns.size() >= cfg.max_pending)
        evict_oldest([](const pending_conn&) { return true; });
      pending_conn c{fd, host, group,
                     clock_type::now() + cfg.handshake_timeout, {}, {}};
      try {
        c.nonce = auth::make_nonce();
      } catch (const std::exception&) {
        drop(c, "no random bytes");
        continue;
      }
      if (!send_frame(fd, auth::gate::hello(c.nonce))) {
        drop(c, "closed in the handshake");
        continue;
      }
      conns.push_back(std::move(c));
    }
  }

  void run() {
    std::vector<pollfd> fds;
    for (;;) {
      auto now = clock_type::now();
      auto accepting = now >= accept_paused_until;
      fds.clear();
      fds.push_back({wake, POLLIN, 0});
      fds.push_back({listener, static_cast<short>(accepting ? POLLIN : 0), 0});
      int timeout = accepting ? -1 : millis_until(accept_paused_until);
      for (auto& c : conns) {
        fds.push_back({c.fd, POLLIN, 0});
        auto t = millis_until(c.deadline);
        timeout = timeout < 0 ? t : std::min(timeout, t);
      }
      auto n = ::poll(fds.data(), fds.size(), timeout);
      if (n < 0 && errno != EINTR) {
        // Only ENOMEM is possible here: wait a moment and go on (handshakes
        // past their deadline are dropped below), never stop accepting.
        log::warning(std::string{"[ClusterMonitor] poll failed: "}
                     + strerror(errno));
        pollfd w{wake, POLLIN, 0};
        if (::poll(&w, 1, 100) > 0)
          break;
      }
      if (n > 0 && fds[0].revents != 0)
        break;
      now = clock_type::now();
      std::vector<pending_conn> keep;
      keep.reserve(conns.size());
      for (size_t i = 0; i < conns.size(); ++i) {
        auto& c = conns[i];
        auto open = n <= 0 || fds[i + 2].revents == 0 || on_readable(c);
        if (open && now >= c.deadline) {
          drop(c, "handshake timeout");
          open = false;
        }
        if (open)
          keep.push_back(std::move(c));
      }
      conns.swap(keep);
      if (n > 0 && (fds[1].revents & POLLIN) != 0)
        accept_some();
      npending = conns.size();
    }
  }
};

cluster_gate::cluster_gate(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

cluster_gate::~cluster_gate() = default;

caf::expected<std::unique_ptr<cluster_gate>>
cluster_gate::start(caf::actor_system& sys, gate_config cfg,
                    caf::strong_actor_ptr published,
                    std::set<std::string> sigs) {
  auto ptr = std::make_unique<impl>(sys);
  ptr->cfg = std::move(cfg);
  ptr->published = std::move(published);
  ptr->sigs = std::move(sigs);
  ptr->basp = basp_of(sys);
  if (auto err = ptr->open())
    return err;
  auto raw = ptr.get();
  ptr->thread = std::thread{[raw] { raw->run(); }};
  return std::unique_ptr<cluster_gate>{new cluster_gate(std::move(ptr))};
}

uint16_t cluster_gate::port() const {
  return impl_->port;
}

size_t cluster_gate::pending() const {
  return impl_->npending;
}

uint64_t cluster_gate::admitted() const {
  return impl_->admitted;
}

uint64_t cluster_gate::refused() const {
  return impl_->refused;
}

uint64_t cluster_gate::dropped() const {
  return impl_->dropped;
}

namespace {

struct connector_state {
  /// Addresses with a dial in progress: a retry while one still waits on
  /// its deadline gets an error instead of a second thread.
  std::set<std::string> dialing;
  static inline const char* name = "cluster_connector";
};

} // namespace

connector_actor spawn_connector(caf::actor_system& sys, gate_config cfg) {
  auto basp = caf::actor_cast<basp_connector>(basp_of(sys));
  using result_t = caf::result<caf::node_id, caf::strong_actor_ptr,
                               std::set<std::string>>;
  return sys.spawn(
    [cfg, basp](connector_actor::stateful_pointer<connector_state> self)
      -> connector_actor::behavior_type {
      return {
        [=](caf::connect_atom x, const std::string& host,
            uint16_t port) -> result_t {
          auto key = host + ":" + std::to_string(port);
          if (!self->state.dialing.insert(key).second)
            return caf::make_error(caf::sec::cannot_connect_to_node,
                                   "a dial to " + key + " is in progress");
          auto rp = self->make_response_promise<
            caf::node_id, caf::strong_actor_ptr, std::set<std::string>>();
          // Connecting and the handshake block: each dial gets a thread.
          auto helper = self->system().spawn<caf::detached>(dialer, cfg,
                                                            basp);
          // The handshake, then BASP's own (bounded by its heartbeat).
          auto limit = cfg.handshake_timeout * 2 + std::chrono::seconds(5);
          self->request(helper, limit, x, host, port)
            .then(
              [=](caf::node_id& nid, caf::strong_actor_ptr& ptr,
                  std::set<std::string>& ifs) mutable {
                self->state.dialing.erase(key);
                rp.deliver(std::move(nid), std::move(ptr), std::move(ifs));
              },
              [=](caf::error& err) mutable {
                self->state.dialing.erase(key);
                rp.deliver(std::move(err));
              });
          return rp;
        },
      };
    });
}

} // namespace am::app
