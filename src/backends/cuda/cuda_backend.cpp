#include "backends/cuda/cuda_backend.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "backends/cuda/skinny_kernels.h"
#include "runtime/cuda/blas_common.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::backends {
namespace {

using cuda::CudaRuntime;
using cuda_skinny::BLayout;
using cuda_skinny::SkinnyConfig;
using cuda_skinny::SkinnyParams;

// The configurations compiled together (per layout, dtype, row tiles and
// search space; shared by every problem that needs them).
struct Family {
  std::vector<SkinnyConfig> configs;
  std::string key;  // its kernels' names: the identity of the compiled modules
};

// A family's kernels, compiled on first use: NVRTC takes about a second per
// kernel, so the family is split into up to `threads` modules compiled in
// parallel. Kept by (device, family) and never unloaded: modules are small
// and kernels built from them may live as long as the process.
Expected<CUfunction> kernel_function(CudaRuntime& rt, const Family& family, const std::string& name, int threads) {
  struct Cache {
    std::mutex mutex;
    std::map<std::pair<int, std::string>, std::map<std::string, CUfunction>> functions;
    std::map<std::pair<int, std::string>, Rejection> failures;
  };
  static auto* cache = new Cache();  // never destroyed (see cuda_device)
  std::lock_guard<std::mutex> lock(cache->mutex);
  const auto key = std::make_pair(rt.index(), family.key);
  if (auto f = cache->failures.find(key); f != cache->failures.end()) return f->second;
  auto compiled = cache->functions.find(key);
  if (compiled == cache->functions.end()) {
    const std::size_t parts = std::clamp<std::size_t>(static_cast<std::size_t>(threads), 1, family.configs.size());
    std::vector<std::vector<SkinnyConfig>> split(parts);
    for (std::size_t i = 0; i < family.configs.size(); ++i) split[i % parts].push_back(family.configs[i]);
    std::vector<std::optional<Expected<std::vector<char>>>> cubins(parts);
    std::vector<std::thread> workers;
    for (std::size_t i = 1; i < parts; ++i)
      workers.emplace_back([&, i] { cubins[i] = rt.compile(cuda_skinny::skinny_module_source(split[i]), {}); });
    cubins[0] = rt.compile(cuda_skinny::skinny_module_source(split[0]), {});
    for (auto& w : workers) w.join();
    std::map<std::string, CUfunction> functions;
    for (std::size_t i = 0; i < parts; ++i) {
      if (!cubins[i]->ok()) {
        cache->failures.emplace(key, cubins[i]->error());
        return cubins[i]->error();
      }
      CUmodule module = nullptr;
      if (Status s = cuda::check(rt.driver().cuModuleLoadData(&module, cubins[i]->value().data()),
                                 "cuModuleLoadData (CUDA skinny kernels)");
          !s)
        return s.error();
      for (const SkinnyConfig& c : split[i]) {
        const std::string kernel = cuda_skinny::skinny_kernel_name(c);
        CUfunction fn = nullptr;
        if (Status s = cuda::check(rt.driver().cuModuleGetFunction(&fn, module, kernel.c_str()),
                                   ("cuModuleGetFunction(" + kernel + ")").c_str());
            !s)
          return s.error();
        functions[kernel] = fn;
      }
    }
    compiled = cache->functions.emplace(key, std::move(functions)).first;
  }
  auto fn = compiled->second.find(name);
  if (fn == compiled->second.end()) return reject(Reason::internal_error, "no kernel " + name + " in its family");
  return fn->second;
}

struct Shape {
  BLayout layout = BLayout::k_major;
  bool bf16 = true;
  int m_tiles = 1;
};

// What the kernels serve, and why not otherwise.
Expected<Shape> check_problem(const Problem& p) {
  if (p.op != Op::mm && p.op != Op::addmm)
    return reject(Reason::unsupported_op, "the CUDA backend's kernels serve mm and addmm, not " +
                                              std::string(to_string(p.op)));
  if (p.batch != 1) return reject(Reason::unsupported_shape, "the CUDA backend's kernels serve one matrix (batch 1)");
  if (p.a.dtype != p.b.dtype || (p.a.dtype != DType::bf16 && p.a.dtype != DType::f16))
    return reject(Reason::unsupported_dtype, "the CUDA backend's kernels take bf16 or f16 A and B of one dtype, not " +
                                                 std::string(to_string(p.a.dtype)) + " and " +
                                                 std::string(to_string(p.b.dtype)));
  if (p.c.dtype != p.a.dtype && p.c.dtype != DType::f32)
    return reject(Reason::unsupported_dtype, "the CUDA backend writes C in the input dtype or f32, not " +
                                                 std::string(to_string(p.c.dtype)));
  if (p.bias == BiasKind::full)
    return reject(Reason::unsupported_epilogue, "the CUDA backend fuses a row bias (one value per column), not a "
                                                "full m x n bias");
  if (p.bias == BiasKind::row && p.bias_desc.dtype != p.a.dtype && p.bias_desc.dtype != DType::f32)
    return reject(Reason::unsupported_dtype, "the CUDA backend reads a bias in the input dtype or f32, not " +
                                                 std::string(to_string(p.bias_desc.dtype)));
  if (p.m > cuda_backend::kMaxRows)
    return reject(Reason::unsupported_shape, "the CUDA backend's skinny kernels serve M <= " +
                                                 std::to_string(cuda_backend::kMaxRows) + " (M = " +
                                                 std::to_string(p.m) + "); larger M is the libraries' domain");
  for (std::int64_t v : {p.m, p.n, p.k, p.a.row_stride, p.b.row_stride, p.b.col_stride})
    if (!cuda::fits_int(v)) return reject(Reason::unsupported_shape, "a size or stride exceeds 32 bits");
  if (p.alignment < 16)
    return reject(Reason::unsupported_alignment, "the CUDA backend loads A and B 16 bytes at a time and needs them "
                                                 "16-byte aligned; the problem guarantees " +
                                                     std::to_string(p.alignment) + " bytes");
  Shape s;
  s.bf16 = p.a.dtype == DType::bf16;
  s.m_tiles = p.m <= 16 ? 1 : 2;
  if (p.a.col_stride != 1 || p.a.row_stride % 8 != 0)
    return reject(Reason::unsupported_layout, "the CUDA backend needs A row-major (K contiguous) with a row stride "
                                              "that is a multiple of 8 elements");
  if (p.b.row_stride == 1 && p.b.col_stride % 8 == 0) {
    s.layout = BLayout::k_major;
  } else if (p.b.col_stride == 1 && p.b.row_stride % 8 == 0) {
    s.layout = BLayout::n_major;
  } else {
    return reject(Reason::unsupported_layout, "the CUDA backend needs B contiguous along K or along N, with the other "
                                              "stride a multiple of 8 elements");
  }
  return s;
}

int k_per_split(const SkinnyConfig& c, std::int64_t k) {
  const std::int64_t step = c.k_step();
  const std::int64_t per = (k + c.split_k - 1) / c.split_k;
  return static_cast<int>(std::max<std::int64_t>(step, (per + step - 1) / step * step));
}

// Split-K factors for one tiling: enough CTAs x warps to keep loads of B in
// flight on every SM (the default space takes the smallest such factor and
// its neighbours), never so many that a warp gets no K step.
std::vector<int> splits(const Problem& p, const SkinnyConfig& c, int sm_count, bool exhaustive) {
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
  return out;
}

std::string choice_name(const SkinnyConfig& c) {
  // gt_skinny_kmajor_bf16_m1_t2_w8_u2 -> cuda_skinny_kmajor_bf16_m1_t2_w8_u2_s4
  return "cuda" + cuda_skinny::skinny_kernel_name(c).substr(2) + "_s" + std::to_string(c.split_k);
}

// The inverse of choice_name: "cuda_skinny_kmajor_bf16_m1_t2_w8_u2_s4" back
// to its configuration; nullopt for any other text.
std::optional<SkinnyConfig> parse_choice_name(const std::string& name) {
  SkinnyConfig c;
  char layout[8] = {}, dtype[8] = {};
  int used = 0;
  if (std::sscanf(name.c_str(), "cuda_skinny_%6[a-z]_%4[a-z0-9]_m%d_t%d_w%d_u%d_s%d%n", layout, dtype, &c.m_tiles,
                  &c.n_tiles, &c.warps, &c.unroll, &c.split_k, &used) != 7 ||
      static_cast<std::size_t>(used) != name.size())
    return std::nullopt;
  if (std::string_view(layout) == "kmajor") c.layout = BLayout::k_major;
  else if (std::string_view(layout) == "nmajor") c.layout = BLayout::n_major;
  else return std::nullopt;
  if (std::string_view(dtype) == "bf16") c.bf16 = true;
  else if (std::string_view(dtype) == "f16") c.bf16 = false;
  else return std::nullopt;
  if (c.split_k < 1 || choice_name(c) != name) return std::nullopt;  // one spelling per configuration
  return c;
}

// The family (the kernels compiled together) of a problem's shape.
std::shared_ptr<Family> make_family(const Shape& s, bool exhaustive) {
  auto family = std::make_shared<Family>();
  family->configs = cuda_skinny::skinny_family(s.layout, s.bf16, s.m_tiles, exhaustive);
  for (const SkinnyConfig& c : family->configs) family->key += cuda_skinny::skinny_kernel_name(c) + ';';
  return family;
}

bool same_tiling(const SkinnyConfig& a, const SkinnyConfig& b) {
  return a.layout == b.layout && a.bf16 == b.bf16 && a.m_tiles == b.m_tiles && a.n_tiles == b.n_tiles &&
         a.warps == b.warps && a.unroll == b.unroll;
}

std::string describe_config(const SkinnyConfig& c, const Problem& p) {
  std::string d = "skinny tensor-core GEMM (mma.sync m16n8k16, f32 accumulation): " +
                  std::to_string(16 * c.m_tiles) + " rows x " + std::to_string(c.columns_per_cta()) +
                  " columns per CTA, " + std::to_string(c.warps) + " warps splitting K, " +
                  std::to_string(c.unroll) + " K steps in flight, B " +
                  (c.layout == BLayout::k_major ? "K-contiguous" : "N-contiguous");
  if (c.split_k > 1) d += ", split-K " + std::to_string(c.split_k) + " (f32 atomics, last CTA writes C)";
  if (p.bias != BiasKind::none || p.activation != Activation::none || p.alpha != 1.0) d += "; fused epilogue";
  return d;
}

// Split-K scratch: M x N f32 plus one ticket per CTA column, zero between
// runs (the last CTA of a column block clears what it read). One per
// stream, so runs on different streams never share it.
struct Scratch {
  runtime::DeviceBuffer buffer;
  float* work = nullptr;
  unsigned* tickets = nullptr;
};

class SkinnyKernel final : public Kernel {
 public:
  SkinnyKernel(Problem p, SkinnyConfig c, CUfunction fn, CudaRuntime& rt)
      : p_(std::move(p)), c_(c), fn_(fn), rt_(rt) {
    ctas_ = static_cast<unsigned>((p_.n + c_.columns_per_cta() - 1) / c_.columns_per_cta());
    work_bytes_ = static_cast<std::size_t>(p_.m * p_.n) * sizeof(float);
    scratch_bytes_ = c_.split_k > 1 ? work_bytes_ + ctas_ * sizeof(unsigned) : 0;
    // Everything but the pointers is fixed by the problem: set once here.
    params_.lda = p_.a.row_stride;
    params_.ldb = c_.layout == BLayout::k_major ? p_.b.col_stride : p_.b.row_stride;
    params_.c_rs = p_.c.row_stride;
    params_.c_cs = p_.c.col_stride;
    params_.bias_stride = p_.bias == BiasKind::row ? p_.bias_desc.col_stride : 0;
    params_.alpha = static_cast<float>(p_.alpha);
    params_.beta = static_cast<float>(p_.beta);
    params_.m = static_cast<int>(p_.m);
    params_.n = static_cast<int>(p_.n);
    params_.k = static_cast<int>(p_.k);
    params_.k_per_split = k_per_split(c_, p_.k);
    params_.activation = p_.activation == Activation::relu   ? 1
                         : p_.activation == Activation::gelu ? 2
                         : p_.activation == Activation::silu ? 3
                         : p_.activation == Activation::gelu_tanh ? 4
                                                             : 0;
    params_.out_f32 = p_.c.dtype == DType::f32;
    params_.bias_f32 = p_.bias == BiasKind::row && p_.bias_desc.dtype == DType::f32;
  }

