// The timing loop's rules: the budget, the minimum runs, and the early stop
// of a choice that is clearly slower than the best one so far.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "measure/timing.h"
#include "runtime/cpu_runtime.h"

namespace gemmtune {
namespace {

// A timed run that returns the next of `times` (the last one again when they
// run out) and counts the runs.
struct Script {
  std::vector<double> times;
  int runs = 0;
  Expected<double> operator()(int) {
    const double t = times[std::min<std::size_t>(static_cast<std::size_t>(runs), times.size() - 1)];
    ++runs;
    return t;
  }
};

MeasureOptions options() {
  MeasureOptions o;
  o.warmup_runs = 0;  // still one warm-up run: the loop always makes one
  o.min_repeats = 5;
  o.max_repeats = 1000;
  o.budget_ms = 1.0;  // 1000 us: 100 runs of 10 us
  return o;
}

TEST(Timing, AChoiceWhoseFastestRunIsOverTheStopStopsAfterTwiceTheMinimumRuns) {
  Script s{{10.0}};
  auto t = measure::repeat_and_summarize(std::ref(s), options(), {0, 9.0});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().repeats, 10);
  EXPECT_EQ(s.runs, 1 + 10);
  EXPECT_DOUBLE_EQ(t.value().median_us, 10.0);
}

TEST(Timing, AChoiceUnderTheStopIsTimedForTheWholeBudget) {
  Script s{{10.0}};
  auto t = measure::repeat_and_summarize(std::ref(s), options(), {0, 10.5});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().repeats, 100);
  Script unlimited{{10.0}};
  auto u = measure::repeat_and_summarize(std::ref(unlimited), options());
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u.value().repeats, 100);
}

// Slow first runs (what ran before still holding the cores) do not stop a
// choice as long as one run was fast: the fastest run decides, not the
// median. Seen on the CPU: oneDNN right after OpenBLAS, 4.4 ms for its first
// runs and 0.18 ms after.
TEST(Timing, SlowFirstRunsDoNotStopAChoiceThatRanFastOnce) {
  std::vector<double> times(9, 4400.0);  // the warm-up and eight slow runs
  times.push_back(180.0);                // the ninth timed run is fast, then all
  Script slow_start{times};
  MeasureOptions o = options();
  o.budget_ms = 100.0;  // room for the slow runs: 8 x 4.4 ms
  auto t = measure::repeat_and_summarize(std::ref(slow_start), o, {0, 230.0});
  ASSERT_TRUE(t.ok());
  EXPECT_GT(t.value().repeats, 40);
  EXPECT_DOUBLE_EQ(t.value().median_us, 180.0);
}

// The stop is decided once, at 2 x min_repeats runs: a choice fast then and
// slow after is timed to the budget (its fastest run cannot rise again).
TEST(Timing, TheStopIsDecidedOnceAtTwiceTheMinimumRuns) {
  std::vector<double> times(1, 10.0);        // the warm-up
  for (int i = 0; i < 200; ++i) times.push_back(i < 5 ? 10.0 : 20.0);
  Script later{times};
  auto b = measure::repeat_and_summarize(std::ref(later), options(), {0, 12.0});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value().repeats, 5 + 48);  // the budget's 1000 us: 5 x 10 + 48 x 20 > 1000 at the 53rd
  Script all_slow{{10.0, 20.0}};  // warm-up 10, then every run 20 > 12
  auto c = measure::repeat_and_summarize(std::ref(all_slow), options(), {0, 12.0});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value().repeats, 10);
}

// The CPU runtime takes no early stop (a choice's first runs there can be
// slowed for tens of ms by the previous choice's threads): the whole budget.
TEST(Timing, TheCpuRuntimeTimesTheWholeBudgetWhateverStopItIsGiven) {
  double now_us = 0;
  runtime::CpuRuntime cpu([&] { return now_us; });
  auto run = [&](int) {
    now_us += 10;
    return Status::success();
  };
  auto t = cpu.measure(run, [](int) { return Status::success(); }, options(), 1.0);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t.value().repeats, 100);
}

