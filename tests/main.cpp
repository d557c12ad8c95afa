// The test engine and main() of the test binaries.
#include <caf/test/unit_test_impl.hpp>
