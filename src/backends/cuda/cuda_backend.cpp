#include "backends/cuda/cuda_backend.h"

#include <algorithm>

#include "backends/cuda/framework/embedded.h"
#include "backends/cuda/framework/family.h"
#include "backends/cuda/framework/gemm_problem.h"
#include "backends/cuda/framework/kernel_cache.h"
#include "backends/cuda/hopper/hopper_family.h"
#include "backends/cuda/portable/portable_family.h"
#include "backends/cuda/skinny/skinny_family.h"
#include "runtime/cuda/cubin_disk.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::backends {

namespace cuda_kernels {

const std::vector<const TemplateFamily*>& families() {
  static const skinny::SkinnyFamily skinny_family;
  static const hopper::HopperFamily hopper_family;
  static const portable::PortableFamily portable_family;
  static const std::vector<const TemplateFamily*> list{&skinny_family, &hopper_family, &portable_family};
  return list;
}

const TemplateFamily* owner(std::string_view choice) {
  for (const TemplateFamily* f : families())
    if (f->owns(choice)) return f;
  return nullptr;
}

Expected<std::vector<Choice>> offer(const Problem& p, const FamilyContext& ctx) {
  if (Status s = check_common(p); !s) return s.error();
  std::vector<Choice> out;
  std::string why_not;
  bool tma_served = false;
  for (const TemplateFamily* family : families()) {
    // The portable kernels are the fallback: in the standard space they are
    // offered only where the Hopper templates cannot serve.
    const bool portable = family->prefix() == "cuda_mma_";
    if (portable && tma_served && ctx.space == SearchSpace::standard) continue;
    auto offered = family->enumerate(p, ctx);
    if (!offered) {
      why_not += (why_not.empty() ? "" : "; ") + offered.error().message;
      continue;
    }
    if (family->prefix() == "cuda_sm90_") tma_served = true;
    for (auto& c : offered.value()) out.push_back(std::move(c));
  }
  if (out.empty()) return reject(Reason::unsupported_shape, "no CUDA template serves this problem: " + why_not);
  return out;
}

}  // namespace cuda_kernels

namespace {

using cuda_kernels::FamilyContext;
using cuda_kernels::KernelCache;
using cuda_kernels::KernelSource;
using cuda_kernels::TemplateFamily;

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "CUDA"; }
  DeviceKind device_kind() const override { return DeviceKind::cuda; }
  // The kernels' sources and the compiler: either changing makes stored
  // results stale.
  std::string version() const override {
    static const std::string v = [] {
      namespace disk = cuda::cubin_disk;
      std::uint64_t h = disk::fnv1a("");  // FNV-1a over every embedded file: name, newline, text
      for (const auto& f : cuda_kernels::embedded_files()) h = disk::fnv1a(f.text, disk::fnv1a("\n", disk::fnv1a(f.name, h)));
      std::string out = "cuda-templates-" + disk::hex64(h);
      if (const std::string nvrtc = disk::nvrtc_version(); nvrtc != "none") out += ";nvrtc-" + nvrtc;
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
    return "gemmtune's own kernels compiled by NVRTC (sm_80+): mm/addmm/bmm/baddbmm, bf16/f16 in, same or f32 out, "
           "any layout and strides, alpha/beta, row/full bias, relu/gelu/gelu_tanh/silu fused; Hopper TMA + wgmma templates "
           "(persistent, warp-specialized, split-K, clusters), a portable mma.sync template, skinny M <= 32 kernels";
  }

  Expected<std::vector<Choice>> enumerate(const Problem& p, const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    cuda::CudaRuntime& rt = *device.value();
    if (std::string why = cuda::nvrtc_unavailable_reason(); !why.empty()) return reject(Reason::unavailable, why);
    if (rt.info().sm() < 80)
      return reject(Reason::missing_isa, "the CUDA backend's kernels use bf16/f16 tensor cores (sm_80 and newer); "
                                         "this device is sm_" + std::to_string(rt.info().sm()));
    return cuda_kernels::offer(p, FamilyContext{rt.info(), ctx.search_space});
  }

  // The kernels of every choice this problem offers.
  std::vector<KernelSource> sibling_sources(const Problem& p, const TuningContext& ctx,
                                            const FamilyContext& fctx) const {
    std::vector<KernelSource> all;
    if (auto siblings = enumerate(p, ctx))
      for (const Choice& c : siblings.value())
        if (const TemplateFamily* f = cuda_kernels::owner(c.name))
          if (auto s = f->source(p, c.name, fctx)) all.push_back(std::move(s.value()));
    return all;
  }

  Expected<std::unique_ptr<Kernel>> build(const Problem& p, const Choice& choice,
                                          const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    cuda::CudaRuntime& rt = *device.value();
    const TemplateFamily* family = cuda_kernels::owner(choice.name);
    if (!family) return reject(Reason::internal_error, "not a CUDA backend choice: " + choice.name);
    const FamilyContext fctx{rt.info(), ctx.search_space};
    auto source = family->source(p, choice.name, fctx);
    if (!source) return source.error();
    const std::string folder = cuda_kernels::disk::folder_for(ctx.cache_dir);
    // NVRTC takes a second or more per kernel: when this one must be
    // compiled, compile every choice this problem offers together,
    // compile_threads at a time (tuning builds them all next). A kernel
    // already compiled (a stored winner rebuilt, a warm disk cache) is
    // loaded alone.
    auto& cache = KernelCache::instance();
    if (!cache.ready(rt, source.value(), folder)) cache.prepare(rt, sibling_sources(p, ctx, fctx), ctx.compile_threads, folder);
    auto fn = cache.function(rt, source.value(), folder);
    if (!fn) return fn.error();
    return family->make_kernel(p, choice.name, fn.value(), rt);
  }
};

}  // namespace

std::shared_ptr<Backend> make_cuda_backend() { return std::make_shared<CudaBackend>(); }

}  // namespace gemmtune::backends
