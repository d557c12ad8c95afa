// Works around a defect of CAF 0.17.6's openssl module: after a failed TLS
// handshake it leaves OpenSSL's per-thread error queue filled (it only
// drains it inside log statements, which Debian's build compiles out). The
// next SSL_get_error on any healthy session of the same (multiplexer)
// thread then reports SSL_ERROR_SSL and CAF drops that connection: one peer
// with a wrong certificate made every TLS link of the node flap.
//
// These definitions interpose SSL_accept and SSL_connect for the whole
// process: they call OpenSSL's own functions and, when the call failed for
// good (not "want read/write"), clear the error queue. CAF still sees the
// failure (SSL_get_error then reports SSL_ERROR_SYSCALL) and closes that one
// connection, and only that one.

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

using ssl_fn = int (*)(SSL*);

int call_and_clean(const char* name, ssl_fn& real, SSL* ssl) {
  if (real == nullptr)
    real = reinterpret_cast<ssl_fn>(dlsym(RTLD_NEXT, name));
  auto ret = real(ssl);
  if (ret <= 0) {
    auto err = SSL_get_error(ssl, ret);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
      ERR_clear_error();
  }
  return ret;
}

ssl_fn real_accept = nullptr;
ssl_fn real_connect = nullptr;

} // namespace

extern "C" __attribute__((visibility("default"))) int SSL_accept(SSL* ssl) {
  return call_and_clean("SSL_accept", real_accept, ssl);
}

extern "C" __attribute__((visibility("default"))) int SSL_connect(SSL* ssl) {
  return call_and_clean("SSL_connect", real_connect, ssl);
}
