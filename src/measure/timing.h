// The repeat-and-summarize loop shared by every device: warm up, then time
// single runs until the budget is spent, and summarize robustly (median,
// interquartile spread). Devices supply how one run is timed.
#pragma once

#include <functional>
#include <vector>

#include "gemmtune/options.h"
#include "gemmtune/outcome.h"
#include "gemmtune/record.h"

namespace gemmtune::measure {

// `timed_run(rep)` prepares (outside its timed region), runs once and returns
// the run's duration in microseconds, or the rejection if it failed.
// Warm-up runs use rep < 0. A warm-up run longer than
// options.choice_timeout_ms, or the whole loop running longer than it (wall
// clock), ends measuring with a timeout rejection. Unset, the CPU default
// applies (the tuner always sets it).
//
// Timing also stops before the budget, where the runtime asks (EarlyEnd;
// both 0, the default, never):
// - early stop: at 2 x min_repeats runs, even the fastest run is over
//   `stop_above_us` (the best median so far x (1 + early_stop): it cannot win);
// - settled (checked at min_repeats runs and each doubling after it): at
//   least kSettleRuns runs and the median's relative standard error (about
//   0.93 x spread / sqrt(runs)) at most `settle`;
// - behind (the same checks): at least kSettleRuns runs and the median,
//   less three of those standard errors, still over `lose_above_us` (the
//   best median so far plus the margin within which two medians tie): a
//   choice 5-20 % slower than the best, which the early stop lets go, needs
//   no more runs to lose.
// Both are for timers that see each run to a fraction of a microsecond
// (GPU events): the CPU asks for neither, its noise comes in bursts that a
// short series can miss.
inline constexpr int kSettleRuns = 20;
struct EarlyEnd {
  double settle = 0;
  double stop_above_us = 0;
  double lose_above_us = 0;
};
Expected<Timing> repeat_and_summarize(const std::function<Expected<double>(int rep)>& timed_run,
                                      const MeasureOptions& options, EarlyEnd end = {});

// The early ends of a precise (GPU) timer, from the options and the best
// median of the problem so far (0: none yet): settled at a quarter of the
// tie margin; with early_stop > 0 and a best, stopped over best x (1 +
// early_stop) and behind over best x (1 + noise_margin) (round 10: a 4096³
// tuning timed a choice 15 % slower than the best for 287 runs, 73 ms of
// its 0.5 s).
EarlyEnd early_end(const MeasureOptions& options, double best_us);

// Median, min, max and relative interquartile range of samples (in us).
Timing summarize(std::vector<double> samples_us);

}  // namespace gemmtune::measure
