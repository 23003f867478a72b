#include "measure/timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <sstream>

namespace gemmtune::measure {
namespace {

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  double pos = q * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<std::size_t>(pos);
  std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return sorted[lo] * (1 - frac) + sorted[hi] * frac;
}

}  // namespace

Timing summarize(std::vector<double> samples) {
  Timing t;
  if (samples.empty()) return t;
  std::sort(samples.begin(), samples.end());
  t.repeats = static_cast<int>(samples.size());
  t.min_us = samples.front();
  t.max_us = samples.back();
  t.median_us = quantile(samples, 0.5);
  t.spread = t.median_us > 0 ? (quantile(samples, 0.75) - quantile(samples, 0.25)) / t.median_us : 0;
  return t;
}

EarlyEnd early_end(const MeasureOptions& options, double best_us) {
  EarlyEnd end;
  end.settle = options.noise_margin / 4;
  if (best_us > 0 && options.early_stop > 0) {
    end.stop_above_us = best_us * (1 + options.early_stop);
    end.lose_above_us = best_us * (1 + options.noise_margin);
  }
  return end;
}

Expected<Timing> repeat_and_summarize(const std::function<Expected<double>(int rep)>& timed_run,
                                      const MeasureOptions& options, EarlyEnd end) {
  const double limit_ms = options.choice_timeout_ms.value_or(kDefaultCpuChoiceTimeoutSeconds * 1000.0);
  const auto started = std::chrono::steady_clock::now();
  int runs = 0;
  // The whole loop is held to the limit too (in wall-clock time): many runs
  // that each stay under it must not add up to a choice that never ends.
  auto over_limit = [&]() -> std::optional<Rejection> {
    const double elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    if (elapsed_ms <= limit_ms) return std::nullopt;
    std::ostringstream msg;
    msg << "measuring took " << elapsed_ms / 1000.0 << " s for " << runs << " runs, over the " << limit_ms / 1000.0
        << " s limit";
    return Rejection{Stage::timeout, Reason::timed_out, msg.str()};
  };
  for (int w = 0; w < std::max(options.warmup_runs, 1); ++w) {
    auto us = timed_run(-1 - w);
    if (!us) return us.error();
    ++runs;
    if (us.value() > limit_ms * 1000.0) {
      std::ostringstream msg;
      msg << "one run took " << us.value() / 1000.0 << " ms, over the " << limit_ms << " ms limit";
      return Rejection{Stage::timeout, Reason::timed_out, msg.str()};
    }
    if (auto late = over_limit()) return *late;
  }
  std::vector<double> samples;
  double spent_us = 0;
  const double budget_us = options.budget_ms * 1000.0;
  const int min_repeats = std::max(options.min_repeats, 1);
  const int max_repeats = std::max(options.max_repeats, min_repeats);
  // Settled: checked at min_repeats runs, then at every doubling (a sorted
  // copy each time, so seldom). Clearly slower than a choice already timed:
  // checked once, at 2 x min_repeats runs (on the fastest run, which can only
  // fall later, so a later check could not stop what this one let go).
  std::size_t next_check = static_cast<std::size_t>(min_repeats);
  const std::size_t stop_check = 2 * static_cast<std::size_t>(min_repeats);
  for (int rep = 0; rep < max_repeats; ++rep) {
    if (rep >= min_repeats && spent_us >= budget_us) break;
    auto us = timed_run(rep);
    if (!us) return us.error();
    ++runs;
    samples.push_back(us.value());
    spent_us += us.value();
    if (auto late = over_limit()) return *late;
    // Early stop on the fastest run, not the median: what ran before can
    // slow a choice's first runs, never speed them up.
    if (end.stop_above_us > 0 && samples.size() == stop_check &&
        *std::min_element(samples.begin(), samples.end()) > end.stop_above_us)
      break;
    if ((end.settle > 0 || end.lose_above_us > 0) && samples.size() == next_check) {
      next_check *= 2;
      if (samples.size() >= static_cast<std::size_t>(kSettleRuns)) {
        const Timing so_far = summarize(samples);
        const double error = 0.93 * so_far.spread / std::sqrt(static_cast<double>(so_far.repeats));
        if (so_far.median_us > 0 && error <= end.settle) break;
        if (end.lose_above_us > 0 && so_far.median_us * (1 - 3 * error) > end.lose_above_us) break;
      }
    }
  }
  return summarize(std::move(samples));
}

}  // namespace gemmtune::measure
