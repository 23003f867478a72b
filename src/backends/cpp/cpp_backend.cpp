#include "backends/cpp/cpp_backend.h"

#include "backends/cpp/framework/gemm_driver.h"
#include "backends/cpp/search_space.h"
#include "backends/cpp/tile_catalog.h"

namespace gemmtune::backends {
namespace {

using cpp::KernelConfig;

// Bump when any kernel, packer or epilogue changes its results or speed, so
// cached tunings of older kernels are not reused.
constexpr const char* kKernelSetVersion = "cpp-kernels-2";

class CppBackend final : public Backend {
 public:
  explicit CppBackend(cpp::CpuFeatures cpu) : cpu_(std::move(cpu)) {}

  std::string_view name() const override { return "CPP"; }
  DeviceKind device_kind() const override { return DeviceKind::cpu; }
  std::string version() const override { return std::string(kKernelSetVersion) + ";isa=" + cpu_.isa_list(); }

  Availability availability() const override {
    if (!cpu_.avx2_fma) return Availability::no("CPU lacks AVX2 and FMA (the smallest instruction set CPP has kernels for)");
    return Availability::yes();
  }

  std::string capabilities() const override {
    return "mm addmm bmm baddbmm mixed_mm int_mm; f32, f16 (via f32), bf16 (AVX512_BF16), int8 (AVX512_VNNI); "
           "AVX-512/AVX2 tiles, packed or direct, fused bias/activation; no f64, no scaled_mm";
  }

  bool may_be_inexact() const override { return true; }

  Expected<std::vector<Choice>> enumerate(const Problem& problem, const TuningContext& ctx) const override {
    if (problem.device.kind != DeviceKind::cpu)
      return reject(Reason::wrong_device, "CPP runs on the CPU, not " + to_string(problem.device));
    auto configs = cpp::search_space(problem, ctx, cpu_);
    if (!configs) return configs.error();
    std::vector<Choice> out;
    out.reserve(configs.value().size());
    for (const KernelConfig& c : configs.value())
      out.push_back(Choice{cpp::config_name(c), cpp::describe_config(c)});
    return out;
  }

  Expected<std::unique_ptr<Kernel>> build(const Problem& problem, const Choice& choice,
                                          const TuningContext& ctx) const override {
    // The name is the source of truth: a cached winner is rebuilt from it.
    auto config = cpp::parse_config_name(choice.name);
    if (!config) return reject(Reason::internal_error, "'" + choice.name + "' is not a CPP choice name");
    if (Status s = cpp::check_config_for(*config, problem, cpu_, ctx.threads); !s) return s.error();
    if (config->path == cpp::Path::dot) {
      const cpp::DotKernel* dot = cpp::find_dot(config->isa, config->arith, config->mr, config->nr);
      return cpp::make_dot_kernel(problem, *config, dot->fn[static_cast<int>(*cpp::dot_inputs_for(problem))]);
    }
    const cpp::TileKernel* tile = cpp::find_tile(config->isa, config->arith, config->mr, config->nr);
    return cpp::make_gemm_kernel(problem, *config, *tile);
  }

 private:
  cpp::CpuFeatures cpu_;
};

}  // namespace

std::shared_ptr<Backend> make_cpp_backend() {
  static const cpp::CpuFeatures detected = cpp::CpuFeatures::detect();
  return std::make_shared<CppBackend>(detected);
}

std::shared_ptr<Backend> make_cpp_backend(const cpp::CpuFeatures& features) {
  return std::make_shared<CppBackend>(features);
}

}  // namespace gemmtune::backends
