#include "backends/cuda/hopper/hopper_family.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <sstream>

#include "backends/cuda/framework/gemm_problem.h"
#include "runtime/cuda/blas_common.h"
#include "util/log.h"

namespace gemmtune::backends::cuda_kernels::hopper {
namespace {

constexpr std::size_t kMaxBlockSmem = 232448;  // 227 KiB: the most one CTA may take on sm_90
constexpr std::size_t kSmPerSm = 233472;       // 228 KiB per SM, 1 KiB of it reserved per CTA
constexpr int kMaxStages = 6;                  // deeper rings measured no faster on compute-bound tiles
constexpr int kMaxDeepStages = 16;             // memory-bound tiles: as many loads in flight as fit

// Tile shapes, in the order ties are broken (larger tiles first).
constexpr std::pair<int, int> kTiles[] = {{128, 256}, {256, 128}, {128, 192}, {128, 128}, {64, 256},
                                          {256, 64},  {128, 64},  {64, 128},  {64, 64}};

int ceil_div(std::int64_t a, std::int64_t b) { return static_cast<int>((a + b - 1) / b); }

// Output tiles of bm x bn over the problem's batches; with clusters of
// `cluster` CTAs along M, the rows are rounded up to whole clusters.
std::int64_t tile_count(const Problem& p, int bm, int bn, int cluster = 1) {
  const std::int64_t rows = static_cast<std::int64_t>(bm) * cluster;
  return p.batch * static_cast<std::int64_t>(ceil_div(p.m, rows)) * cluster * ceil_div(p.n, bn);
}

// The most stages (2 to `most`) of `c` whose shared memory fits `budget`.
int deepest_ring(Config c, int most, std::size_t budget) {
  int stages = 2;
  for (int s = 2; s <= most; ++s) {
    c.stages = s;
    if (c.smem_bytes() <= budget) stages = s;
  }
  return stages;
}

// The standard ring: the deepest up to kMaxStages that fits (two CTAs per SM
// for the small one-consumer tiles).
int default_stages(int bm, int bn, bool pingpong = false) {
  const Config c{bm, bn, 2, 1, 1, pingpong};
  const bool pair = c.consumers() == 1 && c.accumulators() <= 64;
  return deepest_ring(c, kMaxStages, pair ? kSmPerSm / 2 - 1024 : kMaxBlockSmem);
}

// The deepest ring one CTA per SM can hold (up to kMaxDeepStages): for
// problems whose tiles fill one wave at most, where every SM streams its
// operands once and the bytes in flight per SM set the pace.
int deep_stages(int bm, int bn) { return deepest_ring(Config{bm, bn, 2, 1, 1}, kMaxDeepStages, kMaxBlockSmem); }

// SM-level efficiency of a tile shape when every SM is busy: what fraction of
// the tensor cores' peak its mainloop sustains (larger tiles read fewer
// shared-memory bytes per multiply and hide the epilogue better). Only the
// ranking matters: it prunes the default space, the measurement decides.
double tile_efficiency(const Config& c) {
  const double area = static_cast<double>(c.bm) * c.bn;
  double e = area >= 32768 ? 0.92 : area >= 24576 ? 0.88 : area >= 16384 ? 0.8 : area >= 8192 ? 0.62 : 0.42;
  if (c.consumers() == 1) e *= 0.9;  // one consumer warpgroup issues all the wgmma
  if (c.min_blocks() == 2) e *= 1.25;  // a second CTA hides the first one's waits
  return std::min(e, 0.95);
}

struct Estimate {
  Config config;
  double seconds;
};

// Time estimate (roofline of the tile schedule): waves of units over the
// SMs times the math of one unit, against the DRAM bytes (A, B, C once) and
// the L2 bytes (every unit's operand slices, split-K partials written and
// read); the largest term wins.
double estimate(const Problem& p, const Config& c, int sms) {
  constexpr double kSmFlops = 989e12 / 132;  // dense bf16 per SM (H100 SXM)
  constexpr double kDram = 3.0e12, kL2 = 9.0e12;
  const int k_blocks = ceil_div(p.k, 64);
  const int per_split = ceil_div(k_blocks, c.splits);
  const std::int64_t tiles = tile_count(p, c.bm, c.bn, c.cluster);
  const std::int64_t units = tiles * c.splits;
  const int slots = std::max(1, sms * c.min_blocks() / c.cluster * c.cluster);
  const double waves = std::ceil(static_cast<double>(units) / slots);
  const double unit_flops = 2.0 * c.bm * c.bn * per_split * 64;
  const double math = waves * unit_flops / (kSmFlops * tile_efficiency(c) / c.min_blocks());
  const double elem = 2;
  double dram = elem * p.batch * (static_cast<double>(p.m) * p.k + static_cast<double>(p.k) * p.n) +
                static_cast<double>(dtype_size(p.c.dtype)) * p.batch * p.m * p.n;
  double l2 = static_cast<double>(units) * (c.bm + static_cast<double>(c.bn) / c.cluster) * per_split * 64 * elem;
  // Split-K partials (f32, written and read once) stay in L2: they are
  // stored and loaded with .cg, and the splits of a tile run at the same time.
  if (c.splits > 1) l2 += 2.0 * 4 * c.splits * p.batch * p.m * p.n;
  return std::max({math, dram / kDram, l2 / kL2}) + 3e-6;
}

// Split-K factors worth trying for a tile: enough units to fill the SMs when
// the tiles alone do not (one wave, or just over), each split keeping at
// least 4 K blocks.
std::vector<int> split_options(const Problem& p, const Config& c, int sms, bool exhaustive) {
  std::vector<int> out{1};
  if (c.accumulators() > 64) return out;
  const int k_blocks = ceil_div(p.k, 64);
  const std::int64_t tiles = tile_count(p, c.bm, c.bn);
  auto fits = [&](int s) { return s <= 16 && k_blocks >= 4 * s; };
  if (tiles == 0) return out;  // an empty output: nothing to split (and no division by zero below)
  if (exhaustive) {
    for (int s : {2, 3, 4, 6, 8, 12, 16})
      if (fits(s)) out.push_back(s);
    return out;
  }
  const int slots = sms * c.min_blocks();
  if (tiles * 2 > slots) return out;
  // The factor that fills the SMs in one wave without a second (floor), the
  // one that fills them all (ceil: a short second wave), and half the first.
  // Round 5 had only ceil and its half: 32 tiles of 128x128 on 132 SMs gave
  // k5 (160 units, two waves) and k2 (64 SMs idle), never k4 (128 units).
  const int fill = static_cast<int>(std::min<std::int64_t>(16, slots / tiles));
  const int over = std::min<int>(16, ceil_div(slots, tiles));
  auto add = [&](int s) {
    if (s > 1 && fits(s) && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  for (int s : {fill, over, fill / 2}) add(s);
  if (out.size() == 1) add(2);  // K too short for the wanted factors: the least split
  return out;
}

std::string describe(const Config& c) {
  std::ostringstream d;
  d << "Hopper TMA + wgmma, " << c.bm << "x" << c.bn << " tile, " << c.stages << "-stage ring, " << c.consumers()
    << " consumer warpgroup" << (c.consumers() > 1 ? "s" : "")
    << (c.pingpong ? " taking turns (one's epilogue overlaps the other's multiplies)" : "") << ", persistent";
  if (c.cluster > 1) d << ", cluster " << c.cluster << "x1 sharing B by multicast";
  if (c.splits > 1) d << ", split-K " << c.splits << " (fixed-order f32 reduction)";
  d << (c.direct ? ", fused epilogue stored from registers" : ", fused epilogue staged through shared memory");
  return d.str();
}

// Why TMA cannot read the problem's A and B, or the layouts it will use.
struct Layouts {
  OperandLayout a, b;
};
Expected<Layouts> tma_layouts(const Problem& p) {
  if (p.alignment < 16)
    return reject(Reason::unsupported_alignment,
                  "the Hopper templates load with TMA, which needs 16-byte aligned data; the problem guarantees " +
                      std::to_string(p.alignment) + " bytes (the portable templates serve it)");
  auto pick = [&](const std::vector<OperandLayout>& options, const char* which) -> Expected<OperandLayout> {
    if (options.empty())
      return reject(Reason::unsupported_layout, std::string("the Hopper templates need ") + which +
                                                    " with a unit stride along one dimension (the portable "
                                                    "templates serve any strides)");
    for (const OperandLayout& l : options)
      if (aligned16(p, l)) return l;
    return reject(Reason::unsupported_alignment,
                  std::string("TMA needs the leading and batch strides of ") + which +
                      " to be multiples of 16 bytes (8 elements); the portable templates serve this layout");
  };
  auto a = pick(layouts_a(p), "A");
  if (!a) return a.error();
  auto b = pick(layouts_b(p), "B");
  if (!b) return b.error();
  return Layouts{a.value(), b.value()};
}

}  // namespace

int Config::min_blocks() const {
  if (consumers() != 1 || accumulators() > 64 || splits > 1) return 1;
  return 2 * (smem_bytes() + 1024) <= kSmPerSm ? 2 : 1;
}

std::string Config::invalid() const {
  if (bm != 64 && bm != 128 && bm != 256) return "tile rows must be 64, 128 or 256";
  if (bn != 64 && bn != 128 && bn != 192 && bn != 256) return "tile columns must be 64, 128, 192 or 256";
  if (accumulators() > 128) return "more than 128 accumulators per thread";
  if (stages < 2 || stages > kMaxDeepStages) return "2 to " + std::to_string(kMaxDeepStages) + " stages";
  if (smem_bytes() > kMaxBlockSmem) return "the stages do not fit in 227 KiB of shared memory";
  if (cluster != 1 && cluster != 2) return "clusters of 1 or 2";
  if (splits < 1 || splits > 16) return "split-K of 1 to 16";
  if (splits > 1 && accumulators() > 64) return "split-K only for tiles of at most 64 accumulators per thread";
  if (pingpong && bm == 256) return "ping-pong tiles have 64 or 128 rows";
  if (pingpong && (splits > 1 || cluster > 1)) return "ping-pong without split-K or cluster";
  return {};
}

std::string name(const Config& c) {
  return "cuda_sm90_" + std::to_string(c.bm) + "x" + std::to_string(c.bn) + "_s" + std::to_string(c.stages) + "_c" +
         std::to_string(c.cluster) + "_k" + std::to_string(c.splits) + (c.pingpong ? "_pp" : "") +
         (c.direct ? "_direct" : "");
}

std::optional<Config> parse(std::string_view text) {
  auto f = split_name(text);
  if (f.size() < 6 || f.size() > 8 || f[0] != "cuda" || f[1] != "sm90") return std::nullopt;
  auto tile = int_pair(f[2]);
  auto stages = tagged_int(f[3], "s");
  auto cluster = tagged_int(f[4], "c");
  auto splits = tagged_int(f[5], "k");
  if (!tile || !stages || !cluster || !splits) return std::nullopt;
  Config c{tile->first, tile->second, *stages, *cluster, *splits};
  // Optional tags, in name()'s order; the round trip below rejects any other order or repeat.
  for (std::size_t i = 6; i < f.size(); ++i) {
    if (f[i] == "pp") c.pingpong = true;
    else if (f[i] == "direct") c.direct = true;
    else return std::nullopt;
  }
  if (!c.invalid().empty() || name(c) != text) return std::nullopt;
  return c;
}

namespace {

std::vector<Config> candidates_of_any_size(const Problem& p, int sms, SearchSpace space) {
  const bool exhaustive = space == SearchSpace::exhaustive;
  std::vector<Config> all;
  for (auto [bm, bn] : kTiles) {
    // At most 64 rows, the standard space takes 64-row tiles only: a taller
    // one computes and stages rows that do not exist (round 8, 16x4096x4096
    // nn: 64x64 k2 26.0 us, 64x128 k4 28.7, 128x128 k4 30.5).
    if (!exhaustive && p.m <= 64 && bm > 64) continue;
    Config base{bm, bn, default_stages(bm, bn), 1, 1};
    std::vector<int> stage_options{base.stages};
    if (exhaustive) {
      for (int s = 3; s <= kMaxStages; ++s)
        if (s != base.stages) stage_options.push_back(s);
      if (const int deep = deep_stages(bm, bn); deep > kMaxStages) stage_options.push_back(deep);
    }
    for (int stages : stage_options)
      for (int splits : split_options(p, base, sms, exhaustive))
        for (int cluster : {1, 2})
          for (bool direct : {false, true}) {
            Config c{bm, bn, stages, cluster, splits, false, direct};
            if (!c.invalid().empty()) continue;
            // Clusters and the direct epilogue: exhaustive space only.
            if (cluster == 2 && (!exhaustive || p.m <= bm)) continue;
            if (direct && !exhaustive) continue;
            all.push_back(c);
          }
  }
  // Ping-pong variants (whole tiles per consumer, turns): worth it when
  // every CTA gets at least two tiles to alternate.
  const std::int64_t sm_tiles = 2 * static_cast<std::int64_t>(sms);
  auto two_tiles_per_cta = [&](int bm, int bn) {
    return tile_count(p, bm, bn) >= sm_tiles;
  };
  if (exhaustive) {
    for (auto [bm, bn] : kTiles) {
      Config c{bm, bn, default_stages(bm, bn, true), 1, 1, true};
      if (!c.invalid().empty() || c.accumulators() < 64 || !two_tiles_per_cta(bm, bn)) continue;
      for (int s = 3; s <= kMaxStages; ++s) {
        c.stages = s;
        if (c.invalid().empty()) all.push_back(c);
      }
    }
    return all;
  }

  // Standard space: the best estimates. No clusters: on the H100 they ran
  // 1.5-2.3x slower than the same tile alone until round 7 fixed their
  // remote arrive, and since then exactly as fast, not faster (4096³: 184.5
  // against 184.3 µs; NOTES.md), so they would only cost tuning time; the
  // exhaustive space keeps them.
  std::vector<Estimate> ranked;
  for (const Config& c : all) ranked.push_back({c, estimate(p, c, sms)});
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Estimate& a, const Estimate& b) { return a.seconds < b.seconds; });
  // Ten: for 128x4096x4096 the estimate ranks round 6's two fastest choices
  // (128x64 k2, 64x64 k2, 26-27 us on the H100) fourth and tenth.
  const std::size_t keep = p.m <= 32 ? 3 : 10;
  std::vector<Config> out;
  for (const Estimate& e : ranked) {
    if (out.size() == keep) break;
    // Far slower than the best estimate: not worth compiling and timing.
    if (e.seconds > 2.5 * ranked.front().seconds) break;
    out.push_back(e.config);
  }
  // Few output tiles (one wave at most): the small tiles again with the
  // deepest ring one CTA holds, unsplit and split just enough to fill the
  // SMs. Such a problem streams B once and the bytes in flight per SM set
  // its pace; the library's kernel for 128x4096x4096 is a 64x64 tile with
  // 13 stages on 128 CTAs and no split (ncu, round 10: 17.3 us, DRAM
  // 2.12 TB/s, against 21.4 us and 1.73 TB/s for our 64x64 s6 k2). Not yet
  // measured on a GPU (stop 24's device time ran out), so they are added
  // beside the measured shallow rings, never in their place, and not at
  // M <= 32, where the skinny family's many choices fill the space and the
  // shallow 64x128 k4 is the measured best (16x4096x4096 nn, round 9).
  if (p.m > 32)
    for (auto [bm, bn] : {std::pair{64, 64}, std::pair{64, 128}, std::pair{128, 64}}) {
      if (p.m <= 64 && bm > 64) continue;  // the 64-row rule above
      const std::int64_t tiles = tile_count(p, bm, bn);
      if (tiles == 0 || tiles > sms) continue;
      Config c{bm, bn, deep_stages(bm, bn), 1, 1};
      const int fill = static_cast<int>(std::min<std::int64_t>(16, sms / tiles));
      for (int splits : {1, fill}) {
        c.splits = splits;
        if (splits > 1 && ceil_div(p.k, 64) < 4 * splits) continue;
        // A unit with no more K blocks than the shallow ring has stages
        // would run the same in both: nothing to measure.
        if (ceil_div(ceil_div(p.k, 64), splits) <= default_stages(bm, bn)) continue;
        if (c.invalid().empty() && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
      }
    }
  // With an activation the epilogue is long enough that overlapping it with
  // the other consumer's multiplies pays: 64x256 ping-pong, 5 stages, was the
  // fastest choice of the exhaustive space for addmm + gelu 2048x14336x4096
  // (round 5: 359.8 µs against 364.1 for the best cooperative tile), and
  // 4.5-7.6 % slower on plain mm, where it is not offered.
  if (p.activation != Activation::none && two_tiles_per_cta(64, 256)) {
    const Config pp{64, 256, default_stages(64, 256, true), 1, 1, true};
    if (pp.invalid().empty()) out.push_back(pp);
  }
  return out;
}

}  // namespace

std::vector<Config> candidates(const Problem& p, int sms, SearchSpace space) {
  std::vector<Config> out = candidates_of_any_size(p, sms, space);
  // The kernel numbers tiles and work units in 32-bit ints (hopper_gemm.cu,
  // GtUnit): a problem with more (a batch of 2^31 tiny matrices) is left to
  // the portable templates rather than wrapped around.
  std::erase_if(out, [&](const Config& c) {
    return tile_count(p, c.bm, c.bn, c.cluster) * c.splits > std::numeric_limits<std::int32_t>::max();
  });
  return out;
}

Expected<std::vector<Choice>> HopperFamily::enumerate(const Problem& p, const FamilyContext& ctx) const {
  if (ctx.device.sm() != 90)
    return reject(Reason::missing_isa, "the Hopper templates use wgmma and TMA (sm_90a: H100, H200); this device is sm_" +
                                           std::to_string(ctx.device.sm()));
  auto layouts = tma_layouts(p);
  if (!layouts) return layouts.error();
  std::vector<Choice> out;
  for (const Config& c : candidates(p, ctx.device.sm_count, ctx.space)) out.push_back(Choice{name(c), describe(c)});
  if (out.empty()) return reject(Reason::unsupported_shape, "no Hopper tile configuration fits this problem");
  return out;
}

Expected<KernelSource> HopperFamily::source(const Problem& p, std::string_view choice,
                                            const FamilyContext& ctx) const {
  auto c = parse(choice);
  if (!c) return reject(Reason::internal_error, "not a Hopper template choice: " + std::string(choice));
  auto layouts = tma_layouts(p);
  if (!layouts) return layouts.error();
  KernelSource s;
  s.file = "hopper_gemm.cu";
  s.entry = "gt_hopper_gemm";
  s.arch = "sm_90a";
  s.defines = epilogue_defines(p);
  const Defines config = {
      {"GT_BM", std::to_string(c->bm)},
      {"GT_BN", std::to_string(c->bn)},
      {"GT_STAGES", std::to_string(c->stages)},
      {"GT_CONSUMERS", std::to_string(c->consumers())},
      {"GT_A_KMAJOR", layouts.value().a.k_major ? "1" : "0"},
      {"GT_B_KMAJOR", layouts.value().b.k_major ? "1" : "0"},
      {"GT_CLUSTER_M", std::to_string(c->cluster)},
      {"GT_SPLIT", c->splits > 1 ? "1" : "0"},
      {"GT_MIN_BLOCKS", std::to_string(c->min_blocks())},
      {"GT_PINGPONG", c->pingpong ? "1" : "0"},
      {"GT_EP_DIRECT", c->direct ? "1" : "0"},
      {"GT_HOST_SMEM_BYTES", std::to_string(c->smem_bytes() - Config::kAlignmentSlack)},
  };
  s.defines.insert(s.defines.end(), config.begin(), config.end());
  return s;
}

namespace {

// The host mirror of GtHopperParams (hopper_gemm.cu).
struct HopperParams {
  EpilogueParams ep;
  float* work = nullptr;
  unsigned* tickets = nullptr;
  std::int32_t k_blocks = 0, kb_per_split = 0, splits = 1, m_tiles = 0, n_tiles = 0, batch = 1, group_m = 8,
               units = 0, a_batched = 0, b_batched = 0;
};
static_assert(sizeof(HopperParams) == sizeof(EpilogueParams) + 16 + 10 * 4);

// The tensor map of one operand: its contiguous dimension first, boxes of 64
// contiguous elements (128 bytes, swizzled) by `box_rows`.
Expected<CUtensorMap> tensor_map(cuda::CudaRuntime& rt, const void* data, DType dtype, std::int64_t inner,
                                 std::int64_t outer, const OperandLayout& l, std::int64_t batch, int box_rows) {
  CUtensorMap map{};
  const std::uint64_t elem = dtype_size(dtype);
  const bool batched = l.batch_stride != 0 && batch > 1;
  // A dimension of extent 1 never steps: any valid stride does.
  const std::int64_t lead = l.lead != 0 ? l.lead : (inner + 7) / 8 * 8;
  cuuint64_t dims[3] = {static_cast<cuuint64_t>(inner), static_cast<cuuint64_t>(outer),
                        static_cast<cuuint64_t>(batch)};
  cuuint64_t strides[2] = {static_cast<cuuint64_t>(lead) * elem, static_cast<cuuint64_t>(l.batch_stride) * elem};
  cuuint32_t box[3] = {64, static_cast<cuuint32_t>(box_rows), 1};
  cuuint32_t element_strides[3] = {1, 1, 1};
  const CUresult r = rt.driver().cuTensorMapEncodeTiled(
      &map, dtype == DType::bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
      batched ? 3 : 2, const_cast<void*>(data), dims, strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
      CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) return cuda::driver_failure("cuTensorMapEncodeTiled", r);
  return map;
}

class HopperKernel final : public Kernel {
 public:
  HopperKernel(const Problem& p, const Config& c, Layouts layouts, CUfunction fn, cuda::CudaRuntime& rt,
               unsigned grid, std::size_t scratch_bytes)
      : p_(p), c_(c), layouts_(layouts), fn_(fn), rt_(rt), grid_(grid), scratch_(scratch_bytes) {
    params_.ep = epilogue_params(p);
    params_.k_blocks = ceil_div(p.k, 64);
    params_.splits = c.splits;
    params_.kb_per_split = std::max(1, ceil_div(params_.k_blocks, c.splits));
    params_.m_tiles = ceil_div(p.m, c.bm * c.cluster) * c.cluster;
    params_.n_tiles = ceil_div(p.n, c.bn);
    params_.batch = static_cast<std::int32_t>(p.batch);
    params_.group_m = 8;
    params_.units = static_cast<std::int32_t>(p.batch * params_.m_tiles / c.cluster * params_.n_tiles * c.splits);
    params_.a_batched = layouts.a.batch_stride != 0 && p.batch > 1;
    params_.b_batched = layouts.b.batch_stride != 0 && p.batch > 1;
  }

