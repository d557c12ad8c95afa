#define CAF_SUITE gate

// The cluster port's gate with real sockets: two actor systems in this
// process, one behind the gate, one dialing through the connector; and raw
// sockets playing the stranger who speaks CAF's node protocol directly.

#include <caf/test/unit_test.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/atoms.hpp"
#include "app/cluster_gate.hpp"
#include "core/auth.hpp"

using namespace am;
using namespace std::chrono_literals;

namespace {

struct net_config : caf::actor_system_config {
  net_config() {
    load<caf::io::middleman>();
    set("scheduler.max-threads", 2);
  }
};

/// Connects a plain TCP socket to the gate.
int raw_connect(uint16_t port) {
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// A listening socket of our own on a free loopback port (a fake peer).
int listen_loopback(int backlog, uint16_t& port) {
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0
      || ::listen(fd, backlog) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    return -1;
  }
  port = ntohs(sa.sin_port);
  return fd;
}

/// Reads until the peer closes (true) or `limit` passes (false); counts
/// the bytes that arrived.
bool closed_by_peer(int fd, std::chrono::milliseconds limit,
                    size_t* received = nullptr) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  size_t total = 0;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue;
    char buf[256];
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (received)
        *received = total;
      return true;
    }
    total += static_cast<size_t>(n);
  }
}

/// Polls `pred` until it holds or 5 s pass.
template <class F>
bool eventually(F pred) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    pollfd none{-1, 0, 0};
    ::poll(&none, 0, 5);
  }
  return pred();
}

struct fixture {
  net_config server_cfg;
  caf::actor_system server{server_cfg};
  net_config client_cfg;
  caf::actor_system client{client_cfg};
  caf::actor echo;
  std::unique_ptr<app::cluster_gate> gate;

  fixture() {
    echo = server.spawn([]() -> caf::behavior {
      return {[](int x) { return x + 1; }};
    });
  }

  ~fixture() {
    gate.reset();
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  }

  void open(app::gate_config cfg) {
    cfg.port = 0;
    auto res = app::cluster_gate::start(
      server, std::move(cfg), caf::actor_cast<caf::strong_actor_ptr>(echo),
      {});
    CAF_REQUIRE(res);
    gate = std::move(*res);
  }

  /// Dials the gate through a connector; the reply or the error.
  caf::expected<caf::strong_actor_ptr> dial(app::gate_config cfg) {
    auto connector = app::spawn_connector(client, cfg);
    caf::scoped_actor self{client};
    caf::expected<caf::strong_actor_ptr> result{caf::sec::runtime_error};
    self->request(connector, 10s, caf::connect_atom::value,
                  std::string{"127.0.0.1"}, gate->port())
      .receive(
        [&](const caf::node_id& nid, caf::strong_actor_ptr& ptr,
            const std::set<std::string>&) {
          CAF_CHECK_EQUAL(nid, server.node());
          result = std::move(ptr);
        },
        [&](caf::error& err) { result = std::move(err); });
    caf::anon_send_exit(connector, caf::exit_reason::user_shutdown);
    return result;
  }
};

