#define CAF_SUITE auth

#include <caf/test/unit_test.hpp>

#include "core/auth.hpp"

using namespace am::auth;

CAF_TEST(the gate handshake succeeds with the same cookie) {
  auto sn = make_nonce();
  auto cn = make_nonce();
  auto h = gate::hello(sn);
  CAF_CHECK_EQUAL(h.size(), gate::hello_size);
  auto got = gate::nonce_of_hello(h);
  CAF_CHECK_EQUAL(got, sn);
  auto a = gate::answer("cookie", got, cn);
  CAF_CHECK_EQUAL(a.size(), gate::answer_size);
  auto checked = gate::check_answer("cookie", sn, a);
  CAF_CHECK_EQUAL(checked, cn);
  auto v = gate::accept("cookie", sn, cn);
  CAF_CHECK_EQUAL(v.size(), gate::verdict_size);
  CAF_CHECK_EQUAL(gate::refuse().size(), gate::verdict_size);
  CAF_CHECK(v != gate::refuse());
  // The client cannot replay the server's verdict as its own MAC.
  CAF_CHECK(v != a.substr(40));
}

CAF_TEST(the gate refuses another cookie and malformed frames) {
  auto sn = make_nonce();
  auto cn = make_nonce();
  auto a = gate::answer("guess", sn, cn);
  CAF_CHECK_EQUAL(gate::check_answer("cookie", sn, a), "");
  // An answer to another challenge (replay) fails.
  CAF_CHECK_EQUAL(gate::check_answer("cookie", make_nonce(),
                                     gate::answer("cookie", sn, cn)),
                  "");
  auto good = gate::answer("cookie", sn, cn);
  CAF_CHECK_EQUAL(gate::check_answer("cookie", sn, good.substr(1)), "");
  CAF_CHECK_EQUAL(gate::check_answer("cookie", sn, good + "x"), "");
  auto bad_magic = good;
  bad_magic[0] = 'X';
  CAF_CHECK_EQUAL(gate::check_answer("cookie", sn, bad_magic), "");
  auto upper = good;
  upper[8] = 'G';
  CAF_CHECK_EQUAL(gate::check_answer("cookie", sn, upper), "");
  CAF_CHECK_EQUAL(gate::nonce_of_hello("AMGATE1 short"), "");
  CAF_CHECK_EQUAL(gate::nonce_of_hello(std::string(40, '\0')), "");
  // BASP's own first bytes (a 32-byte header of zeros and lengths) are
  // not a hello.
  CAF_CHECK_EQUAL(gate::nonce_of_hello(std::string(32, '\0')
                                       + std::string(8, '\xff')),
                  "");
}

CAF_TEST(the gate tells a non-answer from its first bytes) {
  auto a = gate::answer("cookie", make_nonce(), make_nonce());
  CAF_CHECK(gate::may_be_answer(""));
  CAF_CHECK(gate::may_be_answer(a.substr(0, 3)));
  CAF_CHECK(gate::may_be_answer(a));
  CAF_CHECK(!gate::may_be_answer(std::string(4, '\0')));
  CAF_CHECK(!gate::may_be_answer("GET / HTTP/1.1"));
}

CAF_TEST(bearer tokens match exactly) {
  CAF_CHECK(bearer_matches("Bearer s3cret", "s3cret"));
  CAF_CHECK(bearer_matches("bearer s3cret", "s3cret"));
  CAF_CHECK(!bearer_matches("Bearer s3cre", "s3cret"));
  CAF_CHECK(!bearer_matches("Basic s3cret", "s3cret"));
  CAF_CHECK(!bearer_matches("Bearer ", ""));
}
