// Isolation benchmark: the same choices measured in this process and in a
// measuring worker, side by side, on the same inputs (the same seeds), with
// the rounds interleaved (in-process, worker, in-process, ...) so that drift
// of the machine hits both alike. Prints each choice's median time both ways
// and their ratio, then the geometric mean ratio and how many choices differ
// by more than their own measured spread. Usage:
//   gemmtune_isolation_bench [--device cpu|cuda[:N]] [--rounds R] [--worker PATH] [--backends LIST] [--only SUBSTRING]
// The worker defaults to the gemmtune-worker built with this benchmark.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/guarded.h"
#include "gemmtune/tuner.h"
#include "isolation/worker_measurer.h"
#include "testing/problem_specs.h"
#include "isolation/worker_pool.h"
#include "measure/measurer.h"
#include "util/cpu_info.h"
#include "util/env.h"

namespace {

using namespace gemmtune;

struct Case {
  std::string name;
  ProblemSpec spec;
};

// A dense mm with B stored transposed (nn.Linear's weight).
ProblemSpec make(Op op, DType dtype, std::int64_t m, std::int64_t n, std::int64_t k, bool nt) {
  return testing::spec(op, m, n, k, dtype, nt ? "nt" : "nn");
}

// Shapes of the built-in workload (small to large) for the CPU; the GPU
// suite's skinny and square shapes for CUDA.
std::vector<Case> cases(DeviceKind kind) {
  if (kind == DeviceKind::cpu)
    return {{"f32 mm 1x2304x768 nt", make(Op::mm, DType::f32, 1, 2304, 768, true)},
            {"f32 mm 32x768x768 nt", make(Op::mm, DType::f32, 32, 768, 768, true)},
            {"f32 mm 128x3072x768 nt", make(Op::mm, DType::f32, 128, 3072, 768, true)},
            {"bf16 mm 32x2304x768 nt", make(Op::mm, DType::bf16, 32, 2304, 768, true)},
            {"f32 mm 512x1024x1024 nt", make(Op::mm, DType::f32, 512, 1024, 1024, true)}};
  return {{"bf16 mm 1x4096x4096 nt", make(Op::mm, DType::bf16, 1, 4096, 4096, true)},
          {"bf16 mm 16x4096x4096 nt", make(Op::mm, DType::bf16, 16, 4096, 4096, true)},
          {"bf16 mm 128x4096x4096 nt", make(Op::mm, DType::bf16, 128, 4096, 4096, true)},
          {"bf16 mm 1024x4096x4096 nt", make(Op::mm, DType::bf16, 1024, 4096, 4096, true)},
          {"bf16 mm 4096x4096x4096 nt", make(Op::mm, DType::bf16, 4096, 4096, 4096, true)}};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v[(v.size() - 1) / 2] + v[v.size() / 2]) / 2;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: gemmtune_isolation_bench [--device cpu|cuda[:N]] [--rounds R] [--worker PATH] "
               "[--backends LIST] [--only SUBSTRING]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Device device;
  int rounds = 3;
  std::string worker = GEMMTUNE_BENCH_WORKER;
  std::vector<std::string> backend_names;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return usage(("missing value for " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--device") {
      auto d = parse_device(value);
      if (!d) return usage("bad --device");
      device = *d;
    } else if (flag == "--rounds") {
      rounds = std::atoi(value.c_str());
      if (rounds < 1) return usage("--rounds must be >= 1");
    } else if (flag == "--worker") {
      worker = value;
    } else if (flag == "--backends") {
      backend_names = env::split_list(value);
    } else if (flag == "--only") {
      only = value;
    } else {
      return usage(("unknown flag " + flag).c_str());
    }
  }
  if (backend_names.empty())
    backend_names = device.kind == DeviceKind::cpu ? std::vector<std::string>{"BLAS", "ONEDNN", "CPP"}
                                                   : std::vector<std::string>{"CUBLAS", "CUBLASLT", "CUDA"};

