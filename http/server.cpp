// The HTTP front end. One thread of its own runs an epoll loop over the
// listening socket and every connection: framing, the static routes, the
// order of pipelined replies, streams and timers. Calls go to request
// workers on the scheduler, which hand their answers straight back to the
// loop (a `reply_sink`); a task stream gets a relay actor, an event stream a
// forwarder actor, both stopped when their connection goes.
//
// This replaced one CAF broker per connection: CAF 0.17.6's multiplexer
// costs two epoll_ctl calls, an extra recv and a 16 KB buffer reset per
// request, and ran GET /health at 0.6x nginx on this hardware (see
// docs/ARCHITECTURE.md, "The HTTP loop").

#include "http/server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/network/native_socket.hpp>
#include <caf/io/network/default_multiplexer.hpp>

#include "core/log.hpp"
#include "core/trace.hpp"

namespace am::http {

namespace {

using namespace std::chrono;
using clock_type = steady_clock;

/// A client that does not read its replies may not make us buffer more.
constexpr uint64_t max_unsent = 4 * 1024 * 1024;

/// Bytes taken from a socket per read.
constexpr size_t read_chunk = 16384;

/// After an error reply to a request whose body may still be arriving, how
/// long the connection keeps reading (and discarding) before it closes, so
/// that the client is not reset before it reads the reply.
constexpr milliseconds linger_time{500};

/// A message from an actor to the loop thread.
struct inbound {
  enum kind_t : uint8_t {
    result,     // a worker's answer to call `seq`
    relay,      // `actor` feeds the task stream of call `seq`
    task_event, // an event of the task stream of call `seq`
    sse_ready,  // the event stream is subscribed
    sse_event,  // an event for the event stream
    drain,      // stop accepting, answer what was asked, then close
    stop,       // close everything now
  };
  kind_t kind;
  uint64_t conn = 0;
  uint64_t seq = 0;
  call_result res = {};
  std::string data = {};
  bool last = false;
  caf::actor actor = {};
};

class loop;
using loop_ptr = std::shared_ptr<loop>;

/// What a pending call needs to turn its result into a reply.
struct call_meta {
  uint64_t id;
  clock_type::time_point t0;
  http_route label;
  bool card;
  bool head;
  bool keep_alive;
  std::string if_none_match;
};

struct connection {
  connection(uint64_t id, int fd, const limits& lim)
    : id(id), fd(fd), parser(lim) {
    // nop
  }

  uint64_t id;
  int fd;
  request_parser parser;
  uint64_t next_seq = 0;   // sequence number of the next request
  uint64_t next_write = 0; // sequence number of the next reply to write
  std::map<uint64_t, reply> ready;
  std::unordered_map<uint64_t, call_meta> calls;
  /// Write nothing after this sequence number, then close.
  uint64_t last_seq = UINT64_MAX;
  bool streaming = false;
  /// The stream is a task stream (fed by an agent) for request `stream_seq`;
  /// replies pipelined behind it wait until it ends.
  bool task_streaming = false;
  uint64_t stream_seq = UINT64_MAX;
  bool close_after_stream = false;
  /// An event stream's head, written once the proxy is subscribed.
  std::string sse_head;
  /// Task stream events that arrived before their reply's turn.
  std::map<uint64_t, std::vector<stream_event>> early;
  bool reading = true;
  /// Bytes not yet taken by the kernel start at `out_off`.
  std::string out;
  size_t out_off = 0;
  /// The events the socket is registered for.
  uint32_t interest = 0;
  /// After an error reply: keep reading (and discarding) briefly before
  /// closing.
  bool linger_on_close = false;
  bool lingering = false;
  /// Closing: nothing is read any more, what is buffered is still written.
  bool closing = false;
  /// Gone: removed at the end of the current step.
  bool dead = false;
  clock_type::time_point last_activity = clock_type::now();
  /// A request head is awaited (its clock runs). A timer carries the
  /// generation it was set for; a later one makes it stale.
  bool head_clock = false;
  uint64_t head_generation = 0;
  /// Subscribes to the bus for an event stream.
  caf::actor forwarder;
  /// The event stream's head is written (events before it wait in
  /// `sse_early`, bounded).
  bool subscribed = false;
  std::vector<std::string> sse_early;
  /// Feed its task streams (from agents), by call id.
  std::unordered_map<uint64_t, caf::actor> relays;
  /// Ids of its calls whose task stream runs (the result said so).
  std::vector<uint64_t> stream_ids;
  /// The idle timer chain that counts (an older one is stale).
  uint64_t idle_generation = 0;
  /// A timer for the oldest unanswered call is pending.
  bool call_timer = false;

