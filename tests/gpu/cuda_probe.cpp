// cuda_probe: a development tool for the CUDA backend's templates on the GPU
// machine. For one problem it lists the CUDA backend's choices, or builds,
// runs, verifies (against the exact GPU reference) and times one choice (or
// all), one line per choice. The device scripts run one choice per process
// under `timeout`, so a kernel that hangs or faults while a template is being
// developed costs one line, not the whole run.
//
//   cuda_probe OP BxMxNxK LAYOUT DTYPE [--exhaustive] [--list | --prepare | --choice NAME | --all]
//              [--out-f32] [--bias row|full] [--act relu|gelu|silu] [--alpha X] [--beta X]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "backends/cuda/cuda_backend.h"
#include "gemmtune/problem.h"
#include "measure/inputs.h"
#include "measure/verify.h"
#include "runtime/cuda/cuda_runtime.h"
#include "testing/problem_specs.h"

using namespace gemmtune;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: cuda_probe OP BxMxNxK LAYOUT DTYPE [--exhaustive] [--list|--choice NAME|--all] [--out-f32] "
               "[--bias row|full] [--act relu|gelu|silu] [--alpha X] [--beta X]\n");
  return 2;
}

int probe(Backend& backend, const Problem& p, const Choice& choice, const TuningContext& ctx) {
  auto& rt = cuda::cuda_device(0);
  const double flops = 2.0 * p.batch * p.m * p.n * p.k;
  auto kernel = backend.build(p, choice, ctx);
  if (!kernel) {
    std::printf("%-40s BUILD %s\n", choice.name.c_str(), kernel.error().to_string().c_str());
    return 1;
  }
  const measure::HostData host = measure::make_host_data(p, 1234);
  auto set = measure::upload(rt, host);
  if (!set) {
    std::printf("%-40s UPLOAD %s\n", choice.name.c_str(), set.error().to_string().c_str());
    return 1;
  }
  auto ref = measure::make_reference(rt, p, set.value().args(), VerifyMode::automatic, 99);
  if (!ref) {
    std::printf("%-40s REFERENCE %s\n", choice.name.c_str(), ref.error().to_string().c_str());
    return 1;
  }
  (void)measure::poison_output(rt, set.value());
  const GemmArgs args = set.value().args();
  Status ran = kernel.value()->run(args, RunContext{rt.stream()});
  if (ran) ran = rt.synchronize();
  if (!ran) {
    std::printf("%-40s RUN %s\n", choice.name.c_str(), ran.error().to_string().c_str());
    return 1;
  }
  auto verified = measure::verify_output(rt, p, set.value(), ref.value());
  if (!verified) {
    std::printf("%-40s WRONG %s\n", choice.name.c_str(), verified.error().to_string().c_str());
    return 1;
  }
  MeasureOptions m;
  m.budget_ms = 30;
  const auto ranges = set.value().ranges(p);
  auto timing = rt.measure([&](int) { return kernel.value()->run(args, RunContext{rt.stream()}); },
                           [&](int) { return rt.flush_caches(ranges); }, m, 0);
  if (!timing) {
    std::printf("%-40s TIMING %s\n", choice.name.c_str(), timing.error().to_string().c_str());
    return 1;
  }
  const double us = timing.value().median_us;
  std::printf("%-40s ok %10.2f us %7.1f TFLOP/s  err %.2e  spread %.3f\n", choice.name.c_str(), us,
              flops / us / 1e6, verified.value(), timing.value().spread);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return usage();
  ProblemSpec s;
  auto op = parse_op(argv[1]);
  auto dtype = parse_dtype(argv[4]);
  long long b = 1, m = 0, n = 0, k = 0;
  if (!op || !dtype || std::sscanf(argv[2], "%lldx%lldx%lldx%lld", &b, &m, &n, &k) != 4) return usage();
  const std::string layout = argv[3];
  s = testing::spec(*op, m, n, k, *dtype, layout.c_str(), b);
  s.device = Device{DeviceKind::cuda, 0};
  TuningContext ctx;
  ctx.device = &cuda::cuda_device(0);
  ctx.compile_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The tuner's cache folder, so that one process's compiled kernels serve the next.
  if (const char* dir = std::getenv("GEMMTUNE_CACHE_DIR")) ctx.cache_dir = dir;
  std::string mode = "--all", choice;
  for (int i = 5; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--exhaustive") ctx.search_space = SearchSpace::exhaustive;
    else if (a == "--list" || a == "--all" || a == "--prepare") mode = a;
    else if (a == "--choice" && i + 1 < argc) mode = a, choice = argv[++i];
    else if (a == "--out-f32") s.out_dtype = DType::f32;
    else if (a == "--bias" && i + 1 < argc) s.bias = parse_bias_kind(argv[++i]);
    else if (a == "--act" && i + 1 < argc) s.activation = *parse_activation(argv[++i]);
    else if (a == "--alpha" && i + 1 < argc) s.alpha = std::atof(argv[++i]);
    else if (a == "--beta" && i + 1 < argc) s.beta = std::atof(argv[++i]);
    else return usage();
  }
  Problem p = make_problem(s);
  validate(p);
  auto backend = backends::make_cuda_backend();
  if (!backend->availability().available) {
    std::printf("CUDA unavailable: %s\n", backend->availability().why.c_str());
    return 3;
  }
  auto choices = backend->enumerate(p, ctx);
  if (!choices) {
    std::printf("rejected: %s\n", choices.error().to_string().c_str());
    return 3;
  }
  if (mode == "--list") {
    for (const Choice& c : choices.value()) std::printf("%s\n", c.name.c_str());
    return 0;
  }
  if (mode == "--prepare") {  // compiles every choice's kernel (in parallel) into the disk cache
    const auto start = std::chrono::steady_clock::now();
    auto kernel = backend->build(p, Choice{choices.value().front().name, ""}, ctx);
    std::printf("prepared %zu choices in %.1f s%s\n", choices.value().size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                kernel ? "" : (" (first: " + kernel.error().to_string() + ")").c_str());
    return 0;
  }
  int failures = 0;
  bool listed = false;
  for (const Choice& c : choices.value())
    if (mode == "--all" || c.name == choice) {
      listed = true;
      failures += probe(*backend, p, Choice{c.name, c.description}, ctx);
    }
  // A choice this space does not offer (an exhaustive-only one, for a
  // profile): the backend rebuilds any choice from its name alone.
  if (mode == "--choice" && !listed) failures += probe(*backend, p, Choice{choice, ""}, ctx);
  return failures ? 1 : 0;
}
