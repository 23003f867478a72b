#include "backends/cuda/skinny/skinny_family.h"

#include <algorithm>
#include <sstream>

#include "backends/cuda/framework/gemm_problem.h"
#include "runtime/cuda/blas_common.h"

namespace gemmtune::backends::cuda_kernels::skinny {
namespace {

struct Shape {
  BLayout layout = BLayout::k_major;
  int m_tiles = 1;
  std::int64_t ldb = 0;
};

Expected<Shape> check(const Problem& p) {
  if (p.m > kMaxRows)
    return reject(Reason::unsupported_shape, "the skinny kernels serve M <= " + std::to_string(kMaxRows) +
                                                 " (M = " + std::to_string(p.m) + ")");
  if (p.batch != 1) return reject(Reason::unsupported_shape, "the skinny kernels serve one matrix (batch 1)");
  if (p.alignment < 16)
    return reject(Reason::unsupported_alignment, "the skinny kernels load A and B 16 bytes at a time");
  if (!(p.a.col_stride == 1 || p.k <= 1) || p.a.row_stride % 8 != 0)
    return reject(Reason::unsupported_layout,
                  "the skinny kernels need A row-major with a row stride that is a multiple of 8 elements");
  Shape s;
  s.m_tiles = p.m <= 16 ? 1 : 2;
  if (p.b.row_stride == 1 && p.b.col_stride % 8 == 0) {
    s.layout = BLayout::k_major;
    s.ldb = p.b.col_stride;
  } else if (p.b.col_stride == 1 && p.b.row_stride % 8 == 0) {
    s.layout = BLayout::n_major;
    s.ldb = p.b.row_stride;
  } else {
    return reject(Reason::unsupported_layout, "the skinny kernels need B contiguous along K or along N, with the "
                                              "other stride a multiple of 8 elements");
  }
  return s;
}

int k_per_split(const Config& c, std::int64_t k) {
  const std::int64_t step = c.k_step();
  const std::int64_t per = (k + c.split_k - 1) / c.split_k;
  return static_cast<int>(std::max<std::int64_t>(step, (per + step - 1) / step * step));
}

// Split-K factors for one tiling: enough CTAs x warps to keep loads of B in
// flight on every SM (the standard space takes the smallest such factor and
// its neighbours), never so many that a warp gets no K step.
std::vector<int> splits(const Problem& p, const Config& c, int sm_count, bool exhaustive) {
  const std::int64_t ctas = (p.n + c.columns_per_cta() - 1) / c.columns_per_cta();
  const std::int64_t steps = std::max<std::int64_t>(1, (p.k + c.k_step() - 1) / c.k_step());
  auto fits = [&](int sk) { return sk == 1 || steps >= static_cast<std::int64_t>(sk) * c.warps * c.unroll; };
  std::vector<int> out;
  if (exhaustive) {
    for (int sk : {1, 2, 4, 8, 16})
      if (fits(sk)) out.push_back(sk);
    return out;
  }
  const std::int64_t wanted_warps = std::int64_t{32} * std::max(sm_count, 1);
  int best = 1;
  while (best < 16 && ctas * best * c.warps < wanted_warps && fits(best * 2)) best *= 2;
  for (int sk : {best / 2, best, best * 2})
    if (sk >= 1 && fits(sk) && std::find(out.begin(), out.end(), sk) == out.end()) out.push_back(sk);
  // N-major B with 8 warps: also no split at all, this layout's fastest at
  // 16x4096x4096 on the H100 with the atomics coalesced too (round 9: w8 u4
  // s1 26.7 us, s4 33.2, s8 39.2); at M = 1 the splits win (w4 u1 s8 20.5).
  if (c.layout == BLayout::n_major && c.warps == 8 && std::find(out.begin(), out.end(), 1) == out.end())
    out.push_back(1);
  return out;
}

std::string describe(const Config& c, const Problem& p) {
  std::string d = "skinny tensor-core GEMM (mma.sync m16n8k16, f32 accumulation): " +
                  std::to_string(16 * c.m_tiles) + " rows x " + std::to_string(c.columns_per_cta()) +
                  " columns per CTA, " + std::to_string(c.warps) + " warps splitting K, " +
                  std::to_string(c.unroll) + " K steps in flight, B " +
                  (c.layout == BLayout::k_major ? "K-contiguous" : "N-contiguous");
  if (c.split_k > 1) d += ", split-K " + std::to_string(c.split_k) + " (f32 atomics, last CTA writes C)";
  if (p.bias != BiasKind::none || p.activation != Activation::none || p.alpha != 1.0) d += "; fused epilogue";
  return d;
}

bool valid_tiling(const Config& c) {
  if (c.m_tiles < 1 || c.m_tiles > 2 || c.unroll < 1 || c.unroll > 8) return false;
  if (c.layout == BLayout::k_major)
    return (c.n_tiles == 1 || c.n_tiles == 2 || c.n_tiles == 4) && (c.warps == 4 || c.warps == 8 || c.warps == 16) &&
           c.m_tiles * c.n_tiles * c.unroll <= 16 && (c.warps < 16 || c.m_tiles * c.n_tiles <= 2);
  return c.n_tiles == 8 && (c.warps == 4 || c.warps == 8) && c.unroll <= 4 && (c.m_tiles == 1 || c.warps == 4);
}

}  // namespace

std::string name(const Config& c) {
  std::ostringstream out;
  out << "cuda_skinny_" << (c.layout == BLayout::k_major ? "kmajor" : "nmajor") << (c.bf16 ? "_bf16" : "_f16")
      << "_m" << c.m_tiles << "_t" << c.n_tiles << "_w" << c.warps << "_u" << c.unroll << "_s" << c.split_k;
  return out.str();
}

std::optional<Config> parse(std::string_view text) {
  auto f = split_name(text);
  if (f.size() != 9 || f[0] != "cuda" || f[1] != "skinny") return std::nullopt;
  Config c;
  if (f[2] == "kmajor") c.layout = BLayout::k_major;
  else if (f[2] == "nmajor") c.layout = BLayout::n_major;
  else return std::nullopt;
  if (f[3] == "bf16") c.bf16 = true;
  else if (f[3] == "f16") c.bf16 = false;
  else return std::nullopt;
  auto m = tagged_int(f[4], "m"), t = tagged_int(f[5], "t"), w = tagged_int(f[6], "w"), u = tagged_int(f[7], "u"),
       s = tagged_int(f[8], "s");
  if (!m || !t || !w || !u || !s) return std::nullopt;
  c.m_tiles = *m;
  c.n_tiles = *t;
  c.warps = *w;
  c.unroll = *u;
  c.split_k = *s;
  const bool power_of_two = c.split_k >= 1 && c.split_k <= 32 && (c.split_k & (c.split_k - 1)) == 0;
  if (!valid_tiling(c) || !power_of_two || name(c) != text)
    return std::nullopt;
  return c;
}

std::vector<Config> tilings(BLayout layout, bool bf16, int m_tiles, SearchSpace space) {
  struct Tiling {
    int n_tiles, warps, unroll;
  };
  const bool exhaustive = space == SearchSpace::exhaustive;
  std::vector<Tiling> list;
  if (layout == BLayout::k_major) {
    if (!exhaustive) {
      // The five tilings that came closest to the best of the exhaustive
      // space over the decode shapes (H200, bench/RESULTS.md).
      list = {{1, 8, 2}, {2, 8, 2}, {1, 4, 2}, {2, 4, 1}, {2, 4, 4}};
    } else {
      for (int nt : {1, 2, 4})
        for (int w : {4, 8, 16})
          for (int u : {1, 2, 4, 8}) list.push_back({nt, w, u});
    }
  } else {
    // 64 columns per warp; the CTA's warps add through shared memory, which
    // limits two row tiles to 4 warps.
    if (!exhaustive) {
      list = m_tiles == 1 ? std::vector<Tiling>{{8, 4, 1}, {8, 8, 4}, {8, 4, 4}}
                          : std::vector<Tiling>{{8, 4, 1}, {8, 4, 2}, {8, 4, 4}};
    } else {
      for (int w : {4, 8})
        for (int u : {1, 2, 4}) list.push_back({8, w, u});
    }
  }
  std::vector<Config> out;
  for (const Tiling& t : list) {
    Config c{layout, bf16, m_tiles, t.n_tiles, t.warps, t.unroll, 1};
    if (valid_tiling(c)) out.push_back(c);
  }
  return out;
}

Expected<std::vector<Choice>> SkinnyFamily::enumerate(const Problem& p, const FamilyContext& ctx) const {
  auto shape = check(p);
  if (!shape) return shape.error();
  const Shape& s = shape.value();
  std::vector<Choice> out;
  for (const Config& base : tilings(s.layout, is_bf16(p), s.m_tiles, ctx.space))
    for (int sk : splits(p, base, ctx.device.sm_count, ctx.space == SearchSpace::exhaustive)) {
      Config c = base;
      c.split_k = sk;
      out.push_back(Choice{name(c), describe(c, p)});
    }
  return out;
}

Expected<KernelSource> SkinnyFamily::source(const Problem& p, std::string_view choice,
                                            const FamilyContext& ctx) const {
  auto c = parse(choice);
  if (!c) return reject(Reason::internal_error, "not a skinny choice: " + std::string(choice));
  auto shape = check(p);
  if (!shape) return shape.error();
  if (c->layout != shape.value().layout || c->bf16 != is_bf16(p) || c->m_tiles != shape.value().m_tiles)
    return reject(Reason::internal_error, "choice " + std::string(choice) + " is for another layout, dtype or M");
  KernelSource s;
  s.file = "skinny_gemm.cu";
  s.entry = "gt_skinny_gemm";
  s.arch = "sm_" + std::to_string(ctx.device.sm());
  s.defines = epilogue_defines(p);
  const Defines config = {
      {"GT_KMAJOR", c->layout == BLayout::k_major ? "1" : "0"}, {"GT_MT", std::to_string(c->m_tiles)},
      {"GT_NT", std::to_string(c->n_tiles)},                    {"GT_WARPS", std::to_string(c->warps)},
      {"GT_UNROLL", std::to_string(c->unroll)},
  };
  s.defines.insert(s.defines.end(), config.begin(), config.end());
  return s;
}

namespace {

// The host mirror of GtSkinnyParams (skinny_gemm.cu).
struct SkinnyParams {
  EpilogueParams ep;
  const void* a = nullptr;
  const void* b = nullptr;
  float* work = nullptr;
  unsigned* tickets = nullptr;
  std::int64_t lda = 0, ldb = 0;
  std::int32_t m = 0, n = 0, k = 0, k_per_split = 0;
};
static_assert(sizeof(SkinnyParams) == sizeof(EpilogueParams) + 32 + 16 + 16);

class SkinnyKernel final : public Kernel {
 public:
  SkinnyKernel(const Problem& p, const Config& c, std::int64_t ldb, CUfunction fn, cuda::CudaRuntime& rt)
      : p_(p), c_(c), fn_(fn), rt_(rt),
        ctas_(static_cast<unsigned>((p.n + c.columns_per_cta() - 1) / c.columns_per_cta())),
        work_bytes_(static_cast<std::size_t>(p.m * p.n) * sizeof(float)),
        scratch_(c.split_k > 1 ? work_bytes_ + ctas_ * sizeof(unsigned) : 0) {
    params_.ep = epilogue_params(p);
    params_.lda = p.a.row_stride;
    params_.ldb = ldb;
    params_.m = static_cast<std::int32_t>(p.m);
    params_.n = static_cast<std::int32_t>(p.n);
    params_.k = static_cast<std::int32_t>(p.k);
    params_.k_per_split = k_per_split(c, p.k);
  }

