// The CUDA backend's kernel sources (the .cu and .cuh files beside the
// families), embedded into the library at build time: NVRTC compiles them at
// run time, and nothing is read from disk.
#pragma once

#include <string_view>
#include <vector>

namespace gemmtune::backends::cuda_kernels {

struct EmbeddedFile {
  std::string_view name;  // file name without folder: "hopper_gemm.cu"
  std::string_view text;
};

// Every embedded file (defined in the generated embedded_kernels.cpp).
const std::vector<EmbeddedFile>& embedded_files();

// The text of one embedded file; empty when there is none by that name.
std::string_view embedded(std::string_view name);

}  // namespace gemmtune::backends::cuda_kernels
