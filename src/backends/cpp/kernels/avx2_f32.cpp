// AVX2 + FMA f32 register tiles (compiled with -mavx2 -mfma -mf16c only), for
// CPUs without AVX-512. 16 ymm registers: at most 12 accumulators.
#include <iterator>

#include "backends/cpp/kernels/simd_avx2.h"
#include "backends/cpp/kernels/microkernel.h"
#include "backends/cpp/kernels/packing.h"

namespace gemmtune::backends::cpp {
namespace {

using kernels::Avx2;
using kernels::FmaF32;

template <int MR, int NV>
constexpr TileKernel f32_tile() {
  return TileKernel{Isa::avx2,
                    Arith::f32,
                    MR,
                    NV * Avx2::kWidth,
                    &kernels::tile<Avx2, FmaF32<Avx2>, MR, NV>,
                    &kernels::pack_f32<Avx2, MR>,
                    &kernels::pack_f32<Avx2, NV * Avx2::kWidth>,
                    &kernels::direct<Avx2, MR, NV>};
}

constexpr TileKernel kTiles[] = {
    f32_tile<6, 2>(),  // 12 accumulators of 6 x 16
    f32_tile<4, 3>(),  // 12 accumulators of 4 x 24
    f32_tile<8, 1>(),  // narrow: 8 x 8
};

}  // namespace

constinit const TileKernelList kAvx2F32Tiles{kTiles, static_cast<int>(std::size(kTiles))};

}  // namespace gemmtune::backends::cpp
