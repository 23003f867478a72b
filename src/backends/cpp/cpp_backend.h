// CPP: gemmtune's own CPU GEMM kernels (the counterpart of Inductor's CPP
// GEMM template). C++ templates instantiated at build time for a set of
// register tiles per instruction set (AVX-512, AVX2); the cache blocks,
// packing and thread split are chosen at tuning time.
//
// Layout of the folder:
//   cpp_backend.*          the Backend: enumerate/build, names, rejections
//   config.*               choice parameters, names, invariants, search spaces
//   framework/gemm_driver.* packing buffers, MC/KC/NC loops, threads, edges
//   kernel_api.h           the plain-data contract between framework and tiles
//   kernels/               micro-kernels, packers and the epilogue, per ISA
#pragma once

#include <memory>

#include "backends/cpp/config.h"
#include "gemmtune/backend.h"

namespace gemmtune::backends {

std::shared_ptr<Backend> make_cpp_backend();

// The same backend on a CPU described by `features` instead of the real one,
// so tests can see what a CPU without AVX-512, BF16 or VNNI would get. Built
// choices run real code: only build choices the real CPU can run.
std::shared_ptr<Backend> make_cpp_backend(const cpp::CpuFeatures& features);

}  // namespace gemmtune::backends