  std::size_t workspace_bytes() const override { return scratch_.bytes(); }

  Status run(const GemmArgs& args, const RunContext& ctx) override {
    if (cuda::output_is_empty(p_)) return Status::success();
    if (Status s = rt_.make_current(); !s) return s;
    // Tensor maps hold the addresses: each is encoded again only when its
    // operand moves (a layer's weights stay put while its activations move).
    // With K = 0 there is nothing to load (no K block, no TMA issued) and no
    // map to make: a tensor map's dimensions must be non-zero, so encoding
    // the caller's non-null pointer of an empty operand would fail.
    if (p_.k > 0 && args.a != map_a_data_) {
      const OperandLayout& la = layouts_.a;
      auto a = la.k_major ? tensor_map(rt_, args.a, p_.a.dtype, p_.k, p_.m, la, p_.batch, c_.bm)
                          : tensor_map(rt_, args.a, p_.a.dtype, p_.m, p_.k, la, p_.batch, 64);
      if (!a) return a.error();
      map_a_ = a.value();
      map_a_data_ = args.a;
    }
    if (p_.k > 0 && args.b != map_b_data_) {
      const OperandLayout& lb = layouts_.b;
      auto b = lb.k_major ? tensor_map(rt_, args.b, p_.b.dtype, p_.k, p_.n, lb, p_.batch, c_.bn / c_.cluster)
                          : tensor_map(rt_, args.b, p_.b.dtype, p_.n, p_.k, lb, p_.batch, 64);
      if (!b) return b.error();
      map_b_ = b.value();
      map_b_data_ = args.b;
    }
    HopperParams params = params_;
    set_pointers(params.ep, p_, args);
    auto stream = static_cast<CUstream>(ctx.stream);
    if (c_.splits > 1) {
      auto scratch = scratch_.get(rt_, stream);
      if (!scratch) return scratch.error();
      params.tickets = static_cast<unsigned*>(scratch.value());
      params.work = reinterpret_cast<float*>(static_cast<char*>(scratch.value()) + tickets_bytes());
    }
    void* launch_args[] = {&map_a_, &map_b_, &params};
    const CUresult r = rt_.driver().cuLaunchKernel(fn_, grid_, 1, 1, static_cast<unsigned>(c_.threads()), 1, 1,
                                                   static_cast<unsigned>(c_.smem_bytes()), stream, launch_args,
                                                   nullptr);
    if (r == CUDA_SUCCESS) return Status::success();
    return cuda::driver_failure("cuLaunchKernel(" + name(c_) + ")", r);
  }

