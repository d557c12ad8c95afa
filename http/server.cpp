// The HTTP front end: an acceptor broker and one broker per connection. The
// brokers run on the multiplexer thread and only frame bytes; workers on
// the scheduler produce the reply bytes.

#include "http/server.hpp"

#include <cstdio>
#include <map>
#include <set>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "core/trace.hpp"

namespace am::http {

namespace {

using namespace std::chrono;

/// Everything a connection needs, shared by all connections of a server.
struct shared_config {
  server_config cfg;
  std::vector<worker_actor> workers;
  event_bus_actor bus;
  size_t next_worker = 0; // only touched on the multiplexer thread
};

using shared_config_ptr = std::shared_ptr<shared_config>;

struct conn_state {
  std::unique_ptr<request_parser> parser;
  uint64_t next_seq = 0;   // sequence number of the next request
  uint64_t next_write = 0; // sequence number of the next reply to write
  std::map<uint64_t, reply> ready;
  /// Write nothing after this sequence number, then close.
  uint64_t last_seq = UINT64_MAX;
  bool streaming = false;
  /// The stream is a task stream (fed by an agent) for request `stream_seq`;
  /// replies pipelined behind it wait until it ends.
  bool task_streaming = false;
  uint64_t stream_seq = UINT64_MAX;
  bool close_after_stream = false;
  /// Task stream events that arrived before their reply's turn.
  std::map<uint64_t, std::vector<stream_event>> early;
  bool reading = true;
  /// Bytes written by us but not yet taken by the kernel (write acks).
  uint64_t unsent = 0;
  /// After an error reply to a request whose body may still be arriving:
  /// keep reading (and discarding) briefly before closing, so that the
  /// client is not reset before it reads the reply.
  bool linger_on_close = false;
  bool lingering = false;
  steady_clock::time_point last_activity = steady_clock::now();
  /// A request head is awaited (its clock runs). The timer message carries
  /// the generation it was set for; a later one makes it stale.
  bool head_clock = false;
  uint64_t head_generation = 0;
  static inline const char* name = "http_connection";
};

using conn_pointer = caf::stateful_actor<conn_state, caf::io::broker>*;

/// A timer message to the connection itself, sent anonymously: a message
/// with the broker as its sender that arrives after the broker is gone
/// stays in its closed mailbox and keeps it alive (a reference cycle that
/// LeakSanitizer reported for every connection whose timer outlived it).
template <class... Ts>
void later(conn_pointer self, caf::timespan delay, Ts&&... xs) {
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self), delay,
                         std::forward<Ts>(xs)...);
}

size_t outstanding(conn_pointer self) {
  return self->state.next_seq - self->state.next_write;
}

void close_connection(conn_pointer self, caf::io::connection_handle hdl) {
  self->flush(hdl);
  self->close(hdl);
  self->quit();
}

/// A JSON error reply whose detail is the reason phrase; always closes.
std::string error_bytes(int status) {
  return serialize(error_response(status, reason_phrase(status)), false,
                   false);
}

void start_stream(conn_pointer self, caf::io::connection_handle hdl,
                  const shared_config_ptr& sc, reply r);

void start_task_stream(conn_pointer self, caf::io::connection_handle hdl,
                       const shared_config_ptr& sc, uint64_t seq, reply r);

/// A client that does not read its replies may not make us buffer more.
constexpr uint64_t max_unsent = 4 * 1024 * 1024;

bool must_pause(conn_pointer self, const shared_config_ptr& sc) {
  return outstanding(self) >= sc->cfg.max_pipeline
         || self->state.unsent > max_unsent;
}

void resume_reading(conn_pointer self, caf::io::connection_handle hdl,
                    const shared_config_ptr& sc) {
  auto& st = self->state;
  if (!st.reading && !st.streaming && !must_pause(self, sc)) {
    st.reading = true;
    self->trigger(hdl);
  }
}

