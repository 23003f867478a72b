// FMA-bound loops, one per instruction set; each returns GFLOP/s (int8:
// GOP/s) on `threads` threads. Call only when the CPU has the instructions.
#pragma once

namespace gemmtune::bench {

double f32_zmm(int threads);
double f32_ymm(int threads);
double bf16_dot(int threads);
double int8_dot(int threads);

}  // namespace gemmtune::bench
