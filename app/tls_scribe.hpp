#pragma once

#include <caf/fwd.hpp>
#include <caf/io/fwd.hpp>

namespace am::app {

/// Wraps a connected socket in a CAF connection that speaks TLS with the
/// `openssl.*` settings (the handshake runs in CAF's multiplexer). The
/// cluster gate uses it after the cookie handshake; `caf::openssl` keeps
/// its own connection type private. Null if OpenSSL cannot set up.
caf::io::scribe_ptr make_tls_scribe(caf::actor_system& sys, int fd,
                                    bool accepted);

} // namespace am::app