/// Writes every reply that is next in order; closes when done.
void flush_ready(conn_pointer self, caf::io::connection_handle hdl,
                 const shared_config_ptr& sc) {
  auto& st = self->state;
  if (st.task_streaming)
    return; // written once the stream ended
  while (!st.ready.empty() && st.ready.begin()->first == st.next_write) {
    auto r = std::move(st.ready.begin()->second);
    st.ready.erase(st.ready.begin());
    auto seq = st.next_write++;
    st.last_activity = steady_clock::now();
    if (r.task_stream) {
      start_task_stream(self, hdl, sc, seq, std::move(r));
      return;
    }
    if (r.stream) {
      // An event stream never ends: nothing after it gets an answer.
      st.last_seq = seq;
      start_stream(self, hdl, sc, std::move(r));
      return;
    }
    st.early.erase(seq);
    auto& buf = self->wr_buf(hdl);
    buf.insert(buf.end(), r.bytes.begin(), r.bytes.end());
    st.unsent += r.bytes.size();
    if (r.close || seq >= st.last_seq) {
      st.last_seq = seq;
      if (st.linger_on_close) {
        self->flush(hdl);
        st.lingering = true;
        if (!st.reading) {
          st.reading = true;
          self->trigger(hdl);
        }
        later(self, std::chrono::milliseconds(500), drain_atom::value);
        return;
      }
      close_connection(self, hdl);
      return;
    }
  }
  self->flush(hdl);
  resume_reading(self, hdl, sc);
}

void start_stream(conn_pointer self, caf::io::connection_handle hdl,
                  const shared_config_ptr& sc, reply r) {
  auto& st = self->state;
  st.streaming = true;
  auto topics = r.topics;
  if (topics.empty())
    topics = {agent_events_topic, cluster_events_topic};
  // Answer only once subscribed: a client that saw the headers gets every
  // later event.
  self->request(sc->bus, caf::infinite, subscribe_atom::value,
                std::move(topics), caf::actor{self})
    .then([=](bool) {
      auto& buf = self->wr_buf(hdl);
      buf.insert(buf.end(), r.bytes.begin(), r.bytes.end());
      static constexpr char hello[] = ": subscribed\n\n";
      buf.insert(buf.end(), hello, hello + sizeof(hello) - 1);
      self->flush(hdl);
    });
}

/// A task stream has ended: the connection goes on with the replies
/// pipelined behind it (or closes, if the request asked for that).
void end_task_stream(conn_pointer self, caf::io::connection_handle hdl,
                     const shared_config_ptr& sc) {
  auto& st = self->state;
  auto seq = st.stream_seq;
  st.streaming = false;
  st.task_streaming = false;
  st.stream_seq = UINT64_MAX;
  st.last_activity = steady_clock::now();
  if (st.close_after_stream || seq >= st.last_seq) {
    close_connection(self, hdl);
    return;
  }
  self->send(self, tick_atom::value); // the idle timer rests during streams
  flush_ready(self, hdl, sc);
}

/// Writes one event of a task stream as a chunk; the last one ends the
/// response. A reader that stopped reading is dropped.
void write_task_event(conn_pointer self, caf::io::connection_handle hdl,
                      const shared_config_ptr& sc, const stream_event& ev) {
  if (self->state.unsent > max_unsent) {
    close_connection(self, hdl);
    return;
  }
  char size[20];
  std::snprintf(size, sizeof(size), "%zx\r\n", ev.data.size() + 8);
  std::string chunk = size;
  chunk += "data: ";
  chunk += ev.data;
  chunk += "\n\n\r\n";
  if (ev.last)
    chunk += "0\r\n\r\n";
  self->write(hdl, chunk.size(), chunk.data());
  self->state.unsent += chunk.size();
  if (ev.last)
    end_task_stream(self, hdl, sc);
  else
    self->flush(hdl);
}

