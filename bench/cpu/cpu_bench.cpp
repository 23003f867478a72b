// CPU benchmark: tunes a list of problems through the real tuner over the
// CPU backends and prints, side by side from one run on the same inputs,
// each backend's best time, the selected kernel, its speedup over the
// library backend (BLAS), CPP against oneDNN, and CPP as a fraction of the
// measured peak. Usage:
//   gemmtune_cpu_bench [--threads N] [--exhaustive] [--warm] [--budget-ms X] [--only SUBSTRING] [--markdown FILE]
// --warm times with the inputs left in cache (default: cold, as the tuner).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "gemmtune/tuner.h"
#include "peak/peak_loops.h"
#include "util/cpu_info.h"

namespace {

using namespace gemmtune;

struct Case {
  std::string name;
  ProblemSpec spec;
};

ProblemSpec make(Op op, DType dtype, std::int64_t m, std::int64_t n, std::int64_t k, bool nt = false) {
  ProblemSpec s;
  s.op = op;
  s.dtype = dtype;
  s.m = m;
  s.n = n;
  s.k = k;
  s.transpose_b = nt;
  return s;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"f32 mm 1024^3", make(Op::mm, DType::f32, 1024, 1024, 1024)});
  out.push_back({"f32 mm 2048^3", make(Op::mm, DType::f32, 2048, 2048, 2048)});
  out.push_back({"f32 mm 64^3 (small)", make(Op::mm, DType::f32, 64, 64, 64)});
  out.push_back({"f32 mm 32x48x40 (small)", make(Op::mm, DType::f32, 32, 48, 40)});
  out.push_back({"f32 mm 17x63x33 nt (small)", make(Op::mm, DType::f32, 17, 63, 33, true)});
  out.push_back({"f32 mm 1x4096x1024 nt (skinny)", make(Op::mm, DType::f32, 1, 4096, 1024, true)});
  out.push_back({"f32 mm 8x1024x1024 nt (skinny)", make(Op::mm, DType::f32, 8, 1024, 1024, true)});
  out.push_back({"f32 mm 16x4096x4096 nt (skinny)", make(Op::mm, DType::f32, 16, 4096, 4096, true)});
  out.push_back({"bf16 mm 1024^3", make(Op::mm, DType::bf16, 1024, 1024, 1024)});
  out.push_back({"bf16 mm 16x4096x4096 nt (skinny)", make(Op::mm, DType::bf16, 16, 4096, 4096, true)});
  out.push_back({"u8s8 int_mm 1024^3", make(Op::int_mm, DType::u8, 1024, 1024, 1024)});
  out.push_back({"s8s8 int_mm 1024^3", make(Op::int_mm, DType::i8, 1024, 1024, 1024)});
  auto gelu = make(Op::addmm, DType::f32, 512, 3072, 768, true);
  gelu.activation = Activation::gelu;
  out.push_back({"f32 addmm+gelu 512x3072x768 nt", gelu});
  gelu.dtype = DType::bf16;
  out.push_back({"bf16 addmm+gelu 512x3072x768 nt", gelu});
  auto gelu_square = make(Op::addmm, DType::f32, 1024, 1024, 1024);
  gelu_square.activation = Activation::gelu;
  out.push_back({"f32 addmm+gelu 1024^3", gelu_square});
  auto gelu_short_k = make(Op::addmm, DType::f32, 2048, 2048, 256, true);
  gelu_short_k.activation = Activation::gelu;
  out.push_back({"f32 addmm+gelu 2048x2048x256 nt", gelu_short_k});
  out.push_back({"bf16 mixed_mm 16x4096x4096", make(Op::mixed_mm, DType::bf16, 16, 4096, 4096)});
  out.push_back({"bf16 mixed_mm 16x4096x4096 nt", make(Op::mixed_mm, DType::bf16, 16, 4096, 4096, true)});
  out.push_back({"f32 mixed_mm 1x4096x4096 nt", make(Op::mixed_mm, DType::f32, 1, 4096, 4096, true)});
  auto batched = make(Op::bmm, DType::f32, 128, 128, 64);
  batched.batch = 16;
  out.push_back({"f32 bmm 16x128x128x64", batched});
  return out;
}

