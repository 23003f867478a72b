#include "testing/fake_backend.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/reference/reference_math.h"
#include "util/numeric.h"

namespace gemmtune::testing {
namespace {

class FakeKernel final : public Kernel {
 public:
  FakeKernel(Problem problem, FakeChoice choice, std::shared_ptr<FakeClock> clock, std::shared_ptr<int> runs,
             std::shared_ptr<bool> fail_runs)
      : problem_(std::move(problem)),
        choice_(std::move(choice)),
        clock_(std::move(clock)),
        runs_(std::move(runs)),
        fail_runs_(std::move(fail_runs)) {}

  Status run(const GemmArgs& args, const RunContext&) override {
    ++*runs_;
    clock_->advance(choice_.time_us + ((*runs_ % 2) ? choice_.jitter_us : -choice_.jitter_us));
    if (choice_.behavior == FakeBehavior::run_fails || *fail_runs_)
      return reject(Reason::runtime_error, "fake kernel failed on purpose");
    reference::compute(problem_, args, 1);
    const std::int64_t elements = problem_.batch * problem_.m * problem_.n;
    if (elements > 0 && choice_.behavior == FakeBehavior::wrong_result) {
      // Off by a lot in the last element: only a check that reaches the edge sees it.
      auto off = reference::offset(problem_.c, problem_.batch - 1, problem_.m - 1, problem_.n - 1);
      double v = numeric::load_as_double(args.c, problem_.c.dtype, off);
      numeric::store_from_double(args.c, problem_.c.dtype, off, v + 100.0);
    }
    if (elements > 0 && choice_.behavior == FakeBehavior::nan_result)
      numeric::store_from_double(args.c, problem_.c.dtype, 0, std::numeric_limits<double>::quiet_NaN());
    return Status::success();
  }

 private:
  Problem problem_;
  FakeChoice choice_;
  std::shared_ptr<FakeClock> clock_;
  std::shared_ptr<int> runs_;
  std::shared_ptr<bool> fail_runs_;
};

}  // namespace

FakeBackend::FakeBackend(FakeBackendSpec spec, std::shared_ptr<FakeClock> clock)
    : spec_(std::move(spec)), clock_(std::move(clock)) {}

Availability FakeBackend::availability() const {
  return spec_.available ? Availability::yes() : Availability::no(spec_.unavailable_why);
}

Expected<std::vector<Choice>> FakeBackend::enumerate(const Problem& problem, const TuningContext&) const {
  if (spec_.rejects) return *spec_.rejects;
  if (!spec_.ops.empty() && std::find(spec_.ops.begin(), spec_.ops.end(), problem.op) == spec_.ops.end())
    return reject(Reason::unsupported_op, std::string(to_string(problem.op)) + " not served by this fake");
  std::vector<Choice> out;
  for (const auto& c : spec_.choices)
    out.push_back(Choice{c.name, "fake, " + std::to_string(c.time_us) + " us"});
  if (out.empty()) return reject(Reason::unsupported_shape, "fake backend has no choices configured");
  return out;
}

Expected<std::unique_ptr<Kernel>> FakeBackend::build(const Problem& problem, const Choice& choice,
                                                     const TuningContext& ctx) const {
  ++*builds_;
  *compile_threads_ = ctx.compile_threads;
  // From the name alone, as every backend builds.
  auto config = std::find_if(spec_.choices.begin(), spec_.choices.end(),
                             [&](const FakeChoice& c) { return c.name == choice.name; });
  if (config == spec_.choices.end()) return reject(Reason::internal_error, "no fake choice named " + choice.name);
  if (config->behavior == FakeBehavior::build_fails)
    return reject(Reason::compile_error, "fake compile error on purpose");
  return std::unique_ptr<Kernel>(std::make_unique<FakeKernel>(problem, *config, clock_, runs_, fail_runs_));
}

std::unique_ptr<runtime::CpuRuntime> make_fake_cpu_runtime(std::shared_ptr<FakeClock> clock) {
  return std::make_unique<runtime::CpuRuntime>([clock] { return clock->now_us(); });
}

}  // namespace gemmtune::testing
