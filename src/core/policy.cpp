#include "core/policy.h"

#include <algorithm>
#include <cctype>

#include "gemmtune/errors.h"
#include "core/option_table.h"
#include "gemmtune/tuner.h"

namespace gemmtune::core {
namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string valid_names(const std::vector<std::shared_ptr<Backend>>& backends) {
  std::string out;
  for (const auto& b : backends) {
    if (!out.empty()) out += ", ";
    out += b->name();
  }
  return out;
}

}  // namespace

std::vector<std::string> resolve_enabled(const TuneOptions& options,
                                         const std::vector<std::shared_ptr<Backend>>& backends) {
  std::vector<std::string> requested;
  std::string source;
  TuneOptions from_environment;
  if (options.backends) {
    requested = *options.backends;
    source = "the backends option (--backends)";
  } else if (auto variable = option_table::apply_environment(from_environment, *option_table::find("backends"))) {
    requested = *from_environment.backends;
    source = *variable;
  } else {
    std::vector<std::string> out;
    for (const auto& b : backends)
      if (b->name() != "REFERENCE" && b->availability().available) out.emplace_back(b->name());
    return out;
  }
  if (requested.empty())
    throw ConfigError("no backends enabled by " + source + "; valid names: " + valid_names(backends));
  std::vector<std::string> wanted;
  for (const auto& name : requested) {
    std::string canonical = upper(name);
    auto it = std::find_if(backends.begin(), backends.end(), [&](const auto& b) { return b->name() == canonical; });
    if (it == backends.end())
      throw ConfigError("unknown backend '" + name + "' in " + source + "; valid names: " + valid_names(backends));
    wanted.push_back(canonical);
  }
  // Registration order, without duplicates.
  std::vector<std::string> out;
  for (const auto& b : backends)
    if (std::find(wanted.begin(), wanted.end(), b->name()) != wanted.end()) out.emplace_back(b->name());
  return out;
}

bool resolve_fallback(const TuneOptions& options) {
  return option_table::with_environment(options).fallback_to_library.value_or(false);
}

SearchSpace resolve_search_space(const TuneOptions& options) {
  return option_table::with_environment(options).search_space.value_or(SearchSpace::standard);
}

int resolve_compile_threads(const TuneOptions& options, int cpus) {
  if (options.compile_threads && *options.compile_threads < 1)
    throw ConfigError("compile_threads must be >= 1, got " + std::to_string(*options.compile_threads));
  return option_table::with_environment(options).compile_threads.value_or(std::max(cpus, 1));
}

IsolationSetting resolve_isolation(const TuneOptions& options) {
  if (options.isolation) return {*options.isolation, "the isolation option"};
  TuneOptions from_environment;
  if (auto variable = option_table::apply_environment(from_environment, *option_table::find("isolation")))
    return {*from_environment.isolation, std::string(*variable)};
  return {};
}

std::optional<double> resolve_choice_timeout_ms(const TuneOptions& options) {
  if (const auto& ms = options.measure.choice_timeout_ms) {
    if (!(*ms > 0) || *ms > kMaxChoiceTimeoutSeconds * 1000.0)
      throw ConfigError("choice_timeout_ms must be a positive number of milliseconds of at most a week, got " +
                        std::to_string(*ms));
    return *ms;
  }
  return option_table::with_environment(options).measure.choice_timeout_ms;
}

VerifyMode resolve_verify(const TuneOptions& options) {
  return option_table::with_environment(options).verify.value_or(VerifyMode::automatic);
}

std::optional<std::string> cache_record_unusable(const TuningRecord& record, const CacheCheck& now) {
  if (!record.winner) return "the stored record has no winner";
  const std::string& backend = record.winner->backend;
  const bool enabled = std::find(now.enabled.begin(), now.enabled.end(), backend) != now.enabled.end();
  if (record.fallback) {
    if (!now.fallback_allowed)
      return "its winner " + backend + " came from the library fallback, which is off now";
  } else if (!enabled) {
    return "its winner's backend " + backend + " is not enabled now";
  }
  if (record.environment != now.environment) return "it was tuned on another machine or configuration";
  if (!record.verified && now.verifying)
    return "it was tuned with verification off (--verify off), and this tuning verifies";
  auto stored = record.backend_versions.find(backend);
  auto current = now.backend_versions.find(backend);
  if (stored == record.backend_versions.end() || current == now.backend_versions.end() ||
      stored->second != current->second)
    return "the version of " + backend + " changed";
  return std::nullopt;
}

std::optional<std::size_t> choose_winner(const std::vector<ChoiceOutcome>& choices,
                                         const std::vector<std::string>& backend_order, double noise_margin) {
  std::optional<std::size_t> fastest;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (!choices[i].ok() || !choices[i].timing) continue;
    if (!fastest || choices[i].timing->median_us < choices[*fastest].timing->median_us) fastest = i;
  }
  if (!fastest) return std::nullopt;
  const Timing& best_timing = *choices[*fastest].timing;
  // A choice ties with the fastest only when the measurements cannot tell
  // them apart: within the larger relative spread of the two, and never
  // beyond noise_margin. Quiet timers (GPU events) thus pick the faster one.
  auto ties = [&](const Timing& t) {
    const double margin = std::min(std::max(noise_margin, 0.0), std::max(t.spread, best_timing.spread));
    return t.median_us <= best_timing.median_us * (1.0 + margin);
  };
  auto rank = [&](const std::string& backend) {
    auto it = std::find(backend_order.begin(), backend_order.end(), backend);
    return static_cast<std::size_t>(it - backend_order.begin());
  };
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (!choices[i].ok() || !choices[i].timing || !ties(*choices[i].timing)) continue;
    if (!best) {
      best = i;
      continue;
    }
    auto key_i = std::make_pair(rank(choices[i].backend), choices[i].name);
    auto key_b = std::make_pair(rank(choices[*best].backend), choices[*best].name);
    if (key_i < key_b) best = i;
  }
  return best;
}

}  // namespace gemmtune::core

namespace gemmtune {

std::string library_backend(DeviceKind kind) { return kind == DeviceKind::cpu ? "BLAS" : "CUBLAS"; }

}  // namespace gemmtune
