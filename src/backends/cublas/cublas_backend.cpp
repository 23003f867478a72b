#include "backends/cublas/cublas_backend.h"

#include <charconv>
#include <climits>
#include <map>
#include <mutex>

#include "runtime/cuda/blas_common.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::backends {
namespace {

using cuda::BlasGemm;
using cuda::CudaRuntime;

// What a choice fixes: compute type, algorithm, math mode.
struct CublasConfig {
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cublasGemmAlgo_t algo = CUBLAS_GEMM_DEFAULT;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

// One cuBLAS handle per device, shared by all kernels: a handle is costly
// and cuBLAS calls are short, so kernels take turns (the lock covers
// set-stream, set-workspace, set-math-mode and the call). Each stream gets
// its own workspace, as PyTorch does, so that kernels running at once on
// different streams never share scratch memory.
struct HandleSlot {
  std::mutex mutex;
  cublasHandle_t handle = nullptr;
  std::map<CUstream, runtime::DeviceBuffer> workspaces;
  std::string error;
};

HandleSlot& handle_slot(int device) {
  static std::mutex mutex;
  static auto* slots = new std::map<int, HandleSlot*>();  // never destroyed (see cuda_device)
  std::lock_guard<std::mutex> lock(mutex);
  auto it = slots->find(device);
  if (it == slots->end()) it = slots->emplace(device, new HandleSlot()).first;
  return *it->second;
}

// Creates the handle on first use; the caller holds slot.mutex.
Status ensure_handle(HandleSlot& slot, CudaRuntime& rt) {
  if (slot.handle) return Status::success();
  if (!slot.error.empty()) return reject(Reason::runtime_error, slot.error);
  const cuda::CublasApi& api = cuda::cublas_api();
  if (Status s = rt.make_current(); !s) return s;
  if (cublasStatus_t r = api.cublasCreate_v2(&slot.handle); r != CUBLAS_STATUS_SUCCESS) {
    slot.handle = nullptr;
    slot.error = cuda::cublas_failure("cublasCreate", r).message;
    return reject(Reason::runtime_error, slot.error);
  }
  return cuda::check(api.cublasSetPointerMode_v2(slot.handle, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
}

// Points the handle at `stream` and that stream's workspace; the caller
// holds slot.mutex.
Status bind_stream(HandleSlot& slot, CudaRuntime& rt, CUstream stream) {
  const cuda::CublasApi& api = cuda::cublas_api();
  auto it = slot.workspaces.find(stream);
  if (it == slot.workspaces.end()) {
    auto workspace = rt.allocate(cublas::kWorkspaceBytes);
    if (!workspace) return workspace.error();
    it = slot.workspaces.emplace(stream, std::move(workspace.value())).first;
  }
  if (Status s = cuda::check(api.cublasSetStream_v2(slot.handle, reinterpret_cast<cudaStream_t>(stream)),
                             "cublasSetStream");
      !s)
    return s;
  return cuda::check(api.cublasSetWorkspace_v2(slot.handle, it->second.get(), it->second.bytes()),
                     "cublasSetWorkspace");
}

// How one problem is computed: what runs around the library call, and the
// call itself (onto C, or the f32 staging buffer).
struct Plan {
  cuda::AroundCall around;
  BlasGemm gemm;
};

Expected<Plan> make_plan(const Problem& p) {
  Plan plan;
  plan.around = cuda::plain_library_call(p);
  auto gemm = cuda::map_to_column_major(p, plan.around.staged ? cuda::staging_desc(p) : p.c);
  if (!gemm) return gemm.error();
  plan.gemm = gemm.value();
  return plan;
}

class CublasKernel final : public Kernel {
 public:
  CublasKernel(Problem problem, CublasConfig config, Plan plan, CudaRuntime& rt, cuda::LibraryEpilogue epilogue)
      : p_(std::move(problem)),
        config_(config),
        plan_(plan),
        rt_(rt),
        slot_(handle_slot(rt.index())),
        epilogue_(std::move(epilogue)) {}

  // The per-stream cuBLAS workspace it uses, plus its f32 staging buffer.
  std::size_t workspace_bytes() const override { return cublas::kWorkspaceBytes + epilogue_.staging_bytes(); }

  Status run(const GemmArgs& args, const RunContext& ctx) override {
    if (cuda::output_is_empty(p_)) return Status::success();
    if (Status s = rt_.make_current(); !s) return s;
    auto stream = static_cast<CUstream>(ctx.stream);
    if (Status s = epilogue_.before(rt_, stream, args.bias, args.c); !s) return s;
    if (plan_.around.call) {
      if (Status s = gemm(args, epilogue_.call_output(args.c), plan_.around.fill ? p_.beta : 0.0, stream); !s)
        return s;
    }
    return epilogue_.after(rt_, stream, args.bias, args.c);
  }

 private:
  Status gemm(const GemmArgs& args, void* out, double beta, CUstream stream) {
    const cuda::CublasApi& api = cuda::cublas_api();
    std::lock_guard<std::mutex> lock(slot_.mutex);
    if (Status s = ensure_handle(slot_, rt_); !s) return s;
    if (Status s = bind_stream(slot_, rt_, stream); !s) return s;
    if (Status s = cuda::check(api.cublasSetMathMode(slot_.handle, config_.math), "cublasSetMathMode"); !s) return s;
    const cuda::BlasScalars scalars(cuda::scale_type_of(config_.compute), p_.alpha, beta);
    const void* alpha = scalars.alpha();
    const void* beta_ptr = scalars.beta();

    const BlasGemm& g = plan_.gemm;
    const void* x = g.swapped ? args.b : args.a;
    const void* y = g.swapped ? args.a : args.b;
    const cudaDataType xt = cuda::to_cuda_dtype(g.swapped ? p_.b.dtype : p_.a.dtype);
    const cudaDataType yt = cuda::to_cuda_dtype(g.swapped ? p_.a.dtype : p_.b.dtype);
    const cudaDataType dt = cuda::to_cuda_dtype(epilogue_.call_output_desc().dtype);
    const cublasOperation_t ta = g.x.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t tb = g.y.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int m = static_cast<int>(g.m), n = static_cast<int>(g.n), k = static_cast<int>(g.k);
    if (p_.batch == 1) {
      return cuda::check(api.cublasGemmEx(slot_.handle, ta, tb, m, n, k, alpha, x, xt, static_cast<int>(g.x.ld), y, yt,
                                          static_cast<int>(g.y.ld), beta_ptr, out, dt, static_cast<int>(g.d.ld),
                                          config_.compute, config_.algo),
                         "cublasGemmEx");
    }
    return cuda::check(api.cublasGemmStridedBatchedEx(
                           slot_.handle, ta, tb, m, n, k, alpha, x, xt, static_cast<int>(g.x.ld), g.x.batch_stride, y,
                           yt, static_cast<int>(g.y.ld), g.y.batch_stride, beta_ptr, out, dt,
                           static_cast<int>(g.d.ld), g.d.batch_stride, static_cast<int>(p_.batch), config_.compute,
                           config_.algo),
                       "cublasGemmStridedBatchedEx");
  }

  Problem p_;
  CublasConfig config_;
  Plan plan_;
  CudaRuntime& rt_;
  HandleSlot& slot_;  // this device's shared handle
  cuda::LibraryEpilogue epilogue_;
};

constexpr std::string_view kAlgoPrefix = "cublas_algo";

// The configuration a choice name stands for on this problem (`base` is the
// problem's compute type): the inverse of the names enumerate() gives.
Expected<CublasConfig> parse_choice(const std::string& name, const Problem& p, cublasComputeType_t base) {
  if (name == cublas::kDefaultChoice) return CublasConfig{base, CUBLAS_GEMM_DEFAULT, CUBLAS_DEFAULT_MATH};
  if (name == cublas::kTf32Choice) {
    if (!(p.a.dtype == DType::f32 && p.allow_tf32 && p.op != Op::int_mm))
      return reject(Reason::unsupported_dtype, name + " needs an f32 problem that allows tf32");
    return CublasConfig{CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT, CUBLAS_DEFAULT_MATH};
  }
  if (name == cublas::kStrictReductionChoice) {
    if (p.a.dtype != DType::f16 && p.a.dtype != DType::bf16)
      return reject(Reason::unsupported_dtype, name + " applies to f16 and bf16 problems only");
    return CublasConfig{base, CUBLAS_GEMM_DEFAULT, CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION};
  }
  if (name.rfind(kAlgoPrefix, 0) == 0) {
    const std::string digits = name.substr(kAlgoPrefix.size());
    int algo = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), algo);
    if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() &&
        std::to_string(algo) == digits && algo >= CUBLAS_GEMM_ALGO0 && algo <= CUBLAS_GEMM_ALGO23)
      return CublasConfig{base, static_cast<cublasGemmAlgo_t>(algo), CUBLAS_DEFAULT_MATH};
  }
  return reject(Reason::internal_error, "'" + name + "' is not a CUBLAS choice name");
}

class CublasBackend final : public Backend {
 public:
  std::string_view name() const override { return "CUBLAS"; }
  DeviceKind device_kind() const override { return DeviceKind::cuda; }
  std::string version() const override {
    static const std::string v = [] {
      const std::string library = cuda::cublas_version();
      return library.empty() ? std::string("cublas-unavailable") : "cublas-" + library;
    }();
    return v;
  }
  Availability availability() const override {
    return cuda::gpu_library_availability("cuBLAS", cuda::cublas_api);
  }
  std::string capabilities() const override {
    return "mm addmm bmm baddbmm (f32, tf32 when allowed, f64, f16, bf16; 16-bit in -> f32 out) and int_mm "
           "(int8 -> int32) through cublasGemmEx; any layout with a unit stride per operand; bias and "
           "activations (relu, gelu, gelu_tanh, silu) in one elementwise pass around the call (unfused)";
  }

