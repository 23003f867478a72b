// A template family of the CUDA backend: one folder beside this one (a .cu
// source, its configuration, search space and names). The backend asks each
// family in turn; a family answers for its own choice names only.
//
// Adding a family: a folder with the kernel source (.cu, listed in
// CMakeLists.txt so it is embedded), a Config with name() / parse() that
// round-trip, an enumerate() with the family's default and exhaustive
// spaces, and a Kernel that launches it; then one line in cuda_backend.cpp's
// family list. The tests compile every offered configuration with NVRTC.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cuda/framework/kernel_cache.h"
#include "gemmtune/backend.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::backends::cuda_kernels {

// What a family may depend on besides the problem: the device and the
// search space. Families are stateless; everything is in here.
struct FamilyContext {
  const cuda::DeviceInfo& device;
  SearchSpace space = SearchSpace::standard;
};

class TemplateFamily {
 public:
  virtual ~TemplateFamily() = default;
  // Every choice name of the family starts with this ("cuda_sm90_").
  virtual std::string_view prefix() const = 0;
  // Choices for the problem, or why the family serves none. The problem has
  // passed check_common().
  virtual Expected<std::vector<Choice>> enumerate(const Problem&, const FamilyContext&) const = 0;
  // The kernel a choice name (one this family made) compiles to.
  virtual Expected<KernelSource> source(const Problem&, std::string_view name, const FamilyContext&) const = 0;
  // A runnable kernel from the compiled function.
  virtual Expected<std::unique_ptr<Kernel>> make_kernel(const Problem&, std::string_view name, CUfunction,
                                                        cuda::CudaRuntime&) const = 0;

  bool owns(std::string_view name) const { return name.substr(0, prefix().size()) == prefix(); }
};

// Helpers for names made of '_'-separated fields ("128x256", "s4"). Every
// family's parse() is built from them.
std::vector<std::string_view> split_name(std::string_view name);
// "s4" with tag "s" -> 4; nullopt if the field is not tag + digits.
std::optional<int> tagged_int(std::string_view field, std::string_view tag);
// "128x256" -> {128, 256}.
std::optional<std::pair<int, int>> int_pair(std::string_view field);

}  // namespace gemmtune::backends::cuda_kernels
