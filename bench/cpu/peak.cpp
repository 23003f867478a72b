#include "peak.h"

#include "peak_kernels.h"
#include "util/cpu_info.h"

namespace gemmtune::bench {

std::vector<PeakResult> measure_peaks(int threads) {
  const auto& cpu = cpu::info();
  std::vector<PeakResult> out;
  for (int t : {1, threads}) {
    if (t < 1 || (t == 1 && threads == 1 && !out.empty())) continue;
    if (cpu.avx2 && cpu.fma) out.push_back({"f32 fma ymm (AVX2)", t, f32_ymm(t)});
    if (cpu.avx512f) out.push_back({"f32 fma zmm (AVX-512)", t, f32_zmm(t)});
    if (cpu.avx512_bf16) out.push_back({"bf16 vdpbf16ps", t, bf16_dot(t)});
    if (cpu.avx512_vnni) out.push_back({"int8 vpdpbusd", t, int8_dot(t)});
  }
  return out;
}

}  // namespace gemmtune::bench