app::gate_config with_cookie(std::string cookie) {
  app::gate_config cfg;
  cfg.cookie = std::move(cookie);
  return cfg;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(gate_tests, fixture)

CAF_TEST(a peer with the cookie gets through to the published actor) {
  open(with_cookie("s3cret"));
  auto ptr = dial(with_cookie("s3cret"));
  CAF_REQUIRE(ptr);
  CAF_REQUIRE(*ptr != nullptr);
  caf::scoped_actor self{client};
  int answer = 0;
  self->request(caf::actor_cast<caf::actor>(*ptr), 5s, 41)
    .receive([&](int x) { answer = x; }, [&](caf::error&) {});
  CAF_CHECK_EQUAL(answer, 42);
  CAF_CHECK(eventually([&] { return gate->admitted() == 1; }));
  CAF_CHECK_EQUAL(gate->refused(), 0u);
}

CAF_TEST(a peer with another cookie is refused and told so) {
  open(with_cookie("s3cret"));
  auto ptr = dial(with_cookie("guess"));
  CAF_REQUIRE(!ptr);
  CAF_CHECK_EQUAL(code_of(ptr.error()), static_cast<uint8_t>(errc::unauthorized));
  CAF_CHECK(eventually([&] { return gate->refused() == 1; }));
  CAF_CHECK_EQUAL(gate->admitted(), 0u);
}

CAF_TEST(a server without the cookie cannot fake the verdict) {
  // A listener that answers the hello with garbage of the right size.
  uint16_t port = 0;
  auto lfd = listen_loopback(1, port);
  CAF_REQUIRE(lfd >= 0);
  std::thread fake{[lfd] {
    pollfd p{lfd, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1)
      return; // the connector never came: the check below fails
    auto fd = ::accept(lfd, nullptr, nullptr);
    auto hello = auth::gate::hello(auth::make_nonce());
    ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
    char buf[auth::gate::answer_size];
    size_t got = 0;
    while (got < sizeof(buf)) {
      auto n = ::recv(fd, buf + got, sizeof(buf) - got, 0);
      if (n <= 0)
        break;
      got += static_cast<size_t>(n);
    }
    auto verdict = std::string(auth::gate::verdict_size, 'a');
    ::send(fd, verdict.data(), verdict.size(), MSG_NOSIGNAL);
    ::close(fd);
  }};
  auto connector = app::spawn_connector(client, with_cookie("s3cret"));
  caf::scoped_actor self{client};
  uint8_t code = 0;
  self->request(connector, 10s, caf::connect_atom::value,
                std::string{"127.0.0.1"}, port)
    .receive([&](const caf::node_id&, caf::strong_actor_ptr&,
                 const std::set<std::string>&) {},
             [&](caf::error& err) { code = code_of(err); });
  fake.join();
  ::close(lfd);
  caf::anon_send_exit(connector, caf::exit_reason::user_shutdown);
  CAF_CHECK_EQUAL(code, static_cast<uint8_t>(errc::unauthorized));
}

CAF_TEST(a stranger speaking the node protocol is dropped at once) {
  open(with_cookie("s3cret"));
  auto fd = raw_connect(gate->port());
  CAF_REQUIRE(fd >= 0);
  // A BASP header of 32 bytes claiming a payload of 4 GiB - 1.
  std::string header(32, '\0');
  header[4] = header[5] = header[6] = header[7] = '\xff';
  CAF_REQUIRE(::send(fd, header.data(), header.size(), MSG_NOSIGNAL) == 32);
  size_t received = 0;
  CAF_CHECK(closed_by_peer(fd, 3s, &received));
  // It got the hello and nothing else.
  CAF_CHECK_EQUAL(received, auth::gate::hello_size);
  ::close(fd);
  // (The count goes up before the thread publishes what is pending.)
  CAF_CHECK(eventually(
    [&] { return gate->dropped() == 1 && gate->pending() == 0; }));
  CAF_CHECK_EQUAL(gate->admitted(), 0u);
}

CAF_TEST(a peer that stays silent is dropped after the handshake timeout) {
  auto cfg = with_cookie("s3cret");
  cfg.handshake_timeout = 300ms;
  open(cfg);
  // The deadline runs from the accept, which comes after this.
  auto t0 = std::chrono::steady_clock::now();
  auto fd = raw_connect(gate->port());
  CAF_REQUIRE(fd >= 0);
  // Half an answer, then nothing.
  auto half = std::string{"AMGATE1 0123"};
  ::send(fd, half.data(), half.size(), MSG_NOSIGNAL);
  CAF_CHECK(closed_by_peer(fd, 5s));
  CAF_CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
  ::close(fd);
  CAF_CHECK(eventually([&] { return gate->pending() == 0; }));
  // The port still admits a real peer afterwards.
  auto ptr = dial(with_cookie("s3cret"));
  CAF_CHECK(ptr && *ptr != nullptr);
}

CAF_TEST(when the handshake is full the longest waiting connection goes) {
  auto cfg = with_cookie("s3cret");
  cfg.max_pending_per_host = 4;
  cfg.handshake_timeout = std::chrono::minutes(5); // only the limit drops
  open(cfg);
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) {
    fds.push_back(raw_connect(gate->port()));
    CAF_REQUIRE(fds.back() >= 0);
    // In order: each one is in the handshake before the next connects.
    CAF_REQUIRE(eventually([&] { return gate->pending() == fds.size(); }));
  }
  auto extra = raw_connect(gate->port());
  CAF_REQUIRE(extra >= 0);
  // The oldest (first) is closed after its hello; the newcomer waits.
  size_t received = 0;
  CAF_CHECK(closed_by_peer(fds[0], 3s, &received));
  CAF_CHECK_EQUAL(received, auth::gate::hello_size);
  CAF_CHECK(!closed_by_peer(extra, 200ms));
  CAF_CHECK_EQUAL(gate->pending(), 4u);
  CAF_CHECK_EQUAL(gate->dropped(), 1u);
  // Idle sockets cannot keep a peer out: it still gets through.
  auto ptr = dial(with_cookie("s3cret"));
  CAF_CHECK(ptr && *ptr != nullptr);
  for (auto fd : fds)
    ::close(fd);
  ::close(extra);
  CAF_CHECK(eventually([&] { return gate->pending() == 0; }));
}

CAF_TEST(a second dial to an address waits for the first) {
  // A listener that accepts and never says hello: the first dial waits
  // for its deadline; a retry meanwhile is refused, not a second thread.
  uint16_t port = 0;
  auto lfd = listen_loopback(4, port);
  CAF_REQUIRE(lfd >= 0);
  auto cfg = with_cookie("s3cret");
  cfg.handshake_timeout = 1s;
  auto connector = app::spawn_connector(client, cfg);
  caf::scoped_actor self{client};
  auto ask = [&] {
    return self->request(connector, 10s, caf::connect_atom::value,
                         std::string{"127.0.0.1"}, port);
  };
  auto first = ask();
  auto second = ask();
  std::string second_error;
  second.receive([](const caf::node_id&, caf::strong_actor_ptr&,
                    const std::set<std::string>&) {},
                 [&](caf::error& err) { second_error = client.render(err); });
  CAF_CHECK(second_error.find("in progress") != std::string::npos);
  std::string first_error;
  first.receive([](const caf::node_id&, caf::strong_actor_ptr&,
                   const std::set<std::string>&) {},
                [&](caf::error& err) { first_error = client.render(err); });
  CAF_CHECK(first_error.find("timed out") != std::string::npos);
  // Once it is over, the address may be dialed again.
  std::string third_error;
  ask().receive([](const caf::node_id&, caf::strong_actor_ptr&,
                   const std::set<std::string>&) {},
                [&](caf::error& err) { third_error = client.render(err); });
  CAF_CHECK(third_error.find("timed out") != std::string::npos);
  ::close(lfd);
  caf::anon_send_exit(connector, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()