  Expected<std::vector<Choice>> enumerate(const Problem& p, const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    CudaRuntime& rt = *device.value();
    auto compute = compute_type(p);
    if (!compute) return compute.error();
    auto plan = make_plan(p);
    if (!plan) return plan.error();
    const BlasGemm& g = plan.value().gemm;
    for (std::int64_t v : {g.m, g.n, g.k, g.x.ld, g.y.ld, g.d.ld, p.batch})
      if (!cuda::fits_int(v))
        return reject(Reason::unsupported_shape,
                      "a size or leading dimension exceeds the 32-bit int that cublasGemmEx takes");
    if (p.op == Op::int_mm && p.k > 0) {
      // cuBLAS documents its int8 path (CUBLAS_COMPUTE_32I) for A and B
      // 32-bit aligned with leading dimensions that are multiples of 4.
      if (p.alignment < 4)
        return reject(Reason::unsupported_alignment,
                      "cuBLAS int8 GEMM needs A and B 4-byte aligned; the problem guarantees " +
                          std::to_string(p.alignment) + " bytes");
      // And it runs only in the TN form (seen on H100: NN gives
      // CUBLAS_STATUS_NOT_SUPPORTED at run time).
      if (!(g.x.transposed && !g.y.transposed))
        return reject(Reason::unsupported_layout,
                      "cuBLAS int8 GEMM runs only with both operands contiguous along K: A row-major and B "
                      "column-major (layout nt)");
      if (g.x.ld % 4 != 0 || g.y.ld % 4 != 0)
        return reject(Reason::unsupported_layout, "cuBLAS int8 GEMM needs leading dimensions of A and B that are "
                                                  "multiples of 4 (they are " +
                                                      std::to_string(g.swapped ? g.y.ld : g.x.ld) + " and " +
                                                      std::to_string(g.swapped ? g.x.ld : g.y.ld) + ")");
    }

    const int sm = rt.info().sm();
    std::vector<Choice> out;
    const std::string epilogue = cuda::describe(plan.value().around, p);
    const std::string algo_note =
        sm >= 80 ? "; CUBLAS_GEMM_DEFAULT only: cuBLAS documents CUBLAS_GEMM_ALGO0..23 as having no effect on sm_80 "
                   "and newer, so no algorithm variants are offered"
                 : std::string();
    // Names only: build() parses them back (parse_choice).
    out.push_back(Choice{cublas::kDefaultChoice,
                         "cublasGemmEx, " + std::string(compute_name(compute.value())) + algo_note + epilogue});
    if (p.a.dtype == DType::f32 && p.allow_tf32 && p.op != Op::int_mm)
      out.push_back(Choice{cublas::kTf32Choice,
                           "cublasGemmEx, CUBLAS_COMPUTE_32F_FAST_TF32 (the problem allows tf32)" + epilogue});
    if (ctx.search_space == SearchSpace::exhaustive && (p.a.dtype == DType::f16 || p.a.dtype == DType::bf16)) {
      // A math mode cuBLAS honours: no reduced-precision reductions in
      // split-K, which changes which kernels it may pick.
      out.push_back(Choice{cublas::kStrictReductionChoice,
                           "cublasGemmEx, CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION" + epilogue});
    }
    if (ctx.search_space == SearchSpace::exhaustive && sm < 80) {
      // Before Ampere the explicit algorithms are honoured.
      for (int algo = CUBLAS_GEMM_ALGO0; algo <= CUBLAS_GEMM_ALGO23; ++algo)
        out.push_back(Choice{std::string(kAlgoPrefix) + std::to_string(algo),
                             "cublasGemmEx, CUBLAS_GEMM_ALGO" + std::to_string(algo) + epilogue});
    }
    return out;
  }

