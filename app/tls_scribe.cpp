#include "app/tls_scribe.hpp"

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/io/scribe.hpp>
#include <caf/openssl/session.hpp>

namespace am::app {

namespace {

namespace net = caf::io::network;

/// The I/O policy of a TLS stream: every read and write goes through the
/// OpenSSL session, which also finishes the handshake on the first ones.
class tls_policy {
public:
  explicit tls_policy(caf::openssl::session_ptr session)
    : session_(std::move(session)) {
    // nop
  }

  net::rw_state read_some(size_t& n, net::native_socket fd, void* buf,
                          size_t len) {
    return session_->read_some(n, fd, buf, len);
  }

  net::rw_state write_some(size_t& n, net::native_socket fd, const void* buf,
                           size_t len) {
    return session_->write_some(n, fd, buf, len);
  }

  bool must_read_more(net::native_socket fd, size_t threshold) {
    return session_->must_read_more(fd, threshold);
  }

private:
  caf::openssl::session_ptr session_;
};

/// A CAF connection over a `tls_policy` stream.
class tls_scribe final : public caf::io::scribe {
public:
  tls_scribe(net::default_multiplexer& mpx, net::native_socket fd,
             caf::openssl::session_ptr session)
    : caf::io::scribe(net::conn_hdl_from_socket(fd)),
      stream_(mpx, fd, std::move(session)) {
    // nop
  }

  void configure_read(caf::io::receive_policy::config config) override {
    stream_.configure_read(config);
    if (started_)
      return;
    started_ = true;
    stream_.start(this);
    // The handshake may need to write before anything is read.
    stream_.force_empty_write(this);
  }

  void ack_writes(bool enable) override {
    stream_.ack_writes(enable);
  }

  std::vector<char>& wr_buf() override {
    return stream_.wr_buf();
  }

  std::vector<char>& rd_buf() override {
    return stream_.rd_buf();
  }

  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }

  void flush() override {
    stream_.flush(this);
  }

  std::string addr() const override {
    auto x = net::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string{};
  }

  uint16_t port() const override {
    auto x = net::remote_port_of_fd(stream_.fd());
    return x ? *x : 0;
  }

  void add_to_loop() override {
    stream_.activate(this);
  }

  void remove_from_loop() override {
    stream_.passivate();
  }

private:
  bool started_ = false;
  net::stream_impl<tls_policy> stream_;
};

} // namespace

caf::io::scribe_ptr make_tls_scribe(caf::actor_system& sys, int fd,
                                    bool accepted) {
  auto& mpx = static_cast<net::default_multiplexer&>(sys.middleman().backend());
  // What CAF's own connections get: non-blocking, no delay, no SIGPIPE.
  net::nonblocking(fd, true);
  net::tcp_nodelay(fd, true);
  net::allow_sigpipe(fd, false);
  auto session = caf::openssl::make_session(sys, fd, accepted);
  if (!session)
    return nullptr;
  return caf::make_counted<tls_scribe>(mpx, fd, std::move(session));
}

} // namespace am::app