// Settled (GPU timers): steady runs stop at kSettleRuns, not before; noisy
// ones (spread 20 %) run the budget; settle 0 (the CPU) never stops early.
TEST(Timing, ASettledMedianStopsAtTheSettleRunsWhenAskedAndOnlyThen) {
  Script steady{{10.0, 10.0, 10.01, 9.99}};
  auto a = measure::repeat_and_summarize(std::ref(steady), options(), {0.0025, 0});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().repeats, measure::kSettleRuns);
  Script unasked{{10.0, 10.0, 10.01, 9.99}};
  auto b = measure::repeat_and_summarize(std::ref(unasked), options());
  ASSERT_TRUE(b.ok());
  EXPECT_GT(b.value().repeats, 90);
  // Alternating 9 and 11: spread 0.2, so sqrt(runs) would need 74: never
  // within the budget's 100 runs.
  std::vector<double> noisy;
  for (int i = 0; i < 200; ++i) noisy.push_back(i % 2 ? 11.0 : 9.0);
  Script jittery{noisy};
  auto c = measure::repeat_and_summarize(std::ref(jittery), options(), {0.0025, 0});
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c.value().repeats, 90);
}

// The stops a GPU timer gets: from the best median so far and the options;
// none without a best or with --early-stop 0 (the settle rule stays).
TEST(Timing, TheEarlyStopsAreDrawnFromTheBestSoFarAndNoneWithoutOneOrWithEarlyStopZero) {
  MeasureOptions o = options();
  o.early_stop = 0.2;
  o.noise_margin = 0.01;
  const measure::EarlyEnd end = measure::early_end(o, 100.0);
  EXPECT_DOUBLE_EQ(end.settle, 0.0025);
  EXPECT_DOUBLE_EQ(end.stop_above_us, 120.0);
  EXPECT_DOUBLE_EQ(end.lose_above_us, 101.0);
  const measure::EarlyEnd first = measure::early_end(o, 0);
  EXPECT_EQ(first.stop_above_us, 0);
  EXPECT_EQ(first.lose_above_us, 0);
  o.early_stop = 0;
  const measure::EarlyEnd off = measure::early_end(o, 100.0);
  EXPECT_EQ(off.stop_above_us, 0);
  EXPECT_EQ(off.lose_above_us, 0);
  EXPECT_DOUBLE_EQ(off.settle, 0.0025);
}

// Behind (GPU timers): a choice whose median, less three standard errors,
// is still over the best median plus the tie margin stops at kSettleRuns,
// short of the early stop's 20 %; one within reach of the best runs on.
TEST(Timing, AChoiceSurelyBehindTheBestStopsAtTheSettleRunsAndOneWithinReachRunsOn) {
  auto alternating = [](double a, double b) {
    std::vector<double> out;
    for (int i = 0; i < 200; ++i) out.push_back(i % 2 ? b : a);
    return out;
  };
  // Median 11.5, spread 3.5 %: 15 % behind a best of 10 (limit 10.1).
  Script behind{alternating(11.3, 11.7)};
  auto a = measure::repeat_and_summarize(std::ref(behind), options(), {0, 12.0, 10.1});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().repeats, measure::kSettleRuns);
  // Median 10.2, spread 3.9 %: within three standard errors of 10.1.
  Script close{alternating(10.0, 10.4)};
  auto b = measure::repeat_and_summarize(std::ref(close), options(), {0, 12.0, 10.1});
  ASSERT_TRUE(b.ok());
  EXPECT_GT(b.value().repeats, 90);
  // 15 % behind but too noisy to tell (spread 52 %): the budget.
  Script noisy{alternating(8.5, 14.5)};
  auto c = measure::repeat_and_summarize(std::ref(noisy), options(), {0, 12.0, 10.1});
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c.value().repeats, 80);
}

}  // namespace
}  // namespace gemmtune
