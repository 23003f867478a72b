#include "backends/cuda/portable/portable_family.h"

#include <algorithm>
#include <sstream>

#include "backends/cuda/framework/gemm_problem.h"
#include "runtime/cuda/blas_common.h"

namespace gemmtune::backends::cuda_kernels::portable {
namespace {

constexpr Config kTilings[] = {{128, 128, 2, 4, 3}, {128, 64, 2, 2, 4}, {64, 128, 2, 2, 4}, {64, 64, 2, 2, 4}};
constexpr int kBk = 32, kPad = 8;
constexpr std::int64_t kMaxGridYZ = 65535;

int ceil_div(std::int64_t a, std::int64_t b) { return static_cast<int>((a + b - 1) / b); }

// How the kernel reads A and B: 16-byte copies in the operands' own
// orientation when both allow it, else element-wise (K-major in shared memory).
struct Mode {
  bool vec = false;
  bool a_kmajor = true, b_kmajor = true;
};

Mode mode_of(const Problem& p) {
  Mode m;
  auto pick = [&](const std::vector<OperandLayout>& options) -> std::optional<OperandLayout> {
    for (const OperandLayout& l : options)
      if (aligned16(p, l)) return l;
    return std::nullopt;
  };
  auto a = pick(layouts_a(p));
  auto b = pick(layouts_b(p));
  if (a && b) {
    m.vec = true;
    m.a_kmajor = a->k_major;
    m.b_kmajor = b->k_major;
  }
  return m;
}

std::size_t smem_bytes(const Config& c, const Mode& m) {
  const std::size_t a = m.a_kmajor ? c.bm * (kBk + kPad) : kBk * (c.bm + kPad);
  const std::size_t b = m.b_kmajor ? c.bn * (kBk + kPad) : kBk * (c.bn + kPad);
  return (m.vec ? c.stages : 1) * (a + b) * 2;
}

std::string describe(const Config& c, const Mode& m) {
  std::ostringstream d;
  d << "portable mma.sync m16n8k16, " << c.bm << "x" << c.bn << " tile, " << c.warps_m << "x" << c.warps_n
    << " warps, ";
  if (m.vec) d << c.stages << "-stage cp.async ring";
  else d << "element-wise loads (strides or alignment rule out 16-byte copies)";
  d << ", fused epilogue";
  return d.str();
}

Status check(const Problem& p, const FamilyContext& ctx) {
  if (ctx.device.sm() < 80)
    return reject(Reason::missing_isa, "the CUDA backend's kernels use bf16/f16 mma.sync m16n8k16 (sm_80 and newer); "
                                       "this device is sm_" + std::to_string(ctx.device.sm()));
  return Status::success();
}

}  // namespace

std::string Config::invalid() const {
  for (const Config& t : kTilings)
    if (t.bm == bm && t.bn == bn && t.warps_m == warps_m && t.warps_n == warps_n)
      return stages >= 2 && stages <= 4 ? std::string() : "2 to 4 stages";
  return "not one of the portable tilings";
}

std::string name(const Config& c) {
  return "cuda_mma_" + std::to_string(c.bm) + "x" + std::to_string(c.bn) + "_w" + std::to_string(c.warps_m) + "x" +
         std::to_string(c.warps_n) + "_s" + std::to_string(c.stages);
}

std::optional<Config> parse(std::string_view text) {
  auto f = split_name(text);
  if (f.size() != 5 || f[0] != "cuda" || f[1] != "mma") return std::nullopt;
  auto tile = int_pair(f[2]);
  auto warps = f[3].substr(0, 1) == "w" ? int_pair(f[3].substr(1)) : std::nullopt;
  auto stages = tagged_int(f[4], "s");
  if (!tile || !warps || !stages) return std::nullopt;
  Config c{tile->first, tile->second, warps->first, warps->second, *stages};
  if (!c.invalid().empty() || name(c) != text) return std::nullopt;
  return c;
}

std::vector<Config> candidates(const Problem& p, SearchSpace space) {
  std::vector<Config> out;
  if (space == SearchSpace::exhaustive) {
    for (Config c : kTilings)
      for (int s : {2, 3, 4}) {
        c.stages = s;
        out.push_back(c);
      }
    return out;
  }
  // Large outputs: the big tile and a narrower one; small: the small tiles.
  const double tiles128 = static_cast<double>(p.batch) * ceil_div(p.m, 128) * ceil_div(p.n, 128);
  if (tiles128 >= 132) out = {kTilings[0], kTilings[1]};
  else out = {kTilings[3], kTilings[2]};
  return out;
}

Expected<std::vector<Choice>> PortableFamily::enumerate(const Problem& p, const FamilyContext& ctx) const {
  if (Status s = check(p, ctx); !s) return s.error();
  const Mode m = mode_of(p);
  std::vector<Choice> out;
  for (const Config& c : candidates(p, ctx.space)) {
    // Element-wise loads use one stage: the ring depth changes nothing.
    const bool listed = std::any_of(std::begin(kTilings), std::end(kTilings), [&](const Config& t) { return t == c; });
    if (!m.vec && !listed) continue;
    out.push_back(Choice{name(c), describe(c, m)});
  }
  return out;
}

Expected<KernelSource> PortableFamily::source(const Problem& p, std::string_view choice,
                                              const FamilyContext& ctx) const {
  auto c = parse(choice);
  if (!c) return reject(Reason::internal_error, "not a portable template choice: " + std::string(choice));
  const Mode m = mode_of(p);
  KernelSource s;
  s.file = "portable_gemm.cu";
  s.entry = "gt_portable_gemm";
  s.arch = "sm_" + std::to_string(ctx.device.sm());
  s.defines = epilogue_defines(p);
  const Defines config = {
      {"GT_BM", std::to_string(c->bm)},           {"GT_BN", std::to_string(c->bn)},
      {"GT_WARPS_M", std::to_string(c->warps_m)}, {"GT_WARPS_N", std::to_string(c->warps_n)},
      {"GT_STAGES", std::to_string(c->stages)},   {"GT_VEC", m.vec ? "1" : "0"},
      {"GT_A_KMAJOR", m.a_kmajor ? "1" : "0"},    {"GT_B_KMAJOR", m.b_kmajor ? "1" : "0"},
  };
  s.defines.insert(s.defines.end(), config.begin(), config.end());
  return s;
}

namespace {

// The host mirror of GtPortableParams (portable_gemm.cu).
struct PortableParams {
  EpilogueParams ep;
  const void* a = nullptr;
  const void* b = nullptr;
  std::int64_t a_rs = 0, a_cs = 0, a_bs = 0;
  std::int64_t b_rs = 0, b_cs = 0, b_bs = 0;
  std::int32_t m = 0, n = 0, k = 0, pad = 0;
};
static_assert(sizeof(PortableParams) == sizeof(EpilogueParams) + 16 + 48 + 16);

// `base` moved by `elements` of `width` bytes (null stays null: an operand
// the problem does not read).
const void* moved(const void* base, std::size_t width, std::int64_t elements) {
  if (base == nullptr || elements == 0) return base;
  return static_cast<const char*>(base) + static_cast<std::ptrdiff_t>(elements) * static_cast<std::ptrdiff_t>(width);
}

class PortableKernel final : public Kernel {
 public:
  PortableKernel(const Problem& p, const Config& c, std::size_t smem, CUfunction fn, cuda::CudaRuntime& rt)
      : p_(p), c_(c), smem_(smem), fn_(fn), rt_(rt) {
    params_.ep = epilogue_params(p);
    params_.a_rs = p.a.row_stride;
    params_.a_cs = p.a.col_stride;
    params_.a_bs = p.batch > 1 ? p.a.batch_stride : 0;
    params_.b_rs = p.b.row_stride;
    params_.b_cs = p.b.col_stride;
    params_.b_bs = p.batch > 1 ? p.b.batch_stride : 0;
    params_.m = static_cast<std::int32_t>(p.m);
    params_.n = static_cast<std::int32_t>(p.n);
    params_.k = static_cast<std::int32_t>(p.k);
  }