  uint64_t unsent() const {
    return out.size() - out_off;
  }

  size_t outstanding() const {
    return next_seq - next_write;
  }
};

/// A timer of one connection.
struct timer {
  enum kind_t : uint8_t { idle, head, linger, closing, call, accept };
  clock_type::time_point at;
  uint64_t conn;
  kind_t kind;
  uint64_t generation;

  friend bool operator>(const timer& x, const timer& y) {
    return x.at > y.at;
  }
};

/// A JSON error reply whose detail is the reason phrase; always closes.
std::string error_bytes(int status) {
  return serialize(error_response(status, reason_phrase(status)), false,
                   false);
}

/// A task stream is a chunked response that ends with the task.
std::string task_sse_head(bool keep_alive) {
  std::string head = "HTTP/1.1 200 OK\r\n"
                     "Content-Type: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\n"
                     "X-Accel-Buffering: no\r\n"
                     "Transfer-Encoding: chunked\r\n";
  head += keep_alive ? "Connection: keep-alive\r\n\r\n"
                     : "Connection: close\r\n\r\n";
  return head;
}

const char* sse_head = "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\n"
                       "Connection: keep-alive\r\n"
                       "\r\n";

caf::behavior forwarder(caf::event_based_actor* self, loop_ptr lp,
                        uint64_t conn, std::vector<std::string> topics,
                        event_bus_actor bus);

class loop : public reply_sink, public std::enable_shared_from_this<loop> {
public:
  loop(caf::actor_system& sys, server_config cfg,
       std::vector<worker_actor> workers, event_bus_actor bus)
    : sys_(sys),
      cfg_(std::move(cfg)),
      workers_(std::move(workers)),
      bus_(std::move(bus)) {
    // nop
  }

  ~loop() {
    for (auto& kvp : conns_)
      ::close(kvp.second->fd);
    for (auto fd : {listener_, ep_, wake_})
      if (fd >= 0)
        ::close(fd);
  }

  /// Binds the port, as CAF's own acceptor would (same address rules).
  caf::expected<uint16_t> open() {
    namespace net = caf::io::network;
    auto fd = net::new_tcp_acceptor_impl(cfg_.port, cfg_.host.c_str(), true);
    if (!fd)
      return std::move(fd.error());
    listener_ = *fd;
    net::nonblocking(listener_, true);
    net::child_process_inherit(listener_, false);
    auto port = net::local_port_of_fd(listener_);
    if (!port)
      return std::move(port.error());
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ep_ < 0 || wake_ < 0)
      return caf::make_error(caf::sec::cannot_open_port,
                             "epoll or eventfd failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = listener_id;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, listener_, &ev);
    ev.data.u64 = wake_id;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
    return *port;
  }

  void start(caf::actor front) {
    front_ = std::move(front);
    // The front actor keeps the loop alive until it joined this thread.
    thread_ = std::thread{[this] { run(); }};
  }

  /// Thread-safe: hands a message to the loop.
  void post(inbound msg) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      queue_.push_back(std::move(msg));
      wake = !wake_pending_;
      wake_pending_ = true;
    }
    if (wake) {
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake_, &one, sizeof(one));
    }
  }

  // -- reply_sink (called by workers and relays) ------------------------------

  void result(uint64_t id, call_result res) override {
    post(inbound{inbound::result, 0, id, std::move(res)});
  }

  void relay(uint64_t id, caf::actor relay) override {
    post(inbound{inbound::relay, 0, id, {}, {}, false, std::move(relay)});
  }

  void event(uint64_t id, std::string data, bool last) override {
    post(inbound{inbound::task_event, 0, id, {}, std::move(data), last});
  }

  /// Stops the loop (if running) and waits for its thread.
  void stop_and_join() {
    if (!thread_.joinable())
      return;
    post(inbound{inbound::stop});
    thread_.join();
  }

