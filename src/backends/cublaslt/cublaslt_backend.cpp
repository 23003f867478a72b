// CUBLASLT: the kernel (one cublasLtMatmul between the epilogue's passes)
// and the backend (choices from the search, built again from a choice's
// name). The parts: lt_descriptors (library access, descriptors),
// lt_epilogue (types, mapping, epilogue decisions, tags), lt_search
// (algorithms, names).
#include "backends/cublaslt/cublaslt_backend.h"

#include <algorithm>
#include <optional>
#include <set>

#include "backends/cublaslt/lt_descriptors.h"
#include "backends/cublaslt/lt_epilogue.h"
#include "backends/cublaslt/lt_search.h"
#include "runtime/cuda/blas_common.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::backends {

namespace {

using cuda::CudaRuntime;
using namespace cublaslt;

// Bumped whenever what a name's tags mean changes, so that names stored
// under the old meaning are not built under the new one (the version is
// part of every stored record's key).
constexpr const char* kNamingRevision = "+e2";

// Choices for problems with no product to compute.
constexpr const char* kEmptyChoice = "lt_empty_output";
constexpr const char* kNoProductChoice = "lt_no_product";

// How many of the heuristic's algorithms the unfused variant adds beside a
// fused GELU (see enumerate).
constexpr std::size_t kUnfusedStandbys = 4;

class LtKernel final : public Kernel {
 public:
  LtKernel(Problem problem, Setup setup, Descs descs, cublasLtMatmulAlgo_t algo, cublasLtHandle_t handle,
           CudaRuntime& rt, runtime::DeviceBuffer workspace, cuda::LibraryEpilogue epilogue)
      : p_(std::move(problem)),
        s_(std::move(setup)),
        d_(std::move(descs)),
        algo_(algo),
        handle_(handle),
        rt_(rt),
        workspace_(std::move(workspace)),
        epilogue_(std::move(epilogue)) {}

  std::size_t workspace_bytes() const override { return workspace_.bytes() + epilogue_.staging_bytes(); }

  Status run(const GemmArgs& args, const RunContext& ctx) override {
    if (Status st = rt_.make_current(); !st) return st;
    auto stream = static_cast<CUstream>(ctx.stream);
    if (Status st = epilogue_.before(rt_, stream, args.bias, args.c); !st) return st;
    void* out = epilogue_.call_output(args.c);
    if (s_.fused_bias()) {
      const void* bias = args.bias;
      if (Status st = set_desc(d_.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias, "BIAS_POINTER"); !st) return st;
    }
    if (s_.fp8) {
      const void* x_scale = s_.x_scale_is_a ? args.scale_a : args.scale_b;
      const void* y_scale = s_.x_scale_is_a ? args.scale_b : args.scale_a;
      if (Status st = set_desc(d_.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, x_scale, "A_SCALE_POINTER"); !st)
        return st;
      if (Status st = set_desc(d_.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, y_scale, "B_SCALE_POINTER"); !st)
        return st;
    }
    const cuda::BlasScalars scalars(s_.scale_type, p_.alpha, s_.beta_call);
    const void* x = s_.g.swapped ? args.b : args.a;
    const void* y = s_.g.swapped ? args.a : args.b;
    const void* c = s_.bias_as_c() ? args.bias : out;
    if (Status st = lt_check(lt().cublasLtMatmul(handle_, d_.op, scalars.alpha(), x, d_.x, y, d_.y, scalars.beta(), c,
                                                 d_.c, out, d_.d, &algo_, workspace_.get(), workspace_.bytes(),
                                                 reinterpret_cast<cudaStream_t>(stream)),
                             "cublasLtMatmul");
        !st)
      return st;
    return epilogue_.after(rt_, stream, args.bias, args.c);
  }

 private:
  Problem p_;
  Setup s_;
  Descs d_;
  cublasLtMatmulAlgo_t algo_;
  cublasLtHandle_t handle_;  // the process's (lt_handle), never destroyed
  CudaRuntime& rt_;
  runtime::DeviceBuffer workspace_;
  cuda::LibraryEpilogue epilogue_;
};

// No product to compute (an empty output, K = 0, alpha = 0): no cuBLASLt
// call (it refuses such shapes); one pass writes act(beta*bias), or
// nothing.
class NoProductKernel final : public Kernel {
 public:
  NoProductKernel(Problem problem, CudaRuntime& rt, cuda::LibraryEpilogue epilogue)
      : p_(std::move(problem)), rt_(rt), epilogue_(std::move(epilogue)) {}

  Status run(const GemmArgs& args, const RunContext& ctx) override {
    if (cuda::output_is_empty(p_)) return Status::success();
    if (Status st = rt_.make_current(); !st) return st;
    return epilogue_.after(rt_, static_cast<CUstream>(ctx.stream), args.bias, args.c);
  }

