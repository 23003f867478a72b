// The tuning loop against the measuring interface alone: a fake measurer,
// injected through TunerServices, reports crashes, timeouts and times; the
// tuner keeps every rejection with its stage, selects the fastest verified
// choice, opens one measurement per problem, and hands the measurer what it
// needs (seeds, the choice timeout, the failpoints).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/tuner_impl.h"
#include "gemmtune/errors.h"
#include "isolation/fake_world.h"
#include "isolation/worker_process.h"
#include "testing/problem_specs.h"
#include "testing/scoped_env.h"

namespace gemmtune {
namespace {

struct Script {
  std::map<std::string, Rejection> rejections;  // by choice name
  std::map<std::string, double> times_us;       // by choice name
  int opens = 0;
  int measures = 0;
  std::vector<measure::MeasureSettings> settings;
  std::vector<double> best_us;  // as each measure() was given it
  bool fail_to_start = false;
};

class FakeMeasurer final : public measure::Measurer {
 public:
  explicit FakeMeasurer(std::shared_ptr<Script> script) : script_(std::move(script)) {}

  std::unique_ptr<measure::ProblemMeasurer> open(const Problem&, const measure::MeasureSettings& settings) override {
    ++script_->opens;
    script_->settings.push_back(settings);
    return std::make_unique<Problem_>(script_);
  }

 private:
  class Problem_ final : public measure::ProblemMeasurer {
   public:
    explicit Problem_(std::shared_ptr<Script> script) : script_(std::move(script)) {}
    ChoiceOutcome measure(const Backend& backend, const Choice& choice, double best_us) override {
      script_->best_us.push_back(best_us);
      ++script_->measures;
      if (script_->fail_to_start) throw isolation::WorkerStartError(Device{}, "the fake worker cannot start");
      ChoiceOutcome out = measure::outcome_for(backend.name(), choice);
      if (auto it = script_->rejections.find(choice.name); it != script_->rejections.end()) {
        out.rejection = it->second;
        return out;
      }
      const double t = script_->times_us.count(choice.name) ? script_->times_us.at(choice.name) : 100.0;
      out.timing = Timing{t, t, t, 0, 5};
      return out;
    }

