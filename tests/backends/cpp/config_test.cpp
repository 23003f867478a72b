// The CPP backend's configuration: names, invariants, search spaces, ISA checks.
#include <gtest/gtest.h>

#include "cpp_test_support.h"

namespace gemmtune::cpp_test {
namespace {

using backends::cpp::KernelConfig;

TEST(CppConfig, NameRoundTrips) {
  KernelConfig c;
  c.mr = 14;
  c.nr = 32;
  c.kc = 256;
  c.mc = 112;
  c.nc = 1536;
  c.tm = 2;
  auto parsed = backends::cpp::parse_config_name(backends::cpp::config_name(c));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, c);
}

}  // namespace
}  // namespace gemmtune::cpp_test
