// AVX-512 f32 register tiles (compiled with the AVX-512 flags only).
// Zen 4 and Skylake-class cores retire about one 512-bit FMA per cycle per
// port with a latency of 4: a tile needs well over 8 independent accumulators
// and as few loads per FMA as the 32 registers allow.
#include <iterator>

#include "backends/cpp/kernels/simd_avx512.h"
#include "backends/cpp/kernels/microkernel.h"
#include "backends/cpp/kernels/dot.h"

namespace gemmtune::backends::cpp {
namespace {

using kernels::Avx512;
using kernels::f32_tile;

constexpr TileKernel kTiles[] = {
    f32_tile<Avx512, 14, 2>(),  // 28 accumulators: the workhorse for large problems
    f32_tile<Avx512, 12, 2>(),
    f32_tile<Avx512, 8, 3>(),
    f32_tile<Avx512, 6, 4>(),
    f32_tile<Avx512, 8, 2>(),   // small problems: 16 accumulators, little edge waste at 8/16/32
    f32_tile<Avx512, 16, 1>(),  // tall and narrow: small N, M <= 16 rows of one vector
    f32_tile<Avx512, 4, 4>(),   // short and wide: M <= 4 with many columns
};

// Dot-product tiles (B with K-contiguous columns): f32 or f16 operands, and
// f32/f16 activations against int8 weights, all multiplied in f32.
template <int MR, int NR>
constexpr DotKernel f32_dot() {
  using namespace kernels;
  DotKernel d{Isa::avx512, Arith::f32, MR, NR, {}};
  d.fn[static_cast<int>(DotInputs::f32)] = &dot<DotFmaF32, LoadF32, LoadF32, MR, NR>;
  d.fn[static_cast<int>(DotInputs::f16)] = &dot<DotFmaF32, LoadF16, LoadF16, MR, NR>;
  d.fn[static_cast<int>(DotInputs::f32_i8)] = &dot<DotFmaF32, LoadF32, LoadI8, MR, NR>;
  d.fn[static_cast<int>(DotInputs::f16_i8)] = &dot<DotFmaF32, LoadF16, LoadI8, MR, NR>;
  return d;
}

// Each B vector feeds MR FMAs and each A vector NR: 4 x 4 and 8 x 3 load
// about one vector per two FMAs (below the load ports' rate) for M up to 16;
// 2 x 8 is for one or two rows, where B's bandwidth is the limit anyway.
constexpr DotKernel kDots[] = {
    f32_dot<4, 4>(),
    f32_dot<8, 3>(),
    f32_dot<2, 8>(),
};

}  // namespace

constinit const TileKernelList kAvx512F32Tiles{kTiles, static_cast<int>(std::size(kTiles))};
constinit const DotKernelList kAvx512F32Dots{kDots, static_cast<int>(std::size(kDots))};

}  // namespace gemmtune::backends::cpp