void start_task_stream(conn_pointer self, caf::io::connection_handle hdl,
                       const shared_config_ptr& sc, uint64_t seq, reply r) {
  auto& st = self->state;
  st.streaming = true;
  st.task_streaming = true;
  st.stream_seq = seq;
  st.close_after_stream = r.close;
  auto& buf = self->wr_buf(hdl);
  buf.insert(buf.end(), r.bytes.begin(), r.bytes.end());
  std::vector<stream_event> early;
  if (auto i = st.early.find(seq); i != st.early.end()) {
    early = std::move(i->second);
    st.early.erase(i);
  }
  for (auto& ev : early) {
    write_task_event(self, hdl, sc, ev);
    if (!st.task_streaming)
      return; // ended (or dropped)
  }
  self->flush(hdl);
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

/// Counts one answered request.
void count(const shared_config_ptr& sc, http_route route, int status,
           steady_clock::time_point since) {
  if (!sc->cfg.metrics->enabled)
    return;
  sc->cfg.metrics->http.observe(route, status,
                                seconds_between(since, steady_clock::now()));
}

/// Answers static routes right here (no JSON parsing, a few hundred bytes
/// of output) and hands POST /a2a to a worker on the scheduler.
void dispatch(conn_pointer self, caf::io::connection_handle hdl,
              const shared_config_ptr& sc, request req) {
  auto t0 = steady_clock::now();
  auto seq = self->state.next_seq++;
  if (!req.keep_alive)
    self->state.last_seq = seq;
  auto r = route_request(req, sc->cfg.info);
  if (r.kind == route::metrics) {
    // Atomics and /proc only: cheap enough for the multiplexer thread.
    r.kind = route::respond;
    r.res = sc->cfg.metrics->enabled
              ? response{200, exposition_content_type,
                         sc->cfg.metrics->exposition()}
              : error_response(404, "Not Found");
  }
  if (r.kind == route::respond) {
    auto head = req.method == "HEAD";
    count(sc, r.label, r.res.status, t0);
    self->state.ready.emplace(seq, reply{serialize(r.res, head, req.keep_alive),
                                         !req.keep_alive});
    flush_ready(self, hdl, sc);
    return;
  }
  if (r.kind == route::events) {
    // Nothing after an event stream on this connection gets an answer, so
    // nothing after it runs either.
    self->state.last_seq = seq;
    count(sc, r.label, 200, t0);
    self->state.ready.emplace(seq, reply{sse_head, false, true, r.topics});
    flush_ready(self, hdl, sc);
    return;
  }
  call c;
  c.kind = r.kind == route::agent_card ? call::agent_card : call::rpc;
  c.agent = std::move(r.agent);
  c.body = std::move(req.body);
  c.version = a2a_version(req);
  c.host = authority_of(req, sc->cfg.info);
  auto trace = trace_id_of(req.header("traceparent"));
  c.trace_id = trace ? std::move(*trace) : new_trace_id();
  c.sink = caf::actor{self};
  c.seq = seq;
  auto card = r.kind == route::agent_card;
  auto head = req.method == "HEAD";
  auto keep_alive = req.keep_alive;
  auto if_none_match = card ? req.header("if-none-match") : std::string{};
  auto label = r.label;
  auto& w = sc->workers[sc->next_worker++ % sc->workers.size()];
  // A call may take a lookup across the cluster plus the call itself, and
  // the same again after a stale handle: allow all of it.
  self->request(w, sc->cfg.request_timeout * 5, rpc_atom::value, std::move(c))
    .then(
      [=](call_result& res) {
        reply out;
        int status = 200;
        if (res.stream) {
          out = reply{task_sse_head(keep_alive), !keep_alive, true, {}, true};
        } else {
          response resp{res.status, "application/json", std::move(res.body)};
          if (res.status == 204)
            resp.content_type.clear();
          if (card && res.status == 200)
            resp = card_response(std::move(resp.body), if_none_match);
          out = reply{serialize(resp, head, keep_alive), !keep_alive};
          status = resp.status;
        }
        count(sc, label, status, t0);
        self->state.ready.emplace(seq, std::move(out));
        flush_ready(self, hdl, sc);
      },
      [=](caf::error&) {
        count(sc, label, 500, t0);
        self->state.ready.emplace(
          seq, reply{error_bytes(500), true});
        flush_ready(self, hdl, sc);
      });
}

/// Starts the header clock (if not running) or stops it (head complete).
void watch_head(conn_pointer self, bool awaiting, const shared_config_ptr& sc) {
  auto& st = self->state;
  if (!awaiting || st.head_clock) {
    st.head_clock = awaiting;
    return;
  }
  st.head_clock = true;
  later(self, sc->cfg.header_timeout, head_atom::value, ++st.head_generation);
}

/// The header clock ran out: 408 (in turn, after earlier replies), close.
void head_timeout(conn_pointer self, caf::io::connection_handle hdl,
                  const shared_config_ptr& sc) {
  auto& st = self->state;
  st.head_clock = false;
  // After an event stream or a final request nothing more is read.
  if (st.last_seq != UINT64_MAX || (st.streaming && !st.task_streaming))
    return;
  // We are the slow side (reading paused behind earlier replies, or a task
  // stream in front): the head waits unread, so the clock starts over.
  if (!st.reading || st.task_streaming) {
    watch_head(self, true, sc);
    return;
  }
  auto seq = st.next_seq++;
  st.last_seq = seq;
  count(sc, http_route::invalid, 408, steady_clock::now());
  st.ready.emplace(seq, reply{error_bytes(408), true});
  flush_ready(self, hdl, sc);
}

void on_data(conn_pointer self, caf::io::new_data_msg& msg,
             const shared_config_ptr& sc) {
  auto& st = self->state;
  // No requests after an event stream or a final request; requests
  // pipelined behind a task stream are answered once it ended.
  if ((st.streaming && !st.task_streaming) || st.last_seq != UINT64_MAX)
    return;
  std::vector<request> reqs;
  auto status = st.parser->feed(msg.buf.data(), msg.buf.size(), reqs);
  for (auto& req : reqs) {
    if (st.last_seq != UINT64_MAX)
      break;
    dispatch(self, msg.handle, sc, std::move(req));
  }
  // A head begun in the same read that completed an earlier request gets
  // a clock of its own (not the rest of the earlier head's).
  if (!reqs.empty())
    st.head_clock = false;
  watch_head(self, status == request_parser::status::ok
                     && st.parser->mid_head(),
             sc);
  // The interim answer may only go out when no earlier reply is pending;
  // otherwise the client sends its body after its own short wait.
  if (st.parser->take_expect_continue() && status == request_parser::status::ok
      && outstanding(self) == 0 && st.last_seq == UINT64_MAX) {
    static constexpr char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    self->write(msg.handle, sizeof(cont) - 1, cont);
    self->flush(msg.handle);
  }
  if (status != request_parser::status::ok && st.last_seq == UINT64_MAX) {
    auto seq = st.next_seq++;
    st.last_seq = seq;
    st.linger_on_close = true;
    auto code = status == request_parser::status::body_too_large     ? 413
                : status == request_parser::status::header_too_large ? 431
                                                                     : 400;
    count(sc, http_route::invalid, code, steady_clock::now());
    st.ready.emplace(seq, reply{error_bytes(code), true});
    flush_ready(self, msg.handle, sc);
    return;
  }
  if (st.reading && must_pause(self, sc)) {
    st.reading = false;
    self->halt(msg.handle);
  }
}

caf::behavior connection(conn_pointer self, caf::io::connection_handle hdl,
                         shared_config_ptr sc, bool reject) {
  if (reject) {
    count(sc, http_route::invalid, 503, steady_clock::now());
    auto bytes = error_bytes(503);
    self->write(hdl, bytes.size(), bytes.data());
    close_connection(self, hdl);
    return {};
  }
  self->state.parser = std::make_unique<request_parser>(sc->cfg.lim);
  self->configure_read(hdl, caf::io::receive_policy::at_most(16384));
  self->ack_writes(hdl, true);
  auto idle = sc->cfg.idle_timeout;
  later(self, idle, tick_atom::value);
  // The first request's head is awaited from the start.
  watch_head(self, true, sc);
  return {
    [=](head_atom, uint64_t generation) {
      auto& st = self->state;
      if (st.head_clock && generation == st.head_generation)
        head_timeout(self, hdl, sc);
    },
    [=](caf::io::new_data_msg& msg) { on_data(self, msg, sc); },
    [=](caf::io::connection_closed_msg&) { self->quit(); },
    [=](const caf::io::data_transferred_msg& msg) {
      self->state.unsent = msg.remaining;
      resume_reading(self, hdl, sc);
    },
    [=](const event& ev) {
      if (!self->state.streaming)
        return;
      if (self->state.unsent > max_unsent) {
        // An event stream reader that stopped reading: drop it rather than
        // buffer every event for it.
        close_connection(self, hdl);
        return;
      }
      std::string chunk = "data: ";
      chunk += ev.json;
      chunk += "\n\n";
      self->write(hdl, chunk.size(), chunk.data());
      self->state.unsent += chunk.size();
      self->flush(hdl);
    },
    [=](stream_event& ev) {
      auto& st = self->state;
      if (st.task_streaming && ev.seq == st.stream_seq) {
        write_task_event(self, hdl, sc, ev);
        return;
      }
      // The reply that starts this stream is not written yet: keep its
      // events (bounded) until it is.
      if (ev.seq >= st.next_write && ev.seq < st.next_seq) {
        auto& xs = st.early[ev.seq];
        if (xs.size() < 4096)
          xs.push_back(std::move(ev));
      }
    },
    [=](tick_atom) {
      auto& st = self->state;
      if (st.streaming)
        return;
      auto now = steady_clock::now();
      auto deadline = st.last_activity + idle;
      if (outstanding(self) == 0 && now >= deadline) {
        close_connection(self, hdl);
        return;
      }
      auto wait = outstanding(self) > 0 ? idle : deadline - now;
      later(self, duration_cast<milliseconds>(wait) + 1ms, tick_atom::value);
    },
    [=](drain_atom) {
      auto& st = self->state;
      if (st.lingering || st.streaming || outstanding(self) == 0) {
        close_connection(self, hdl);
        return;
      }
      // Answer what was asked, then close.
      st.last_seq = st.next_seq - 1;
    },
  };
}

struct acceptor_state {
  std::set<caf::actor> connections;
  bool draining = false;
  // True once the multiplexer has applied the doorman's registration (see
  // stop_when_done).
  bool registered = false;
  caf::error stop_reason;
  static inline const char* name = "http_acceptor";
};

using acceptor_actor = caf::stateful_actor<acceptor_state, caf::io::broker>;

/// Stops listening and quits once no connection is left. CAF 0.17.6's
/// multiplexer squashes an "add read" and a "del read" queued in the same
/// round into nothing, so a doorman closed in the round that registered it
/// is never told it left the loop and leaks (a SIGTERM right after start-up).
/// Until the registration is applied, closing and quitting wait for it.
void stop_when_done(acceptor_actor* self) {
  auto& st = self->state;
  if (!st.draining || !st.registered)
    return;
  self->close_all();
  if (st.connections.empty())
    self->quit(st.stop_reason);
}

caf::behavior acceptor(acceptor_actor* self, caf::io::doorman_ptr doorman,
                       shared_config_ptr sc) {
  self->add_doorman(std::move(doorman));
  // The registration queued above is applied at the end of this multiplexer
  // round; a function posted now runs in the next one.
  self->backend().post([hdl = caf::actor{self}] {
    caf::anon_send(hdl, caf::ok_atom::value);
  });
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& conns = self->state.connections;
    for (auto i = conns.begin(); i != conns.end(); ++i) {
      if (i->address() == dm.source) {
        conns.erase(i);
        break;
      }
    }
    stop_when_done(self);
  });
  // Told to stop (the drain took too long): stop every connection and go
  // once they are gone. A broker still alive when CAF's middleman stops is
  // never cleaned up (the middleman stops only its named brokers): its
  // socket, mailbox and timers leaked at every shutdown under load.
  self->set_exit_handler([=](caf::exit_msg& em) {
    auto& st = self->state;
    st.draining = true;
    st.stop_reason = em.reason;
    for (auto& conn : st.connections)
      self->send_exit(conn, caf::exit_reason::kill);
    stop_when_done(self);
  });
  return {
    [=](const caf::io::new_connection_msg& msg) {
      auto reject = self->state.draining
                    || self->state.connections.size()
                         >= sc->cfg.max_connections;
      auto conn = self->fork(connection, msg.handle, sc, reject);
      self->monitor(conn);
      self->state.connections.insert(conn);
    },
    [=](const caf::io::acceptor_closed_msg&) {
      // nop
    },
    [=](caf::ok_atom) {
      self->state.registered = true;
      stop_when_done(self);
    },
    [=](drain_atom) {
      self->state.draining = true;
      for (auto& conn : self->state.connections)
        self->send(conn, drain_atom::value);
      stop_when_done(self);
    },
  };
}

} // namespace

caf::expected<server> start_server(caf::actor_system& sys,
                                   const server_config& cfg,
                                   std::vector<worker_actor> workers,
                                   event_bus_actor bus) {
  auto& mm = sys.middleman();
  auto doorman = mm.backend().new_tcp_doorman(cfg.port, cfg.host.c_str(),
                                              true);
  if (!doorman)
    return std::move(doorman.error());
  auto port = (*doorman)->port();
  auto sc = std::make_shared<shared_config>();
  sc->cfg = cfg;
  sc->workers = std::move(workers);
  sc->bus = std::move(bus);
  auto acc = mm.spawn_broker(acceptor, std::move(*doorman), sc);
  return server{acc, port};
}

} // namespace am::http