  Expected<std::unique_ptr<Kernel>> build(const Problem& p, const Choice& choice,
                                          const TuningContext& ctx) const override {
    auto device = cuda::runtime_of(ctx, p);
    if (!device) return device.error();
    CudaRuntime& rt = *device.value();
    auto compute = compute_type(p);
    if (!compute) return compute.error();
    auto config = parse_choice(choice.name, p, compute.value());
    if (!config) return config.error();
    auto plan = make_plan(p);
    if (!plan) return plan.error();
    auto epilogue = cuda::LibraryEpilogue::make(rt, p, plan.value().around);
    if (!epilogue) return epilogue.error();
    return std::unique_ptr<Kernel>(
        std::make_unique<CublasKernel>(p, config.value(), plan.value(), rt, std::move(epilogue.value())));
  }

 private:
  static const char* compute_name(cublasComputeType_t t) {
    switch (t) {
      case CUBLAS_COMPUTE_64F: return "CUBLAS_COMPUTE_64F";
      case CUBLAS_COMPUTE_32I: return "CUBLAS_COMPUTE_32I";
      case CUBLAS_COMPUTE_32F_FAST_TF32: return "CUBLAS_COMPUTE_32F_FAST_TF32";
      default: return "CUBLAS_COMPUTE_32F";
    }
  }

