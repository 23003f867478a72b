// cpu_kernels_bench: times the CPP backend's choices next to OpenBLAS and
// oneDNN on the same problem and inputs, and reports each as GFLOP/s and as
// a fraction of the machine's measured FMA peak.
//
//   cpu_kernels_bench [--threads N] [--cold] [--all] [--exhaustive]
//                     [--choice NAME] [--peak] [--cputime] [--list] PROBLEM...
//   --list prints the CPP choices of each problem without timing anything.
//   PROBLEM: op:dtype:[Bx]MxNxK[:layout][:act]
//     op      mm | addmm (row bias) | bmm | int_mm | mixed_mm
//     dtype   f32 | bf16 | f16 | u8 | i8  (int_mm: A's dtype; mixed_mm: activations)
//     layout  nn | nt | tn | tt (default nn);  act  relu | gelu | silu
//   e.g. mm:f32:1024x1024x1024  addmm:f32:1024x1024x1024:nn:gelu  int_mm:u8:1024x1024x1024
//
// Warm timing by default (inputs stay in cache); --cold flushes the inputs,
// scales and output from every cache level before each timed run, as the tuner does.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backends/cpp/config.h"
#include "backends/cpp/cpp_backend.h"
#include "gemmtune/problem.h"
#include "measure/inputs.h"
#include "peak/peak_loops.h"
#include "runtime/device_runtime.h"
#include "separate_pass.h"
#include "util/cpu_info.h"

extern "C" void openblas_set_num_threads(int);

