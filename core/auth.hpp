#pragma once

#include <string>

/// Cookie authentication for cluster joins: challenge-response with
/// HMAC-SHA256, so the cookie itself never crosses the wire.
namespace am::auth {

/// 16 random bytes from OpenSSL's generator, as 32 hex characters.
std::string make_nonce();

/// HMAC-SHA256 of `data` keyed with `cookie`, as 64 hex characters.
std::string hmac_hex(const std::string& cookie, const std::string& data);

/// The server's proof: binds both nonces and the server's name.
std::string server_proof(const std::string& cookie,
                         const std::string& client_nonce,
                         const std::string& server_nonce,
                         const std::string& server_node);

/// The client's proof, distinct from the server's (no reflection).
std::string client_proof(const std::string& cookie,
                         const std::string& client_nonce,
                         const std::string& server_nonce,
                         const std::string& client_node);

/// Compares two MACs in constant time.
bool equal(const std::string& x, const std::string& y);

/// True if an `Authorization` header value is `Bearer <token>` (scheme in
/// any case). Compares MACs of both in constant time: neither the token
/// nor its length leaks through timing.
bool bearer_matches(const std::string& authorization, const std::string& token);

} // namespace am::auth