  Status run(const GemmArgs& args, const RunContext& ctx) override {
    // A batch of 0 too: a grid of 0 batches is not a launch the driver takes.
    if (cuda::output_is_empty(p_)) return Status::success();
    if (Status s = rt_.make_current(); !s) return s;
    // The grid's y (row tiles) and z (batches) take at most 65535 each: a
    // larger problem runs as several launches of the same kernel, each with
    // its pointers moved to its first batch and row (every offset is a whole
    // number of rows or batches, so the alignment the kernel was chosen for
    // holds).
    const std::int64_t rows_per_launch = kMaxGridYZ * c_.bm;
    const std::size_t c_elem = dtype_size(p_.c.dtype);
    const std::size_t bias_elem = p_.bias != BiasKind::none ? dtype_size(p_.bias_desc.dtype) : 0;
    for (std::int64_t b0 = 0; b0 < p_.batch; b0 += kMaxGridYZ)
      for (std::int64_t m0 = 0; m0 < p_.m; m0 += rows_per_launch) {
        const std::int64_t batches = std::min(kMaxGridYZ, p_.batch - b0);
        const std::int64_t rows = std::min(rows_per_launch, p_.m - m0);
        PortableParams params = params_;
        set_pointers(params.ep, p_, args);
        params.a = moved(args.a, 2, b0 * params_.a_bs + m0 * params_.a_rs);
        params.b = moved(args.b, 2, b0 * params_.b_bs);
        params.ep.c = const_cast<void*>(moved(params.ep.c, c_elem, b0 * params_.ep.c_bs + m0 * params_.ep.c_rs));
        params.ep.bias = moved(params.ep.bias, bias_elem, b0 * params_.ep.bias_bs + m0 * params_.ep.bias_rs);
        params.m = static_cast<std::int32_t>(rows);
        params.ep.m = static_cast<std::int32_t>(rows);
        void* launch_args[] = {&params};
        const CUresult r = rt_.driver().cuLaunchKernel(
            fn_, static_cast<unsigned>(ceil_div(p_.n, c_.bn)), static_cast<unsigned>(ceil_div(rows, c_.bm)),
            static_cast<unsigned>(batches), static_cast<unsigned>(c_.threads()), 1, 1, static_cast<unsigned>(smem_),
            static_cast<CUstream>(ctx.stream), launch_args, nullptr);
        if (r != CUDA_SUCCESS) return cuda::driver_failure("cuLaunchKernel(" + name(c_) + ")", r);
      }
    return Status::success();
  }

 private:
  Problem p_;
  Config c_;
  std::size_t smem_;
  CUfunction fn_;
  cuda::CudaRuntime& rt_;
  PortableParams params_;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> PortableFamily::make_kernel(const Problem& p, std::string_view choice,
                                                              CUfunction fn, cuda::CudaRuntime& rt) const {
  auto c = parse(choice);
  if (!c) return reject(Reason::internal_error, "not a portable template choice: " + std::string(choice));
  const std::size_t smem = smem_bytes(*c, mode_of(p));
  if (Status s = cuda::check(rt.driver().cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                            static_cast<int>(smem)),
                             "cuFuncSetAttribute(max dynamic shared memory)");
      !s)
    return s.error();
  return std::unique_ptr<Kernel>(std::make_unique<PortableKernel>(p, *c, smem, fn, rt));
}

}  // namespace gemmtune::backends::cuda_kernels::portable
