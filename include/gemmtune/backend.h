// The backend interface. A backend is a family of kernels the user enables or
// disables by name. It never sees the policy, the store or other backends: it
// answers "which choices do you offer for this problem" and "build this one".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "gemmtune/types.h"

// Declared before the export region: the device runtime is gemmtune's own
// (src/runtime/device_runtime.h), not part of libgemmtune.so's API; a
// backend outside gemmtune only passes the pointer on.
namespace gemmtune::runtime {
class DeviceRuntime;
}

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

struct Availability {
  bool available = false;
  std::string why;  // when unavailable: "no CUDA driver (libcuda.so.1 not found)"
  static Availability yes() { return {true, {}}; }
  static Availability no(std::string why) { return {false, std::move(why)}; }
};

// What the tuner tells a backend besides the problem.
struct TuningContext {
  SearchSpace search_space = SearchSpace::standard;
  int threads = 1;  // CPU worker threads the kernel may use (>= 1)
  int compile_threads = 1;  // threads a backend may compile its kernels with (>= 1)
  // The problem's device as gemmtune's runtime sees it (memory, stream, for
  // CUDA the context). Backends take their device from here, never from a
  // process-wide global, so that a test can hand them a fake and a worker
  // process its own. The tuner and the worker always set it; backends that
  // need a device reject a context without one (CPU backends ignore it).
  // Not owned; it outlives every kernel built with it.
  runtime::DeviceRuntime* device = nullptr;
  // gemmtune's cache folder (the cache_dir option, else the XDG/HOME default;
  // empty when there is none): backends keep compiled kernels under it.
  std::string cache_dir;
};

// One concrete kernel configuration, as a portable value. `name` is
// procedural and stable across versions and processes
// ("cpp_avx512_f32_mr6_nr32_kc256_mc96_nc2048_t2x1"): with the problem and
// the backend it is all that is needed to build the choice again, in this
// process or another one (a measuring worker, a later run from the store).
// The store keeps names, never indices or parsed forms.
struct Choice {
  std::string name;
  std::string description;  // short human text of the config; build() never reads it
};

// Per-call context. `stream` is a CUstream for CUDA kernels, null for CPU.
struct RunContext {
  void* stream = nullptr;
};

// A built, runnable kernel. It owns whatever it needs (packed buffers,
// workspace, compiled modules) and frees it in its destructor.
// run() must not be called concurrently on one Kernel object; different
// Kernel objects may run concurrently. run() reports failures as a
// rejection (stage run); it must never fall back to another implementation.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status run(const GemmArgs& args, const RunContext& ctx) = 0;
  // Bytes of scratch memory this kernel holds (reported to the user).
  virtual std::size_t workspace_bytes() const { return 0; }
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Upper-case name the user enables it by: "BLAS", "CPP", "CUBLASLT".
  virtual std::string_view name() const = 0;
  virtual DeviceKind device_kind() const = 0;
  // Version string that goes into the database key: a library's version and
  // build config, or gemmtune's own kernel-set version.
  virtual std::string version() const = 0;
  // Whether it can run here; cheap and cached by the backend.
  virtual Availability availability() const = 0;
  // One line for `gemmtune backends`: ops, dtypes and notable limits.
  virtual std::string capabilities() const = 0;
  // True when its results may differ from exact arithmetic by more than
  // rounding of the output (it must then never serve as a reference).
  virtual bool may_be_inexact() const { return true; }

  // Choices for this problem, or the catalogued reason it serves none.
  // Pure and cheap: no kernel is built or run. Never returns an empty list.
  // Only called when availability() is true and the device kind matches.
  virtual Expected<std::vector<Choice>> enumerate(const Problem&,
                                                  const TuningContext&) const = 0;

  // Builds the choice named `choice.name` for this problem, from the name
  // alone: the choice may come from enumerate() in this process, from
  // another process, or from the store (description empty). The backend
  // parses its own name back; a name it does not know, or one that does not
  // fit this problem, is a rejection (internal_error or the unsupported
  // reason), never undefined behaviour. Compile errors and resource limits
  // come back as rejections too.
  virtual Expected<std::unique_ptr<Kernel>> build(const Problem&, const Choice&,
                                                  const TuningContext&) const = 0;
};

}  // namespace gemmtune

#pragma GCC visibility pop