  static Expected<cublasComputeType_t> compute_type(const Problem& p) {
    switch (p.op) {
      case Op::mm:
      case Op::addmm:
      case Op::bmm:
      case Op::baddbmm: break;
      case Op::int_mm:
        if (p.a.dtype != DType::i8)
          return reject(Reason::unsupported_dtype, "cuBLAS int8 GEMM takes signed int8 A and B, not " +
                                                       std::string(to_string(p.a.dtype)) + " A");
        return CUBLAS_COMPUTE_32I;
      case Op::scaled_mm:
        return reject(Reason::unsupported_op,
                      "cublasGemmEx has no fp8 scaled matmul; scaled_mm is served by CUBLASLT (cublasLtMatmul)");
      case Op::mixed_mm:
        return reject(Reason::unsupported_op, "cuBLAS has no float x int8-weight GEMM (mixed_mm)");
    }
    switch (p.a.dtype) {
      case DType::f64: return CUBLAS_COMPUTE_64F;
      case DType::f32:
      case DType::f16:
      case DType::bf16: return CUBLAS_COMPUTE_32F;
      default:
        return reject(Reason::unsupported_dtype,
                      "CUBLAS serves f32, f64, f16 and bf16 GEMMs, not " + std::string(to_string(p.a.dtype)));
    }
  }
};

}  // namespace

std::shared_ptr<Backend> make_cublas_backend() { return std::make_shared<CublasBackend>(); }

}  // namespace gemmtune::backends
