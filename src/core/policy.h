// The policy, in one place: which backends are enabled, whether fallback to
// the library backend is allowed, whether a stored record may be used, and
// which measured choice wins. Nothing else in gemmtune decides these.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gemmtune/backend.h"
#include "gemmtune/options.h"
#include "gemmtune/record.h"

namespace gemmtune::core {

// The enabled set, in registration order, from the option, else
// GEMMTUNE_BACKENDS, else every available backend except REFERENCE (the
// oracle is only used when named). Names are case-insensitive; an unknown
// name or an empty list is a ConfigError that lists the valid names.
std::vector<std::string> resolve_enabled(const TuneOptions&, const std::vector<std::shared_ptr<Backend>>&);

// The option, else GEMMTUNE_FALLBACK_TO_LIBRARY, else off.
bool resolve_fallback(const TuneOptions&);
SearchSpace resolve_search_space(const TuneOptions&);
VerifyMode resolve_verify(const TuneOptions&);
// Option, else GEMMTUNE_COMPILE_THREADS (a positive integer), else `cpus`.
int resolve_compile_threads(const TuneOptions&, int cpus);

// Where choices are measured: the option, else GEMMTUNE_ISOLATION, else
// process. `source` names where an explicit setting came from ("" for the
// default), for the error when no worker can be found.
struct IsolationSetting {
  Isolation isolation = Isolation::process;
  std::string source;
};
IsolationSetting resolve_isolation(const TuneOptions&);

// The per-choice limit in milliseconds when the option or
// GEMMTUNE_CHOICE_TIMEOUT (seconds) sets one; nullopt for the device
// default. Must be positive and at most kMaxChoiceTimeoutSeconds.
std::optional<double> resolve_choice_timeout_ms(const TuneOptions&);

// Why a stored record may not be used now, or nullopt when it may. The
// key already covers the enabled set, versions and machine; this checks the
// record itself too, so an imported or stale record cannot break the law.
struct CacheCheck {
  std::vector<std::string> enabled;
  bool fallback_allowed = false;
  std::map<std::string, std::string> backend_versions;  // now
  std::string environment;                              // now
  bool verifying = true;                                // verification is on now (not --verify off)
};
std::optional<std::string> cache_record_unusable(const TuningRecord&, const CacheCheck&);

// Index into `choices` of the winner: the fastest median. A choice whose
// median is within the measured noise of the fastest (the larger relative
// interquartile spread of the two, capped at `noise_margin`) ties with it;
// ties go to the earlier backend in `backend_order`, then to the smaller
// name. nullopt when none is valid.
std::optional<std::size_t> choose_winner(const std::vector<ChoiceOutcome>& choices,
                                         const std::vector<std::string>& backend_order, double noise_margin);

}  // namespace gemmtune::core
