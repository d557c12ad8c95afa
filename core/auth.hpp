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

/// The cluster port's gate: a fixed-size challenge-response on the raw
/// connection, run before a single byte reaches CAF's node protocol. Every
/// frame has a fixed length, so a peer can make the gate hold at most
/// `answer_size` bytes.
///
/// ```
/// server -> client  hello    "AMGATE1 " + server nonce (32 hex)
/// client -> server  answer   "AMGATE1 " + client nonce + client MAC (64 hex)
/// server -> client  verdict  server MAC (64 hex), or `refused` padded
/// ```
namespace am::auth::gate {

constexpr size_t hello_size = 40;
constexpr size_t answer_size = 104;
constexpr size_t verdict_size = 64;

/// The server's first frame.
std::string hello(const std::string& server_nonce);

/// The server nonce of a hello frame; empty if the frame is not one.
std::string nonce_of_hello(const std::string& frame);

/// The client's answer to a hello carrying `server_nonce`.
std::string answer(const std::string& cookie, const std::string& server_nonce,
                   const std::string& client_nonce);

/// False as soon as the first bytes of an answer cannot be one (a BASP
/// header, an HTTP request, a scan).
bool may_be_answer(const std::string& prefix);

/// Checks an answer; on success returns the client nonce, else "".
std::string check_answer(const std::string& cookie,
                         const std::string& server_nonce,
                         const std::string& frame);

/// The server's verdict on success: proves that it knows the cookie too.
std::string accept(const std::string& cookie, const std::string& server_nonce,
                   const std::string& client_nonce);

/// The server's verdict on a wrong cookie.
std::string refuse();

} // namespace am::auth::gate