  std::size_t tickets_bytes() const {
    const std::size_t tiles = static_cast<std::size_t>(p_.batch) * params_.m_tiles * params_.n_tiles;
    return (tiles * sizeof(unsigned) + 255) / 256 * 256;
  }

 private:
  Problem p_;
  Config c_;
  Layouts layouts_;
  CUfunction fn_;
  cuda::CudaRuntime& rt_;
  unsigned grid_;
  HopperParams params_;
  StreamScratch scratch_;
  alignas(64) CUtensorMap map_a_{};
  alignas(64) CUtensorMap map_b_{};
  const void* map_a_data_ = nullptr;
  const void* map_b_data_ = nullptr;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> HopperFamily::make_kernel(const Problem& p, std::string_view choice, CUfunction fn,
                                                            cuda::CudaRuntime& rt) const {
  auto c = parse(choice);
  if (!c) return reject(Reason::internal_error, "not a Hopper template choice: " + std::string(choice));
  auto layouts = tma_layouts(p);
  if (!layouts) return layouts.error();
  const auto& api = rt.driver();
  if (Status s = cuda::check(api.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                    static_cast<int>(c->smem_bytes())),
                             "cuFuncSetAttribute(max dynamic shared memory)");
      !s)
    return s.error();
  // Persistent grid: as many CTAs (whole clusters) as can be resident.
  int per_sm = 0;
  if (Status s = cuda::check(api.cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fn, c->threads(),
                                                                             c->smem_bytes()),
                             "cuOccupancyMaxActiveBlocksPerMultiprocessor");
      !s)
    return s.error();
  if (per_sm < 1)
    return reject(Reason::out_of_resources, name(*c) + " does not fit on an SM (" + std::to_string(c->smem_bytes()) +
                                                " bytes of shared memory, " + std::to_string(c->threads()) +
                                                " threads)");
  std::int64_t slots = static_cast<std::int64_t>(per_sm) * rt.info().sm_count;
  if (c->cluster > 1) {
    CUlaunchConfig config{};
    config.gridDimX = static_cast<unsigned>(slots / c->cluster * c->cluster);
    config.gridDimY = config.gridDimZ = 1;
    config.blockDimX = static_cast<unsigned>(c->threads());
    config.blockDimY = config.blockDimZ = 1;
    config.sharedMemBytes = static_cast<unsigned>(c->smem_bytes());
    int clusters = 0;
    const CUresult r = api.cuOccupancyMaxActiveClusters(&clusters, fn, &config);
    log::debug("CUDA " + name(*c) + ": cuOccupancyMaxActiveClusters = " + std::to_string(clusters) + " (result " +
               std::to_string(static_cast<int>(r)) + ") for " + std::to_string(slots) + " resident CTAs");
    if (r == CUDA_SUCCESS && clusters > 0)
      slots = std::min<std::int64_t>(slots, static_cast<std::int64_t>(clusters) * c->cluster);
    else
      slots = slots / c->cluster * c->cluster;
  }
  const std::int64_t tiles = tile_count(p, c->bm, c->bn, c->cluster);
  const std::int64_t units = tiles / c->cluster * c->splits;
  const std::int64_t grid = std::max<std::int64_t>(c->cluster, std::min(slots, units * c->cluster));
  log::debug("CUDA " + name(*c) + ": " + std::to_string(per_sm) + " CTA(s) per SM, grid " + std::to_string(grid) +
             " CTAs for " + std::to_string(units) + " units");
  std::size_t scratch = 0;
  if (c->splits > 1) {
    const std::size_t tickets = (static_cast<std::size_t>(tiles) * sizeof(unsigned) + 255) / 256 * 256;
    scratch = tickets + static_cast<std::size_t>(tiles) * c->splits * c->bm * c->bn * sizeof(float);
  }
  return std::unique_ptr<Kernel>(
      std::make_unique<HopperKernel>(p, *c, layouts.value(), fn, rt, static_cast<unsigned>(grid), scratch));
}

}  // namespace gemmtune::backends::cuda_kernels::hopper