  std::size_t workspace_bytes() const override { return scratch_bytes_; }

  Status run(const GemmArgs& args, const RunContext& ctx) override {
    if (p_.m == 0 || p_.n == 0) return Status::success();
    if (Status s = rt_.make_current(); !s) return s;
    auto stream = static_cast<CUstream>(ctx.stream);
    SkinnyParams params = params_;
    params.a = args.a;
    params.b = args.b;
    params.c = args.c;
    params.bias = p_.bias == BiasKind::row ? args.bias : nullptr;
    if (c_.split_k > 1) {
      auto scratch = scratch_for(stream);
      if (!scratch) return scratch.error();
      params.work = scratch.value()->work;
      params.tickets = scratch.value()->tickets;
    }
    void* launch_args[] = {&params};
    const CUresult r = rt_.driver().cuLaunchKernel(fn_, ctas_, static_cast<unsigned>(c_.split_k), 1,
                                                   static_cast<unsigned>(32 * c_.warps), 1, 1, 0, stream,
                                                   launch_args, nullptr);
    if (r == CUDA_SUCCESS) return Status::success();  // the message is built only on failure
    return cuda::driver_failure("cuLaunchKernel(" + cuda_skinny::skinny_kernel_name(c_) + ")", r);
  }

 private:
  Expected<Scratch*> scratch_for(CUstream stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = scratch_.find(stream); it != scratch_.end()) return &it->second;
    auto buffer = rt_.allocate(scratch_bytes_);
    if (!buffer) return buffer.error();
    if (Status s = cuda::check(rt_.driver().cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(buffer.value().get()), 0,
                                                            scratch_bytes_, stream),
                               "cuMemsetD8Async (split-K scratch)");
        !s)
      return s.error();
    Scratch s;
    s.work = static_cast<float*>(buffer.value().get());
    s.tickets = reinterpret_cast<unsigned*>(static_cast<char*>(buffer.value().get()) + work_bytes_);
    s.buffer = std::move(buffer.value());
    return &scratch_.emplace(stream, std::move(s)).first->second;
  }

  Problem p_;
  SkinnyConfig c_;
  CUfunction fn_;
  CudaRuntime& rt_;
  unsigned ctas_ = 0;
  std::size_t work_bytes_ = 0, scratch_bytes_ = 0;
  SkinnyParams params_{};
  std::mutex mutex_;
  std::map<CUstream, Scratch> scratch_;
};

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "CUDA"; }
  DeviceKind device_kind() const override { return DeviceKind::cuda; }
  // The kernels' source digest and the compiler: either changing makes
  // stored results stale.
  std::string version() const override {
    static const std::string v = [] {
      std::string out = "cuda-skinny-" + cuda_skinny::skinny_source_digest();
      int major = 0, minor = 0;
      if (cuda::nvrtc_api().loaded && cuda::nvrtc_api().nvrtcVersion(&major, &minor) == NVRTC_SUCCESS)
        out += ";nvrtc-" + std::to_string(major) + "." + std::to_string(minor);
      return out;
    }();
    return v;
  }
  Availability availability() const override {
    const Availability device = cuda::cuda_device(0).availability();
    if (!device.available) return device;
    const std::string nvrtc = cuda::nvrtc_unavailable_reason();
    return nvrtc.empty() ? Availability::yes() : Availability::no(nvrtc);
  }
  std::string capabilities() const override {
    return "gemmtune's own kernels compiled by NVRTC: skinny mm/addmm (M <= 32; bf16/f16 in, same or f32 out; B "
           "K- or N-contiguous; row bias, alpha/beta, relu/gelu/silu fused) on tensor cores (sm_80+), split-K "
           "across CTAs";
  }

  Expected<std::vector<Choice>> enumerate(const Problem& p, const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    CudaRuntime& rt = *device.value();
    if (std::string why = cuda::nvrtc_unavailable_reason(); !why.empty()) return reject(Reason::unavailable, why);
    if (rt.info().sm() < 80)
      return reject(Reason::missing_isa, "the CUDA backend's kernels use bf16/f16 mma.sync m16n8k16 (sm_80 and "
                                         "newer); this device is sm_" + std::to_string(rt.info().sm()));
    auto shape = check_problem(p);
    if (!shape) return shape.error();
    const bool exhaustive = ctx.search_space == SearchSpace::exhaustive;
    auto family = make_family(shape.value(), exhaustive);
    std::vector<Choice> out;
    for (const SkinnyConfig& base : family->configs) {
      for (int sk : splits(p, base, rt.info().sm_count, exhaustive)) {
        SkinnyConfig c = base;
        c.split_k = sk;
        out.push_back(Choice{choice_name(c), describe_config(c, p)});  // build() parses the name back
      }
    }
    return out;
  }

  Expected<std::unique_ptr<Kernel>> build(const Problem& p, const Choice& choice,
                                          const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    CudaRuntime& rt = *device.value();
    const std::optional<SkinnyConfig> config = parse_choice_name(choice.name);
    if (!config) return reject(Reason::internal_error, "'" + choice.name + "' is not a CUDA choice name");
    auto shape = check_problem(p);
    if (!shape) return shape.error();
    const Shape& s = shape.value();
    if (config->layout != s.layout || config->bf16 != s.bf16 || config->m_tiles != s.m_tiles)
      return reject(Reason::internal_error, "choice " + choice.name + " was made for another layout, dtype or M");
    // The family this tiling is compiled with: the context's search space
    // first, then the other one (a name from an exhaustive tuning).
    const bool exhaustive = ctx.search_space == SearchSpace::exhaustive;
    std::shared_ptr<Family> family;
    for (bool space : {exhaustive, !exhaustive}) {
      auto candidate = make_family(s, space);
      if (std::any_of(candidate->configs.begin(), candidate->configs.end(),
                      [&](const SkinnyConfig& c) { return same_tiling(c, *config); })) {
        family = std::move(candidate);
        break;
      }
    }
    if (!family) return reject(Reason::internal_error, "no CUDA kernel family holds the tiling of " + choice.name);
    if (Status st = rt.make_current(); !st) return st.error();
    auto fn = kernel_function(rt, *family, cuda_skinny::skinny_kernel_name(*config), ctx.compile_threads);
    if (!fn) return fn.error();
    return std::unique_ptr<Kernel>(std::make_unique<SkinnyKernel>(p, *config, fn.value(), rt));
  }
};

}  // namespace

std::shared_ptr<Backend> make_cuda_backend() { return std::make_shared<CudaBackend>(); }

}  // namespace gemmtune::backends
