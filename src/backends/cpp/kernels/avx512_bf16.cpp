// AVX-512 BF16 register tiles: vdpbf16ps multiplies pairs of bf16 and adds
// both products to an f32 accumulator, so packed panels interleave K in
// pairs. Also serves mixed_mm with bf16 activations: int8 weights become bf16
// exactly while packing (|v| <= 128 fits bf16's 8-bit significand) and the
// per-column scale is applied in the epilogue.
// Compiled with the AVX-512 flags plus -mavx512bf16.
#include <cstring>
#include <iterator>

#include "backends/cpp/kernels/simd_avx512.h"
#include "backends/cpp/kernels/microkernel.h"
#include "backends/cpp/kernels/dot.h"

namespace gemmtune::backends::cpp {
namespace kernels {
namespace {

struct DotBf16 {
  using Acc = __m512;
  using BVec = __m512bh;
  using Elem = std::uint16_t;
  static constexpr int kGroup = 2;
  static constexpr bool kIntegerAcc = false;
  static GEMMTUNE_CPP_INLINE Acc zero() { return _mm512_setzero_ps(); }
  static GEMMTUNE_CPP_INLINE BVec load_b(const Elem* p) { return (__m512bh)_mm512_load_si512(p); }
  static GEMMTUNE_CPP_INLINE Acc madd(Acc acc, const Elem* a, BVec b) {
    std::int32_t pair;
    std::memcpy(&pair, a, 4);
    return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_set1_epi32(pair), b);
  }
};

// 16 lanes of one K row as bf16 bits in the low half of each 32-bit lane.
GEMMTUNE_CPP_INLINE __m512i load_lanes_as_bf16(const char* p, DType dtype, int n) {
  if (n <= 0) return _mm512_setzero_si512();
  if (dtype == DType::i8) {  // exact: the top half of the f32
    __m512 f = Avx512::load_i8(reinterpret_cast<const std::int8_t*>(p), n);
    return _mm512_srli_epi32(_mm512_castps_si512(f), 16);
  }
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(Avx512::mask(n), p));
}

// Lanes contiguous (A column-major, B row-major), bf16 or i8 source: each
// pair of K rows becomes 32-bit (k, k+1) words, 16 lanes at a time.
template <int W>
void pack_bf16_lanes_contiguous(const PanelSource& s, std::int64_t lanes, std::int64_t depth, void* dst_bytes) {
  const std::int64_t elem = static_cast<std::int64_t>(dtype_bytes(s.dtype));
  const std::int64_t groups = (depth + 1) / 2;
  auto* dst = static_cast<std::uint32_t*>(dst_bytes);
  const auto* src = static_cast<const char*>(s.data);
  for (std::int64_t p0 = 0; p0 < lanes; p0 += W) {
    const int lw = static_cast<int>(min64(W, lanes - p0));
    std::uint32_t* out = dst + (p0 / W) * groups * W;
    for (std::int64_t g = 0; g < groups; ++g) {
      const char* row0 = src + (p0 + (2 * g) * s.depth_stride) * elem;
      const bool has_second = 2 * g + 1 < depth;
      const char* row1 = row0 + s.depth_stride * elem;
      for (int l = 0; l < W; l += 16) {
        __m512i lo = load_lanes_as_bf16(row0 + l * elem, s.dtype, lw - l);
        __m512i hi = has_second ? load_lanes_as_bf16(row1 + l * elem, s.dtype, lw - l) : _mm512_setzero_si512();
        __m512i words = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
        _mm512_mask_storeu_epi32(out + g * W + l, Avx512::mask(W - l), words);
      }
    }
  }
}

template <int W>
void pack_bf16(const PanelSource& s, std::int64_t lanes, std::int64_t depth, void* dst, std::int32_t*) {
  const bool vectorizable = s.dtype == DType::bf16 || s.dtype == DType::i8;
  if (vectorizable && (s.lane_stride == 1 || lanes == 1)) return pack_bf16_lanes_contiguous<W>(s, lanes, depth, dst);
  if (s.dtype == DType::bf16 && (s.depth_stride == 1 || depth == 1)) {
    PanelSource unit = s;
    unit.depth_stride = 1;
    return pack_depth_contiguous<Avx512, W, 2, Convert::to_bf16>(unit, lanes, depth, dst, 0);
  }
  pack_generic<W, 2, Convert::to_bf16>(s, lanes, depth, dst);
}

// Dot path: vdpbf16ps adds the products of a K pair into one lane, so a
// vector of 32 K-contiguous bf16 is already the pair layout it wants.
struct DotPairsBf16 {
  static constexpr int kStep = 32;
  static GEMMTUNE_CPP_INLINE __m512 madd(__m512 acc, __m512bh a, __m512bh b) { return _mm512_dpbf16_ps(acc, a, b); }
};
struct LoadBf16Pairs {
  using Elem = std::uint16_t;
  static GEMMTUNE_CPP_INLINE __m512bh load(const Elem* p) { return (__m512bh)_mm512_loadu_si512(p); }
  static GEMMTUNE_CPP_INLINE __m512bh load(const Elem* p, int n) {
    const __mmask32 m = n >= 32 ? ~__mmask32{0} : (__mmask32{1} << n) - 1;
    return (__m512bh)_mm512_maskz_loadu_epi16(m, p);
  }
};
// int8 weights to bf16, exactly (|v| <= 128 has at most 8 significant bits).
struct LoadI8Pairs {
  using Elem = std::int8_t;
  static GEMMTUNE_CPP_INLINE __m512bh convert(__m256i bytes) {
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(bytes)));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(bytes, 1)));
    return _mm512_cvtne2ps_pbh(hi, lo);
  }
  static GEMMTUNE_CPP_INLINE __m512bh load(const Elem* p) {
    return convert(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static GEMMTUNE_CPP_INLINE __m512bh load(const Elem* p, int n) {
    const __mmask32 m = n >= 32 ? ~__mmask32{0} : (__mmask32{1} << n) - 1;
    return convert(_mm256_maskz_loadu_epi8(m, p));
  }
};

}  // namespace
}  // namespace kernels

