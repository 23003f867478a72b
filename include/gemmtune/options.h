// Options of a tuner. Every optional field that is unset falls back to the
// environment (GEMMTUNE_*), then to the default: code or CLI flag first,
// then environment, then default. Each option's CLI flag, variable, C API key
// and Python keyword are declared in one table (src/core/option_table.cpp).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gemmtune/types.h"

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

enum class VerifyMode : std::uint8_t {
  automatic,  // full check for small problems, sampled for large ones
  full,       // every output element
  sampled,    // a random sample plus the last row and column
  off,        // never (only for trusted cache warm-ups; not the default)
};

// "auto" (or "automatic"), "full", "sampled", "off", any case; nullopt else.
std::optional<VerifyMode> parse_verify_mode(std::string_view);
std::string_view to_string(VerifyMode);  // "auto", "full", "sampled", "off"

// Where choices are measured.
enum class Isolation : std::uint8_t {
  // In reused worker processes (one per device): a choice that crashes,
  // hangs or loses the GPU context is rejected and the worker replaced.
  process,
  // In the tuner's own process, for debugging: a crashing choice takes the
  // process down, a hanging one hangs it.
  none,
};

// "process" or "none", any case; nullopt else.
std::optional<Isolation> parse_isolation(std::string_view);
std::string_view to_string(Isolation);

// The per-choice wall-clock limit when neither the option nor
// GEMMTUNE_CHOICE_TIMEOUT sets one: long enough for a slow CPU choice on a
// large problem (several seconds a call, a dozen calls), and on a GPU for
// compiling a kernel family (NVRTC) and timing it.
inline constexpr double kDefaultCpuChoiceTimeoutSeconds = 120;
inline constexpr double kDefaultCudaChoiceTimeoutSeconds = 60;
double default_choice_timeout_seconds(DeviceKind);
// The longest per-choice limit accepted (a week), so that a typo cannot make
// the deadline arithmetic overflow.
inline constexpr double kMaxChoiceTimeoutSeconds = 7 * 24 * 3600.0;

struct MeasureOptions {
  int warmup_runs = 2;
  double budget_ms = 60;     // time spent repeating one choice (after warm-up)
  int min_repeats = 5;
  int max_repeats = 1000;
  bool cold_cache = true;    // evict inputs from caches before every timed run
  // Wall-clock limit of one choice, applied to its build and to its run
  // (verify, warm-up and timed runs) separately. A choice over it is rejected
  // at stage timeout: measured in a worker, the worker is killed when the
  // choice does not return in time (a hang); measured in process, a run that
  // returns late is rejected, and a hang is not bounded. Unset:
  // GEMMTUNE_CHOICE_TIMEOUT (seconds), else default_choice_timeout_seconds.
  std::optional<double> choice_timeout_ms;
  // Choices whose medians differ by less than their measured spread (at most
  // this relative margin) tie; a tie is broken deterministically (backend
  // registration order, then name).
  // On a GPU it also says when timing may stop before the budget: once the
  // median's relative standard error is at most noise_margin / 4.
  double noise_margin = 0.01;
  bool cuda_graph = false;   // GPU: time replays of a captured graph
  // A choice whose fastest run of its first 2 x min_repeats timed runs is
  // over (1 + early_stop) times the best median of the problem so far cannot
  // win: its timing stops there. 0: every choice is timed for the whole
  // budget. GPU only: on the CPU a choice's first runs can be slowed for
  // tens of ms by the previous choice's threads.
  double early_stop = 0.2;
};

// Progress events for long tunings (the CLI draws a live line from them).
struct ProgressEvent {
  std::string problem;
  std::string backend;
  std::string choice;
  int index = 0;  // 1-based position among all choices of this problem
  int total = 0;
};

struct TuneOptions {
  // Enabled backends by name (case-insensitive). Unset: GEMMTUNE_BACKENDS,
  // else every available backend except REFERENCE.
  std::optional<std::vector<std::string>> backends;
  // Unset: GEMMTUNE_FALLBACK_TO_LIBRARY=1 turns it on; default off (strict).
  std::optional<bool> fallback_to_library;
  // Unset: GEMMTUNE_SEARCH_SPACE, else default.
  std::optional<SearchSpace> search_space;
  // Unset: GEMMTUNE_VERIFY (auto|full|sampled|off), else automatic.
  std::optional<VerifyMode> verify;
  // CPU threads; 0 = every online CPU.
  int threads = 0;
  // Unset: GEMMTUNE_ISOLATION (process|none), else process. When no worker
  // executable can be found (see README, "Isolation"), an unset isolation
  // falls back to none with a warning; an explicit `process` is an error.
  std::optional<Isolation> isolation;
  // Faults to inject into chosen choices' runs, for testing fault handling
  // (the GEMMTUNE_FAILPOINTS syntax). Unset: GEMMTUNE_FAILPOINTS.
  std::optional<std::string> failpoints;
  // Threads that compile generated kernels (NVRTC) in parallel. Unset:
  // GEMMTUNE_COMPILE_THREADS, else every online CPU.
  std::optional<int> compile_threads;
  bool use_cache = true;
  // The folder of tuning.db. Unset: GEMMTUNE_CACHE_DIR, else
  // $XDG_CACHE_HOME/gemmtune, else ~/.cache/gemmtune.
  std::optional<std::string> cache_dir;
  // The database file itself; wins over cache_dir.
  std::optional<std::string> db_path;
  // A results cache shared by a fleet of machines through Redis, behind the
  // local file: redis://[[user]:password@]host[:port][/db]. Unset:
  // GEMMTUNE_REMOTE_CACHE; unset there too, none. Redis trouble never fails
  // tuning: one warning, and the local cache goes on alone.
  std::optional<std::string> remote_cache;
  // Namespaces one deployment's keys in Redis. Default "gemmtune:".
  std::optional<std::string> remote_cache_prefix;
  // Seconds allowed to connect, and to one command; a slower Redis counts
  // as absent. Default 0.5 each.
  std::optional<double> remote_cache_connect_timeout;
  std::optional<double> remote_cache_timeout;
  // Seconds to wait for another process tuning the same problem before
  // tuning it here. Default 300.
  std::optional<double> remote_cache_wait;
  // Seconds a tuning process's claim outlives it if it dies (renewed while
  // it lives). Default 10.
  std::optional<double> remote_cache_lease;
  MeasureOptions measure;
  std::function<void(const ProgressEvent&)> on_progress;
  // Warnings (fallback used, damaged database set aside, stale cache entry).
  // Unset: written to stderr with a "gemmtune: warning:" prefix.
  std::function<void(const std::string&)> on_warning;
};

}  // namespace gemmtune

#pragma GCC visibility pop
