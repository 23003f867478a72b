// What one tuning measured: every backend's and every choice's outcome, the
// winner, and where it came from. This is what the store keeps, what --json
// prints, and what NoValidChoicesError reports.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

// Robust summary of repeated timings of one choice.
struct Timing {
  double median_us = 0;
  double min_us = 0;
  double max_us = 0;
  double spread = 0;  // (p75 - p25) / median: relative interquartile range
  int repeats = 0;
};

struct ChoiceOutcome {
  std::string backend;
  std::string name;
  std::string description;
  std::optional<Timing> timing;        // set when verified and timed
  std::optional<Rejection> rejection;  // set when it dropped out
  double max_error = 0;                // worst verification error seen (relative)
  bool ok() const { return !rejection.has_value(); }
};

struct BackendOutcome {
  std::string backend;
  std::string version;
  int choices_offered = 0;
  std::optional<Rejection> rejection;  // availability or enumerate stage
};

struct Winner {
  std::string backend;
  std::string choice;
  double time_us = 0;
};

struct TuningRecord {
  std::string key;                   // the full store key
  Problem problem;
  std::vector<std::string> enabled;  // the enabled set, as resolved
  SearchSpace search_space = SearchSpace::standard;
  int threads = 1;
  std::string environment;           // the machine fingerprint part of the key
  std::map<std::string, std::string> backend_versions;  // of enabled backends
  std::vector<BackendOutcome> backends;
  std::vector<ChoiceOutcome> choices;
  std::optional<Winner> winner;
  bool fallback = false;             // winner came from the library fallback (false when the attempt failed too)
  std::string fallback_reason;
  double tuning_seconds = 0;
  std::string created_at;            // ISO 8601, UTC
  std::string gemmtune_version;
  std::string tuned_by;              // "host pid 123": the process that measured it
  // false: tuned with verification off (--verify off), so no choice's result
  // was checked (max_error is 0 unmeasured). A tuner that verifies does not
  // reuse such a record: it tunes again and replaces it.
  bool verified = true;
};

// Hint for NoValidChoicesError: a disabled backend that offers choices.
struct DisabledBackendHint {
  std::string backend;
  int choices_offered = 0;
};

}  // namespace gemmtune

#pragma GCC visibility pop
