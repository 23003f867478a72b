// Portable GEMM for every sm_80+ card and every layout, stride and alignment
// the Hopper templates cannot take: tensor cores through mma.sync m16n8k16
// with fragments read by ldmatrix from shared memory.
//
//   C[b] = act(alpha * A[b] . B[b] + beta * bias[b]),  f32 accumulation.
//
// Each CTA computes a BM x BN tile of one batch with WARPS_M x WARPS_N warps;
// K advances 32 at a time. Shared memory keeps each operand in the
// orientation its global layout has (K-major or MN-major), and ldmatrix
// (.trans for MN-major) turns either into fragments, so no layout needs a
// transposing copy. Loads:
//   GT_VEC 1: 16-byte cp.async into a GT_STAGES-deep ring (the contiguous
//             dimension has unit stride, its leading stride and the base are
//             16-byte aligned); tails are zero-filled by the copy itself.
//   GT_VEC 0: element-wise guarded loads with any strides, one stage staged
//             through registers while the previous one is multiplied.
// The fused epilogue (gt_common.cuh) writes C once.
#include "gt_common.cuh"

#ifndef GT_BM
#define GT_BM 128
#endif
#ifndef GT_BN
#define GT_BN 128
#endif
#ifndef GT_WARPS_M
#define GT_WARPS_M 2
#endif
#ifndef GT_WARPS_N
#define GT_WARPS_N 4
#endif
#ifndef GT_STAGES
#define GT_STAGES 3
#endif
#ifndef GT_VEC
#define GT_VEC 1
#endif
#ifndef GT_A_KMAJOR
#define GT_A_KMAJOR 1  // shared-memory orientation of A: 1 = [m][k], 0 = [k][m]
#endif
#ifndef GT_B_KMAJOR
#define GT_B_KMAJOR 1  // of B: 1 = [n][k], 0 = [k][n]
#endif

#define GT_BK 32
#define GT_PAD 8  // elements of padding per shared row: 16 bytes, keeps ldmatrix rows aligned
#define GT_THREADS (32 * GT_WARPS_M * GT_WARPS_N)
#define GT_WM (GT_BM / GT_WARPS_M)  // warp tile
#define GT_WN (GT_BN / GT_WARPS_N)
#define GT_MT (GT_WM / 16)          // m16 tiles per warp
#define GT_NT (GT_WN / 8)           // n8 tiles per warp
#if GT_WM % 16 != 0 || GT_WN % 16 != 0
#error "warp tiles must be multiples of 16 x 16"
#endif

#if GT_A_KMAJOR
#define GT_A_ROWS GT_BM
#define GT_A_COLS (GT_BK + GT_PAD)
#else
#define GT_A_ROWS GT_BK
#define GT_A_COLS (GT_BM + GT_PAD)
#endif
#if GT_B_KMAJOR
#define GT_B_ROWS GT_BN
#define GT_B_COLS (GT_BK + GT_PAD)
#else
#define GT_B_ROWS GT_BK
#define GT_B_COLS (GT_BN + GT_PAD)
#endif
#define GT_A_STAGE (GT_A_ROWS * GT_A_COLS)  // elements
#define GT_B_STAGE (GT_B_ROWS * GT_B_COLS)
#if GT_VEC
#define GT_RING GT_STAGES
#else
#define GT_RING 1
#endif
#define GT_SMEM_BYTES (GT_RING * (GT_A_STAGE + GT_B_STAGE) * 2)

struct GtPortableParams {
  GtEpilogue ep;
  const gt_u16* a;
  const gt_u16* b;
  gt_i64 a_rs, a_cs, a_bs;  // elements; A(m, k) at a + m * a_rs + k * a_cs
  gt_i64 b_rs, b_cs, b_bs;  // B(k, n) at b + k * b_rs + n * b_cs
  int m, n, k;
  int pad;
};

