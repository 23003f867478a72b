// Failpoints: the syntax (every malformed rule is a ConfigError naming it),
// which choices a rule picks, and what each action does to a real kernel's
// run in this process (crash and abort end the process: measured without
// isolation, that is what a user would see).
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>

#include "backends/reference/reference_backend.h"
#include "gemmtune/errors.h"
#include "measure/failpoints.h"
#include "measure/inputs.h"
#include "measure/verify.h"
#include "runtime/device_runtime.h"
#include "testing/problem_specs.h"

namespace gemmtune {
namespace {

using measure::FailAction;
using measure::Failpoints;

const std::vector<std::string> kBackends{"BLAS", "CPP", "FAKE"};

TEST(Failpoints, ParsesRulesAndTheFirstMatchingRuleApplies) {
  Failpoints f = Failpoints::parse(" CPP/cpp_*_t1x1=crash ; cpp/*=slow:2.5;*/blas_?gemm=nan;", "GEMMTUNE_FAILPOINTS",
                                   kBackends);
  ASSERT_FALSE(f.empty());
  const auto* crash = f.match("CPP", "cpp_avx2_f32_mr6_nr16_t1x1");
  ASSERT_TRUE(crash);
  EXPECT_EQ(crash->action, FailAction::crash);
  const auto* slow = f.match("CPP", "cpp_avx2_f32_mr6_nr16_t2x1");
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->action, FailAction::slow);
  EXPECT_DOUBLE_EQ(slow->slow_ms, 2.5);
  ASSERT_TRUE(f.match("BLAS", "blas_sgemm"));
  EXPECT_EQ(f.match("BLAS", "blas_sgemm")->action, FailAction::nan);
  EXPECT_FALSE(f.match("BLAS", "blas_sgemm_batched"));
  EXPECT_FALSE(f.match("FAKE", "fast"));
}

TEST(Failpoints, EveryActionIsAccepted) {
  for (const char* action : {"crash", "abort", "hang", "throw", "wrong", "nan", "slow:1", "illegal_address"})
    EXPECT_NO_THROW(Failpoints::parse(std::string("FAKE/*=") + action, "GEMMTUNE_FAILPOINTS", kBackends)) << action;
}

TEST(Failpoints, AMalformedRuleIsAConfigErrorNamingTheRule) {
  for (const char* text : {"CPP/*", "CPP=crash", "/x=crash", "CPP/=crash", "CPP/*=explode", "CPP/*=slow",
                           "CPP/*=slow:", "CPP/*=slow:0", "CPP/*=slow:-5", "CPP/*=slow:abc", "CPP/*=slow:1e12",
                           "NOPE/*=crash", "CPP/*=crash;BLAS/x"}) {
    try {
      Failpoints::parse(text, "GEMMTUNE_FAILPOINTS", kBackends);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("GEMMTUNE_FAILPOINTS"), std::string::npos) << what;
      EXPECT_NE(what.find("rule '"), std::string::npos) << what;
    }
  }
}

TEST(Failpoints, AnUnknownBackendIsNamedWithTheValidOnes) {
  try {
    Failpoints::parse("CUPS/*=crash", "GEMMTUNE_FAILPOINTS", kBackends);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("CUPS"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("BLAS, CPP, FAKE"), std::string::npos) << e.what();
  }
}

// A real kernel (the reference backend's) with each action applied, on the
// CPU runtime, verified as the tuner verifies.
class FailpointKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = std::move(measure::upload(rt_, measure::make_host_data(problem_, 7)).value());
    sample_ = std::move(measure::make_reference(rt_, problem_, set_.args(), VerifyMode::full, 7).value());
  }

  std::unique_ptr<Kernel> kernel(const std::string& action) {
    Failpoints f = Failpoints::parse("REFERENCE/*=" + action, "test", {"REFERENCE"});
    auto built = backends::make_reference_backend()->build(problem_, Choice{"reference_exact", {}}, TuningContext{});
    return measure::with_failpoint(std::move(built.value()), *f.match("REFERENCE", "reference_exact"), problem_, rt_);
  }

  Expected<double> run_and_verify(Kernel& k) {
    EXPECT_TRUE(measure::poison_output(rt_, set_));
    Status s = k.run(set_.args(), RunContext{});
    if (!s) return s.error();
    return measure::verify_output(rt_, problem_, set_, sample_);
  }

  Problem problem_ = make_problem(testing::spec(Op::addmm, 5, 7, 3, DType::f32, "nn"));
  runtime::DeviceRuntime& rt_ = runtime::cpu_runtime();
  measure::DeviceInputSet set_;
  measure::ReferenceSample sample_;
};

TEST_F(FailpointKernel, WrongAndNanAreCaughtByVerification) {
  auto wrong = run_and_verify(*kernel("wrong"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().reason, Reason::wrong_result);
  auto nan = run_and_verify(*kernel("nan"));
  ASSERT_FALSE(nan);
  EXPECT_EQ(nan.error().reason, Reason::non_finite_result);
}

TEST_F(FailpointKernel, SlowDelaysEveryRunAndStillComputesTheRightAnswer) {
  auto k = kernel("slow:30");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(run_and_verify(*k));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(ms, 30.0);
}

TEST_F(FailpointKernel, ThrowLeavesRunWithAnException) {
  auto k = kernel("throw");
  EXPECT_THROW((void)k->run(set_.args(), RunContext{}), std::runtime_error);
}

// Without isolation nothing can catch these: the process dies.
TEST_F(FailpointKernel, CrashAndAbortEndTheProcessThatRunsThem) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT((void)kernel("crash")->run(set_.args(), RunContext{}), ::testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT((void)kernel("abort")->run(set_.args(), RunContext{}), ::testing::KilledBySignal(SIGABRT), "");
  EXPECT_EXIT((void)kernel("illegal_address")->run(set_.args(), RunContext{}), ::testing::KilledBySignal(SIGSEGV), "");
}

}  // namespace
}  // namespace gemmtune
