// Works around a defect of CAF 0.17.6's openssl module: after a failed TLS
// handshake it leaves OpenSSL's per-thread error queue filled (it only
// drains it inside log statements, which Debian's build compiles out). The
// next SSL_get_error on any healthy session of the same (multiplexer)
// thread then reports SSL_ERROR_SSL and CAF drops that connection: one peer
// with a wrong certificate made every TLS link of the node flap.
//
// These definitions interpose SSL_accept, SSL_connect, SSL_read and
// SSL_write for the whole process: each clears the thread's error queue and
// then calls OpenSSL's own function, as OpenSSL requires before TLS I/O.
// Errors of the call itself stay queued, so CAF's SSL_get_error right
// after it still classifies that call correctly; a failure can no longer
// leak into the next call on another connection.

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

template <class Fn>
Fn real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

using handshake_fn = int (*)(SSL*);
using read_fn = int (*)(SSL*, void*, int);
using write_fn = int (*)(SSL*, const void*, int);

} // namespace

extern "C" __attribute__((visibility("default"))) int SSL_accept(SSL* ssl) {
  static auto fn = real<handshake_fn>("SSL_accept");
  ERR_clear_error();
  return fn(ssl);
}

extern "C" __attribute__((visibility("default"))) int SSL_connect(SSL* ssl) {
  static auto fn = real<handshake_fn>("SSL_connect");
  ERR_clear_error();
  return fn(ssl);
}

extern "C" __attribute__((visibility("default"))) int
SSL_read(SSL* ssl, void* buf, int num) {
  static auto fn = real<read_fn>("SSL_read");
  ERR_clear_error();
  return fn(ssl, buf, num);
}

extern "C" __attribute__((visibility("default"))) int
SSL_write(SSL* ssl, const void* buf, int num) {
  static auto fn = real<write_fn>("SSL_write");
  ERR_clear_error();
  return fn(ssl, buf, num);
}