 private:
  Problem p_;
  CudaRuntime& rt_;
  cuda::LibraryEpilogue epilogue_;
};

// K = 0 and alpha = 0 drop the product (problem.h's rule for every backend).
bool has_product(const Problem& p) { return !cuda::output_is_empty(p) && !product_term_absent(p); }

class CublasLtBackend final : public Backend {
 public:
  explicit CublasLtBackend(std::size_t max_workspace) : max_workspace_(max_workspace) {}

  std::string_view name() const override { return "CUBLASLT"; }
  DeviceKind device_kind() const override { return DeviceKind::cuda; }
  std::string version() const override {
    static const std::string v = lt().loaded
                                     ? "cublasLt-" + std::to_string(lt().cublasLtGetVersion()) + kNamingRevision
                                     : std::string("cublasLt-unavailable");
    return v;
  }
  Availability availability() const override {
    return cuda::gpu_library_availability("cuBLASLt", lt);
  }
  std::string capabilities() const override {
    return "mm addmm bmm baddbmm (f32, tf32 when allowed, f64, f16, bf16), int_mm (int8), scaled_mm (fp8 e4m3/e5m2, "
           "per-tensor scales; per-channel on sm_90; layout nt) through cublasLtMatmul; the heuristic's top "
           "algorithms (exhaustive: many more, enumerated); fused bias, relu and gelu_tanh epilogues (gelu_tanh also "
           "unfused), gelu (erf) and silu in one elementwise pass; workspace up to " +
           std::to_string(max_workspace_ >> 20) + " MiB";
  }

  Expected<std::vector<Choice>> enumerate(const Problem& p, const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    CudaRuntime& rt = *device.value();
    if (Status st = rt.make_current(); !st) return st.error();
    auto handle = lt_handle();
    if (!handle) return handle.error();
    const bool exhaustive = ctx.search_space == SearchSpace::exhaustive;
    if (!has_product(p)) {
      // The same refusals as with a product, then one elementwise pass.
      auto setup = make_setup(p, rt.info().sm(), Variant{});
      if (!setup) return setup.error();
      const bool empty = cuda::output_is_empty(p);
      return std::vector<Choice>{
          Choice{empty ? kEmptyChoice : kNoProductChoice,
                 empty ? "empty output: nothing to compute, no cuBLASLt call"
                       : "no cuBLASLt call" + cuda::describe(cuda::without_product(p), p)}};
    }

    std::vector<std::pair<bool, bool>> modes{{false, false}};  // (tf32, fast_accum)
    if (p.a.dtype == DType::f32 && p.allow_tf32 && p.op != Op::int_mm && p.op != Op::scaled_mm)
      modes.push_back({true, false});
    if (p.op == Op::scaled_mm && exhaustive) modes.push_back({false, true});

    std::vector<Choice> out;
    std::set<std::string> names;
    std::optional<Rejection> first_error;
    for (auto [tf32, fast] : modes) {
      std::set<std::string> tried_tags;
      bool offered = false;
      for (const Variant& v : variant_order(tf32, fast)) {
        auto setup = make_setup(p, rt.info().sm(), v);
        if (!setup) {
          if (!first_error) first_error = setup.error();
          break;  // the same reason holds for every variant
        }
        if (!tried_tags.insert(setup.value().tag).second) continue;
        auto descs = make_descs(p, setup.value(), max_workspace_);
        if (!descs) return descs.error();
        cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
        auto candidates = heuristic(handle.value(), descs.value(),
                                    exhaustive ? kExhaustiveHeuristicCount : kDefaultHeuristicCount, status);
        if (candidates.empty()) {
          if (!first_error)
            // The library declining (no algorithm, or parameters it does not
            // take) is "not for me"; only an internal failure is broken.
            first_error = reject(status == CUBLAS_STATUS_SUCCESS || status == CUBLAS_STATUS_NOT_SUPPORTED ||
                                         status == CUBLAS_STATUS_INVALID_VALUE
                                     ? Reason::unsupported_shape
                                     : Reason::runtime_error,
                                 "cuBLASLt's heuristic offers no algorithm for " + describe(p) + " (" +
                                     lt_status(status) + ")");
          continue;  // try the next, less fused, variant
        }
        if (offered) {
          // The standbys beside a fused GELU: the heuristic's best few.
          if (candidates.size() > kUnfusedStandbys) candidates.resize(kUnfusedStandbys);
        } else {
          // Default: the heuristic's best few plus its first algorithm's
          // other kernel variants and cluster shapes (on an H200 these held
          // most of what the whole neighbourhood found; bench/RESULTS.md).
          // Exhaustive: the neighbourhood of 16 seeds on every axis, then
          // enumerated ids.
          const std::size_t limit = static_cast<std::size_t>(exhaustive ? kExhaustiveLimit : kDefaultLimit);
          auto room = [&] { return limit > candidates.size() ? limit - candidates.size() : std::size_t{0}; };
          const Neighbourhood how = exhaustive ? Neighbourhood{16, true} : Neighbourhood{1, false};
          auto near = neighbours(handle.value(), setup.value(), descs.value(), max_workspace_, candidates, how, room());
          candidates.insert(candidates.end(), near.begin(), near.end());
          if (exhaustive) {
            auto more = enumerate_configs(handle.value(), setup.value(), descs.value(), max_workspace_, room());
            candidates.insert(candidates.end(), more.begin(), more.end());
          }
        }
        for (const Candidate& c : candidates) {
          std::string name = algo_name(c.config) + setup.value().tag;
          if (!names.insert(name).second) continue;
          // The name carries the variant (its tags) and the algorithm's
          // configuration: build() rebuilds both from it.
          out.push_back(Choice{std::move(name), describe_candidate(c, setup.value(), p)});
        }
        // The most fused variant that works is the one offered; except that
        // cuBLASLt's GELU is its own tanh evaluation, whose accuracy only
        // verification can judge: the next variant (gelu_tanh in the pass)
        // stands by with a few algorithms.
        if (offered || !setup.value().fused_gelu()) break;
        offered = true;
      }
    }
    if (out.empty()) return first_error ? *first_error : reject(Reason::internal_error, "no cuBLASLt choice");
    return out;
  }

