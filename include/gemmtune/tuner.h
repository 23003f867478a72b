// The tuner: for each problem, the fastest verified choice among the enabled
// backends (and no others), measured or taken from the results database.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gemmtune/backend.h"
#include "gemmtune/errors.h"
#include "gemmtune/options.h"
#include "gemmtune/problem.h"
#include "gemmtune/record.h"

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

// Where a result came from.
enum class ResultSource : std::uint8_t {
  tuned,         // measured by this call
  local_cache,   // the local results database
  remote_cache,  // the fleet's remote cache (possibly after waiting for the process tuning it)
};

struct TuneResult {
  TuningRecord record;
  bool cache_hit = false;
  ResultSource source = ResultSource::tuned;
  // Time spent waiting for another process of the fleet that was tuning
  // this problem.
  double waited_seconds = 0;
  // Waited past the wait bound and tuned here instead (a warning said so).
  bool waited_too_long = false;
};

// What `explain` finds without building or timing anything.
struct Explanation {
  TuningRecord record;  // backends and choices; no timings, no winner
  std::vector<DisabledBackendHint> disabled_would_serve;
};

// The winner, built and callable. Cheap to copy (the kernel is shared).
// run() is not safe to call concurrently on copies of one Selection.
class Selection {
 public:
  const Problem& problem() const { return record_.problem; }
  const TuningRecord& record() const { return record_; }
  const std::string& backend() const { return record_.winner->backend; }
  const std::string& choice() const { return record_.winner->choice; }
  bool fallback() const { return record_.fallback; }
  bool cache_hit() const { return cache_hit_; }
  // Where the result came from, and how long this process waited for the
  // fleet's process that was tuning it (TuneResult's fields).
  ResultSource source() const { return source_; }
  double waited_seconds() const { return waited_seconds_; }
  bool waited_too_long() const { return waited_too_long_; }

  // Computes one call on the problem's device. Checks the pointers first
  // (InvalidProblemError); a kernel failure throws KernelRunError and is
  // never hidden by calling another backend. `stream` is a CUstream or null.
  void run(const GemmArgs& args, void* stream = nullptr) const;

 private:
  friend class Tuner;
  Selection(TuneResult result, std::shared_ptr<Kernel> kernel)
      : record_(std::move(result.record)),
        cache_hit_(result.cache_hit),
        source_(result.source),
        waited_seconds_(result.waited_seconds),
        waited_too_long_(result.waited_too_long),
        kernel_(std::move(kernel)) {}
  TuningRecord record_;
  bool cache_hit_ = false;
  ResultSource source_ = ResultSource::tuned;
  double waited_seconds_ = 0;
  bool waited_too_long_ = false;
  std::shared_ptr<Kernel> kernel_;
};

class Tuner {
 public:
  // The built-in backends, in registration order.
  explicit Tuner(TuneOptions options = {});
  // A custom backend list (registration order = tie-break order).
  Tuner(TuneOptions options, std::vector<std::shared_ptr<Backend>> backends);
  ~Tuner();
  Tuner(Tuner&&) noexcept;
  Tuner& operator=(Tuner&&) noexcept;

  // Validates, looks up the store, else measures every choice of the enabled
  // backends. Throws InvalidProblemError, ConfigError, NoValidChoicesError,
  // StoreError. Not thread-safe: use one Tuner per thread.
  TuneResult tune(const Problem&);

  // tune(), except when another process of the fleet is tuning this problem
  // right now (it holds the problem's lease in the remote cache): then
  // nullopt at once, so a workload can tune something else meanwhile and
  // come back for the result with tune().
  std::optional<TuneResult> tune_unless_claimed(const Problem&);

  // tune() and build the winner.
  Selection select(const Problem&);

  // Choices and rejections of every enabled backend, nothing timed.
  Explanation explain(const Problem&);

  // The enabled set as resolved from options / environment / default.
  const std::vector<std::string>& enabled() const;
  const std::vector<std::shared_ptr<Backend>>& backends() const;
  // The database path in use ("" when the cache is off).
  std::string db_path() const;

  // Internal: a tuner over prepared services (tests inject fake runtimes).
  struct Impl;
  explicit Tuner(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// One problem of tune_on_devices().
struct DeviceTuneResult {
  Device device;             // where it was tuned (or last tried)
  bool tuned = false;        // a winner was found: record.winner is set
  TuningRecord record;       // what was measured (also when nothing verified)
  bool cache_hit = false;
  std::string error;         // why there is no winner ("" when tuned)
  std::vector<DisabledBackendHint> hints;  // with no valid choices: disabled backends that would serve
};

struct DevicesTuneReport {
  std::vector<DeviceTuneResult> results;  // one per problem, in the order given
  std::vector<std::string> failed_devices;  // "cuda:1 failed: ...", in the order they failed
};

// Tunes each problem once, spread over `devices` (one Tuner with `options`
// and one measuring worker per device, all at once); a problem is tuned on
// whichever device takes it next, its device set to that one; the list
// holds GPUs (cuda:N), each once. Identical devices share stored results (the
// results key names the device's model, not its index). A device that fails
// (DeviceFailedError) is reported in failed_devices and its problem goes to
// another. Callbacks in `options` are called from several threads at once.
// Throws ConfigError, before any work, for an empty list, one naming the
// CPU, a repeated or unavailable device, and what Tuner's constructor throws.
DevicesTuneReport tune_on_devices(const std::vector<Problem>& problems, const std::vector<Device>& devices,
                                  const TuneOptions& options = {});

// "cuda:0,cuda:1" or "all" (every available CUDA device) into devices;
// ConfigError names a malformed, repeated, unavailable or non-GPU one.
std::vector<Device> parse_devices(std::string_view list);

// The built-in backends in their one explicit registration order. Backends
// compiled out or unavailable here are still listed and say why.
std::vector<std::shared_ptr<Backend>> builtin_backends();

// The device's library backend, the only one fallback_to_library may use:
// BLAS on the CPU, CUBLAS on CUDA.
std::string library_backend(DeviceKind);

// gemmtune's own version ("0.1.0").
std::string_view version();

}  // namespace gemmtune

#pragma GCC visibility pop
