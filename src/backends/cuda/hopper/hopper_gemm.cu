// Hopper (sm_90a) GEMM: a persistent, warp-specialized kernel.
//
//   C[b] = act(alpha * A[b] . B[b] + beta * bias[b]),  A: M x K, B: K x N, f32 accumulation.
//
// One producer warpgroup (a single thread issues TMA loads) fills a ring of
// GT_STAGES shared-memory stages, each holding a BM x 64 slice of A and a
// 64 x BN slice of B, 128-byte swizzled; full/empty mbarriers pace the ring.
// GT_CONSUMERS warpgroups multiply with wgmma (operands straight from shared
// memory through matrix descriptors), each owning BM / GT_CONSUMERS rows of
// the tile, and apply the fused epilogue to their accumulators before the one
// store of C. The grid is persistent: each CTA walks work units (tile, K split)
// in an L2-friendly grouped order while the producer already loads the next
// unit's stages during the consumers' epilogue.
//
// GT_PINGPONG: the two consumer warpgroups take turns instead: each owns
// whole tiles (every other unit of the CTA), so one's epilogue (activation,
// rounding, stores) runs while the other multiplies, and the tensor cores do
// not wait for the epilogue. The ring then serves one warpgroup per stage.
//
// Layouts come through the tensor maps: an operand whose K is contiguous is
// loaded as rows of 64 K values (K-major); one whose M or N is contiguous as
// 64 x 64 boxes (MN-major), read by wgmma with its transpose bit.
// Clusters of GT_CLUSTER_M CTAs along M share B: each CTA loads 1/GT_CLUSTER_M
// of the B stage and multicasts it to both. GT_SPLIT compiles split-K: the
// units of one tile add their f32 partials in a fixed order (deterministic),
// the last to arrive (a ticket per tile) writes C.
//
// Configuration (set by the host with -D; defaults only for standalone checks):
#include "gt_common.cuh"
#include "wgmma_ops.cuh"

#ifndef GT_BM
#define GT_BM 128          // tile rows: 64 * GT_CONSUMERS * (1 or 2)
#endif
#ifndef GT_BN
#define GT_BN 256          // tile columns: 64, 128, 192 or 256
#endif
#ifndef GT_STAGES
#define GT_STAGES 4
#endif
#ifndef GT_CONSUMERS
#define GT_CONSUMERS 2     // consumer warpgroups
#endif
#ifndef GT_A_KMAJOR
#define GT_A_KMAJOR 1      // 1: A's K is contiguous (row-major A); 0: M is
#endif
#ifndef GT_B_KMAJOR
#define GT_B_KMAJOR 1      // 1: B's K is contiguous (nn.Linear's W); 0: N is
#endif
#ifndef GT_CLUSTER_M
#define GT_CLUSTER_M 1     // CTAs per cluster along M, sharing B by multicast
#endif
#ifndef GT_SPLIT
#define GT_SPLIT 0         // 1: split-K across units with a fixed-order reduction
#endif
#ifndef GT_PINGPONG
#define GT_PINGPONG 0      // 1: the consumers alternate whole tiles (needs 2 consumers, no split-K, no cluster)
#endif
#ifndef GT_EP_DIRECT
#define GT_EP_DIRECT 0     // 1: each thread stores its accumulator pairs straight to C (the unrolled epilogue)
#endif
#ifndef GT_MIN_BLOCKS
#define GT_MIN_BLOCKS 1    // CTAs per SM the register budget is cut for
#endif

#define GT_BK 64
#if GT_PINGPONG
#define GT_MI (GT_BM / 64)  // each consumer owns the whole tile
#define GT_TILE_CONSUMERS 1  // consumer warpgroups working on one stage
#else
#define GT_MI (GT_BM / (64 * GT_CONSUMERS))  // m64 wgmma rows per consumer
#define GT_TILE_CONSUMERS GT_CONSUMERS
#endif
#define GT_THREADS (128 * (GT_CONSUMERS + 1))
#define GT_A_BYTES (GT_BM * GT_BK * 2)
#define GT_B_BYTES (GT_BN * GT_BK * 2)
#define GT_STAGE_BYTES (GT_A_BYTES + GT_B_BYTES)
#define GT_B_ROWS_PER_CTA (GT_BN / GT_CLUSTER_M)  // K-major B rows each cluster CTA loads
#define GT_ACC (GT_BN / 2)                        // f32 accumulators per thread per m64