namespace {

template <int MR, int NR>
constexpr DotKernel bf16_dot() {
  using namespace kernels;
  DotKernel d{Isa::avx512, Arith::bf16, MR, NR, {}};
  d.fn[static_cast<int>(DotInputs::bf16)] = &dot<DotPairsBf16, LoadBf16Pairs, LoadBf16Pairs, MR, NR>;
  d.fn[static_cast<int>(DotInputs::bf16_i8)] = &dot<DotPairsBf16, LoadBf16Pairs, LoadI8Pairs, MR, NR>;
  return d;
}

constexpr DotKernel kDots[] = {
    bf16_dot<4, 4>(),
    bf16_dot<8, 3>(),
    bf16_dot<2, 8>(),
};

template <int MR, int NV>
constexpr TileKernel bf16_tile() {
  using namespace kernels;
  return tile_kernel<Avx512, DotBf16, MR, NV>(Arith::bf16, &pack_bf16<MR>, &pack_bf16<NV * Avx512::kWidth>);
}

constexpr TileKernel kTiles[] = {
    bf16_tile<14, 2>(),
    bf16_tile<12, 2>(),
    bf16_tile<8, 3>(),
    bf16_tile<6, 4>(),
    bf16_tile<16, 1>(),
    bf16_tile<4, 4>(),
};

}  // namespace

constinit const TileKernelList kAvx512Bf16Tiles{kTiles, static_cast<int>(std::size(kTiles))};
constinit const DotKernelList kAvx512Bf16Dots{kDots, static_cast<int>(std::size(kDots))};

}  // namespace gemmtune::backends::cpp
