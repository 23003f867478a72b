// Measuring choices, behind one interface: the tuning loop asks for a
// choice's outcome (timing or rejection) and does not know where the choice
// ran. Two implementations: in this process (make_in_process_measurer) and
// in isolated worker processes (isolation/worker_measurer.h).
//
// Inputs are drawn from seeds that travel with the settings, so any process
// makes the same inputs; the exact reference of a problem is computed once
// per problem (per worker that measures it), never once per choice.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "gemmtune/backend.h"
#include "gemmtune/options.h"
#include "gemmtune/record.h"
#include "measure/failpoints.h"
#include "runtime/device_runtime.h"

namespace gemmtune::measure {

// How every choice of one problem is measured.
struct MeasureSettings {
  TuningContext context;  // search space and threads; the measurer sets the device
  VerifyMode verify = VerifyMode::automatic;
  MeasureOptions options;  // choice_timeout_ms set
  std::uint64_t input_seed = 0;
  std::uint64_t sample_seed = 0;  // which output elements a sampled check reads
  std::shared_ptr<const Failpoints> failpoints;  // null: none
};

// The steps of one choice's measuring, reported as they start (the worker
// tells its parent, which gives each step its own deadline).
enum class Phase : std::uint8_t {
  prepare,  // inputs and the exact reference (first choice of a problem only)
  build,
  run,      // verify run, warm-up and timed runs
};
std::string_view to_string(Phase);

// One problem's measuring. Not thread-safe.
class ProblemMeasurer {
 public:
  virtual ~ProblemMeasurer() = default;
  // Builds, verifies and times one choice of `backend` (from its name).
  // Every failure of the choice is a rejection in the outcome; exceptions
  // mean the measuring itself broke (a worker that cannot be started).
  // `best_us` > 0: the best median of the problem so far; timing may stop
  // early when the choice cannot beat it (measure::early_end,
  // DeviceRuntime::measure).
  virtual ChoiceOutcome measure(const Backend& backend, const Choice& choice, double best_us) = 0;
};

class Measurer {
 public:
  virtual ~Measurer() = default;
  virtual std::unique_ptr<ProblemMeasurer> open(const Problem&, const MeasureSettings&) = 0;
};

using RuntimeFor = std::function<runtime::DeviceRuntime&(Device)>;

// Measures in this process on the runtimes `runtime_for` gives. `on_phase`,
// when set, is told each phase as it starts.
std::shared_ptr<Measurer> make_in_process_measurer(RuntimeFor runtime_for,
                                                   std::function<void(Phase)> on_phase = {});

// An outcome that names its choice, with nothing measured yet.
ChoiceOutcome outcome_for(std::string_view backend, const Choice&);
// The same, holding `rejection`.
ChoiceOutcome rejected_outcome(std::string_view backend, const Choice&, Rejection rejection);

}  // namespace gemmtune::measure