   private:
    std::shared_ptr<Script> script_;
  };
  std::shared_ptr<Script> script_;
};

runtime::DeviceRuntime& world_runtime(Device) { return isolation_testing::fake_runtime(); }

Tuner tuner(std::shared_ptr<Script> script, TuneOptions o = {}) {
  o.use_cache = false;
  o.threads = 1;
  o.on_warning = [](const std::string&) {};
  return make_tuner(std::move(o), TunerServices{isolation_testing::world_backends(), world_runtime, {},
                                                std::make_shared<FakeMeasurer>(std::move(script))});
}

Problem problem(std::int64_t m = 8) { return make_problem(testing::spec(Op::mm, m, 8, 8)); }

TEST(MeasuringInterface, TheFastestChoiceTheMeasurerVerifiedWinsAndEveryRejectionKeepsItsStage) {
  auto script = std::make_shared<Script>();
  script->rejections["fast"] = Rejection{Stage::crash, Reason::crashed, "killed by SIGSEGV"};
  script->rejections["medium"] = Rejection{Stage::timeout, Reason::timed_out, "no answer"};
  script->times_us = {{"slow", 30}, {"other", 40}};
  TuneResult r = tuner(script).tune(problem());
  ASSERT_TRUE(r.record.winner);
  EXPECT_EQ(r.record.winner->choice, "slow");
  std::map<std::string, Stage> stages;
  for (const auto& c : r.record.choices)
    if (c.rejection) stages[c.name] = c.rejection->stage;
  EXPECT_EQ(stages, (std::map<std::string, Stage>{{"fast", Stage::crash}, {"medium", Stage::timeout}}));
}

TEST(MeasuringInterface, NothingVerifiedIsNoValidChoicesListingEveryStage) {
  auto script = std::make_shared<Script>();
  script->rejections["fast"] = Rejection{Stage::crash, Reason::crashed, "killed by SIGSEGV"};
  script->rejections["medium"] = Rejection{Stage::timeout, Reason::timed_out, "no answer"};
  script->rejections["slow"] = Rejection{Stage::verify, Reason::wrong_result, "C[0,0] is off"};
  script->rejections["other"] = Rejection{Stage::run, Reason::runtime_error, "illegal address"};
  try {
    tuner(script).tune(problem());
    FAIL() << "expected NoValidChoicesError";
  } catch (const NoValidChoicesError& e) {
    const std::string report = e.what();
    for (const char* text : {"crash/crashed", "timeout/timed_out", "verify/wrong_result", "run/runtime_error"})
      EXPECT_NE(report.find(text), std::string::npos) << text << " missing from:\n" << report;
  }
}

TEST(MeasuringInterface, OneMeasurementIsOpenedPerProblemAndEveryChoiceGoesThroughIt) {
  auto script = std::make_shared<Script>();
  Tuner t = tuner(script);
  t.tune(problem(4));
  t.tune(problem(8));
  EXPECT_EQ(script->opens, 2);
  EXPECT_EQ(script->measures, 8);  // four choices each
  // Fresh inputs for each tuning, the same for every choice of one problem.
  EXPECT_NE(script->settings[0].input_seed, script->settings[1].input_seed);
}

// Early stop: the first choice timed is given no best; each later one the
// best median so far (the runtime draws its stops from it and the options:
// measure::early_end, Timing tests).
TEST(MeasuringInterface, EachChoiceIsGivenTheBestMedianSoFar) {
  for (double early_stop : {0.2, 0.0}) {
    auto script = std::make_shared<Script>();
    script->times_us = {{"fast", 50}, {"medium", 40}, {"slow", 80}, {"other", 30}};
    TuneOptions o;
    o.measure.early_stop = early_stop;
    TuneResult r = tuner(script, o).tune(problem());
    ASSERT_EQ(script->best_us.size(), r.record.choices.size());
    ASSERT_EQ(script->settings.size(), 1u);
    EXPECT_EQ(script->settings[0].options.early_stop, early_stop) << "the measurer gets the user's early stop";
    double best = 0;
    for (std::size_t i = 0; i < r.record.choices.size(); ++i) {
      EXPECT_DOUBLE_EQ(script->best_us[i], best) << r.record.choices[i].name << " early_stop " << early_stop;
      ASSERT_TRUE(r.record.choices[i].timing);
      const double t = r.record.choices[i].timing->median_us;
      if (best == 0 || t < best) best = t;
    }
  }
}

TEST(MeasuringInterface, TheMeasurerGetsTheDeviceDefaultTimeoutOrTheOneAskedFor) {
  auto script = std::make_shared<Script>();
  tuner(script).tune(problem());
  ASSERT_TRUE(script->settings.back().options.choice_timeout_ms);
  EXPECT_EQ(*script->settings.back().options.choice_timeout_ms, kDefaultCpuChoiceTimeoutSeconds * 1000.0);
  TuneOptions o;
  o.measure.choice_timeout_ms = 2500;
  o.failpoints = "FAKE/fast=slow:3";
  tuner(script, o).tune(problem());
  EXPECT_EQ(*script->settings.back().options.choice_timeout_ms, 2500);
  ASSERT_TRUE(script->settings.back().failpoints);
  EXPECT_EQ(script->settings.back().failpoints->text(), "FAKE/fast=slow:3");
}

TEST(MeasuringInterface, AWorkerThatCannotStartStopsTheTuningWithItsReason) {
  auto script = std::make_shared<Script>();
  script->fail_to_start = true;
  Tuner t = tuner(script);
  try {
    t.tune(problem());
    FAIL() << "expected WorkerStartError";
  } catch (const isolation::WorkerStartError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot start"), std::string::npos);
  }
}

using testing::ScopedEnv;

// Without a worker executable beside this test binary, an explicit request
// for isolation is an error found before any work; the default measures in
// process instead (with a warning).
TEST(IsolationSetting, ExplicitProcessIsolationWithoutAWorkerIsAConfigErrorThatSaysWhere) {
  ScopedEnv worker("GEMMTUNE_WORKER", nullptr);
  ScopedEnv isolation("GEMMTUNE_ISOLATION", "process");
  try {
    Tuner t(TuneOptions{}, isolation_testing::world_backends());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("GEMMTUNE_ISOLATION"), std::string::npos) << what;
    EXPECT_NE(what.find("gemmtune-worker"), std::string::npos) << what;
    EXPECT_NE(what.find("GEMMTUNE_WORKER"), std::string::npos) << what;
  }
}

TEST(IsolationSetting, DefaultIsolationWithoutAWorkerMeasuresInProcess) {
  ScopedEnv worker("GEMMTUNE_WORKER", nullptr);
  ScopedEnv isolation("GEMMTUNE_ISOLATION", nullptr);
  TuneOptions o;
  o.use_cache = false;
  o.backends = std::vector<std::string>{"FAKE"};
  o.on_warning = [](const std::string&) {};
  Tuner t(o, isolation_testing::fake_backends(std::make_shared<testing::FakeClock>()));
  EXPECT_TRUE(t.tune(problem()).record.winner);
}

// A program's own backend cannot be built by a measuring worker (the worker
// knows gemmtune's backends only): its choices are measured in process, even
// where a worker exists. /bin/true as the worker would fail any measuring.
TEST(IsolationSetting, ProgramsOwnBackendIsMeasuredInProcessEvenWhereAWorkerExists) {
  ScopedEnv worker("GEMMTUNE_WORKER", "/bin/true");
  ScopedEnv isolation("GEMMTUNE_ISOLATION", nullptr);
  TuneOptions o;
  o.use_cache = false;
  o.backends = std::vector<std::string>{"FAKE"};
  std::vector<std::string> warnings;
  o.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  Tuner t(o, isolation_testing::fake_backends(std::make_shared<testing::FakeClock>()));
  EXPECT_TRUE(t.tune(problem()).record.winner);
  EXPECT_TRUE(warnings.empty()) << "the default needs no warning: " << warnings.front();
}

TEST(IsolationSetting, MalformedSettingsAreConfigErrorsNamingTheVariable) {
  {
    ScopedEnv bad("GEMMTUNE_ISOLATION", "sometimes");
    EXPECT_THROW(Tuner(TuneOptions{}, isolation_testing::world_backends()), ConfigError);
  }
  for (const char* text : {"0", "-1", "abc", "1e9", "nan", "inf"}) {
    ScopedEnv bad("GEMMTUNE_CHOICE_TIMEOUT", text);
    try {
      Tuner t(TuneOptions{}, isolation_testing::world_backends());
      FAIL() << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("GEMMTUNE_CHOICE_TIMEOUT"), std::string::npos) << e.what();
    }
  }
  {
    ScopedEnv worker("GEMMTUNE_WORKER", "/nonexistent/worker");
    ScopedEnv isolation("GEMMTUNE_ISOLATION", nullptr);
    EXPECT_THROW(Tuner(TuneOptions{}, isolation_testing::world_backends()), ConfigError);
  }
  TuneOptions zero;
  zero.measure.choice_timeout_ms = 0;
  EXPECT_THROW(Tuner(zero, isolation_testing::world_backends()), ConfigError);
}

}  // namespace
}  // namespace gemmtune