#if GT_MI < 1 || GT_MI > 2 || GT_BM != 64 * GT_TILE_CONSUMERS * GT_MI
#error "GT_BM must be 64 * GT_CONSUMERS * (1 or 2), or 64 or 128 with GT_PINGPONG"
#endif
#if GT_PINGPONG && (GT_CONSUMERS != 2 || GT_SPLIT || GT_CLUSTER_M != 1)
#error "GT_PINGPONG needs two consumers, no split-K and no cluster"
#endif
#if GT_BN % 64 != 0 || GT_BN > 256
#error "GT_BN must be 64, 128, 192 or 256"
#endif

// The staged epilogue (GT_EP_DIRECT 0): each consumer warp moves its
// accumulators through a 16 x 32 f32 chunk of shared memory of its own, and
// a rolled loop finishes 8 consecutive outputs per lane (bias, activation,
// rounding) with one 16-byte store. The activation's code then appears once,
// not once per accumulator pair (round 3: the unrolled epilogue of 128
// accumulators made a 200 KB kernel that lost ~60 us per tile epilogue), and
// every store writes whole 32-byte sectors. A row of the chunk is
// GT_EP_STRIDE floats: 8 (mod 32) words apart, so that neither the
// fragments' 8-byte writes nor the rows' 16-byte reads meet in a bank.
#define GT_EP_COLS 32
#define GT_EP_STRIDE 40
#define GT_EP_CHUNKS (GT_MI * GT_BN / GT_EP_COLS)  // chunks per consumer warp and tile
#if GT_EP_DIRECT
#define GT_EP_BYTES 0
#else
#define GT_EP_BYTES (GT_CONSUMERS * 4 * 16 * GT_EP_STRIDE * 4)
#endif

// Shared memory after the stages: full[GT_STAGES], empty[GT_STAGES] mbarriers,
// the split-K flag (16 bytes), then the epilogue's chunks. The host asks for
// Config::smem_bytes() (hopper_family.h) and passes it less the 1 KiB of
// alignment slack as GT_HOST_SMEM_BYTES, so that the two layouts cannot
// drift apart unnoticed (every offered kernel is compiled in the tests).
#define GT_SMEM_BYTES (GT_STAGES * GT_STAGE_BYTES + 16 * GT_STAGES + 16 + GT_EP_BYTES)
#if defined(GT_HOST_SMEM_BYTES) && GT_HOST_SMEM_BYTES != GT_SMEM_BYTES
#error "Config::smem_bytes() (hopper_family.h) disagrees with GT_SMEM_BYTES (hopper_gemm.cu)"
#endif

struct __align__(64) GtTensorMap {
  gt_u64 opaque[16];
};

struct GtHopperParams {
  GtEpilogue ep;
  float* work;        // split-K partials: units x BM x BN f32
  unsigned* tickets;  // split-K: one counter per tile, zero between launches
  int k_blocks;       // ceil(K / 64)
  int kb_per_split;   // K blocks per split (the last split may have fewer)
  int splits;
  int m_tiles;        // tiles along M per batch (a multiple of GT_CLUSTER_M)
  int n_tiles;
  int batch;
  int group_m;        // tile rows walked together (L2 reuse of B)
  int units;          // batch * m_tiles / GT_CLUSTER_M * n_tiles * splits
  int a_batched;      // 1: A's tensor map has a batch dimension
  int b_batched;
};

// ---------------------------------------------------------------- PTX helpers

