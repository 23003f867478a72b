// The machine's arithmetic peak, measured with loops that do nothing but
// independent multiply-adds, so kernel speeds can be read as a fraction of it.
#pragma once

#include <string>
#include <vector>

namespace gemmtune::bench {

struct PeakResult {
  std::string name;     // "f32 fma zmm", "bf16 vdpbf16ps", "int8 vpdpbusd"
  int threads = 1;
  double gflops = 0;    // operations per second / 1e9 (a multiply-add counts 2)
};

// Measures every loop this CPU supports, on 1 thread and on `threads`.
std::vector<PeakResult> measure_peaks(int threads);

}  // namespace gemmtune::bench
