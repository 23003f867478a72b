// Whether a tuning record that comes from outside this process (an export
// file, a database row, a remote cache) may be trusted. A record is data a
// user or another machine handed us: its winner is run on the user's
// operands, so a record whose problem differs from its key would make
// `gemmtune run` compute something else and exit 0. Every reader of records
// calls validate_record() before using one: `cache import`, the tuner on a
// cache hit, the remote cache.
#pragma once

#include <cstddef>

#include "gemmtune/record.h"

namespace gemmtune::store {

// Bounds on what a record may hold. Generous for real records (the CUDA
// backend's exhaustive space offers a few thousand choices; compiler logs in
// rejection messages run to kilobytes) yet small enough that a hostile file
// cannot make one record cost gigabytes.
inline constexpr std::size_t kMaxKeyBytes = 64 * 1024;
inline constexpr std::size_t kMaxNameBytes = 256;          // backend, choice, version names
inline constexpr std::size_t kMaxTextBytes = 64 * 1024;    // descriptions, environment, reasons
inline constexpr std::size_t kMaxMessageBytes = 1 << 20;   // rejection messages (compile logs)
inline constexpr std::size_t kMaxChoices = 100000;
inline constexpr std::size_t kMaxBackends = 64;
inline constexpr int kMaxThreads = 1 << 16;
inline constexpr double kMaxMicroseconds = 1e12;           // 11.6 days
inline constexpr double kMaxTuningSeconds = 1e9;

// Throws StoreError naming the first bad field ("key: does not match its
// problem and context", "choices[3].timing.median_us: -1 is out of range
// [0, 1e+12]", "winner: choice CPP/x is not among the verified choices").
// Checks: the problem is valid; the key is the one the tuner would compute
// from the record's problem, threads, enabled set, backend versions and
// search space; sizes, counts, times and errors are in range and finite;
// names and texts are bounded; the winner is a verified, timed choice of an
// enabled backend (or, for a fallback record, of a backend outside the
// enabled set) whose version is recorded. It never looks at the machine:
// whether the record may be used here is the policy's call.
void validate_record(const TuningRecord&);

}  // namespace gemmtune::store