private:
  static constexpr uint64_t listener_id = 0;
  static constexpr uint64_t wake_id = 1;

  // -- the loop -------------------------------------------------------------

  void run() {
    pthread_setname_np(pthread_self(), "http-loop");
    std::vector<epoll_event> events(256);
    while (!done_) {
      int wait = -1;
      if (!timers_.empty()) {
        auto dt = duration_cast<milliseconds>(timers_.top().at
                                              - clock_type::now());
        wait = static_cast<int>(std::clamp<int64_t>(dt.count() + 1, 0,
                                                    60000));
      }
      auto n = ::epoll_wait(ep_, events.data(),
                            static_cast<int>(events.size()), wait);
      if (n < 0 && errno != EINTR) {
        log::error(std::string{"[HTTP] epoll_wait failed: "}
                   + std::strerror(errno));
        std::this_thread::sleep_for(10ms);
      }
      if (n < 0)
        n = 0;
      for (int i = 0; i < n; ++i) {
        auto id = events[i].data.u64;
        if (id == listener_id)
          accept_all();
        else if (id == wake_id)
          take_inbound();
        else if (auto c = find(id))
          on_socket(*c, events[i].events);
        reap();
      }
      fire_timers();
      reap();
      finish_if_drained();
    }
    // Tell the front actor (it quits and joins this thread).
    caf::anon_send(front_, caf::ok_atom::value);
  }

  connection* find(uint64_t id) {
    auto i = conns_.find(id);
    return i == conns_.end() || i->second->dead ? nullptr : i->second.get();
  }

  /// Removes dead connections.
  void reap() {
    for (auto id : dead_) {
      auto i = conns_.find(id);
      if (i == conns_.end())
        continue;
      auto& c = *i->second;
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
      if (c.forwarder)
        caf::anon_send_exit(c.forwarder, caf::exit_reason::kill);
      for (auto& kvp : c.relays)
        caf::anon_send_exit(kvp.second, caf::exit_reason::kill);
      for (auto id : c.stream_ids)
        call_ids_.erase(id);
      conns_.erase(i);
    }
    dead_.clear();
  }

  void finish_if_drained() {
    if (stopping_ || (draining_ && conns_.empty()))
      done_ = true;
  }

  void accept_all() {
    for (int i = 0; i < 64 && listener_ >= 0; ++i) {
      auto fd = ::accept4(listener_, nullptr, nullptr,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          // The backlog keeps the connection: stop listening for a moment
          // rather than wake up for it in a loop.
          log::warning("[HTTP] out of file descriptors: not accepting for "
                       "100 ms");
          listen_for(0);
          timers_.push(timer{clock_type::now() + 100ms, listener_id,
                             timer::accept, 0});
        }
        return;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (draining_ || conns_.size() >= cfg_.max_connections) {
        count(http_route::invalid, 503, clock_type::now());
        auto bytes = error_bytes(503);
        [[maybe_unused]] auto n = ::send(fd, bytes.data(), bytes.size(),
                                         MSG_NOSIGNAL);
        ::close(fd);
        continue;
      }
      auto id = next_id_++;
      auto ptr = std::make_unique<connection>(id, fd, cfg_.lim);
      auto& c = *ptr;
      conns_.emplace(id, std::move(ptr));
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = id;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      c.interest = EPOLLIN;
      schedule(c, clock_type::now() + cfg_.idle_timeout, timer::idle);
      // The first request's head is awaited from the start.
      watch_head(c, true);
    }
  }

  /// Registers the listening socket for `events` (0: paused).
  void listen_for(uint32_t events) {
    if (listener_ < 0)
      return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = listener_id;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, listener_, &ev);
  }

  void on_socket(connection& c, uint32_t events) {
    if ((events & EPOLLOUT) != 0) {
      flush(c);
      if (c.dead)
        return;
      resume_reading(c);
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
      if (!c.reading || c.closing) {
        if ((events & (EPOLLHUP | EPOLLERR)) != 0)
          drop(c);
        return;
      }
      char buf[read_chunk];
      for (int i = 0; i < 4 && c.reading && !c.closing && !c.dead; ++i) {
        auto n = ::recv(c.fd, buf, sizeof(buf), 0);
        if (n > 0) {
          on_data(c, buf, static_cast<size_t>(n));
          if (static_cast<size_t>(n) < sizeof(buf))
            break;
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
          break;
        drop(c); // closed by the client, or reset
        return;
      }
    }
  }

  void take_inbound() {
    uint64_t value = 0;
    [[maybe_unused]] auto n = ::read(wake_, &value, sizeof(value));
    {
      std::lock_guard<std::mutex> guard{mtx_};
      taken_.swap(queue_);
      wake_pending_ = false;
    }
    for (auto& msg : taken_) {
      handle(msg);
      reap();
    }
    taken_.clear();
    // Event streams are written once per batch of events, not per event.
    for (auto id : sse_unflushed_)
      if (auto c = find(id))
        flush(*c);
    sse_unflushed_.clear();
    reap();
  }

  void handle(inbound& msg) {
    switch (msg.kind) {
      case inbound::drain:
        drain_all();
        return;
      case inbound::stop:
        stopping_ = true;
        close_listener();
        for (auto& kvp : conns_)
          drop(*kvp.second);
        return;
      case inbound::result:
      case inbound::relay:
      case inbound::task_event:
        on_call(msg);
        return;
      default:
        break;
    }
    auto c = find(msg.conn);
    if (!c)
      return;
    switch (msg.kind) {
      case inbound::sse_ready:
        if (c->streaming && !c->task_streaming && !c->subscribed) {
          c->subscribed = true;
          c->out += c->sse_head;
          c->out += ": subscribed\n\n";
          // Events that came between the subscription and its answer.
          for (auto& json : std::exchange(c->sse_early, {}))
            on_sse_event(*c, json);
          flush(*c);
        }
        break;
      case inbound::sse_event:
        on_sse_event(*c, msg.data);
        break;
      default:
        break;
    }
  }

  /// What a worker or relay sent for call `msg.seq`.
  void on_call(inbound& msg) {
    auto i = call_ids_.find(msg.seq);
    if (i == call_ids_.end()) {
      if (msg.kind == inbound::relay) // its connection is gone
        caf::anon_send_exit(msg.actor, caf::exit_reason::kill);
      return;
    }
    auto [conn, seq] = i->second;
    auto c = find(conn);
    if (!c) {
      call_ids_.erase(i);
      if (msg.kind == inbound::relay)
        caf::anon_send_exit(msg.actor, caf::exit_reason::kill);
      return;
    }
    switch (msg.kind) {
      case inbound::result: {
        auto relay = c->relays.find(msg.seq);
        if (msg.res.stream) {
          // The last event may have come first (it waits in `early`).
          auto e = c->early.find(seq);
          if (e != c->early.end() && !e->second.empty()
              && e->second.back().last) {
            call_ids_.erase(i);
            if (relay != c->relays.end())
              c->relays.erase(relay); // it quit after the last event
          } else {
            c->stream_ids.push_back(msg.seq); // mapped until it ends
          }
        } else {
          call_ids_.erase(i);
          if (relay != c->relays.end()) { // a stream that did not start
            caf::anon_send_exit(relay->second, caf::exit_reason::kill);
            c->relays.erase(relay);
          }
        }
        on_result(*c, seq, std::move(msg.res));
        break;
      }
      case inbound::relay:
        c->relays.emplace(msg.seq, std::move(msg.actor));
        break;
      default: // task_event
        if (msg.last) {
          // Unmapped now only if the result came before (else the result
          // unmaps it, finding this event in `early`).
          auto& ids = c->stream_ids;
          if (auto k = std::find(ids.begin(), ids.end(), msg.seq);
              k != ids.end()) {
            ids.erase(k);
            call_ids_.erase(i);
            c->relays.erase(msg.seq); // it quit after the last event
          }
        }
        on_task_event(*c, stream_event{seq, std::move(msg.data), msg.last});
    }
  }

  // -- timers ---------------------------------------------------------------

  void schedule(connection& c, clock_type::time_point at, timer::kind_t kind,
                uint64_t generation = 0) {
    timers_.push(timer{at, c.id, kind, generation});
  }

  void fire_timers() {
    auto now = clock_type::now();
    while (!timers_.empty() && timers_.top().at <= now) {
      auto t = timers_.top();
      timers_.pop();
      if (t.kind == timer::accept) {
        listen_for(EPOLLIN);
        continue;
      }
      auto c = find(t.conn);
      if (!c)
        continue;
      switch (t.kind) {
        case timer::idle:
          if (t.generation == c->idle_generation)
            on_idle_tick(*c, now);
          break;
        case timer::call:
          calls_overdue(*c, now);
          break;
        case timer::accept:
          break;
        case timer::head:
          if (c->head_clock && t.generation == c->head_generation)
            head_timeout(*c);
          break;
        case timer::linger:
          drain_one(*c);
          break;
        case timer::closing:
          if (c->closing)
            drop(*c); // it would not take what was left
          break;
      }
      reap();
    }
  }

  void on_idle_tick(connection& c, clock_type::time_point now) {
    if (c.streaming)
      return; // the idle timer rests during streams
    auto deadline = c.last_activity + cfg_.idle_timeout;
    if (c.outstanding() == 0 && now >= deadline) {
      close(c);
      return;
    }
    auto wait = c.outstanding() > 0 ? clock_type::duration{cfg_.idle_timeout}
                                    : deadline - now;
    schedule(c, now + wait + 1ms, timer::idle, c.idle_generation);
  }

  /// Starts the header clock (if not running) or stops it (head complete).
  void watch_head(connection& c, bool awaiting) {
    if (!awaiting || c.head_clock) {
      c.head_clock = awaiting;
      return;
    }
    c.head_clock = true;
    schedule(c, clock_type::now() + cfg_.header_timeout, timer::head,
             ++c.head_generation);
  }

  /// The header clock ran out: 408 (in turn, after earlier replies), close.
  void head_timeout(connection& c) {
    c.head_clock = false;
    // After an event stream or a final request nothing more is read.
    if (c.last_seq != UINT64_MAX || (c.streaming && !c.task_streaming))
      return;
    // We are the slow side (reading paused behind earlier replies, or a
    // task stream in front): the head waits unread, so the clock starts
    // over.
    if (!c.reading || c.task_streaming) {
      watch_head(c, true);
      return;
    }
    auto seq = c.next_seq++;
    c.last_seq = seq;
    count(http_route::invalid, 408, clock_type::now());
    c.ready.emplace(seq, reply{error_bytes(408), true});
    flush_ready(c);
  }

  // -- shutdown -------------------------------------------------------------

  void close_listener() {
    if (listener_ < 0)
      return;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, listener_, nullptr);
    ::close(listener_);
    listener_ = -1;
  }

  void drain_all() {
    draining_ = true;
    close_listener();
    for (auto& kvp : conns_)
      if (!kvp.second->dead)
        drain_one(*kvp.second);
  }

  /// Closes the connection when nothing is left to answer; else closes it
  /// after the last reply to what was asked.
  void drain_one(connection& c) {
    if (c.lingering || c.streaming || c.outstanding() == 0) {
      close(c);
      return;
    }
    c.last_seq = c.next_seq - 1;
  }

  // -- writing and closing --------------------------------------------------

  /// Registers the socket for what it waits for now.
  void update_interest(connection& c) {
    uint32_t want = 0;
    if (c.reading && !c.closing)
      want |= EPOLLIN;
    if (c.unsent() > 0)
      want |= EPOLLOUT;
    if (want == c.interest)
      return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c.id;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.interest = want;
  }

  /// Writes what the kernel takes now; the rest when the socket is writable.
  void flush(connection& c) {
    if (c.dead)
      return;
    while (c.unsent() > 0) {
      auto n = ::send(c.fd, c.out.data() + c.out_off, c.unsent(),
                      MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      if (n < 0 && errno == EINTR)
        continue;
      drop(c);
      return;
    }
    if (c.unsent() == 0) {
      c.out.clear();
      c.out_off = 0;
      if (c.closing) {
        drop(c);
        return;
      }
    } else if (c.out_off > 65536 && c.out_off * 2 > c.out.size()) {
      c.out.erase(0, c.out_off);
      c.out_off = 0;
    }
    update_interest(c);
  }

  /// Closes after what is buffered is written (a client that does not take
  /// it within the idle timeout is dropped).
  void close(connection& c) {
    if (c.dead || c.closing)
      return;
    c.closing = true;
    c.reading = false;
    if (c.unsent() == 0) {
      drop(c);
      return;
    }
    schedule(c, clock_type::now() + cfg_.idle_timeout, timer::closing);
    flush(c);
  }

  /// Closes now.
  void drop(connection& c) {
    if (c.dead)
      return;
    c.dead = true;
    dead_.push_back(c.id);
  }

  bool must_pause(const connection& c) const {
    return c.outstanding() >= cfg_.max_pipeline || c.unsent() > max_unsent;
  }

  void resume_reading(connection& c) {
    if (!c.reading && !c.streaming && !c.closing && !must_pause(c)) {
      c.reading = true;
      update_interest(c);
    }
  }

  // -- requests and replies -------------------------------------------------

  void on_data(connection& c, const char* data, size_t size) {
    // No requests after an event stream or a final request; requests
    // pipelined behind a task stream are answered once it ended.
    if ((c.streaming && !c.task_streaming) || c.last_seq != UINT64_MAX)
      return;
    reqs_.clear();
    auto status = c.parser.feed(data, size, reqs_);
    for (auto& req : reqs_) {
      if (c.last_seq != UINT64_MAX || c.dead)
        break;
      dispatch(c, std::move(req));
    }
    if (c.dead)
      return;
    // A head begun in the same read that completed an earlier request gets
    // a clock of its own (not the rest of the earlier head's).
    if (!reqs_.empty())
      c.head_clock = false;
    watch_head(c, status == request_parser::status::ok && c.parser.mid_head());
    // The interim answer may only go out when no earlier reply is pending;
    // otherwise the client sends its body after its own short wait.
    if (c.parser.take_expect_continue() && status == request_parser::status::ok
        && c.outstanding() == 0 && !c.streaming && c.last_seq == UINT64_MAX) {
      c.out += "HTTP/1.1 100 Continue\r\n\r\n";
      flush(c);
    }
    if (status != request_parser::status::ok && c.last_seq == UINT64_MAX) {
      auto seq = c.next_seq++;
      c.last_seq = seq;
      c.linger_on_close = true;
      auto code = status == request_parser::status::body_too_large     ? 413
                  : status == request_parser::status::header_too_large ? 431
                                                                       : 400;
      count(http_route::invalid, code, clock_type::now());
      c.ready.emplace(seq, reply{error_bytes(code), true});
      flush_ready(c);
      return;
    }
    if (c.reading && must_pause(c)) {
      c.reading = false;
      update_interest(c);
    }
  }

  /// Answers static routes right here (no JSON parsing, a few hundred bytes
  /// of output) and hands calls to a worker through the connection's proxy.
  void dispatch(connection& c, request req) {
    auto t0 = clock_type::now();
    auto seq = c.next_seq++;
    if (!req.keep_alive)
      c.last_seq = seq;
    auto r = route_request(req, cfg_.info);
    if (r.kind == route::metrics) {
      // Atomics and /proc only: cheap enough for this thread.
      r.kind = route::respond;
      r.res = cfg_.metrics->enabled
                ? response{200, exposition_content_type,
                           cfg_.metrics->exposition()}
                : error_response(404, "Not Found");
    }
    if (r.kind == route::respond) {
      auto head = req.method == "HEAD";
      count(r.label, r.res.status, t0);
      c.ready.emplace(seq,
                      reply{serialize(r.res, head, req.keep_alive),
                            !req.keep_alive});
      flush_ready(c);
      return;
    }
    if (r.kind == route::events) {
      // Nothing after an event stream on this connection gets an answer, so
      // nothing after it runs either.
      c.last_seq = seq;
      count(r.label, 200, t0);
      c.ready.emplace(seq, reply{sse_head, false, true, r.topics});
      flush_ready(c);
      return;
    }
    if (r.kind == route::rpc && r.agent.empty() && cfg_.inline_rpc
        && c.calls.empty()) {
      // Answers readable on this thread skip the worker's two thread hops.
      // Not behind a call still with a worker: a pipelined read after a
      // write on the same connection must see the write.
      if (auto res = cfg_.inline_rpc(req.body, a2a_version(req))) {
        auto out = plain_reply(std::move(*res), req.method == "HEAD",
                               req.keep_alive);
        count(r.label, out.first, t0);
        c.ready.emplace(seq, std::move(out.second));
        flush_ready(c);
        return;
      }
    }
    call x;
    auto card = r.kind == route::agent_card;
    x.kind = card ? call::agent_card : call::rpc;
    x.agent = std::move(r.agent);
    x.body = std::move(req.body);
    x.version = a2a_version(req);
    x.host = authority_of(req, cfg_.info);
    auto trace = trace_id_of(req.header("traceparent"));
    x.trace_id = trace ? std::move(*trace) : new_trace_id();
    auto id = next_call_id_++;
    call_ids_.emplace(id, std::make_pair(c.id, seq));
    x.seq = id;
    x.reply = shared_from_this();
    // A worker always answers (it bounds its own calls); should it not, the
    // client gets a 500 after five request timeouts, as before. One timer
    // per connection, for its oldest call.
    if (!c.call_timer) {
      c.call_timer = true;
      schedule(c, t0 + cfg_.request_timeout * 5, timer::call);
    }
    c.calls.emplace(seq, call_meta{id, t0, r.label, card, req.method == "HEAD",
                                   req.keep_alive,
                                   card ? req.header("if-none-match")
                                        : std::string{}});
    auto& w = workers_[next_worker_++ % workers_.size()];
    caf::anon_send(w, rpc_atom::value, std::move(x));
  }

  /// A call's JSON answer (or 204) as bytes, with its status.
  static std::pair<int, reply> plain_reply(call_result res, bool head,
                                           bool keep_alive) {
    response resp{res.status, "application/json", std::move(res.body)};
    if (res.status == 204)
      resp.content_type.clear();
    return {resp.status,
            reply{serialize(resp, head, keep_alive), !keep_alive}};
  }

  void on_result(connection& c, uint64_t seq, call_result res) {
    auto i = c.calls.find(seq);
    if (i == c.calls.end())
      return;
    auto meta = std::move(i->second);
    c.calls.erase(i);
    reply out;
    int status = 200;
    if (res.stream) {
      out = reply{task_sse_head(meta.keep_alive), !meta.keep_alive, true, {},
                  true};
    } else if (meta.card && res.status == 200) {
      auto resp = card_response(std::move(res.body), meta.if_none_match);
      out = reply{serialize(resp, meta.head, meta.keep_alive),
                  !meta.keep_alive};
      status = resp.status;
    } else {
      std::tie(status, out) = plain_reply(std::move(res), meta.head,
                                          meta.keep_alive);
    }
    count(meta.label, status, meta.t0);
    c.ready.emplace(seq, std::move(out));
    flush_ready(c);
  }

  /// Calls without an answer from their worker in time get a 500 (and the
  /// connection closes); the timer moves on to the oldest call left.
  void calls_overdue(connection& c, clock_type::time_point now) {
    c.call_timer = false;
    auto limit = cfg_.request_timeout * 5;
    std::vector<uint64_t> overdue;
    std::optional<clock_type::time_point> oldest;
    for (auto& [seq, meta] : c.calls) {
      if (meta.t0 + limit <= now)
        overdue.push_back(seq);
      else if (!oldest || meta.t0 < *oldest)
        oldest = meta.t0;
    }
    std::sort(overdue.begin(), overdue.end());
    for (auto seq : overdue) {
      auto i = c.calls.find(seq);
      count(i->second.label, 500, i->second.t0);
      call_ids_.erase(i->second.id);
      c.calls.erase(i);
      c.ready.emplace(seq, reply{error_bytes(500), true});
    }
    if (!overdue.empty())
      flush_ready(c);
    if (oldest && !c.dead) {
      c.call_timer = true;
      schedule(c, *oldest + limit, timer::call);
    }
  }

  /// Writes every reply that is next in order; closes when done.
  void flush_ready(connection& c) {
    if (c.task_streaming || c.dead || c.closing)
      return; // written once the stream ended
    while (!c.ready.empty() && c.ready.begin()->first == c.next_write) {
      auto r = std::move(c.ready.begin()->second);
      c.ready.erase(c.ready.begin());
      auto seq = c.next_write++;
      c.last_activity = clock_type::now();
      if (r.task_stream) {
        start_task_stream(c, seq, std::move(r));
        return;
      }
      if (r.stream) {
        // An event stream never ends: nothing after it gets an answer.
        c.last_seq = seq;
        start_stream(c, std::move(r));
        return;
      }
      c.early.erase(seq);
      c.out += r.bytes;
      if (r.close || seq >= c.last_seq) {
        c.last_seq = seq;
        if (c.linger_on_close) {
          flush(c);
          c.lingering = true;
          if (!c.reading) {
            c.reading = true;
            update_interest(c);
          }
          schedule(c, clock_type::now() + linger_time, timer::linger);
          return;
        }
        close(c);
        return;
      }
    }
    flush(c);
    if (!c.dead)
      resume_reading(c);
  }

  void start_stream(connection& c, reply r) {
    c.streaming = true;
    auto topics = std::move(r.topics);
    if (topics.empty())
      topics = {agent_events_topic, cluster_events_topic};
    // Answer only once subscribed: a client that saw the headers gets every
    // later event.
    c.sse_head = std::move(r.bytes);
    c.forwarder = sys_.spawn(forwarder, shared_from_this(), c.id,
                             std::move(topics), bus_);
    flush(c);
  }

  void on_sse_event(connection& c, const std::string& json) {
    if (!c.streaming || c.task_streaming || c.dead || c.closing)
      return; // a closing stream only writes out what it has
    if (!c.subscribed) {
      if (c.sse_early.size() < 4096)
        c.sse_early.push_back(json);
      return;
    }
    if (c.unsent() > max_unsent) {
      flush(c);
      if (c.dead)
        return;
      if (c.unsent() > max_unsent) {
        // An event stream reader that stopped reading: drop it rather than
        // buffer every event for it.
        close(c);
        return;
      }
    }
    // Written at the end of the loop's batch of inbound messages: one write
    // for many events. A stream with bytes unsent already is queued there,
    // or waits for EPOLLOUT (which `flush` asked for).
    if (c.unsent() == 0)
      sse_unflushed_.push_back(c.id);
    c.out += "data: ";
    c.out += json;
    c.out += "\n\n";
  }

  void start_task_stream(connection& c, uint64_t seq, reply r) {
    c.streaming = true;
    c.task_streaming = true;
    c.stream_seq = seq;
    c.close_after_stream = r.close;
    c.out += r.bytes;
    std::vector<stream_event> early;
    if (auto i = c.early.find(seq); i != c.early.end()) {
      early = std::move(i->second);
      c.early.erase(i);
    }
    for (auto& ev : early) {
      write_task_event(c, ev);
      if (!c.task_streaming || c.dead)
        return; // ended (or dropped)
    }
    flush(c);
  }

  void on_task_event(connection& c, stream_event ev) {
    if (c.task_streaming && ev.seq == c.stream_seq) {
      write_task_event(c, ev);
      return;
    }
    // The reply that starts this stream is not written yet: keep its events
    // (bounded) until it is.
    if (ev.seq >= c.next_write && ev.seq < c.next_seq) {
      auto& xs = c.early[ev.seq];
      if (xs.size() < 4096)
        xs.push_back(std::move(ev));
    }
  }

  /// Writes one event of a task stream as a chunk; the last one ends the
  /// response. A reader that stopped reading is dropped.
  void write_task_event(connection& c, const stream_event& ev) {
    if (c.unsent() > max_unsent) {
      close(c);
      return;
    }
    char size[20];
    std::snprintf(size, sizeof(size), "%zx\r\n", ev.data.size() + 8);
    c.out += size;
    c.out += "data: ";
    c.out += ev.data;
    c.out += "\n\n\r\n";
    if (ev.last) {
      c.out += "0\r\n\r\n";
      end_task_stream(c);
    } else {
      flush(c);
    }
  }

  /// A task stream has ended: the connection goes on with the replies
  /// pipelined behind it (or closes, if the request asked for that).
  void end_task_stream(connection& c) {
    auto seq = c.stream_seq;
    c.streaming = false;
    c.task_streaming = false;
    c.stream_seq = UINT64_MAX;
    c.last_activity = clock_type::now();
    if (c.close_after_stream || seq >= c.last_seq) {
      close(c);
      return;
    }
    // The idle timer rested during the stream: a new chain (an old tick
    // still pending is stale).
    schedule(c, clock_type::now(), timer::idle, ++c.idle_generation);
    flush_ready(c);
  }

  /// Counts one answered request.
  void count(http_route route, int status, clock_type::time_point since) {
    if (!cfg_.metrics->enabled)
      return;
    cfg_.metrics->http.observe(route, status,
                               seconds_between(since, clock_type::now()));
  }

  caf::actor_system& sys_;
  server_config cfg_;
  std::vector<worker_actor> workers_;
  event_bus_actor bus_;
  size_t next_worker_ = 0;
  caf::actor front_;
  std::thread thread_;
  int listener_ = -1;
  int ep_ = -1;
  int wake_ = -1;
  std::mutex mtx_;
  std::vector<inbound> queue_;
  bool wake_pending_ = false;
  std::vector<inbound> taken_;
  std::unordered_map<uint64_t, std::unique_ptr<connection>> conns_;
  std::vector<uint64_t> dead_;
  /// Event streams with events appended since their last write.
  std::vector<uint64_t> sse_unflushed_;
  std::priority_queue<timer, std::vector<timer>, std::greater<timer>> timers_;
  std::vector<request> reqs_;
  /// Calls a worker has not finished (or whose task stream runs): id ->
  /// (connection, sequence number).
  std::unordered_map<uint64_t, std::pair<uint64_t, uint64_t>> call_ids_;
  uint64_t next_call_id_ = 0;
  uint64_t next_id_ = 2;
  bool draining_ = false;
  bool stopping_ = false;
  bool done_ = false;
};

