#include "core/auth.hpp"

#include <algorithm>
#include <cctype>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace am::auth {

namespace {

std::string to_hex(const unsigned char* data, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string result;
  result.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    result += digits[data[i] >> 4];
    result += digits[data[i] & 0x0F];
  }
  return result;
}

} // namespace

std::string make_nonce() {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof(buf)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return to_hex(buf, sizeof(buf));
}

std::string hmac_hex(const std::string& cookie, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), cookie.data(), static_cast<int>(cookie.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return to_hex(out, len);
}

std::string server_proof(const std::string& cookie,
                         const std::string& client_nonce,
                         const std::string& server_nonce,
                         const std::string& server_node) {
  return hmac_hex(cookie, "agentmesh-server|" + client_nonce + "|"
                            + server_nonce + "|" + server_node);
}

std::string client_proof(const std::string& cookie,
                         const std::string& client_nonce,
                         const std::string& server_nonce,
                         const std::string& client_node) {
  return hmac_hex(cookie, "agentmesh-client|" + server_nonce + "|"
                            + client_nonce + "|" + client_node);
}

bool equal(const std::string& x, const std::string& y) {
  return x.size() == y.size() && CRYPTO_memcmp(x.data(), y.data(), x.size()) == 0;
}

bool bearer_matches(const std::string& authorization,
                    const std::string& token) {
  static const std::string key = "agentmesh-bearer";
  std::string given;
  if (authorization.size() > 7) {
    auto scheme = authorization.substr(0, 7);
    for (auto& c : scheme)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "bearer ")
      given = authorization.substr(7);
  }
  // Both sides always go through the MAC, so a wrong scheme takes as long.
  auto ok = equal(hmac_hex(key, given), hmac_hex(key, token));
  return ok && !given.empty();
}

} // namespace am::auth

namespace am::auth::gate {

namespace {

constexpr const char* magic = "AMGATE1 ";
constexpr size_t magic_size = 8;
constexpr size_t nonce_size = 32;

bool is_hex(const std::string& x, size_t from, size_t n) {
  for (size_t i = from; i < from + n; ++i) {
    auto c = x[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return true;
}

std::string client_mac(const std::string& cookie, const std::string& sn,
                       const std::string& cn) {
  return hmac_hex(cookie, "agentmesh-gate-client|" + sn + "|" + cn);
}

} // namespace

std::string hello(const std::string& server_nonce) {
  return magic + server_nonce;
}

std::string nonce_of_hello(const std::string& frame) {
  if (frame.size() != hello_size || frame.compare(0, magic_size, magic) != 0
      || !is_hex(frame, magic_size, nonce_size))
    return {};
  return frame.substr(magic_size);
}

std::string answer(const std::string& cookie, const std::string& server_nonce,
                   const std::string& client_nonce) {
  return magic + client_nonce
         + client_mac(cookie, server_nonce, client_nonce);
}

bool may_be_answer(const std::string& prefix) {
  auto n = std::min(prefix.size(), magic_size);
  return prefix.compare(0, n, magic, n) == 0;
}

std::string check_answer(const std::string& cookie,
                         const std::string& server_nonce,
                         const std::string& frame) {
  if (frame.size() != answer_size || frame.compare(0, magic_size, magic) != 0
      || !is_hex(frame, magic_size, nonce_size))
    return {};
  auto cn = frame.substr(magic_size, nonce_size);
  if (!equal(frame.substr(magic_size + nonce_size),
             client_mac(cookie, server_nonce, cn)))
    return {};
  return cn;
}

std::string accept(const std::string& cookie, const std::string& server_nonce,
                   const std::string& client_nonce) {
  return hmac_hex(cookie,
                  "agentmesh-gate-server|" + server_nonce + "|" + client_nonce);
}

std::string refuse() {
  auto result = std::string{"refused"};
  result.resize(verdict_size, '.');
  return result;
}

} // namespace am::auth::gate
