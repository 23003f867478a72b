// Measuring in this process: verify before timing, then time. Also what a
// measuring worker runs for each request it gets.
#include <chrono>
#include <future>
#include <optional>

#include "core/guarded.h"
#include "measure/inputs.h"
#include "measure/measurer.h"
#include "measure/verify.h"
#include "util/log.h"

namespace gemmtune::measure {
namespace {

using core::at_stage;
using core::guarded;

class InProcessProblem final : public ProblemMeasurer {
 public:
  InProcessProblem(runtime::DeviceRuntime& rt, Problem problem, MeasureSettings settings,
                   std::function<void(Phase)> on_phase)
      : rt_(rt), problem_(std::move(problem)), settings_(std::move(settings)), on_phase_(std::move(on_phase)) {
    settings_.context.device = &rt_;
    rt_.use_cache_dir(settings_.context.cache_dir);
  }

  ChoiceOutcome measure(const Backend& backend, const Choice& choice, double best_us) override {
    ChoiceOutcome out = outcome_for(backend.name(), choice);
    if (auto error = prepare_inputs()) {
      out.rejection = *error;
      return out;
    }
    phase(Phase::build);
    const auto t_build = std::chrono::steady_clock::now();
    auto built = core::build_named_choice(backend, problem_, choice.name, settings_.context);
    if (!built) {
      out.rejection = built.error();
      return out;
    }
    std::unique_ptr<Kernel> kernel = std::move(built.value());
    if (settings_.failpoints)
      if (const FailRule* rule = settings_.failpoints->match(backend.name(), choice.name))
        kernel = with_failpoint(std::move(kernel), *rule, problem_, rt_);

    phase(Phase::run);
    const GemmArgs args = set_.args();
    const RunContext run_ctx{rt_.stream()};
    auto run_once = [&](int) -> Status {
      return guarded(Stage::run, [&]() -> Status { return kernel->run(args, run_ctx); });
    };
    // Verify before timing: a wrong or non-finite result can never win.
    if (Status s = poison_output(rt_, set_); !s) {
      out.rejection = at_stage(s.error(), Stage::run);
      return out;
    }
    const auto t_verify = std::chrono::steady_clock::now();
    Status ran = run_once(0);
    if (ran) ran = rt_.synchronize();
    if (!ran) {
      out.rejection = at_stage(ran.error(), Stage::run);
      return out;
    }
    auto verified = verify_output(rt_, problem_, set_, sample_);
    if (!verified) {
      out.rejection = verified.error();
      return out;
    }
    out.max_error = verified.value();

    const auto ranges = set_.ranges(problem_);
    const bool cold = settings_.options.cold_cache;
    auto prepare = [&](int) -> Status { return cold ? rt_.flush_caches(ranges) : Status::success(); };
    const auto t_time = std::chrono::steady_clock::now();
    auto timing = rt_.measure(run_once, prepare, settings_.options, best_us);
    // Where a choice's measuring goes (tuning_breakdown.sh reads these lines).
    if (log::enabled(log::Level::debug))
      log::debug(choice.name + ": built in " + log::ms_between(t_build, t_verify) + ", verified in " +
                 log::ms_between(t_verify, t_time) + ", timed in " + log::ms_since(t_time) +
                 (timing ? " (" + std::to_string(timing.value().repeats) + " runs)" : std::string()));
    if (!timing) {
      Rejection r = timing.error();
      out.rejection = r.stage == Stage::timeout ? r : at_stage(r, Stage::run);
      return out;
    }
    out.timing = timing.value();
    return out;
  }

 private:
  void phase(Phase p) {
    if (on_phase_) on_phase_(p);
  }

  // Inputs and the reference are made once, on the first choice that needs
  // them. The host copy is dropped once uploaded: nothing reads it later, and
  // on the CPU it would double the memory a large problem holds throughout.
  std::optional<Rejection> prepare_inputs() {
    if (inputs_ready_) return inputs_error_;
    inputs_ready_ = true;
    phase(Phase::prepare);
    const auto t0 = std::chrono::steady_clock::now();
    auto set = [&] {
      // The device's own start (a CUDA context: ~0.1 s) on another thread
      // while this one fills the inputs; joined before anything else here
      // touches the runtime (one thread at a time per runtime).
      std::future<void> device_ready;
      if (rt_.kind() != DeviceKind::cpu) device_ready = std::async(std::launch::async, [this] { rt_.prepare(); });
      const HostData host = make_host_data(problem_, settings_.input_seed);  // freed once uploaded
      if (device_ready.valid()) device_ready.get();
      log::debug("inputs of " + describe(problem_) + " made in " + log::ms_since(t0));
      return upload(rt_, host);
    }();
    const auto t1 = std::chrono::steady_clock::now();
    if (!set) {
      inputs_error_ = at_stage(set.error(), Stage::run);
      return inputs_error_;
    }
    set_ = std::move(set.value());
    auto sample = make_reference(rt_, problem_, set_.args(), settings_.verify, settings_.sample_seed);
    if (!sample) {
      const Rejection& r = sample.error();
      inputs_error_ = Rejection{Stage::verify, r.reason, "the exact reference could not be computed: " + r.message};
      return inputs_error_;
    }
    sample_ = std::move(sample.value());
    log::debug("inputs uploaded in " + log::ms_since(t0) + " from the start, the reference sampled in " + log::ms_since(t1));
    return std::nullopt;
  }

  runtime::DeviceRuntime& rt_;
  Problem problem_;
  MeasureSettings settings_;
  std::function<void(Phase)> on_phase_;
  bool inputs_ready_ = false;
  std::optional<Rejection> inputs_error_;
  DeviceInputSet set_;
  ReferenceSample sample_;
};

class InProcessMeasurer final : public Measurer {
 public:
  InProcessMeasurer(RuntimeFor runtime_for, std::function<void(Phase)> on_phase)
      : runtime_for_(std::move(runtime_for)), on_phase_(std::move(on_phase)) {}

  std::unique_ptr<ProblemMeasurer> open(const Problem& problem, const MeasureSettings& settings) override {
    return std::make_unique<InProcessProblem>(runtime_for_(problem.device), problem, settings, on_phase_);
  }

 private:
  RuntimeFor runtime_for_;
  std::function<void(Phase)> on_phase_;
};

}  // namespace

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::prepare: return "prepare";
    case Phase::build: return "build";
    case Phase::run: return "run";
  }
  return "?";
}

std::shared_ptr<Measurer> make_in_process_measurer(RuntimeFor runtime_for, std::function<void(Phase)> on_phase) {
  return std::make_shared<InProcessMeasurer>(std::move(runtime_for), std::move(on_phase));
}

ChoiceOutcome outcome_for(std::string_view backend, const Choice& choice) {
  ChoiceOutcome out;
  out.backend = std::string(backend);
  out.name = choice.name;
  out.description = choice.description;
  return out;
}

ChoiceOutcome rejected_outcome(std::string_view backend, const Choice& choice, Rejection rejection) {
  ChoiceOutcome out = outcome_for(backend, choice);
  out.rejection = std::move(rejection);
  return out;
}

}  // namespace gemmtune::measure