__device__ __forceinline__ void gt_mma16816(float* d, const gt_u32* a, gt_u32 b0, gt_u32 b1) {
#if GT_BF16
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

template <bool TRANS>
__device__ __forceinline__ void gt_ldmatrix_x4(gt_u32* r, gt_u32 addr) {
  if (TRANS)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

#if GT_VEC
// 16 bytes from global to shared, of which `bytes` (0..16) are read and the
// rest zero-filled.
__device__ __forceinline__ void gt_cp_async16(gt_u32 dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void gt_cp_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void gt_cp_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

// One operand's tile [rows][cols] (shared orientation) from global, where the
// shared column is the global contiguous dimension: element (r, q) of the
// tile is global (r0 + r, q0 + q) with row stride `ld`; rows >= rows_left and
// columns >= cols_left read as zero.
template <int ROWS, int COLS>
__device__ __forceinline__ void gt_load_tile(gt_u32 dst, int ld_shared, const gt_u16* src, gt_i64 ld, int rows_left,
                                             int cols_left) {
  constexpr int CHUNKS = ROWS * COLS / 8;
  for (int i = threadIdx.x; i < CHUNKS; i += GT_THREADS) {
    const int r = i / (COLS / 8), q = (i % (COLS / 8)) * 8;
    const int valid = r < rows_left ? min(8, max(0, cols_left - q)) : 0;
    const gt_u16* from = valid > 0 ? src + (gt_i64)r * ld + q : src;
    gt_cp_async16(dst + (gt_u32)(r * ld_shared + q) * 2u, from, valid * 2);
  }
}
#endif

extern "C" __global__ void __launch_bounds__(GT_THREADS) gt_portable_gemm(const GtPortableParams p) {
  extern __shared__ __align__(16) gt_u16 gt_smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = warp / GT_WARPS_N, wn = warp % GT_WARPS_N;
  const int m0 = blockIdx.y * GT_BM, n0 = blockIdx.x * GT_BN;
  const gt_i64 batch = blockIdx.z;
  const gt_u16* A = p.a + batch * p.a_bs;
  const gt_u16* B = p.b + batch * p.b_bs;
  gt_u16* sA = gt_smem;
  gt_u16* sB = gt_smem + GT_RING * GT_A_STAGE;
  const int k_tiles = (p.k + GT_BK - 1) / GT_BK;

  float acc[GT_MT][GT_NT][4];
#pragma unroll
  for (int i = 0; i < GT_MT; ++i)
#pragma unroll
    for (int j = 0; j < GT_NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

#if GT_VEC
  auto load_stage = [&](int stage, int kt) {
    const int k0 = kt * GT_BK;
    const gt_u32 a_dst = gt_smem_addr(sA + stage * GT_A_STAGE);
    const gt_u32 b_dst = gt_smem_addr(sB + stage * GT_B_STAGE);
#if GT_A_KMAJOR
    gt_load_tile<GT_BM, GT_BK>(a_dst, GT_A_COLS, A + (gt_i64)m0 * p.a_rs + k0, p.a_rs, p.m - m0, p.k - k0);
#else
    gt_load_tile<GT_BK, GT_BM>(a_dst, GT_A_COLS, A + (gt_i64)k0 * p.a_cs + m0, p.a_cs, p.k - k0, p.m - m0);
#endif
#if GT_B_KMAJOR
    gt_load_tile<GT_BN, GT_BK>(b_dst, GT_B_COLS, B + (gt_i64)n0 * p.b_cs + k0, p.b_cs, p.n - n0, p.k - k0);
#else
    gt_load_tile<GT_BK, GT_BN>(b_dst, GT_B_COLS, B + (gt_i64)k0 * p.b_rs + n0, p.b_rs, p.k - k0, p.n - n0);
#endif
  };
#pragma unroll
  for (int s = 0; s < GT_STAGES - 1; ++s) {
    if (s < k_tiles) load_stage(s, s);
    gt_cp_commit();
  }
#else
  // Element-wise: each thread owns fixed elements of the tile, loads the next
  // K tile into registers while the current one is multiplied.
  constexpr int A_PER = (GT_BM * GT_BK + GT_THREADS - 1) / GT_THREADS;
  constexpr int B_PER = (GT_BN * GT_BK + GT_THREADS - 1) / GT_THREADS;
  gt_u16 ra[A_PER], rb[B_PER];
  auto fetch = [&](int kt) {
    const int k0 = kt * GT_BK;
#pragma unroll
    for (int i = 0; i < A_PER; ++i) {
      const int e = threadIdx.x + i * GT_THREADS;
      const int r = e / GT_BK, q = e % GT_BK;  // (m, k) within the tile
      const int m = m0 + r, k = k0 + q;
      ra[i] = (e < GT_BM * GT_BK && m < p.m && k < p.k) ? A[(gt_i64)m * p.a_rs + (gt_i64)k * p.a_cs] : (gt_u16)0;
    }
#pragma unroll
    for (int i = 0; i < B_PER; ++i) {
      const int e = threadIdx.x + i * GT_THREADS;
      const int r = e / GT_BK, q = e % GT_BK;  // (n, k) within the tile
      const int n = n0 + r, k = k0 + q;
      rb[i] = (e < GT_BN * GT_BK && n < p.n && k < p.k) ? B[(gt_i64)k * p.b_rs + (gt_i64)n * p.b_cs] : (gt_u16)0;
    }
  };
  auto commit = [&]() {
#pragma unroll
    for (int i = 0; i < A_PER; ++i) {
      const int e = threadIdx.x + i * GT_THREADS;
      if (e >= GT_BM * GT_BK) break;
      const int r = e / GT_BK, q = e % GT_BK;
#if GT_A_KMAJOR
      sA[r * GT_A_COLS + q] = ra[i];
#else
      sA[q * GT_A_COLS + r] = ra[i];
#endif
    }
#pragma unroll
    for (int i = 0; i < B_PER; ++i) {
      const int e = threadIdx.x + i * GT_THREADS;
      if (e >= GT_BN * GT_BK) break;
      const int r = e / GT_BK, q = e % GT_BK;
#if GT_B_KMAJOR
      sB[r * GT_B_COLS + q] = rb[i];
#else
      sB[q * GT_B_COLS + r] = rb[i];
#endif
    }
  };
  if (k_tiles > 0) fetch(0);
#endif

  for (int kt = 0; kt < k_tiles; ++kt) {
#if GT_VEC
    const int stage = kt % GT_STAGES;
    gt_cp_wait<GT_STAGES - 2>();
    __syncthreads();
    // Refill the stage freed by the previous iteration.
    {
      const int next = kt + GT_STAGES - 1;
      if (next < k_tiles) load_stage(next % GT_STAGES, next);
      gt_cp_commit();
    }
    const gt_u16* a_s = sA + stage * GT_A_STAGE;
    const gt_u16* b_s = sB + stage * GT_B_STAGE;
#else
    __syncthreads();
    commit();
    __syncthreads();
    if (kt + 1 < k_tiles) fetch(kt + 1);
    const gt_u16* a_s = sA;
    const gt_u16* b_s = sB;
#endif
#pragma unroll
    for (int ks = 0; ks < GT_BK / 16; ++ks) {
      gt_u32 af[GT_MT][4];
      gt_u32 bf[GT_NT][2];
      const int q = lane / 8, i = lane % 8;
#pragma unroll
      for (int mt = 0; mt < GT_MT; ++mt) {
        const int mrow = wm * GT_WM + mt * 16;
#if GT_A_KMAJOR
        // matrices: (m 0-7, k 0-7), (m 8-15, k 0-7), (m 0-7, k 8-15), (m 8-15, k 8-15)
        const gt_u16* at = a_s + (mrow + (q % 2) * 8 + i) * GT_A_COLS + ks * 16 + (q / 2) * 8;
        gt_ldmatrix_x4<false>(af[mt], gt_smem_addr(at));
#else
        const gt_u16* at = a_s + (ks * 16 + (q / 2) * 8 + i) * GT_A_COLS + mrow + (q % 2) * 8;
        gt_ldmatrix_x4<true>(af[mt], gt_smem_addr(at));
#endif
      }
#pragma unroll
      for (int nt = 0; nt < GT_NT; nt += 2) {
        const int ncol = wn * GT_WN + nt * 8;
        gt_u32 r[4];
#if GT_B_KMAJOR
        // matrices: (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15)
        const gt_u16* bt = b_s + (ncol + (q / 2) * 8 + i) * GT_B_COLS + ks * 16 + (q % 2) * 8;
        gt_ldmatrix_x4<false>(r, gt_smem_addr(bt));
#else
        const gt_u16* bt = b_s + (ks * 16 + (q % 2) * 8 + i) * GT_B_COLS + ncol + (q / 2) * 8;
        gt_ldmatrix_x4<true>(r, gt_smem_addr(bt));
#endif
        bf[nt][0] = r[0];
        bf[nt][1] = r[1];
        bf[nt + 1][0] = r[2];
        bf[nt + 1][1] = r[3];
      }
#pragma unroll
      for (int mt = 0; mt < GT_MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < GT_NT; ++nt) gt_mma16816(acc[mt][nt], af[mt], bf[nt][0], bf[nt][1]);
    }
  }

  // Fragment (mt, nt, e): row lane / 4 (+ 8 for e >= 2), column 2 * (lane % 4) (+ 1 for odd e).
#pragma unroll
  for (int mt = 0; mt < GT_MT; ++mt) {
    const int row = m0 + wm * GT_WM + mt * 16 + lane / 4;
#pragma unroll
    for (int nt = 0; nt < GT_NT; ++nt) {
      const int col = n0 + wn * GT_WN + nt * 8 + 2 * (lane % 4);
      gt_store_pair(p.ep, batch, row, col, acc[mt][nt][0], acc[mt][nt][1]);
      gt_store_pair(p.ep, batch, row + 8, col, acc[mt][nt][2], acc[mt][nt][3]);
    }
  }
}
