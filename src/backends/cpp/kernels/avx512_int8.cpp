// AVX-512 VNNI register tiles for int_mm: vpdpbusd multiplies four u8 of A by
// four s8 of B and adds the sum to an i32 accumulator (no saturation), so
// packed panels interleave K in quads. u8 x s8 maps straight onto it; for
// s8 x s8, A is packed as a + 128 (an unsigned byte) and the tile adds
// -128 * (column sums of B), computed while packing B. i32 sums wrap like the
// reference's two's-complement result.
// Compiled with the AVX-512 flags plus -mavx512vnni.
#include <cstring>
#include <iterator>

#include "backends/cpp/kernels/simd_avx512.h"
#include "backends/cpp/kernels/microkernel.h"

namespace gemmtune::backends::cpp {
namespace kernels {
namespace {

struct DotU8S8 {
  using Acc = __m512i;
  using BVec = __m512i;
  using Elem = std::uint8_t;
  static constexpr int kGroup = 4;
  static constexpr bool kIntegerAcc = true;
  static GEMMTUNE_CPP_INLINE Acc zero() { return _mm512_setzero_si512(); }
  static GEMMTUNE_CPP_INLINE BVec load_b(const Elem* p) { return _mm512_load_si512(p); }
  static GEMMTUNE_CPP_INLINE Acc madd(Acc acc, const Elem* a, BVec b) {
    std::int32_t quad;
    std::memcpy(&quad, a, 4);
    return _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(quad), b);
  }
};

// Lanes contiguous (A column-major, B row-major): four K rows become 32-bit
// (k..k+3) words, 16 lanes at a time; `flip` XORs every byte (s8 -> u8 + 128).
template <int W>
void pack_int8_lanes_contiguous(const PanelSource& s, std::int64_t lanes, std::int64_t depth, void* dst_bytes,
                                std::uint32_t flip) {
  const std::int64_t groups = (depth + 3) / 4;
  auto* dst = static_cast<std::uint32_t*>(dst_bytes);
  const auto* src = static_cast<const std::uint8_t*>(s.data);
  const __m512i flip_v = _mm512_set1_epi32(static_cast<int>(flip));
  for (std::int64_t p0 = 0; p0 < lanes; p0 += W) {
    const int lw = static_cast<int>(min64(W, lanes - p0));
    std::uint32_t* out = dst + (p0 / W) * groups * W;
    for (std::int64_t g = 0; g < groups; ++g) {
      for (int l = 0; l < W; l += 16) {
        const __mmask16 in_mask = Avx512::mask(lw - l);
        __m512i words = _mm512_setzero_si512();
        for (int e = 0; e < 4; ++e) {
          const std::int64_t k = 4 * g + e;
          if (k >= depth) break;
          const std::uint8_t* row = src + p0 + l + k * s.depth_stride;
          __m512i bytes = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(in_mask, row));
          words = _mm512_or_si512(words, _mm512_slli_epi32(bytes, 8 * e));
        }
        // Flip only real elements: padding lanes and K stay zero.
        const std::int64_t real_k = depth - 4 * g;
        const std::uint32_t k_bytes = real_k >= 4 ? 0xffffffffu : (1u << (8 * real_k)) - 1;
        words = _mm512_mask_xor_epi32(words, in_mask, words, _mm512_and_si512(flip_v, _mm512_set1_epi32(static_cast<int>(k_bytes))));
        _mm512_mask_storeu_epi32(out + g * W + l, Avx512::mask(W - l), words);
      }
    }
  }
}

// A panels: u8 as is, s8 shifted to u8 + 128.
template <int W, bool kShiftSigned>
void pack_int8_a(const PanelSource& s, std::int64_t lanes, std::int64_t depth, void* dst, std::int32_t*) {
  const std::uint32_t flip = kShiftSigned ? 0x80808080u : 0;
  if (s.lane_stride == 1 || lanes == 1) return pack_int8_lanes_contiguous<W>(s, lanes, depth, dst, flip);
  if (s.depth_stride == 1 || depth == 1) {
    PanelSource unit = s;
    unit.depth_stride = 1;
    if constexpr (kShiftSigned)
      return pack_depth_contiguous<Avx512, W, 4, Convert::to_u8_shifted>(unit, lanes, depth, dst, flip);
    else
      return pack_depth_contiguous<Avx512, W, 4, Convert::to_u8>(unit, lanes, depth, dst, 0);
  }
  if constexpr (kShiftSigned) pack_generic<W, 4, Convert::to_u8_shifted>(s, lanes, depth, dst);
  else pack_generic<W, 4, Convert::to_u8>(s, lanes, depth, dst);
}

// B panels (s8), plus the column compensation when A was shifted.
template <int W, bool kCompensate>
void pack_int8_b(const PanelSource& s, std::int64_t lanes, std::int64_t depth, void* dst, std::int32_t* comp) {
  if (s.lane_stride == 1 || lanes == 1) {
    pack_int8_lanes_contiguous<W>(s, lanes, depth, dst, 0);
  } else if (s.depth_stride == 1 || depth == 1) {
    PanelSource unit = s;
    unit.depth_stride = 1;
    pack_depth_contiguous<Avx512, W, 4, Convert::to_s8>(unit, lanes, depth, dst, 0);
  } else {
    pack_generic<W, 4, Convert::to_s8>(s, lanes, depth, dst);
  }
  if constexpr (kCompensate) column_compensation<W>(static_cast<const std::int8_t*>(dst), lanes, depth, comp);
}

}  // namespace
}  // namespace kernels

namespace {

template <Arith kArith, int MR, int NV>
constexpr TileKernel int8_tile() {
  using namespace kernels;
  constexpr bool kSigned = kArith == Arith::s8s8;
  return tile_kernel<Avx512, DotU8S8, MR, NV>(kArith, &pack_int8_a<MR, kSigned>,
                                              &pack_int8_b<NV * Avx512::kWidth, kSigned>);
}

constexpr TileKernel kTiles[] = {
    int8_tile<Arith::u8s8, 14, 2>(), int8_tile<Arith::u8s8, 12, 2>(), int8_tile<Arith::u8s8, 8, 3>(),
    int8_tile<Arith::u8s8, 6, 4>(),  int8_tile<Arith::u8s8, 16, 1>(), int8_tile<Arith::u8s8, 4, 4>(),
    int8_tile<Arith::s8s8, 14, 2>(), int8_tile<Arith::s8s8, 12, 2>(), int8_tile<Arith::s8s8, 8, 3>(),
    int8_tile<Arith::s8s8, 6, 4>(),  int8_tile<Arith::s8s8, 16, 1>(), int8_tile<Arith::s8s8, 4, 4>(),
};

}  // namespace

constinit const TileKernelList kAvx512Int8Tiles{kTiles, static_cast<int>(std::size(kTiles))};

}  // namespace gemmtune::backends::cpp
