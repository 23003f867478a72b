// The timing loop's rules: the budget, the minimum runs, and the early stop
// of a choice that is clearly slower than the best one so far.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "measure/timing.h"

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

MeasureOptions options(double stop_above_us) {
  MeasureOptions o;
  o.warmup_runs = 0;  // still one warm-up run: the loop always makes one
  o.min_repeats = 5;
  o.max_repeats = 1000;
  o.budget_ms = 1.0;  // 1000 us: 100 runs of 10 us
  o.stop_above_us = stop_above_us;
  return o;
}

TEST(Timing, AChoiceOverTheStopMedianStopsAfterTheMinimumRuns) {
  Script s{{10.0}};
  auto t = measure::repeat_and_summarize(std::ref(s), options(9.0));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().repeats, 5);
  EXPECT_EQ(s.runs, 1 + 5);
  EXPECT_DOUBLE_EQ(t.value().median_us, 10.0);
}

TEST(Timing, AChoiceUnderTheStopMedianIsTimedForTheWholeBudget) {
  Script s{{10.0}};
  auto t = measure::repeat_and_summarize(std::ref(s), options(10.5));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().repeats, 100);
  Script unlimited{{10.0}};
  auto u = measure::repeat_and_summarize(std::ref(unlimited), options(0));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u.value().repeats, 100);
}

// One slow outlier in the first runs does not stop a choice (the median
// decides), and a choice that turns slow later is stopped at a doubling.
TEST(Timing, TheStopLooksAtTheMedianAgainAtEachDoublingOfTheRuns) {
  Script outlier{{10.0, 50.0, 50.0, 10.0}};  // the warm-up, then two slow runs among the first five
  auto a = measure::repeat_and_summarize(std::ref(outlier), options(12.0));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().repeats, 92);  // the budget's 1000 us: 50 + 50 + 90 x 10
  // Runs after the warm-up: 5 fast ones, then slow ones; at 10 runs the
  // median is (10 + 20) / 2 = 15 > 12: stop there.
  Script later{{10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 20.0}};
  auto b = measure::repeat_and_summarize(std::ref(later), options(12.0));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value().repeats, 10);
}

// Settled (GPU timers): steady runs stop at kSettleRuns, not before; noisy
// ones (spread 20 %) run the budget; settle 0 (the CPU) never stops early.
TEST(Timing, ASettledMedianStopsAtTheSettleRunsWhenAskedAndOnlyThen) {
  Script steady{{10.0, 10.0, 10.01, 9.99}};
  auto a = measure::repeat_and_summarize(std::ref(steady), options(0), 0.0025);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().repeats, measure::kSettleRuns);
  Script unasked{{10.0, 10.0, 10.01, 9.99}};
  auto b = measure::repeat_and_summarize(std::ref(unasked), options(0), 0);
  ASSERT_TRUE(b.ok());
  EXPECT_GT(b.value().repeats, 90);
  // Alternating 9 and 11: spread 0.2, so sqrt(runs) would need 74: never
  // within the budget's 100 runs.
  std::vector<double> noisy;
  for (int i = 0; i < 200; ++i) noisy.push_back(i % 2 ? 11.0 : 9.0);
  Script jittery{noisy};
  auto c = measure::repeat_and_summarize(std::ref(jittery), options(0), 0.0025);
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c.value().repeats, 90);
}

}  // namespace
}  // namespace gemmtune