/// Subscribes an event stream's connection to the bus and hands its events
/// to the loop.
caf::behavior forwarder(caf::event_based_actor* self, loop_ptr lp,
                        uint64_t conn, std::vector<std::string> topics,
                        event_bus_actor bus) {
  // Answer only once subscribed: a client that saw the headers gets every
  // later event.
  self
    ->request(bus, caf::infinite, subscribe_atom::value, std::move(topics),
              caf::actor{self})
    .then([=](bool) { lp->post(inbound{inbound::sse_ready, conn}); });
  return {
    [=](const event& ev) {
      lp->post(inbound{inbound::sse_event, conn, 0, {}, ev.json});
    },
  };
}

/// The server's handle: told to drain, it tells the loop and quits once the
/// loop is done; told to exit, it stops the loop at once.
caf::behavior front(caf::event_based_actor* self, loop_ptr lp) {
  self->attach_functor([lp] { lp->stop_and_join(); });
  // Whoever monitors this actor sees it go only once the loop closed every
  // connection.
  auto reason = std::make_shared<caf::error>();
  self->set_exit_handler([=](caf::exit_msg& em) {
    *reason = em.reason;
    lp->post(inbound{inbound::stop});
  });
  return {
    [=](drain_atom) { lp->post(inbound{inbound::drain}); },
    [=](caf::ok_atom) { self->quit(*reason); },
  };
}

} // namespace

caf::expected<server> start_server(caf::actor_system& sys,
                                   const server_config& cfg,
                                   std::vector<worker_actor> workers,
                                   event_bus_actor bus) {
  auto lp = std::make_shared<loop>(sys, cfg, std::move(workers),
                                   std::move(bus));
  auto port = lp->open();
  if (!port)
    return std::move(port.error());
  auto hdl = sys.spawn(front, lp);
  lp->start(hdl);
  return server{hdl, *port};
}

} // namespace am::http