namespace cpu_kernels_bench {
namespace {

using namespace gemmtune;
using gemmtune::bench::kAvx2OpsPerIter;
using gemmtune::bench::kBf16OpsPerIter;
using gemmtune::bench::kF32OpsPerIter;
using gemmtune::bench::kInt8OpsPerIter;
using gemmtune::bench::loop_bf16_avx512;
using gemmtune::bench::loop_f32_avx2;
using gemmtune::bench::loop_f32_avx512;
using gemmtune::bench::loop_int8_vnni;
using gemmtune::bench::peak_gops;

// With --cputime (one thread only) the clock is this thread's CPU time, so
// that time the thread spends preempted on a shared machine does not count.
bool g_thread_cpu_time = false;

double now_s() {
  if (g_thread_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Options {
  int threads = 0;
  bool cold = false;
  bool all = false;
  bool exhaustive = false;
  bool peak = false;
  bool list = false;
  std::string choice;
  std::vector<std::string> problems;
};

// Median time in seconds of one `run` over at least 5 samples and 0.3 s.
// Runs shorter than 50 us are timed in groups (warm only: a cold run needs
// its flush before every call), so clock overhead does not dominate.
double time_median(const std::function<void()>& run, const std::function<void()>& before_each, bool cold) {
  for (int i = 0; i < 2; ++i) {
    before_each();
    run();
  }
  int group = 1;
  if (!cold) {
    const double t0 = now_s();
    run();
    const double one = std::max(now_s() - t0, 1e-8);
    group = std::clamp(static_cast<int>(50e-6 / one), 1, 10000);
  }
  std::vector<double> times;
  const double start = now_s();
  while (times.size() < 5 || (now_s() - start < 0.3 && times.size() < 2000)) {
    before_each();
    const double t0 = now_s();
    for (int i = 0; i < group; ++i) run();
    times.push_back((now_s() - t0) / group);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// --cold: evicts every input and the output from all cache levels, as the
// tuner does before each timed run.
void flush_inputs(const measure::HostData& data) {
  std::vector<runtime::MemoryRange> ranges;
  for (const auto* b : {&data.a, &data.b, &data.bias, &data.c, &data.scale_a, &data.scale_b})
    if (b->bytes() > 0) ranges.push_back({b->data(), b->bytes()});
  (void)runtime::cpu_runtime().flush_caches(ranges);
}

bool cpu_has_avx512() {
  const auto& cpu = cpu::info();
  return cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq;
}

// --- peak -----------------------------------------------------------------------

struct Peaks {
  double f32[3] = {}, bf16[3] = {}, int8[3] = {};  // by thread count 1..2 (index = threads)
};

Peaks measure_peaks(int max_threads, bool print) {
  Peaks p;
  const auto& cpu = cpu::info();
  for (int t = 1; t <= std::min(max_threads, 2); ++t) {
    p.f32[t] = cpu.avx512f ? peak_gops(loop_f32_avx512, kF32OpsPerIter, t) : peak_gops(loop_f32_avx2, kAvx2OpsPerIter, t);
    if (cpu.avx512_bf16) p.bf16[t] = peak_gops(loop_bf16_avx512, kBf16OpsPerIter, t);
    if (cpu.avx512_vnni) p.int8[t] = peak_gops(loop_int8_vnni, kInt8OpsPerIter, t);
    if (print) {
      std::printf("peak %d thread(s): f32 %.1f GFLOP/s", t, p.f32[t]);
      if (cpu.avx512f) std::printf(" (avx2 ymm %.1f)", peak_gops(loop_f32_avx2, kAvx2OpsPerIter, t));
      std::printf(", bf16 %.1f GFLOP/s, int8 %.1f GOP/s\n", p.bf16[t], p.int8[t]);
    }
  }
  return p;
}

// --- problems -------------------------------------------------------------------

struct Parsed {
  Problem problem;
  std::string text;
};

std::optional<Parsed> parse_problem(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t at = text.find(':', start);
    parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  if (parts.size() < 3) return std::nullopt;
  ProblemSpec s;
  auto op = parse_op(parts[0]);
  auto dtype = parse_dtype(parts[1]);
  if (!op || !dtype) return std::nullopt;
  s.op = *op;
  s.dtype = *dtype;
  std::vector<std::int64_t> dims;
  std::size_t pos = 0;
  while (pos <= parts[2].size()) {
    std::size_t x = parts[2].find('x', pos);
    dims.push_back(std::stoll(parts[2].substr(pos, x == std::string::npos ? std::string::npos : x - pos)));
    if (x == std::string::npos) break;
    pos = x + 1;
  }
  if (dims.size() == 4) {
    s.batch = dims[0];
    dims.erase(dims.begin());
  }
  if (dims.size() != 3) return std::nullopt;
  s.m = dims[0];
  s.n = dims[1];
  s.k = dims[2];
  if (parts.size() > 3) {
    s.transpose_a = parts[3].size() == 2 && parts[3][0] == 't';
    s.transpose_b = parts[3].size() == 2 && parts[3][1] == 't';
  }
  if (parts.size() > 4) {
    auto act = parse_activation(parts[4]);
    if (!act) return std::nullopt;
    s.activation = *act;
  }
  Parsed out{make_problem(s), text};
  validate(out.problem);
  return out;
}

double flops_of(const Problem& p) { return 2.0 * p.batch * p.m * p.n * p.k; }

double peak_for(const Problem& p, const Peaks& peaks, int threads) {
  const int t = std::min(threads, 2);
  if (p.op == Op::int_mm) return peaks.int8[t];
  if (p.a.dtype == DType::bf16) return peaks.bf16[t];
  return peaks.f32[t];
}

void report(const char* who, const std::string& what, double seconds, const Problem& p, double peak) {
  const double gflops = flops_of(p) / seconds / 1e9;
  std::printf("  %-8s %-58s %10.1f us %8.1f GFLOP/s %5.1f%% of peak\n", who, what.c_str(), seconds * 1e6, gflops,
              peak > 0 ? 100.0 * gflops / peak : 0.0);
}

// --- CPP ----------------------------------------------------------------------------

double bench_cpp(const Problem& p, const measure::HostData& data, const Options& opt, int threads, const Peaks& peaks) {
  auto backend = backends::make_cpp_backend();
  TuningContext ctx;
  ctx.threads = threads;
  ctx.search_space = opt.exhaustive ? SearchSpace::exhaustive : SearchSpace::standard;
  std::vector<Choice> choices;
  if (!opt.choice.empty()) {
    choices.push_back(Choice{opt.choice, ""});
  } else {
    auto listed = backend->enumerate(p, ctx);
    if (!listed) {
      std::printf("  CPP      rejected: %s\n", listed.error().to_string().c_str());
      return 0;
    }
    choices = listed.value();
  }
  const GemmArgs args = data.args();
  auto before = [&] {
    if (opt.cold) flush_inputs(data);
  };
  double best = 0;
  std::string best_name;
  for (const Choice& c : choices) {
    auto kernel = backend->build(p, c, ctx);
    if (!kernel) {
      std::printf("  CPP      %s: %s\n", c.name.c_str(), kernel.error().to_string().c_str());
      continue;
    }
    Kernel& k = *kernel.value();
    const double t = time_median([&] { (void)k.run(args, RunContext{}); }, before, opt.cold);
    if (opt.all || choices.size() == 1) report("CPP", c.name, t, p, peak_for(p, peaks, threads));
    if (best == 0 || t < best) {
      best = t;
      best_name = c.name;
    }
  }
  if (!opt.all && choices.size() > 1) report("CPP", best_name + " (best)", best, p, peak_for(p, peaks, threads));
  return best;
}

// --- OpenBLAS -----------------------------------------------------------------------

// The separate elementwise pass after a library matmul: scalar libm
// (what a plain loop gives) or vectorized (as a tuned framework would do).
void bias_act_pass(const Problem& p, float* c, const float* bias, bool vectorized) {
  const int act = static_cast<int>(p.activation);
#pragma omp parallel
  {
    const std::int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    const std::int64_t begin = p.m * t / team, end = p.m * (t + 1) / team;
    if (vectorized) {
      bias_act_pass_avx512(c, begin, end, p.n, p.c.row_stride, bias, static_cast<float>(p.beta), act);
    } else {
      for (std::int64_t i = begin; i < end; ++i) {
        float* row = c + i * p.c.row_stride;
        for (std::int64_t j = 0; j < p.n; ++j) {
          const float x = row[j] + static_cast<float>(p.beta) * bias[j];
          row[j] = p.activation == Activation::gelu   ? 0.5f * x * (1.0f + std::erf(x * 0.70710678f))
                   : p.activation == Activation::relu ? std::max(x, 0.0f)
                   : p.activation == Activation::silu ? x / (1.0f + std::exp(-x))
                                                      : x;
        }
      }
    }
  }
}

double bench_openblas(const Problem& p, const measure::HostData& data, const Options& opt, int threads,
                      const Peaks& peaks, bool vectorized_pass) {
  if (p.a.dtype != DType::f32 || (p.op != Op::mm && p.op != Op::addmm)) return 0;
  openblas_set_num_threads(threads);
  const auto ta = p.a.is_row_major() ? CblasNoTrans : CblasTrans;
  const auto tb = p.b.is_row_major() ? CblasNoTrans : CblasTrans;
  const int lda = static_cast<int>(p.a.is_row_major() ? p.a.row_stride : p.a.col_stride);
  const int ldb = static_cast<int>(p.b.is_row_major() ? p.b.row_stride : p.b.col_stride);
  auto* c = static_cast<float*>(data.c.data());
  if (vectorized_pass && !cpu_has_avx512()) return 0;
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k),
                static_cast<float>(p.alpha), static_cast<const float*>(data.a.data()), lda,
                static_cast<const float*>(data.b.data()), ldb, 0.0f, c, static_cast<int>(p.c.row_stride));
    if (p.op == Op::addmm) bias_act_pass(p, c, static_cast<const float*>(data.bias.data()), vectorized_pass);
  };
  auto before = [&] {
    if (opt.cold) flush_inputs(data);
  };
  omp_set_num_threads(threads);
  const double t = time_median(run, before, opt.cold);
  report("OpenBLAS",
         p.op == Op::addmm ? (vectorized_pass ? "sgemm + separate AVX-512 bias/act pass" : "sgemm + separate scalar bias/act pass")
                           : "sgemm",
         t, p, peak_for(p, peaks, threads));
  return t;
}

// --- oneDNN -------------------------------------------------------------------------

double last_separate_pass_time = 0;  // oneDNN matmul + separate pass, for the ratio line

double bench_onednn(const Problem& p, const measure::HostData& data, const Options& opt, int threads,
                    const Peaks& peaks, bool fused) {
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  auto to_dt = [](DType t) {
    switch (t) {
      case DType::f32: return dt::f32;
      case DType::bf16: return dt::bf16;
      case DType::f16: return dt::f16;
      case DType::u8: return dt::u8;
      case DType::i8: return dt::s8;
      case DType::i32: return dt::s32;
      default: return dt::undef;
    }
  };
  if (p.op == Op::mixed_mm) return 0;
  const bool batched = is_batched(p.op);
  auto desc = [&](const MatrixDesc& d, std::int64_t rows, std::int64_t cols) {
    memory::dims dims = batched ? memory::dims{p.batch, rows, cols} : memory::dims{rows, cols};
    memory::dims strides = batched ? memory::dims{d.batch_stride, d.row_stride, d.col_stride}
                                   : memory::dims{d.row_stride, d.col_stride};
    return memory::desc(dims, to_dt(d.dtype), strides);
  };
  try {
    engine eng(engine::kind::cpu, 0);
    stream s(eng);
    memory::desc a = desc(p.a, p.m, p.k), b = desc(p.b, p.k, p.n), c = desc(p.c, p.m, p.n);
    primitive_attr attr;
    std::optional<memory::desc> bias;
    if (fused && p.bias == BiasKind::row) {
      bias = batched ? memory::desc({1, 1, p.n}, to_dt(p.bias_desc.dtype), tag::abc)
                     : memory::desc({1, p.n}, to_dt(p.bias_desc.dtype), tag::ab);
    }
    post_ops po;
    if (fused && p.activation != Activation::none) {
      algorithm alg = p.activation == Activation::gelu   ? algorithm::eltwise_gelu_erf
                      : p.activation == Activation::relu ? algorithm::eltwise_relu
                                                         : algorithm::eltwise_swish;
      po.append_eltwise(1.0f, alg, p.activation == Activation::silu ? 1.0f : 0.0f, 0.0f);
    }
    if (p.alpha != 1.0) attr.set_output_scales(0, {static_cast<float>(p.alpha)});
    attr.set_post_ops(po);
    matmul::desc md = bias ? matmul::desc(a, b, *bias, c) : matmul::desc(a, b, c);
    matmul::primitive_desc pd(md, attr, eng);
    matmul prim(pd);
    memory am(a, eng, data.a.data()), bm(b, eng, data.b.data()), cm(c, eng, data.c.data());
    std::unordered_map<int, memory> margs{{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
    if (bias) margs.emplace(DNNL_ARG_BIAS, memory(*bias, eng, data.bias.data()));
    omp_set_num_threads(threads);
    auto before = [&] {
      if (opt.cold) flush_inputs(data);
    };
    const double t = time_median([&] {
      prim.execute(s, margs);
      s.wait();
    }, before, opt.cold);
    std::string what = std::string("matmul ") + pd.impl_info_str();
    if (p.op == Op::addmm) what += fused ? " (fused bias+act post-op)" : " (no epilogue)";
    report("oneDNN", what, t, p, peak_for(p, peaks, threads));
    // The same matmul followed by a separate vectorized bias + activation
    // pass on the same OpenMP threads (no second thread pool competing).
    if (!fused && p.op == Op::addmm && p.a.dtype == DType::f32 && cpu_has_avx512()) {
      const double t2 = time_median([&] {
        prim.execute(s, margs);
        s.wait();
        bias_act_pass(p, static_cast<float*>(data.c.data()), static_cast<const float*>(data.bias.data()), true);
      }, before, opt.cold);
      report("oneDNN", what + " + separate AVX-512 bias/act pass", t2, p, peak_for(p, peaks, threads));
      last_separate_pass_time = t2;
    }
    return t;
  } catch (const dnnl::error& e) {
    std::printf("  oneDNN   not run: %s\n", e.what());
    return 0;
  }
}

int run(const Options& opt) {
  const int threads = opt.threads > 0 ? opt.threads : cpu::info().logical_cpus;
  if (g_thread_cpu_time && threads != 1) {
    std::fprintf(stderr, "--cputime measures one thread: use --threads 1\n");
    return 2;
  }
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("cpu: %s (%s), %d thread(s), %s timing, OPENBLAS_CORETYPE=%s\n", cpu::info().model.c_str(),
              cpu::info().isa_list().c_str(), threads, opt.cold ? "cold-cache" : "warm", coretype ? coretype : "(unset)");
  if (opt.list) {
    auto backend = backends::make_cpp_backend();
    TuningContext ctx;
    ctx.threads = threads;
    ctx.search_space = opt.exhaustive ? SearchSpace::exhaustive : SearchSpace::standard;
    for (const std::string& text : opt.problems) {
      auto parsed = parse_problem(text);
      if (!parsed) return 2;
      auto choices = backend->enumerate(parsed->problem, ctx);
      std::printf("%s: ", describe(parsed->problem).c_str());
      if (!choices) {
        std::printf("%s\n", choices.error().to_string().c_str());
        continue;
      }
      std::printf("%zu choices\n", choices.value().size());
      for (const Choice& c : choices.value()) std::printf("  %-56s %s\n", c.name.c_str(), c.description.c_str());
    }
    return 0;
  }
  const Peaks peaks = measure_peaks(threads, true);
  if (opt.peak && opt.problems.empty()) return 0;
  for (const std::string& text : opt.problems) {
    auto parsed = parse_problem(text);
    if (!parsed) {
      std::fprintf(stderr, "bad problem '%s'\n", text.c_str());
      return 2;
    }
    const Problem& p = parsed->problem;
    std::printf("%s  [%s]\n", describe(p).c_str(), text.c_str());
    const measure::HostData data = measure::make_host_data(p, 1);
    const double cpp = bench_cpp(p, data, opt, threads, peaks);
    const double blas = bench_openblas(p, data, opt, threads, peaks, false);
    const double blas_vec = p.op == Op::addmm ? bench_openblas(p, data, opt, threads, peaks, true) : 0;
    last_separate_pass_time = 0;
    const double dnnl_plain = bench_onednn(p, data, opt, threads, peaks, false);
    const double dnnl_fused = p.op == Op::addmm ? bench_onednn(p, data, opt, threads, peaks, true) : 0;
    if (cpp > 0) {
      if (blas > 0) std::printf("  ratio CPP vs OpenBLAS%s: %.2fx\n", p.op == Op::addmm ? " + scalar pass" : "", blas / cpp);
      if (blas_vec > 0) std::printf("  ratio CPP vs OpenBLAS + AVX-512 pass: %.2fx\n", blas_vec / cpp);
      if (dnnl_plain > 0) std::printf("  ratio CPP vs oneDNN%s: %.2fx\n", p.op == Op::addmm ? " (matmul only)" : "", dnnl_plain / cpp);
      if (dnnl_fused > 0) std::printf("  ratio CPP vs oneDNN fused: %.2fx\n", dnnl_fused / cpp);
      if (p.op == Op::addmm && last_separate_pass_time > 0)
        std::printf("  ratio CPP vs oneDNN matmul + separate AVX-512 pass: %.2fx\n", last_separate_pass_time / cpp);
    }
  }
  return 0;
}

}  // namespace
}  // namespace cpu_kernels_bench

int main(int argc, char** argv) {
  cpu_kernels_bench::Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) opt.threads = std::atoi(argv[++i]);
    else if (arg == "--cold") opt.cold = true;
    else if (arg == "--all") opt.all = true;
    else if (arg == "--exhaustive") opt.exhaustive = true;
    else if (arg == "--peak") opt.peak = true;
    else if (arg == "--list") opt.list = true;
    else if (arg == "--cputime") cpu_kernels_bench::g_thread_cpu_time = true;
    else if (arg == "--choice" && i + 1 < argc) opt.choice = argv[++i];
    else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return 2;
    } else opt.problems.push_back(arg);
  }
  return cpu_kernels_bench::run(opt);
}
