// AVX2 + FMA f32 register tiles (compiled with -mavx2 -mfma -mf16c only), for
// CPUs without AVX-512. 16 ymm registers: at most 12 accumulators.
#include <iterator>

#include "backends/cpp/kernels/simd_avx2.h"
#include "backends/cpp/kernels/microkernel.h"

namespace gemmtune::backends::cpp {
namespace {

using kernels::Avx2;
using kernels::f32_tile;

constexpr TileKernel kTiles[] = {
    f32_tile<Avx2, 6, 2>(),  // 12 accumulators of 6 x 16
    f32_tile<Avx2, 4, 3>(),  // 12 accumulators of 4 x 24
    f32_tile<Avx2, 8, 1>(),  // narrow: 8 x 8
};

}  // namespace

constinit const TileKernelList kAvx2F32Tiles{kTiles, static_cast<int>(std::size(kTiles))};

}  // namespace gemmtune::backends::cpp