__device__ __forceinline__ void gt_mbar_init(gt_u32 bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void gt_mbar_expect_tx(gt_u32 bar, gt_u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void gt_mbar_arrive(gt_u32 bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}
// Arrives on the barrier at the same offset in CTA `rank` of the cluster.
// The arrive's default semantics (release at CTA scope) are enough: it only
// says that this warp's wgmma reads of the stage are complete (waited for),
// there are no writes to publish. The first version released at cluster
// scope, which puts a cluster-wide memory fence before every arrive: ncu on
// the H100 (round 6) found 48 % of the cluster kernel's stall cycles
// "waiting on a memory barrier", and the kernel 2.2x slower than without
// a cluster.
__device__ __forceinline__ void gt_mbar_arrive_cluster(gt_u32 bar, gt_u32 rank) {
  asm volatile(
      "{\n.reg .b32 remote;\n"
      "mapa.shared::cluster.u32 remote, %0, %1;\n"
      "mbarrier.arrive.shared::cluster.b64 _, [remote];\n}\n" ::"r"(bar),
      "r"(rank)
      : "memory");
}
__device__ __forceinline__ void gt_mbar_wait(gt_u32 bar, gt_u32 parity) {
  asm volatile(
      "{\n.reg .pred done;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_%=;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}

__device__ __forceinline__ void gt_tma_load(const GtTensorMap* map, gt_u32 dst, gt_u32 bar, int c0, int c1, int c2,
                                            bool three_d) {
  const gt_u64 m = (gt_u64)map;
  if (three_d)
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];" ::
            "r"(dst),
        "l"(m), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
        : "memory");
  else
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];" ::"r"(
            dst),
        "l"(m), "r"(bar), "r"(c0), "r"(c1)
        : "memory");
}

#if GT_CLUSTER_M > 1
// Writes the box into every CTA of the cluster at the same offset and
// completes the bytes on each one's barrier at `bar`'s offset.
__device__ __forceinline__ void gt_tma_load_multicast(const GtTensorMap* map, gt_u32 dst, gt_u32 bar, int c0, int c1,
                                                      int c2, bool three_d) {
  const gt_u64 m = (gt_u64)map;
  const unsigned short mask = (unsigned short)((1u << GT_CLUSTER_M) - 1u);
  if (three_d)
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster "
        "[%0], [%1, {%3, %4, %5}], [%2], %6;" ::"r"(dst),
        "l"(m), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "h"(mask)
        : "memory");
  else
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster "
        "[%0], [%1, {%3, %4}], [%2], %5;" ::"r"(dst),
        "l"(m), "r"(bar), "r"(c0), "r"(c1), "h"(mask)
        : "memory");
}

