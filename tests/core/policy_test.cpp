// The policy, end to end through the tuner, with fake backends and a fake
// clock: the enabled set is law, rejections are kept with their stage,
// fallback is opt-in and loud, cache hits obey the same law.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/tuner_impl.h"
#include "gemmtune/errors.h"
#include "store/store.h"
#include "testing/fake_backend.h"
#include "testing/scoped_env.h"

namespace gemmtune {
namespace {

using testing::FakeBackend;
using testing::FakeBackendSpec;
using testing::FakeBehavior;
using testing::FakeChoice;
using testing::FakeClock;
using testing::ScopedEnv;

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The policy must not depend on the developer's environment.
    env_.emplace_back(std::make_unique<ScopedEnv>("GEMMTUNE_BACKENDS", nullptr));
    env_.emplace_back(std::make_unique<ScopedEnv>("GEMMTUNE_FALLBACK_TO_LIBRARY", nullptr));
    env_.emplace_back(std::make_unique<ScopedEnv>("GEMMTUNE_SEARCH_SPACE", nullptr));
  }

  std::shared_ptr<FakeBackend> add(std::string name, std::vector<FakeChoice> choices) {
    FakeBackendSpec spec;
    spec.name = std::move(name);
    spec.choices = std::move(choices);
    auto backend = std::make_shared<FakeBackend>(spec, clock_);
    backends_.push_back(backend);
    return backend;
  }

  TuneOptions options(std::vector<std::string> enabled = {}) {
    TuneOptions o;
    if (!enabled.empty()) o.backends = enabled;
    o.use_cache = false;
    o.measure.budget_ms = 0.2;
    o.measure.min_repeats = 3;
    o.measure.warmup_runs = 1;
    o.threads = 1;
    o.on_warning = [this](const std::string& m) { warnings_.push_back(m); };
    return o;
  }

  TuneOptions cached_options(std::vector<std::string> enabled = {}) {
    TuneOptions o = options(std::move(enabled));
    o.use_cache = true;
    o.db_path = db_path_;
    return o;
  }

  Tuner tuner(TuneOptions o) {
    std::vector<std::shared_ptr<Backend>> list(backends_.begin(), backends_.end());
    return make_tuner(std::move(o), TunerServices{list, [this](Device) -> runtime::DeviceRuntime& { return *rt_; }, {}});
  }