double flops(const Problem& p) { return 2.0 * p.batch * p.m * p.n * p.k; }

struct Row {
  std::string name;
  Problem problem;
  std::map<std::string, double> best_us;  // per backend, verified choices only
  std::map<std::string, std::string> best_choice;
  std::map<std::string, std::string> why_none;
  std::string winner;
  double winner_us = 0;
  double tuning_seconds = 0;
};

std::optional<double> get(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

std::string fmt(double v, const char* format = "%.1f") {
  char text[64];
  std::snprintf(text, sizeof(text), format, v);
  return text;
}

std::string ratio(std::optional<double> numerator_us, std::optional<double> denominator_us) {
  if (!numerator_us || !denominator_us || *denominator_us <= 0) return "n/a";
  return fmt(*numerator_us / *denominator_us, "%.2fx");
}

}  // namespace

int main(int argc, char** argv) {
  int threads = cpu::info().logical_cpus;
  bool exhaustive = false;
  bool warm = false;
  double budget_ms = 100;
  std::string only, markdown;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--threads") threads = std::atoi(value().c_str());
    else if (arg == "--exhaustive") exhaustive = true;
    else if (arg == "--warm") warm = true;
    else if (arg == "--budget-ms") budget_ms = std::atof(value().c_str());
    else if (arg == "--only") only = value();
    else if (arg == "--markdown") markdown = value();
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--exhaustive] [--warm] [--budget-ms X] [--only TEXT] [--markdown FILE]\n",
                   argv[0]);
      return 2;
    }
  }

  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("machine: %s, %d CPUs, isa %s\n", cpu::info().model.c_str(), cpu::info().logical_cpus,
              cpu::info().isa_list().c_str());
  std::printf("threads: %d; OPENBLAS_CORETYPE=%s; search space %s; budget %.0f ms per choice; %s cache\n\n",
              threads, coretype ? coretype : "(unset)", exhaustive ? "exhaustive" : "default", budget_ms,
              warm ? "warm" : "cold");

  std::printf("peak (FMA-bound loops):\n");
  auto peaks = bench::measure_peaks(threads);
  std::map<std::string, double> peak_at_threads;
  for (const auto& p : peaks) {
    std::printf("  %-24s %2d thread(s): %8.1f GFLOP/s\n", p.name.c_str(), p.threads, p.gflops);
    if (p.threads == threads) peak_at_threads[p.name] = p.gflops;
  }
  std::printf("\n");

  std::vector<std::string> cpu_backends;
  for (const auto& b : builtin_backends()) {
    std::string name(b->name());
    if (b->device_kind() == DeviceKind::cpu && name != "REFERENCE" && b->availability().available)
      cpu_backends.push_back(name);
  }

  std::vector<Row> rows;
  for (const auto& c : cases()) {
    if (!only.empty() && c.name.find(only) == std::string::npos) continue;
    TuneOptions options;
    options.backends = cpu_backends;
    options.use_cache = false;
    options.threads = threads;
    options.search_space = exhaustive ? SearchSpace::exhaustive : SearchSpace::standard;
    options.measure.budget_ms = budget_ms;
    options.measure.cold_cache = !warm;
    Row row{c.name, make_problem(c.spec), {}, {}, {}, "", 0, 0};
    std::fprintf(stderr, "tuning %s ...\n", c.name.c_str());
    try {
      Tuner tuner(options);
      TuneResult result = tuner.tune(row.problem);
      for (const auto& b : result.record.backends)
        if (b.rejection) row.why_none[b.backend] = std::string(to_string(b.rejection->reason));
      for (const auto& choice : result.record.choices) {
        if (!choice.timing) continue;
        auto current = get(row.best_us, choice.backend);
        if (!current || choice.timing->median_us < *current) {
          row.best_us[choice.backend] = choice.timing->median_us;
          row.best_choice[choice.backend] = choice.name;
        }
      }
      row.winner = result.record.winner->backend + "/" + result.record.winner->choice;
      row.winner_us = result.record.winner->time_us;
      row.tuning_seconds = result.record.tuning_seconds;
    } catch (const std::exception& e) {
      row.winner = std::string("error: ") + e.what();
    }
    rows.push_back(row);
  }

  auto peak_for = [&](const Problem& p) -> std::optional<double> {
    // CPP computes bf16 activations (mixed_mm too) with vdpbf16ps.
    const char* key = p.a.dtype == DType::bf16 ? "bf16 vdpbf16ps"
                      : is_integer(p.a.dtype) && p.op == Op::int_mm ? "int8 vpdpbusd"
                                                                     : "f32 fma zmm (AVX-512)";
    auto it = peak_at_threads.find(key);
    if (it == peak_at_threads.end()) return std::nullopt;
    return it->second;
  };

  std::ostringstream table;
  table << "| problem | BLAS us | ONEDNN us | CPP us | selected | selected vs BLAS | CPP vs ONEDNN | CPP vs best library | CPP GFLOP/s | CPP % of peak |\n";
  table << "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& r : rows) {
    auto cell = [&](const std::string& backend) {
      if (auto us = get(r.best_us, backend)) return fmt(*us);
      auto it = r.why_none.find(backend);
      return it == r.why_none.end() ? std::string("-") : it->second;
    };
    auto blas = get(r.best_us, "BLAS"), dnnl = get(r.best_us, "ONEDNN"), cpp = get(r.best_us, "CPP");
    std::optional<double> best_lib;
    for (auto lib : {blas, dnnl})
      if (lib && (!best_lib || *lib < *best_lib)) best_lib = lib;
    std::string gflops = "-", fraction = "-";
    if (cpp) {
      double g = flops(r.problem) / (*cpp * 1e3);
      gflops = fmt(g);
      if (auto peak = peak_for(r.problem)) fraction = fmt(100.0 * g / *peak, "%.0f%%");
    }
    table << "| " << r.name << " | " << cell("BLAS") << " | " << cell("ONEDNN") << " | " << cell("CPP") << " | "
          << r.winner << " | "
          << (blas && r.winner_us > 0 ? ratio(blas, r.winner_us) : std::string("n/a")) << " | "
          << ratio(dnnl, cpp) << " | " << ratio(best_lib, cpp) << " | " << gflops << " | " << fraction << " |\n";
  }

  // The derived ratios, from the rows above.
  auto cpp_us = [&](const std::string& name) -> std::optional<double> {
    for (const auto& r : rows)
      if (r.name == name) return get(r.best_us, "CPP");
    return std::nullopt;
  };
  auto lib_us = [&](const std::string& name, const char* backend) -> std::optional<double> {
    for (const auto& r : rows)
      if (r.name == name) return get(r.best_us, backend);
    return std::nullopt;
  };
  std::ostringstream derived;
  derived << "- CPP bf16 / CPP f32 speed at 1024^3: " << ratio(cpp_us("f32 mm 1024^3"), cpp_us("bf16 mm 1024^3")) << "\n";
  derived << "- CPP u8s8 int8 / CPP f32 speed at 1024^3: " << ratio(cpp_us("f32 mm 1024^3"), cpp_us("u8s8 int_mm 1024^3")) << "\n";
  derived << "- CPP s8s8 int8 / CPP f32 speed at 1024^3: " << ratio(cpp_us("f32 mm 1024^3"), cpp_us("s8s8 int_mm 1024^3")) << "\n";
  for (const char* name : {"f32 addmm+gelu 512x3072x768 nt", "f32 addmm+gelu 1024^3", "f32 addmm+gelu 2048x2048x256 nt"})
    derived << "- fused " << name << ", CPP vs BLAS (matmul then a separate bias+gelu pass): "
            << ratio(lib_us(name, "BLAS"), cpp_us(name)) << "\n";

  std::printf("%s\n%s", table.str().c_str(), derived.str().c_str());
  std::printf("\n(ratios > 1 mean the second named is faster; times are medians of cold-cache runs)\n");
  if (!markdown.empty()) {
    std::ofstream out(markdown);
    out << table.str() << "\n" << derived.str();
  }
  return 0;
}