__device__ __forceinline__ gt_u32 gt_cluster_rank() {
  gt_u32 r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
__device__ __forceinline__ void gt_cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
#endif

__device__ __forceinline__ void gt_wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void gt_wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void gt_wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads of the accumulators across the
// asynchronous wgmma (it cannot see that wait_group completes them).
__device__ __forceinline__ void gt_fence_reg(float& r) { asm volatile("" : "+f"(r)::"memory"); }

// Shared-memory matrix descriptor for a 128-byte-swizzled operand: start
// address, leading byte offset (between 64-element MN chunks; unused for
// K-major), stride byte offset (between 8-row groups: 8 x 128 bytes).
__device__ __forceinline__ gt_u64 gt_desc(gt_u32 addr, gt_u32 lbo) {
  return (gt_u64)((addr & 0x3FFFF) >> 4) | ((gt_u64)(lbo >> 4) << 16) | ((gt_u64)(1024 >> 4) << 32) |
         ((gt_u64)1 << 62);
}

// A consumer warp hands a stage back: to its own CTA's producer and, in a
// cluster, to every peer's (their multicasts write into this CTA's stage).
__device__ __forceinline__ void gt_release(gt_u32 empty_bar) {
#if GT_CLUSTER_M > 1
  for (int r = 0; r < GT_CLUSTER_M; ++r) gt_mbar_arrive_cluster(empty_bar, (gt_u32)r);
#else
  gt_mbar_arrive(empty_bar);
#endif
}

#if GT_PINGPONG
// Ping-pong turns: turn t's multiplies start once turn t - 1's are all
// issued (named barrier 2 or 3 by parity, the two consumers: 128 threads
// pass, 128 wait). Without it a consumer would wait on a stage more than one
// ring lap ahead of the producer, and an mbarrier's parity cannot tell that
// lap from an earlier one (round 3 on the H100: launch failures).
__device__ __forceinline__ void gt_turn_wait(int turn) {
  if (turn & 1) asm volatile("bar.sync 3, 256;" ::: "memory");
  else asm volatile("bar.sync 2, 256;" ::: "memory");
}
__device__ __forceinline__ void gt_turn_pass(int turn) {
  if (turn & 1) asm volatile("bar.arrive 3, 256;" ::: "memory");
  else asm volatile("bar.arrive 2, 256;" ::: "memory");
}
#endif

// Register rebalancing between the warpgroups (two consumers, one CTA per
// SM): __launch_bounds__ gives every thread 168 registers (65536 / 384); the
// producer, which only issues TMA loads, gives back 128 per thread and each
// consumer thread takes 64 more (128 * 40 + 256 * 232 = 384 * 168), so that
// 128 accumulators and the staged epilogue's loop live without spills (ptxas
// spilled 28-44 bytes per thread at 168 for 128x256 and 256x128). With
// setmaxnreg present ptxas allocates exactly the launch bound, which is what
// makes the two counts add up; fewer would leave the consumers' inc waiting.
#define GT_REBALANCE (GT_CONSUMERS == 2 && GT_MIN_BLOCKS == 1)
#if GT_REBALANCE
__device__ __forceinline__ void gt_setmaxnreg_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 40;" ::: "memory"); }
__device__ __forceinline__ void gt_setmaxnreg_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 232;" ::: "memory"); }
#endif

// The consumer-only barrier (id 1): the producer warpgroup never joins it.
__device__ __forceinline__ void gt_consumer_sync() {
  asm volatile("bar.sync 1, %0;" ::"n"(GT_CONSUMERS * 128) : "memory");
}

template <int N>
__device__ __forceinline__ void gt_mma(float (&d)[N / 2], gt_u64 da, gt_u64 db) {
  constexpr int TA = GT_A_KMAJOR ? 0 : 1;
  constexpr int TB = GT_B_KMAJOR ? 0 : 1;
#if GT_BF16
  if constexpr (N == 64) gt_wgmma_bf16_n64<TA, TB>(d, da, db, 1);
  else if constexpr (N == 128) gt_wgmma_bf16_n128<TA, TB>(d, da, db, 1);
  else if constexpr (N == 192) gt_wgmma_bf16_n192<TA, TB>(d, da, db, 1);
  else gt_wgmma_bf16_n256<TA, TB>(d, da, db, 1);
#else
  if constexpr (N == 64) gt_wgmma_f16_n64<TA, TB>(d, da, db, 1);
  else if constexpr (N == 128) gt_wgmma_f16_n128<TA, TB>(d, da, db, 1);
  else if constexpr (N == 192) gt_wgmma_f16_n192<TA, TB>(d, da, db, 1);
  else gt_wgmma_f16_n256<TA, TB>(d, da, db, 1);
#endif
}

// ---------------------------------------------------------------- work units

struct GtUnit {
  int batch, m0, n0, kb0, kb1, tile, split;
};

// Unit u -> (split, tile). Splits of one tile are adjacent so they run at the
// same time; tiles are walked in groups of group_m cluster rows so that the
// CTAs running together share columns of B in L2.
__device__ __forceinline__ GtUnit gt_unit(const GtHopperParams& p, int u, int rank) {
  GtUnit w;
  w.split = u % p.splits;
  const int t = u / p.splits;
  const int rows = p.m_tiles / GT_CLUSTER_M;  // cluster rows per batch
  const int per_batch = rows * p.n_tiles;
  w.batch = t / per_batch;
  const int r = t - w.batch * per_batch;
  const int width = p.group_m * p.n_tiles;
  const int group = r / width;
  const int first = group * p.group_m;
  const int size = min(rows - first, p.group_m);
  const int in_group = r - group * width;
  const int mt = (first + in_group % size) * GT_CLUSTER_M + rank;
  const int nt = in_group / size;
  w.m0 = mt * GT_BM;
  w.n0 = nt * GT_BN;
  w.tile = (w.batch * p.m_tiles + mt) * p.n_tiles + nt;
  w.kb0 = w.split * p.kb_per_split;
  w.kb1 = min(p.k_blocks, w.kb0 + p.kb_per_split);
  return w;
}

// ---------------------------------------------------------------- staged epilogue

#if !GT_EP_DIRECT
// Writes chunk CH of the warp's accumulators (m64 slice CH / (GT_BN / 32),
// columns 32 * (CH % (GT_BN / 32)) on) into the warp's 16 x 32 chunk:
// fragment (j, j + 1) of lane l is row l / 4, columns 8 * (j / 4) + 2 * (l % 4)
// of the slice; (j + 2, j + 3) is 8 rows lower.
template <int CH>
__device__ __forceinline__ void gt_stage_chunk(const float (&acc)[GT_MI][GT_ACC], float* s, int lane) {
  constexpr int mi = CH / (GT_BN / GT_EP_COLS);
  constexpr int g0 = (CH % (GT_BN / GT_EP_COLS)) * (GT_EP_COLS / 8);
  float* at = s + (lane / 4) * GT_EP_STRIDE + 2 * (lane % 4);
#pragma unroll
  for (int g = 0; g < GT_EP_COLS / 8; ++g) {
    const int j = 4 * (g0 + g);
    *(float2*)(at + 8 * g) = make_float2(acc[mi][j], acc[mi][j + 1]);
    *(float2*)(at + 8 * GT_EP_STRIDE + 8 * g) = make_float2(acc[mi][j + 2], acc[mi][j + 3]);
  }
}

// Chunk `ch` (a run-time index, so the loop over chunks stays rolled) to its
// compile-time writer: registers cannot be indexed at run time.
template <int CH>
__device__ __forceinline__ void gt_stage_select(int ch, const float (&acc)[GT_MI][GT_ACC], float* s, int lane) {
  if constexpr (CH < GT_EP_CHUNKS) {
    if (ch == CH) gt_stage_chunk<CH>(acc, s, lane);
    else gt_stage_select<CH + 1>(ch, acc, s, lane);
  }
}

// Finishes a staged chunk whose first output is C(m0, n0) of `batch`: lane l
// takes 8 consecutive columns (n0 + 8 * (l % 4)) of rows l / 4 and 8 + l / 4.
// Everything that does not depend on the row (the column bounds, a row
// bias, C's column offset) is settled once per chunk, outside the loop.
__device__ __forceinline__ void gt_finish_chunk(const GtEpilogue& e, int batch, int m0, int n0, const float* s,
                                                int lane) {
  const int q = lane % 4;
  const int n = n0 + 8 * q;
  if (n >= e.n) return;
  const int cols = min(8, e.n - n);
  const bool row_bias = gt_row_bias(e);
  float bias[8];  // beta * bias of the row being finished
  if (row_bias) gt_bias8(e, batch, 0, n, cols, bias);  // the same for every row
  const gt_i64 col_at = (gt_i64)batch * e.c_bs + (gt_i64)n * e.c_cs;
  const bool vec = e.vec_store && cols == 8;
  // Lanes of odd q read their second half first: a quarter warp's 16-byte
  // reads then cover all 32 banks once.
  const int h0 = q & 1;
#pragma unroll 1
  for (int step = 0; step < 2; ++step) {
    const int r = 8 * step + lane / 4;
    const int m = m0 + r;
    if (m >= e.m) break;
    if (!row_bias) gt_bias8(e, batch, m, n, cols, bias);
    const float4 first = *(const float4*)(s + r * GT_EP_STRIDE + 8 * q + 4 * h0);
    const float4 second = *(const float4*)(s + r * GT_EP_STRIDE + 8 * q + 4 * (h0 ^ 1));
    const float4 lo = h0 ? second : first;
    const float4 hi = h0 ? first : second;
    const float x[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
    float v[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = gt_epilogue_value(e, x[i], bias[i]);
    const gt_i64 at = col_at + (gt_i64)m * e.c_rs;
    if (vec) {
#if GT_OUT_F32
      float4* c = (float4*)((float*)e.c + at);
      c[0] = make_float4(v[0], v[1], v[2], v[3]);
      c[1] = make_float4(v[4], v[5], v[6], v[7]);
#else
      *(uint4*)((gt_u16*)e.c + at) =
          make_uint4(gt_pack2(v[0], v[1]), gt_pack2(v[2], v[3]), gt_pack2(v[4], v[5]), gt_pack2(v[6], v[7]));
#endif
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        if (i >= cols) break;
#if GT_OUT_F32
        ((float*)e.c)[at + i * e.c_cs] = v[i];
#else
        ((gt_u16*)e.c)[at + i * e.c_cs] = gt_round(v[i]);
#endif
      }
    }
  }
}
#endif

// ---------------------------------------------------------------- kernel

#if GT_CLUSTER_M > 1
#define GT_CLUSTER_ATTR __cluster_dims__(GT_CLUSTER_M, 1, 1)
#else
#define GT_CLUSTER_ATTR
#endif

extern "C" __global__ void GT_CLUSTER_ATTR __launch_bounds__(GT_THREADS, GT_MIN_BLOCKS)
    gt_hopper_gemm(const __grid_constant__ GtTensorMap tma_a, const __grid_constant__ GtTensorMap tma_b,
                   const GtHopperParams p) {
  extern __shared__ unsigned char gt_smem_raw[];
  // Swizzled stages must start on 1024-byte boundaries; the host asks for
  // 1 KiB more than GT_SMEM_BYTES.
  const gt_u32 raw = gt_smem_addr(gt_smem_raw);
  const gt_u32 base = (raw + 1023u) & ~1023u;
  const gt_u32 bars = base + GT_STAGES * GT_STAGE_BYTES;
  // After the barriers: the split-K flag (16 bytes), then the epilogue's chunks.
  unsigned char* const after_bars = gt_smem_raw + (bars - raw) + 16 * GT_STAGES;
  int* split_flag = (int*)after_bars;
#define GT_FULL(s) (bars + 8u * (gt_u32)(s))
#define GT_EMPTY(s) (bars + 8u * (gt_u32)(GT_STAGES + (s)))

#if GT_CLUSTER_M > 1
  const int rank = (int)gt_cluster_rank();
#else
  const int rank = 0;
#endif
  const int warpgroup = threadIdx.x / 128;
  const int tid = threadIdx.x % 128;

  if (threadIdx.x == 0) {
    for (int s = 0; s < GT_STAGES; ++s) {
      gt_mbar_init(GT_FULL(s), 1);
      // Every consumer warp using the stage, of every CTA in the cluster, frees it.
      gt_mbar_init(GT_EMPTY(s), GT_TILE_CONSUMERS * 4 * GT_CLUSTER_M);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("prefetch.tensormap [%0];" ::"l"((gt_u64)&tma_a) : "memory");
    asm volatile("prefetch.tensormap [%0];" ::"l"((gt_u64)&tma_b) : "memory");
  }
#if GT_CLUSTER_M > 1
  gt_cluster_sync();
#else
  __syncthreads();
#endif
  const int cluster_id = blockIdx.x / GT_CLUSTER_M;
  const int clusters = gridDim.x / GT_CLUSTER_M;

  if (warpgroup == 0) {
    // ---------------- producer (one thread issues every TMA load)
#if GT_REBALANCE
    gt_setmaxnreg_dec();
#endif
    if (tid == 0) {
      int stage = 0;
      gt_u32 phase = 0;
      for (int u = cluster_id; u < p.units; u += clusters) {
        const GtUnit w = gt_unit(p, u, rank);
        for (int kb = w.kb0; kb < w.kb1; ++kb) {
          gt_mbar_wait(GT_EMPTY(stage), phase ^ 1u);
          gt_mbar_expect_tx(GT_FULL(stage), GT_STAGE_BYTES);
          const gt_u32 sa = base + stage * GT_STAGE_BYTES;
          const gt_u32 sb = sa + GT_A_BYTES;
          const int k0 = kb * GT_BK;
#if GT_A_KMAJOR
          gt_tma_load(&tma_a, sa, GT_FULL(stage), k0, w.m0, w.batch, p.a_batched);
#else
#pragma unroll
          for (int j = 0; j < GT_BM / 64; ++j)
            gt_tma_load(&tma_a, sa + j * 8192, GT_FULL(stage), w.m0 + 64 * j, k0, w.batch, p.a_batched);
#endif
#if GT_B_KMAJOR
#if GT_CLUSTER_M > 1
          gt_tma_load_multicast(&tma_b, sb + rank * (GT_B_ROWS_PER_CTA * 128), GT_FULL(stage), k0,
                                w.n0 + rank * GT_B_ROWS_PER_CTA, w.batch, p.b_batched);
#else
          gt_tma_load(&tma_b, sb, GT_FULL(stage), k0, w.n0, w.batch, p.b_batched);
#endif
#else
#pragma unroll
          for (int j = 0; j < GT_BN / 64; ++j) {
#if GT_CLUSTER_M > 1
            if (j % GT_CLUSTER_M == rank)
              gt_tma_load_multicast(&tma_b, sb + j * 8192, GT_FULL(stage), w.n0 + 64 * j, k0, w.batch, p.b_batched);
#else
            gt_tma_load(&tma_b, sb + j * 8192, GT_FULL(stage), w.n0 + 64 * j, k0, w.batch, p.b_batched);
#endif
          }
#endif
          if (++stage == GT_STAGES) {
            stage = 0;
            phase ^= 1u;
          }
        }
      }
    }
  } else {
    // ---------------- consumers
#if GT_REBALANCE
    gt_setmaxnreg_inc();
#endif
    const int c = warpgroup - 1;
    const int warp = tid / 32, lane = tid % 32;
    float acc[GT_MI][GT_ACC];
    int stage = 0;
    gt_u32 phase = 0;
#if GT_PINGPONG
    int turn = -1;
#endif
    for (int u = cluster_id; u < p.units; u += clusters) {
      const GtUnit w = gt_unit(p, u, rank);
#if GT_PINGPONG
      // The other consumer's unit: step over the stages the producer fills for it.
      if ((++turn & 1) != c) {
        const int skip = w.kb1 - w.kb0;
        phase ^= (gt_u32)(((stage + skip) / GT_STAGES) & 1);
        stage = (stage + skip) % GT_STAGES;
        continue;
      }
      if (turn > 0) gt_turn_wait(turn);
#endif
#pragma unroll
      for (int mi = 0; mi < GT_MI; ++mi)
#pragma unroll
        for (int j = 0; j < GT_ACC; ++j) {
          acc[mi][j] = 0.f;
          gt_fence_reg(acc[mi][j]);
        }
      int prev = -1;
      for (int kb = w.kb0; kb < w.kb1; ++kb) {
        gt_mbar_wait(GT_FULL(stage), phase);
        gt_wgmma_fence();
        const gt_u32 sa = base + stage * GT_STAGE_BYTES;
        const gt_u32 sb = sa + GT_A_BYTES;
#pragma unroll
        for (int ks = 0; ks < GT_BK / 16; ++ks) {
#if GT_B_KMAJOR
          const gt_u64 db = gt_desc(sb + 32 * ks, 16);
#else
          const gt_u64 db = gt_desc(sb + 2048 * ks, 8192);
#endif
#pragma unroll
          for (int mi = 0; mi < GT_MI; ++mi) {
            const int slice = (GT_PINGPONG ? 0 : c * GT_MI) + mi;  // which 64 rows of the tile
#if GT_A_KMAJOR
            const gt_u64 da = gt_desc(sa + slice * 8192 + 32 * ks, 16);
#else
            const gt_u64 da = gt_desc(sa + slice * 8192 + 2048 * ks, 8192);
#endif
            gt_mma<GT_BN>(acc[mi], da, db);
          }
        }
        gt_wgmma_commit();
        // The previous stage's multiplies are done once at most this
        // stage's group is in flight: hand it back to the producer(s).
        gt_wgmma_wait<1>();
        if (prev >= 0 && lane == 0) gt_release(GT_EMPTY(prev));
        prev = stage;
        if (++stage == GT_STAGES) {
          stage = 0;
          phase ^= 1u;
        }
      }
#if GT_PINGPONG
      // Every stage of this turn has been waited for: the next turn's may start.
      if (u + clusters < p.units) gt_turn_pass(turn + 1);
#endif
      gt_wgmma_wait<0>();
#pragma unroll
      for (int mi = 0; mi < GT_MI; ++mi)
#pragma unroll
        for (int j = 0; j < GT_ACC; ++j) gt_fence_reg(acc[mi][j]);
      if (prev >= 0 && lane == 0) gt_release(GT_EMPTY(prev));

#if GT_SPLIT
      if (p.splits > 1) {
        // Every unit writes its partial (fragment order, 16-byte stores), then
        // takes a ticket; the last of the tile's units adds all partials in
        // split order (so the sum does not depend on who came last) and
        // writes C.
        const gt_i64 unit_floats = (gt_i64)GT_BM * GT_BN;
        float* mine = p.work + ((gt_i64)w.tile * p.splits + w.split) * unit_floats;
#pragma unroll
        for (int mi = 0; mi < GT_MI; ++mi)
#pragma unroll
          for (int j = 0; j < GT_ACC; j += 4) {
            const gt_i64 at = ((gt_i64)((c * GT_MI + mi) * (GT_ACC / 4) + j / 4) * 128 + tid) * 4;
            __stcg((float4*)(mine + at), make_float4(acc[mi][j], acc[mi][j + 1], acc[mi][j + 2], acc[mi][j + 3]));
          }
        __threadfence();
        gt_consumer_sync();
        if (c == 0 && tid == 0) {
          const unsigned old = atomicAdd(p.tickets + w.tile, 1u);
          const int last = old == (unsigned)(p.splits - 1);
          if (last) p.tickets[w.tile] = 0u;  // every other unit of the tile has arrived
          *split_flag = last;
        }
        gt_consumer_sync();
        if (!*split_flag) continue;
        __threadfence();
        // Split by split, every load of a split in flight at once (the
        // earlier loop nest waited for one 16-byte load per split and
        // fragment group in turn: ~16 x splits L2 round trips). This unit's
        // own partial is read back too, so the sum keeps its fixed order
        // without a second set of registers.
        const float* all = p.work + (gt_i64)w.tile * p.splits * unit_floats;
#pragma unroll
        for (int mi = 0; mi < GT_MI; ++mi)
#pragma unroll
          for (int j = 0; j < GT_ACC; ++j) acc[mi][j] = 0.f;
#pragma unroll 1
        for (int s = 0; s < p.splits; ++s) {
          float4 v[GT_MI][GT_ACC / 4];
#pragma unroll
          for (int mi = 0; mi < GT_MI; ++mi)
#pragma unroll
            for (int j = 0; j < GT_ACC; j += 4) {
              const gt_i64 at = ((gt_i64)((c * GT_MI + mi) * (GT_ACC / 4) + j / 4) * 128 + tid) * 4;
              v[mi][j / 4] = __ldcg((const float4*)(all + s * unit_floats + at));
            }
#pragma unroll
          for (int mi = 0; mi < GT_MI; ++mi)
#pragma unroll
            for (int j = 0; j < GT_ACC; j += 4) {
              acc[mi][j] += v[mi][j / 4].x;
              acc[mi][j + 1] += v[mi][j / 4].y;
              acc[mi][j + 2] += v[mi][j / 4].z;
              acc[mi][j + 3] += v[mi][j / 4].w;
            }
        }
      }
#endif

#if !GT_EP_DIRECT
      {
        float* chunk = (float*)(after_bars + 16) + (c * 4 + warp) * 16 * GT_EP_STRIDE;
        const int row0 = w.m0 + (GT_PINGPONG ? 0 : c * GT_MI * 64) + 16 * warp;
#pragma unroll 1
        for (int ch = 0; ch < GT_EP_CHUNKS; ++ch) {
          __syncwarp();  // the previous chunk's reads are done
          gt_stage_select<0>(ch, acc, chunk, lane);
          __syncwarp();
          gt_finish_chunk(p.ep, w.batch, row0 + 64 * (ch / (GT_BN / GT_EP_COLS)),
                          w.n0 + GT_EP_COLS * (ch % (GT_BN / GT_EP_COLS)), chunk, lane);
        }
      }
#else
      // Fused epilogue: fragment (mi, j) of thread (warp, lane) is row
      // 16 * warp + lane / 4 (+ 8 for j % 4 >= 2) of the consumer's m64
      // slice, column 8 * (j / 4) + 2 * (lane % 4) (+ 1 for odd j). A row
      // bias is read once per column pair and serves all 2 * GT_MI rows.
      const bool row_bias = gt_row_bias(p.ep);
#pragma unroll
      for (int j = 0; j < GT_ACC; j += 4) {
        const int col = w.n0 + 2 * j + 2 * (lane % 4);
        const int row0 = w.m0 + (GT_PINGPONG ? 0 : c * GT_MI * 64) + 16 * warp + lane / 4;
        const GtBias2 shared_bias = row_bias ? gt_bias_pair(p.ep, w.batch, row0, col) : GtBias2{0.f, 0.f};
#pragma unroll
        for (int mi = 0; mi < GT_MI; ++mi) {
          const int row = row0 + mi * 64;
          const GtBias2 top = row_bias ? shared_bias : gt_bias_pair(p.ep, w.batch, row, col);
          const GtBias2 bottom = row_bias ? shared_bias : gt_bias_pair(p.ep, w.batch, row + 8, col);
          gt_store_pair_biased(p.ep, w.batch, row, col, acc[mi][j], acc[mi][j + 1], top);
          gt_store_pair_biased(p.ep, w.batch, row + 8, col, acc[mi][j + 2], acc[mi][j + 3], bottom);
        }
      }
#endif
    }
  }
#if GT_CLUSTER_M > 1
  // No CTA may leave while its peer can still multicast into it or arrive
  // on its barriers.
  gt_cluster_sync();
#endif
}