  static Problem problem(Op op = Op::mm) {
    ProblemSpec s;
    s.op = op;
    s.m = 5;
    s.n = 7;
    s.k = 9;
    return make_problem(s);
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<runtime::CpuRuntime> rt_ = testing::make_fake_cpu_runtime(clock_);
  std::vector<std::shared_ptr<FakeBackend>> backends_;
  std::vector<std::string> warnings_;
  std::vector<std::unique_ptr<ScopedEnv>> env_;
  std::string db_path_ = (std::filesystem::path(::testing::TempDir()) /
                          ("policy-" + std::to_string(::getpid()) + "-" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db"))
                             .string();
};

TEST_F(PolicyTest, FastestVerifiedChoiceWins) {
  add("BLAS", {{"blas_slow", 50}});
  add("CPP", {{"cpp_fast", 10}, {"cpp_medium", 20}});
  auto result = tuner(options()).tune(problem());
  ASSERT_TRUE(result.record.winner);
  EXPECT_EQ(result.record.winner->backend, "CPP");
  EXPECT_EQ(result.record.winner->choice, "cpp_fast");
  EXPECT_DOUBLE_EQ(result.record.winner->time_us, 10);
  EXPECT_EQ(result.record.choices.size(), 3u);
  EXPECT_FALSE(result.record.fallback);
}

TEST_F(PolicyTest, DisabledBackendIsNeverRunEvenWhenFaster) {
  auto blas = add("BLAS", {{"blas_sgemm", 50}});
  auto cpp = add("CPP", {{"cpp_fast", 1}});
  auto result = tuner(options({"BLAS"})).tune(problem());
  EXPECT_EQ(result.record.winner->backend, "BLAS");
  EXPECT_EQ(cpp->builds(), 0);
  EXPECT_EQ(cpp->runs(), 0);
  for (const auto& c : result.record.choices) EXPECT_NE(c.backend, "CPP");
}

TEST_F(PolicyTest, WrongResultIsRejectedAtVerifyAndCannotWinEvenIfFastest) {
  add("BLAS", {{"blas_sgemm", 50}});
  add("CPP", {{"cpp_wrong", 1, FakeBehavior::wrong_result}, {"cpp_nan", 1, FakeBehavior::nan_result}});
  auto result = tuner(options()).tune(problem());
  EXPECT_EQ(result.record.winner->choice, "blas_sgemm");
  for (const auto& c : result.record.choices) {
    if (c.name == "cpp_wrong") {
      ASSERT_TRUE(c.rejection);
      EXPECT_EQ(c.rejection->stage, Stage::verify);
      EXPECT_EQ(c.rejection->reason, Reason::wrong_result);
      EXPECT_NE(c.rejection->message.find("C[4,6]"), std::string::npos) << c.rejection->message;
    }
    if (c.name == "cpp_nan") {
      ASSERT_TRUE(c.rejection);
      EXPECT_EQ(c.rejection->reason, Reason::non_finite_result);
      EXPECT_FALSE(c.timing);
    }
  }
}

TEST_F(PolicyTest, BuildAndRunFailuresAreKeptWithTheirStage) {
  add("CPP", {{"cpp_build", 1, FakeBehavior::build_fails}, {"cpp_run", 1, FakeBehavior::run_fails},
              {"cpp_ok", 30}});
  auto result = tuner(options({"CPP"})).tune(problem());
  EXPECT_EQ(result.record.winner->choice, "cpp_ok");
  std::map<std::string, Stage> stages;
  for (const auto& c : result.record.choices)
    if (c.rejection) stages[c.name] = c.rejection->stage;
  EXPECT_EQ(stages.at("cpp_build"), Stage::build);
  EXPECT_EQ(stages.at("cpp_run"), Stage::run);
}

TEST_F(PolicyTest, NoValidChoicesReportsEveryBackendAndChoiceWithHint) {
  auto blas = add("BLAS", {{"blas_sgemm", 50}});
  auto cpp = add("CPP", {{"cpp_wrong", 1, FakeBehavior::wrong_result}, {"cpp_broken", 1, FakeBehavior::build_fails}});
  FakeBackendSpec rejecting;
  rejecting.name = "ONEDNN";
  rejecting.rejects = reject(Reason::unsupported_dtype, "fake: f32 not supported");
  backends_.push_back(std::make_shared<FakeBackend>(rejecting, clock_));
  try {
    tuner(options({"CPP", "ONEDNN"})).tune(problem());
    FAIL() << "expected NoValidChoicesError";
  } catch (const NoValidChoicesError& e) {
    const std::string report = e.what();
    EXPECT_NE(report.find("cpp_wrong"), std::string::npos) << report;
    EXPECT_NE(report.find("verify/wrong_result"), std::string::npos) << report;
    EXPECT_NE(report.find("build/compile_error"), std::string::npos) << report;
    EXPECT_NE(report.find("enumerate/unsupported_dtype: fake: f32 not supported"), std::string::npos) << report;
    ASSERT_EQ(e.hints().size(), 1u);
    EXPECT_EQ(e.hints()[0].backend, "BLAS");
    EXPECT_NE(report.find("BLAS (1 choice)"), std::string::npos) << report;
    EXPECT_EQ(e.record().choices.size(), 2u);
  }
  EXPECT_EQ(blas->runs(), 0) << "strict by default: the library backend must not run";
}

TEST_F(PolicyTest, FallbackToLibraryOnlyWhenAskedAndLoud) {
  auto blas = add("BLAS", {{"blas_sgemm", 50}});
  add("CPP", {{"cpp_wrong", 1, FakeBehavior::wrong_result}});
  EXPECT_THROW(tuner(options({"CPP"})).tune(problem()), NoValidChoicesError);
  EXPECT_EQ(blas->runs(), 0);
  EXPECT_TRUE(warnings_.empty());

  TuneOptions o = options({"CPP"});
  o.fallback_to_library = true;
  auto result = tuner(o).tune(problem());
  EXPECT_TRUE(result.record.fallback);
  EXPECT_EQ(result.record.winner->backend, "BLAS");
  EXPECT_GT(blas->runs(), 0);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("FALLBACK"), std::string::npos);
  EXPECT_NE(warnings_[0].find(describe(problem())), std::string::npos);
  EXPECT_NE(warnings_[0].find("GEMMTUNE_FALLBACK_TO_LIBRARY"), std::string::npos);
}

TEST_F(PolicyTest, AFallbackThatFailsTooIsNoFallbackButSaysItWasTried) {
  // `fallback: true` means the library served; a failed attempt is no such
  // result (a filter on fallback == true must not pick up failures).
  add("BLAS", {{"blas_broken", 50, FakeBehavior::wrong_result}});
  add("CPP", {{"cpp_wrong", 1, FakeBehavior::wrong_result}});
  TuneOptions o = options({"CPP"});
  o.fallback_to_library = true;
  try {
    tuner(o).tune(problem());
    ADD_FAILURE() << "a wrong library choice served";
  } catch (const NoValidChoicesError& e) {
    EXPECT_FALSE(e.record().fallback);
    EXPECT_NE(e.record().fallback_reason.find("failed too"), std::string::npos) << e.record().fallback_reason;
    EXPECT_NE(std::string(e.what()).find("fallback to the library backend was on but it failed too"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(PolicyTest, AStoredFallbackResultIsAsLoudWhenReusedAsWhenTuned) {
  add("BLAS", {{"blas_sgemm", 50}});
  add("CPP", {{"cpp_wrong", 1, FakeBehavior::wrong_result}});
  TuneOptions o = cached_options({"CPP"});
  o.fallback_to_library = true;
  ASSERT_TRUE(tuner(o).tune(problem()).record.fallback);
  warnings_.clear();
  auto again = tuner(o).tune(problem());
  EXPECT_TRUE(again.cache_hit);
  ASSERT_EQ(warnings_.size(), 1u) << "the library served in silence";
  EXPECT_NE(warnings_[0].find("FALLBACK"), std::string::npos) << warnings_[0];
  EXPECT_NE(warnings_[0].find("stored result"), std::string::npos) << warnings_[0];
}

TEST_F(PolicyTest, TheLibraryBackendIsAskedItsVersionOnlyWhenTheFallbackIsAllowed) {
  // Asking cuBLAS its version loads it (~0.05 s): a run that cannot use a
  // fallback record must not pay for it.
  auto blas = add("BLAS", {{"blas_sgemm", 50}});
  add("CPP", {{"cpp_fast", 1}});
  EXPECT_EQ(tuner(options({"CPP"})).tune(problem()).record.winner->backend, "CPP");
  EXPECT_EQ(blas->version_calls(), 0);
  TuneOptions o = options({"CPP"});
  o.fallback_to_library = true;
  tuner(o).tune(problem());
  EXPECT_GT(blas->version_calls(), 0);
}

TEST_F(PolicyTest, FallbackKillSwitchEnvironmentVariable) {
  add("BLAS", {{"blas_sgemm", 50}});
  add("CPP", {{"cpp_broken", 1, FakeBehavior::run_fails}});
  ScopedEnv on("GEMMTUNE_FALLBACK_TO_LIBRARY", "1");
  auto result = tuner(options({"CPP"})).tune(problem());
  EXPECT_TRUE(result.record.fallback);
  ScopedEnv off("GEMMTUNE_FALLBACK_TO_LIBRARY", "0");
  EXPECT_THROW(tuner(options({"CPP"})).tune(problem()), NoValidChoicesError);
  ScopedEnv bad("GEMMTUNE_FALLBACK_TO_LIBRARY", "maybe");
  EXPECT_THROW(tuner(options({"CPP"})), ConfigError);
}

TEST_F(PolicyTest, ExplicitOptionBeatsEnvironmentWhichBeatsDefault) {
  add("BLAS", {{"blas_sgemm", 50}});
  add("CPP", {{"cpp_fast", 1}});
  EXPECT_EQ(tuner(options()).enabled(), (std::vector<std::string>{"BLAS", "CPP"}));
  ScopedEnv env("GEMMTUNE_BACKENDS", "cpp");
  EXPECT_EQ(tuner(options()).enabled(), (std::vector<std::string>{"CPP"}));
  EXPECT_EQ(tuner(options({"blas"})).enabled(), (std::vector<std::string>{"BLAS"}));
}

TEST_F(PolicyTest, CompileThreadsComeFromTheOptionThenTheEnvironmentAndBadValuesAreErrors) {
  auto cpp = add("CPP", {{"cpp_fast", 1}});
  ScopedEnv unset("GEMMTUNE_COMPILE_THREADS", nullptr);
  tuner(options()).tune(problem());
  EXPECT_GE(cpp->last_compile_threads(), 1);  // default: every CPU
  ScopedEnv env("GEMMTUNE_COMPILE_THREADS", "3");
  tuner(options()).tune(problem());
  EXPECT_EQ(cpp->last_compile_threads(), 3);
  TuneOptions o = options();
  o.compile_threads = 5;
  tuner(o).tune(problem());
  EXPECT_EQ(cpp->last_compile_threads(), 5);
  o.compile_threads = 0;
  EXPECT_THROW(tuner(o), ConfigError);
  for (const char* bad : {"0", "-2", "four", "3x"}) {
    ScopedEnv malformed("GEMMTUNE_COMPILE_THREADS", bad);
    try {
      tuner(options());
      ADD_FAILURE() << "GEMMTUNE_COMPILE_THREADS=" << bad << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("GEMMTUNE_COMPILE_THREADS"), std::string::npos) << e.what();
    }
  }
}

TEST_F(PolicyTest, MoreMinimumThanMaximumRepeatsIsAConfigErrorBeforeAnyWork) {
  auto cpp = add("CPP", {{"cpp_fast", 10}});
  TuneOptions o = options();
  o.measure.min_repeats = 10;
  o.measure.max_repeats = 5;
  try {
    tuner(o);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("more than max_repeats"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cpp->runs(), 0);
}

TEST_F(PolicyTest, UnknownBackendNameIsAnErrorListingTheValidNames) {
  add("BLAS", {{"blas_sgemm", 50}});
  add("CPP", {{"cpp_fast", 1}});
  try {
    tuner(options({"BLAS", "CUTLAS"}));
    FAIL() << "unknown name accepted";
  } catch (const ConfigError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("CUTLAS"), std::string::npos);
    EXPECT_NE(m.find("BLAS, CPP"), std::string::npos) << m;
  }
  ScopedEnv env("GEMMTUNE_BACKENDS", "blas,nope");
  EXPECT_THROW(tuner(options()), ConfigError);
}

TEST_F(PolicyTest, DefaultSetSkipsReferenceAndUnavailableBackends) {
  add("REFERENCE", {{"reference_exact", 100}});
  add("BLAS", {{"blas_sgemm", 50}});
  auto off = add("ONEDNN", {{"onednn_plain", 1}});
  off->spec().available = false;
  EXPECT_EQ(tuner(options()).enabled(), (std::vector<std::string>{"BLAS"}));
}

TEST_F(PolicyTest, UnavailableEnabledBackendIsReportedAtAvailabilityStage) {
  auto off = add("ONEDNN", {{"onednn_plain", 1}});
  off->spec().available = false;
  off->spec().unavailable_why = "libdnnl.so.2 missing";
  try {
    tuner(options({"ONEDNN"})).tune(problem());
    FAIL();
  } catch (const NoValidChoicesError& e) {
    ASSERT_EQ(e.record().backends.size(), 1u);
    ASSERT_TRUE(e.record().backends[0].rejection);
    EXPECT_EQ(e.record().backends[0].rejection->stage, Stage::availability);
    EXPECT_NE(std::string(e.what()).find("libdnnl.so.2 missing"), std::string::npos);
  }
}

TEST_F(PolicyTest, BackendOfAnotherDeviceRejectsWithWrongDevice) {
  FakeBackendSpec gpu;
  gpu.name = "CUBLAS";
  gpu.device = DeviceKind::cuda;
  gpu.choices = {{"cublas_default", 1}};
  backends_.push_back(std::make_shared<FakeBackend>(gpu, clock_));
  try {
    tuner(options({"CUBLAS"})).tune(problem());
    FAIL();
  } catch (const NoValidChoicesError& e) {
    EXPECT_EQ(e.record().backends[0].rejection->reason, Reason::wrong_device);
  }
}

TEST_F(PolicyTest, TiesWithinTheMeasuredNoiseGoToTheEarlierBackend) {
  // Both jitter by about 2%: a 0.5% difference is noise, capped at the 1% margin.
  add("BLAS", {{"blas_sgemm", 100.5, FakeBehavior::correct, 1.0}});
  add("CPP", {{"cpp_b", 100, FakeBehavior::correct, 1.0}, {"cpp_a", 100, FakeBehavior::correct, 1.0}});
  TuneOptions o = options();
  o.measure.min_repeats = 20;  // an even count: half the runs on each side of the jitter
  auto result = tuner(o).tune(problem());
  EXPECT_EQ(result.record.winner->backend, "BLAS");
  o.backends = std::vector<std::string>{"CPP"};
  result = tuner(o).tune(problem());
  EXPECT_EQ(result.record.winner->choice, "cpp_a");  // then by name
}

TEST_F(PolicyTest, QuietMeasurementsPickTheFasterEvenWithinTheMargin) {
  // No jitter: 0.5% apart is a real difference the timer can see.
  add("BLAS", {{"blas_sgemm", 100.5}});
  add("CPP", {{"cpp_fast", 100}});
  EXPECT_EQ(tuner(options()).tune(problem()).record.winner->backend, "CPP");
}

TEST_F(PolicyTest, NoisyButClearlySlowerChoiceDoesNotTie) {
  add("BLAS", {{"blas_sgemm", 110, FakeBehavior::correct, 5.0}});
  add("CPP", {{"cpp_fast", 100, FakeBehavior::correct, 5.0}});
  EXPECT_EQ(tuner(options()).tune(problem()).record.winner->backend, "CPP");  // 10% > 1% cap
}

TEST_F(PolicyTest, InvalidProblemIsRejectedBeforeAnyBackendRuns) {
  auto cpp = add("CPP", {{"cpp_fast", 1}});
  Problem p = problem();
  p.k = -3;
  EXPECT_THROW(tuner(options()).tune(p), InvalidProblemError);
  EXPECT_EQ(cpp->builds(), 0);
}

TEST_F(PolicyTest, SelectionRunFailureThrowsAndNeverCallsAnotherBackend) {
  auto blas = add("BLAS", {{"blas_sgemm", 50}});
  auto cpp = add("CPP", {{"cpp_fast", 1}});
  Selection selection = tuner(options()).select(problem());
  EXPECT_EQ(selection.backend(), "CPP");
  alignas(64) float a[64], b[64], c[64];
  for (int i = 0; i < 64; ++i) a[i] = b[i] = 0.5f;
  EXPECT_NO_THROW(selection.run(GemmArgs{a, b, c}));
  EXPECT_FLOAT_EQ(c[0], 9 * 0.25f);

  const int blas_runs = blas->runs();
  cpp->fail_all_runs(true);
  EXPECT_THROW(selection.run(GemmArgs{a, b, c}), KernelRunError);
  EXPECT_EQ(blas->runs(), blas_runs);
  EXPECT_THROW(selection.run(GemmArgs{a, nullptr, c}), InvalidProblemError);
}

TEST_F(PolicyTest, SecondIdenticalRequestIsACacheHitThatRunsNoBenchmark) {
  auto cpp = add("CPP", {{"cpp_fast", 10}});
  auto first = tuner(cached_options()).tune(problem());
  EXPECT_FALSE(first.cache_hit);
  const int runs = cpp->runs();
  auto second = tuner(cached_options()).tune(problem());
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(cpp->runs(), runs);
  EXPECT_EQ(second.record.winner->choice, "cpp_fast");
  EXPECT_EQ(second.record.choices.size(), first.record.choices.size());
}

TEST_F(PolicyTest, AResultTunedWithoutVerificationIsNotReusedByATuningThatVerifies) {
  // With --verify off a wrong choice can win (nothing checks it); a later
  // tuning that verifies must not take that winner from the store.
  add("BLAS", {{"blas_sgemm", 50}});
  add("CPP", {{"cpp_wrong", 1, FakeBehavior::wrong_result}});
  TuneOptions unverified = cached_options();
  unverified.verify = VerifyMode::off;
  auto first = tuner(unverified).tune(problem());
  ASSERT_EQ(first.record.winner->choice, "cpp_wrong");
  EXPECT_FALSE(first.record.verified);
  EXPECT_TRUE(tuner(unverified).tune(problem()).cache_hit) << "the same settings reuse it";

  warnings_.clear();
  auto verified = tuner(cached_options()).tune(problem());
  EXPECT_FALSE(verified.cache_hit);
  EXPECT_EQ(verified.record.winner->choice, "blas_sgemm");
  EXPECT_TRUE(verified.record.verified);
  ASSERT_FALSE(warnings_.empty());
  EXPECT_NE(warnings_[0].find("verification off"), std::string::npos) << warnings_[0];
  // The verified result replaced it, and a verify-off tuning may use that.
  EXPECT_TRUE(tuner(cached_options()).tune(problem()).cache_hit);
  auto later = tuner(unverified).tune(problem());
  EXPECT_TRUE(later.cache_hit);
  EXPECT_EQ(later.record.winner->choice, "blas_sgemm");
}

TEST_F(PolicyTest, DisabledBackendNeverChosenEvenOnCacheHit) {
  // A fallback record names BLAS, which the user did not enable. Once the
  // fallback switch is off, that stored winner must not be returned.
  auto blas = add("BLAS", {{"blas_sgemm", 50}});
  add("CPP", {{"cpp_wrong", 1, FakeBehavior::wrong_result}});
  TuneOptions with_fallback = cached_options({"CPP"});
  with_fallback.fallback_to_library = true;
  auto first = tuner(with_fallback).tune(problem());
  ASSERT_TRUE(first.record.fallback);
  EXPECT_TRUE(tuner(with_fallback).tune(problem()).cache_hit);

  warnings_.clear();
  EXPECT_THROW(tuner(cached_options({"CPP"})).tune(problem()), NoValidChoicesError);
  ASSERT_FALSE(warnings_.empty());
  EXPECT_NE(warnings_[0].find("fallback"), std::string::npos) << warnings_[0];
}

TEST_F(PolicyTest, StoredWinnerFromADisabledBackendIsIgnoredEvenUnderTheSameKey) {
  // A tampered or imported record: same key, winner from a backend that is
  // not enabled now. The record itself is checked, not only its key.
  add("BLAS", {{"blas_sgemm", 50}});
  auto cpp = add("CPP", {{"cpp_fast", 10}});
  auto first = tuner(cached_options({"CPP"})).tune(problem());
  TuningRecord forged = first.record;
  forged.winner->backend = "BLAS";
  forged.winner->choice = "blas_sgemm";
  auto store = store::Store::open(db_path_, [](const std::string&) {});
  store->save(forged);
  auto again = tuner(cached_options({"CPP"})).tune(problem());
  EXPECT_FALSE(again.cache_hit);
  EXPECT_EQ(again.record.winner->backend, "CPP");
}

TEST_F(PolicyTest, ChangedBackendVersionMissesTheCache) {
  auto cpp = add("CPP", {{"cpp_fast", 10}});
  tuner(cached_options()).tune(problem());
  cpp->spec().version = "fake-2";
  EXPECT_FALSE(tuner(cached_options()).tune(problem()).cache_hit);
}

TEST_F(PolicyTest, ExplainListsChoicesAndHintsWithoutRunningAnything) {
  auto blas = add("BLAS", {{"blas_sgemm", 50}});
  auto cpp = add("CPP", {{"cpp_a", 1}, {"cpp_b", 2}});
  auto explanation = tuner(options({"CPP"})).explain(problem());
  EXPECT_EQ(explanation.record.choices.size(), 2u);
  ASSERT_EQ(explanation.disabled_would_serve.size(), 1u);
  EXPECT_EQ(explanation.disabled_would_serve[0].backend, "BLAS");
  EXPECT_EQ(cpp->builds(), 0);
  EXPECT_EQ(blas->builds(), 0);
}

}  // namespace
}  // namespace gemmtune