  Expected<std::unique_ptr<Kernel>> build(const Problem& p, const Choice& choice,
                                          const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    CudaRuntime& rt = *device.value();
    if (Status st = rt.make_current(); !st) return st.error();
    auto handle = lt_handle();
    if (!handle) return handle.error();

    if (choice.name == kEmptyChoice || choice.name == kNoProductChoice) {
      if (has_product(p))
        return reject(Reason::internal_error, choice.name + " is only for empty outputs, K = 0 or alpha = 0");
      auto setup = make_setup(p, rt.info().sm(), Variant{});
      if (!setup) return setup.error();
      auto epilogue = cuda::LibraryEpilogue::make(rt, p, cuda::without_product(p));
      if (!epilogue) return epilogue.error();
      return std::unique_ptr<Kernel>(std::make_unique<NoProductKernel>(p, rt, std::move(epilogue.value())));
    }
    if (!has_product(p)) return reject(Reason::internal_error, choice.name + " needs a product to compute");
    // From the name alone: the variant whose tags the name carries and the
    // algorithm its fields describe.
    std::string tags;
    auto parsed = parse_algo_name(choice.name, &tags);
    if (!parsed) return reject(Reason::internal_error, "not a CUBLASLT choice name: " + choice.name);
    const bool tf32 = tags.find("_tf32") != std::string::npos;
    const bool fast = tags.find("_fastacc") != std::string::npos;
    std::optional<Setup> setup;
    std::optional<cublasLtMatmulAlgo_t> algo;
    for (const Variant& v : variant_order(tf32, fast)) {
      auto made = make_setup(p, rt.info().sm(), v);
      if (!made) return made.error();
      if (made.value().tag != tags) continue;
      setup = std::move(made.value());
      auto found = algo_from_config(handle.value(), *setup, *parsed);
      if (!found) return found.error();
      algo = found.value();
      break;
    }
    if (!setup) return reject(Reason::internal_error, "no way of running this problem matches " + choice.name);

    auto descs = make_descs(p, *setup, max_workspace_);
    if (!descs) return descs.error();
    const Descs& d = descs.value();
    cublasLtMatmulHeuristicResult_t result{};
    if (cublasStatus_t st = lt().cublasLtMatmulAlgoCheck(handle.value(), d.op, d.x, d.y, d.c, d.d, &*algo,
                                                         &result);
        st != CUBLAS_STATUS_SUCCESS || result.state != CUBLAS_STATUS_SUCCESS)
      return reject(Reason::unsupported_shape, "cublasLtMatmulAlgoCheck refuses " + choice.name + " for " +
                                                   describe(p) + ": " +
                                                   lt_status(st != CUBLAS_STATUS_SUCCESS ? st : result.state));
    if (result.workspaceSize > max_workspace_)
      return reject(Reason::out_of_resources, choice.name + " needs " + std::to_string(result.workspaceSize) +
                                                  " bytes of workspace, over the " + std::to_string(max_workspace_) +
                                                  " allowed");
    runtime::DeviceBuffer workspace;
    if (result.workspaceSize > 0) {
      auto buffer = rt.allocate(result.workspaceSize);
      if (!buffer) return buffer.error();
      workspace = std::move(buffer.value());
    }
    auto epilogue = cuda::LibraryEpilogue::make(rt, p, setup->around);
    if (!epilogue) return epilogue.error();
    return std::unique_ptr<Kernel>(std::make_unique<LtKernel>(p, std::move(*setup), std::move(descs.value()),
                                                              *algo, handle.value(), rt, std::move(workspace),
                                                              std::move(epilogue.value())));
  }

 private:
  std::size_t max_workspace_;
};

}  // namespace

std::shared_ptr<Backend> make_cublaslt_backend(std::size_t max_workspace_bytes) {
  return std::make_shared<CublasLtBackend>(max_workspace_bytes);
}

}  // namespace gemmtune::backends
