// Runs the peak loops (compiled separately with ISA flags) only on CPUs that
// have the instructions.
#include <omp.h>

#include <chrono>

#include "peak/peak_loops.h"
#include "util/cpu_info.h"

namespace gemmtune::bench {

double peak_gops(double (*loop)(std::int64_t), double ops_per_iter, int threads) {
  const std::int64_t iters = 20'000'000;
  double sink = 0;
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  sink += loop(iters);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  volatile double keep = sink;  // the loops' results must be used
  (void)keep;
  return ops_per_iter * static_cast<double>(iters) * threads / seconds / 1e9;
}

std::vector<PeakResult> measure_peaks(int threads) {
  const auto& cpu = cpu::info();
  std::vector<PeakResult> out;
  for (int t : {1, threads}) {
    if (t < 1 || (t == 1 && !out.empty())) continue;
    if (cpu.avx2 && cpu.fma) out.push_back({"f32 fma ymm (AVX2)", t, peak_gops(loop_f32_avx2, kAvx2OpsPerIter, t)});
    if (cpu.avx512f) out.push_back({"f32 fma zmm (AVX-512)", t, peak_gops(loop_f32_avx512, kF32OpsPerIter, t)});
    if (cpu.avx512_bf16) out.push_back({"bf16 vdpbf16ps", t, peak_gops(loop_bf16_avx512, kBf16OpsPerIter, t)});
    if (cpu.avx512_vnni) out.push_back({"int8 vpdpbusd", t, peak_gops(loop_int8_vnni, kInt8OpsPerIter, t)});
  }
  return out;
}

}  // namespace gemmtune::bench