  runtime::DeviceRuntime& rt = runtime::runtime_for(device);
  if (!rt.availability().available) {
    std::fprintf(stderr, "%s is not available: %s\n", to_string(device).c_str(), rt.availability().why.c_str());
    return 1;
  }
  auto in_process = measure::make_in_process_measurer([](Device d) -> runtime::DeviceRuntime& {
    return runtime::runtime_for(d);
  });
  auto pool = std::make_shared<isolation::WorkerPool>(
      isolation::WorkerCommand{worker, {"--gemmtune-worker"}, "the benchmark"});
  auto isolated = isolation::make_worker_measurer(pool);
  std::vector<std::shared_ptr<Backend>> backends;
  for (const auto& b : builtin_backends())
    if (std::find(backend_names.begin(), backend_names.end(), std::string(b->name())) != backend_names.end() &&
        b->device_kind() == device.kind && b->availability().available)
      backends.push_back(b);

  std::printf("# %s, %d CPUs; gemmtune %s; %d interleaved rounds per side; medians of the rounds' medians\n",
              device.kind == DeviceKind::cpu ? cpu::info().model.c_str() : rt.fingerprint().c_str(),
              cpu::info().logical_cpus, std::string(version()).c_str(), rounds);
  std::printf("%-26s %-48s %12s %12s %8s %8s\n", "problem", "choice", "in-proc us", "worker us", "ratio", "spread");
  double log_sum = 0;
  int count = 0, beyond_spread = 0;
  for (const Case& c : cases(device.kind)) {
    if (!only.empty() && c.name.find(only) == std::string::npos) continue;
    ProblemSpec spec = c.spec;
    spec.device = device;
    const Problem problem = make_problem(spec);
    measure::MeasureSettings settings;
    settings.context = TuningContext{SearchSpace::standard, cpu::info().logical_cpus, cpu::info().logical_cpus, nullptr};
    settings.options.choice_timeout_ms = default_choice_timeout_seconds(device.kind) * 1000.0;
    settings.input_seed = 0x5eed0001;
    settings.sample_seed = 0x5eed0002;
    auto local = in_process->open(problem, settings);
    auto remote = isolated->open(problem, settings);
    TuningContext ctx = settings.context;
    ctx.device = &rt;
    for (const auto& backend : backends) {
      auto choices = core::guarded(Stage::enumerate, [&] { return backend->enumerate(problem, ctx); });
      if (!choices) continue;
      for (const Choice& choice : choices.value()) {
        std::vector<double> a, b;
        double spread = 0;
        bool failed = false;
        for (int r = 0; r < rounds && !failed; ++r) {
          for (auto* m : {local.get(), remote.get()}) {
            ChoiceOutcome o = m->measure(*backend, choice, 0);  // no early stop: every choice timed in full
            if (!o.timing) {
              std::printf("%-26s %-48s rejected: %s\n", c.name.c_str(), choice.name.c_str(),
                          o.rejection ? o.rejection->to_string().c_str() : "?");
              failed = true;
              break;
            }
            (m == local.get() ? a : b).push_back(o.timing->median_us);
            spread = std::max(spread, o.timing->spread);
          }
        }
        if (failed) continue;
        const double ta = median(a), tb = median(b), ratio = tb / ta;
        log_sum += std::log(ratio);
        ++count;
        if (std::fabs(ratio - 1) > std::max(spread, 0.01)) ++beyond_spread;
        std::printf("%-26s %-48s %12.2f %12.2f %8.3f %8.3f\n", c.name.c_str(), choice.name.c_str(), ta, tb, ratio,
                    spread);
      }
    }
  }
  if (count == 0) return usage("nothing was measured");
  std::printf("\ngeometric mean ratio (worker / in-process): %.4f over %d choices; %d differ by more than their "
              "measured spread (or 1%%)\n",
              std::exp(log_sum / count), count, beyond_spread);
  return 0;
}