  std::size_t workspace_bytes() const override { return scratch_.bytes(); }

  Status run(const GemmArgs& args, const RunContext& ctx) override {
    if (cuda::output_is_empty(p_)) return Status::success();
    if (Status s = rt_.make_current(); !s) return s;
    auto stream = static_cast<CUstream>(ctx.stream);
    SkinnyParams params = params_;
    set_pointers(params.ep, p_, args);
    params.a = args.a;
    params.b = args.b;
    if (c_.split_k > 1) {
      auto scratch = scratch_.get(rt_, stream);
      if (!scratch) return scratch.error();
      params.work = static_cast<float*>(scratch.value());
      params.tickets = reinterpret_cast<unsigned*>(static_cast<char*>(scratch.value()) + work_bytes_);
    }
    void* launch_args[] = {&params};
    const CUresult r = rt_.driver().cuLaunchKernel(fn_, ctas_, static_cast<unsigned>(c_.split_k), 1,
                                                   static_cast<unsigned>(32 * c_.warps), 1, 1, 0, stream, launch_args,
                                                   nullptr);
    if (r == CUDA_SUCCESS) return Status::success();  // the message is built only on failure
    return cuda::driver_failure("cuLaunchKernel(" + name(c_) + ")", r);
  }

 private:
  Problem p_;
  Config c_;
  CUfunction fn_;
  cuda::CudaRuntime& rt_;
  unsigned ctas_;
  std::size_t work_bytes_;
  SkinnyParams params_;
  StreamScratch scratch_;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> SkinnyFamily::make_kernel(const Problem& p, std::string_view choice, CUfunction fn,
                                                            cuda::CudaRuntime& rt) const {
  auto c = parse(choice);
  if (!c) return reject(Reason::internal_error, "not a skinny choice: " + std::string(choice));
  auto shape = check(p);
  if (!shape) return shape.error();
  return std::unique_ptr<Kernel>(std::make_unique<SkinnyKernel>(p, *c, shape.value().ldb, fn, rt));
}

}  // namespace gemmtune::backends::cuda_kernels::skinny
