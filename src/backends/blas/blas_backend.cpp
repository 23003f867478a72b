#include "backends/blas/blas_backend.h"

#include <cblas.h>
#include <dlfcn.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#include "backends/reference/reference_math.h"
#include "util/numeric.h"
#include "util/vector_math.h"

namespace gemmtune::backends {
namespace blas {
namespace {

// cblas_sbgemm's signature in OpenBLAS >= 0.3.10 (bf16 inputs, f32 output).
using SbgemmFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float,
                          const bfloat16*, blasint, const bfloat16*, blasint, float, float*, blasint);

SbgemmFn sbgemm_fn() {
  // Resolved at run time: Debian's 0.3.21 declares it in cblas.h but does not
  // export it, so a direct call would not even link there.
  static const SbgemmFn fn = reinterpret_cast<SbgemmFn>(dlsym(RTLD_DEFAULT, "cblas_sbgemm"));
  return fn;
}

}  // namespace

bool has_sbgemm() { return sbgemm_fn() != nullptr; }

}  // namespace blas

namespace {

using blas::SbgemmFn;
using blas::sbgemm_fn;

// How the output is produced.
enum class Path : std::uint8_t {
  empty,          // M, N or batch is 0: nothing to write
  epilogue_only,  // K is 0: C = act(beta*bias) or act(0), no GEMM call
  sgemm,
  dgemm,
  sbgemm,         // bf16 inputs; f32 output direct, bf16 output through an f32 workspace
  dequant,        // mixed_mm: int8 weights * scale -> f32 workspace, then sgemm
};

// An operand as CBLAS sees it under a given storage order.
struct CblasOperand {
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  std::int64_t ld = 1;
};

struct Plan {
  Path path = Path::empty;
  std::string choice;  // stable name
  CBLAS_ORDER order = CblasRowMajor;
  CblasOperand a, b;
  std::int64_t ldc = 1;
  bool c_in_workspace = false;  // sbgemm with bf16 output
  std::string description;
};

// Leading dimension when element (i, j) lives at i*ld + j, if it does.
std::optional<std::int64_t> row_major_ld(const MatrixDesc& d) {
  if (d.col_stride != 1 && d.cols > 1) return std::nullopt;
  const std::int64_t ld = d.rows <= 1 ? std::max<std::int64_t>(d.cols, 1) : d.row_stride;
  if (ld < std::max<std::int64_t>(d.cols, 1)) return std::nullopt;
  return ld;
}

// Leading dimension when element (i, j) lives at i + j*ld, if it does.
std::optional<std::int64_t> col_major_ld(const MatrixDesc& d) {
  if (d.row_stride != 1 && d.rows > 1) return std::nullopt;
  const std::int64_t ld = d.cols <= 1 ? std::max<std::int64_t>(d.rows, 1) : d.col_stride;
  if (ld < std::max<std::int64_t>(d.rows, 1)) return std::nullopt;
  return ld;
}

// Under RowMajor a row-major operand is NoTrans and a column-major one is
// Trans; under ColMajor the other way round.
std::optional<CblasOperand> as_operand(const MatrixDesc& d, CBLAS_ORDER order) {
  auto natural = order == CblasRowMajor ? row_major_ld(d) : col_major_ld(d);
  if (natural) return CblasOperand{CblasNoTrans, *natural};
  auto flipped = order == CblasRowMajor ? col_major_ld(d) : row_major_ld(d);
  if (flipped) return CblasOperand{CblasTrans, *flipped};
  return std::nullopt;
}

std::string strides_text(const MatrixDesc& d) {
  return "row_stride=" + std::to_string(d.row_stride) + ", col_stride=" + std::to_string(d.col_stride);
}

Rejection general_strides(const char* operand, const MatrixDesc& d) {
  return reject(Reason::unsupported_layout,
                std::string(operand) + " has general strides (" + strides_text(d) +
                    "): CBLAS needs a unit stride in one dimension and a leading dimension at least the other extent");
}

const char* trans_letter(CBLAS_TRANSPOSE t) { return t == CblasNoTrans ? "N" : "T"; }

std::string epilogue_text(const Problem& p) {
  std::string out;
  if (p.bias != BiasKind::none) out += p.beta == 0.0 ? ", bias ignored (beta=0)" : ", bias copied into C first";
  if (p.activation != Activation::none)
    out += ", " + std::string(to_string(p.activation)) + " as a separate pass over C";
  return out;
}

// The dense f32 workspace that int8 weights are widened into: column-major
// when B is (an nt weight matrix), else row-major.
MatrixDesc dequant_layout(const MatrixDesc& b) {
  return b.row_stride == 1 && b.cols > 1 ? MatrixDesc::col_major(DType::f32, b.rows, b.cols)
                                         : MatrixDesc::row_major(DType::f32, b.rows, b.cols);
}

Expected<Plan> make_plan(const Problem& p) {
  if (p.device.kind != DeviceKind::cpu) return reject(Reason::wrong_device, "BLAS runs on the CPU only");
  Plan plan;
  switch (p.op) {
    case Op::int_mm:
      return reject(Reason::unsupported_dtype, "int8 inputs not supported: OpenBLAS has no integer GEMM (int_mm)");
    case Op::scaled_mm:
      return reject(Reason::unsupported_dtype, "fp8 inputs not supported: OpenBLAS has no fp8 GEMM (scaled_mm)");
    case Op::mixed_mm:
      if (p.a.dtype != DType::f32)
        return reject(Reason::unsupported_dtype,
                      "mixed_mm with " + std::string(to_string(p.a.dtype)) +
                          " activations not supported: only f32 activations (int8 weights dequantized to f32 for sgemm)");
      plan.path = Path::dequant;
      plan.choice = blas::kDequantChoice;
      break;
    case Op::mm:
    case Op::addmm:
    case Op::bmm:
    case Op::baddbmm:
      switch (p.a.dtype) {
        case DType::f32: plan.path = Path::sgemm; plan.choice = blas::kSgemmChoice; break;
        case DType::f64: plan.path = Path::dgemm; plan.choice = blas::kDgemmChoice; break;
        case DType::bf16:
          if (!blas::has_sbgemm())
            return reject(Reason::unsupported_dtype,
                          "bf16 not supported: this OpenBLAS build lacks cblas_sbgemm");
          plan.path = Path::sbgemm;
          plan.choice = blas::kSbgemmChoice;
          plan.c_in_workspace = p.c.dtype == DType::bf16;
          break;
        case DType::f16:
          return reject(Reason::unsupported_dtype, "f16 not supported: OpenBLAS has no half-precision GEMM");
        default:
          return reject(Reason::unsupported_dtype,
                        std::string(to_string(p.a.dtype)) + " inputs not supported by " + std::string(to_string(p.op)));
      }
      break;
  }

  if (p.batch == 0 || p.m == 0 || p.n == 0) {
    plan.description = "empty output: nothing to compute";
    plan.path = Path::empty;
    return plan;
  }
  if (product_term_absent(p)) {
    // alpha = 0 is not a GEMM with a zero factor: A and B are never read, so
    // NaN or Inf in them cannot reach C (BLAS's own definition).
    plan.description = p.k == 0 ? "K=0: no GEMM call; C = act(beta*bias) or act(0)"
                                : "alpha=0: no GEMM call, A and B not read; C = act(beta*bias) or act(0)";
    plan.path = Path::epilogue_only;
    return plan;
  }
  for (auto [extent, name] : {std::pair{p.m, "M"}, std::pair{p.n, "N"}, std::pair{p.k, "K"}})
    if (extent > INT_MAX)
      return reject(Reason::unsupported_shape,
                    std::string(name) + "=" + std::to_string(extent) + " exceeds CBLAS's 32-bit dimension limit");

  if (plan.c_in_workspace) {
    plan.order = CblasRowMajor;
    plan.ldc = p.n;
  } else if (auto ld = row_major_ld(p.c)) {
    plan.order = CblasRowMajor;
    plan.ldc = *ld;
  } else if (auto ld_col = col_major_ld(p.c)) {
    plan.order = CblasColMajor;  // computes C^T = B^T A^T in effect
    plan.ldc = *ld_col;
  } else {
    return general_strides("C", p.c);
  }

  auto a = as_operand(p.a, plan.order);
  if (!a) return general_strides("A", p.a);
  plan.a = *a;
  if (plan.path == Path::dequant) {
    // B is read element by element while dequantizing, so any strides work;
    // the f32 copy keeps B's orientation so that the reads stay contiguous.
    plan.b = *as_operand(dequant_layout(p.b), plan.order);
  } else {
    auto b = as_operand(p.b, plan.order);
    if (!b) return general_strides("B", p.b);
    plan.b = *b;
  }
  for (auto [ld, name] : {std::pair{plan.a.ld, "A"}, std::pair{plan.b.ld, "B"}, std::pair{plan.ldc, "C"}})
    if (ld > INT_MAX)
      return reject(Reason::unsupported_shape, std::string("leading dimension of ") + name + " (" +
                                                   std::to_string(ld) + ") exceeds CBLAS's 32-bit limit");

  std::ostringstream text;
  switch (plan.path) {
    case Path::sgemm: text << "cblas_sgemm"; break;
    case Path::dgemm: text << "cblas_dgemm"; break;
    case Path::sbgemm: text << "cblas_sbgemm"; break;
    case Path::dequant: text << "int8 B * scale -> f32 workspace each call, then cblas_sgemm"; break;
    default: break;
  }
  text << " " << (plan.order == CblasRowMajor ? "RowMajor" : "ColMajor") << " " << trans_letter(plan.a.trans)
       << trans_letter(plan.b.trans);
  if (is_batched(p.op) && p.batch > 1) text << ", one call per batch";
  if (plan.c_in_workspace) text << ", f32 workspace converted to bf16";
  text << epilogue_text(p);
  plan.description = text.str();
  return plan;
}

// erf for the f32 gelu pass, branch-free so that the pass vectorizes (a
// framework's gelu is vectorized too; glibc's scalar erff made the pass
// cost ~17 ns per element). Abramowitz & Stegun 7.1.28:
// erf(x) = 1 - 1/(1 + a1 x + ... + a6 x^6)^16 for x >= 0, |error| <= 3e-7,
// about 1e-6 once evaluated in f32. gelu multiplies the erf error by x/2,
// far inside the f32 tolerance of |x|.
inline float erf_f32(float x) {
  const float a = std::fabs(x);
  float p = 1.0f + a * (0.0705230784f + a * (0.0422820123f + a * (0.0092705272f +
                 a * (0.0001520143f + a * (0.0002765672f + a * 0.0000430638f)))));
  p *= p;
  p *= p;
  p *= p;
  p *= p;  // p^16; overflows to inf for large |x|, giving erf = +-1
  return std::copysign(1.0f - 1.0f / p, x);
}

inline float gelu(float x) { return 0.5f * x * (1.0f + erf_f32(x * 0.70710678118654752f)); }
inline double gelu(double x) { return numeric::activate(Activation::gelu, x); }

// gelu_tanh in f32 through the shared branch-free tanh (util/vector_math.h),
// one lane at a time, which vectorizes (see CMakeLists.txt); f64 keeps the
// reference's definition.
inline float gelu_tanh(float x) { return vector_math::vgelu_tanh<vector_math::ScalarF32>(x); }
inline double gelu_tanh(double x) { return numeric::activate(Activation::gelu_tanh, x); }

template <typename T>
T activate(Activation act, T x) {
  switch (act) {
    case Activation::none: return x;
    case Activation::relu: return x < T(0) ? T(0) : x;  // keeps NaN
    case Activation::gelu: return gelu(x);
    case Activation::silu: return x / (T(1) + std::exp(-x));
    case Activation::gelu_tanh: return gelu_tanh(x);
  }
  return x;
}

// Applies one activation to `count` elements at `stride`; the switch is
// outside the loop so that contiguous rows vectorize.
template <typename T>
void activate_span(Activation act, T* x, std::int64_t count, std::int64_t stride) {
  auto apply = [&](auto f) {
    if (stride == 1) {
      for (std::int64_t j = 0; j < count; ++j) x[j] = f(x[j]);
    } else {
      for (std::int64_t j = 0; j < count; ++j) x[j * stride] = f(x[j * stride]);
    }
  };
  switch (act) {
    case Activation::none: return;
    case Activation::relu: apply([](T v) { return v < T(0) ? T(0) : v; }); return;
    case Activation::gelu: apply([](T v) { return gelu(v); }); return;
    case Activation::silu: apply([](T v) { return v / (T(1) + std::exp(-v)); }); return;
    case Activation::gelu_tanh: apply([](T v) { return gelu_tanh(v); }); return;
  }
}

// Elementwise passes smaller than this run on the calling thread: starting
// threads would cost more than they save.
constexpr std::int64_t kParallelPassElements = std::int64_t{1} << 15;

class BlasKernel final : public Kernel {
 public:
  BlasKernel(Problem problem, Plan plan, int threads)
      : p_(std::move(problem)), plan_(std::move(plan)), threads_(std::max(threads, 1)) {
    if (plan_.path == Path::dequant) workspace_.resize(static_cast<std::size_t>(p_.k * p_.n));
    if (plan_.c_in_workspace) workspace_.resize(static_cast<std::size_t>(p_.m * p_.n));
  }

  std::size_t workspace_bytes() const override { return workspace_.size() * sizeof(float); }

  Status run(const GemmArgs& args, const RunContext&) override {
    // OpenBLAS's thread count is process-global state: set it on every call.
    openblas_set_num_threads(threads_);
    switch (plan_.path) {
      case Path::empty: return Status::success();
      // K = 0 or alpha = 0 leaves only the epilogue, act(beta*bias) or
      // act(0): rare, so the element-by-element definition serves.
      case Path::epilogue_only: reference::compute(p_, args, 1); return Status::success();
      case Path::sgemm: run_typed<float>(args); return Status::success();
      case Path::dgemm: run_typed<double>(args); return Status::success();
      case Path::sbgemm: run_sbgemm(args); return Status::success();
      case Path::dequant: run_dequant(args); return Status::success();
    }
    return reject(Reason::internal_error, "unknown BLAS path");
  }

 private:
  // Runs fn(begin, end) over row ranges split among the kernel's threads, as
  // a framework runs its elementwise passes (bias copy, activation,
  // conversion, dequantization); small passes stay on the calling thread.
  // Plain threads, started per pass: unlike an OpenMP pool they leave
  // nothing spinning to steal cores from OpenBLAS's own threads.
  template <typename Fn>
  void for_rows(std::int64_t rows, std::int64_t cols, const Fn& fn) const {
    const std::int64_t workers =
        threads_ > 1 && rows * cols >= kParallelPassElements ? std::min<std::int64_t>(threads_, rows) : 1;
    std::vector<std::thread> pool;
    for (std::int64_t w = 1; w < workers; ++w) {
      const std::int64_t begin = rows * w / workers, end = rows * (w + 1) / workers;
      try {
        pool.emplace_back([&fn, begin, end] { fn(begin, end); });
      } catch (const std::system_error&) {
        fn(begin, end);  // no thread to be had: the same rows, computed here
      }
    }
    fn(0, rows / workers);
    for (auto& t : pool) t.join();
  }

  // Copies batch bt of the bias into an output of type T with the given
  // strides (the library idiom: C holds the bias, then GEMM with beta).
  template <typename T>
  void copy_bias(const GemmArgs& args, std::int64_t bt, T* out, std::int64_t out_rs, std::int64_t out_cs) const {
    const MatrixDesc& d = p_.bias_desc;
    auto copy = [&](auto load) {
      for_rows(p_.m, p_.n, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) {
          const std::int64_t src_row = bt * d.batch_stride + (p_.bias == BiasKind::row ? 0 : i) * d.row_stride;
          for (std::int64_t j = 0; j < p_.n; ++j) out[i * out_rs + j * out_cs] = load(src_row + j * d.col_stride);
        }
      });
    };
    if (d.dtype == DType::f32) {
      const auto* bias = static_cast<const float*>(args.bias);
      copy([&](std::int64_t at) { return static_cast<T>(bias[at]); });
    } else if (d.dtype == DType::f64) {
      const auto* bias = static_cast<const double*>(args.bias);
      copy([&](std::int64_t at) { return static_cast<T>(bias[at]); });
    } else {
      copy([&](std::int64_t at) { return static_cast<T>(numeric::load_as_double(args.bias, d.dtype, at)); });
    }
  }

  template <typename T>
  void activation_pass(T* c, std::int64_t rs, std::int64_t cs) const {
    if (p_.activation == Activation::none) return;
    // Along whichever dimension is contiguous.
    const bool by_rows = cs == 1 || rs != 1;
    const std::int64_t lines = by_rows ? p_.m : p_.n, length = by_rows ? p_.n : p_.m;
    const std::int64_t line_stride = by_rows ? rs : cs, step = by_rows ? cs : rs;
    for_rows(lines, length, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t l = begin; l < end; ++l) activate_span<T>(p_.activation, c + l * line_stride, length, step);
    });
  }

  // Whether C is read by the GEMM call (bias copied in) and with what beta.
  bool uses_bias() const { return !bias_term_absent(p_); }

  void gemm(const float* a, const float* b, float beta, float* c) const {
    cblas_sgemm(plan_.order, plan_.a.trans, plan_.b.trans, static_cast<blasint>(p_.m), static_cast<blasint>(p_.n),
                static_cast<blasint>(p_.k), static_cast<float>(p_.alpha), a, static_cast<blasint>(plan_.a.ld), b,
                static_cast<blasint>(plan_.b.ld), beta, c, static_cast<blasint>(plan_.ldc));
  }
  void gemm(const double* a, const double* b, double beta, double* c) const {
    cblas_dgemm(plan_.order, plan_.a.trans, plan_.b.trans, static_cast<blasint>(p_.m), static_cast<blasint>(p_.n),
                static_cast<blasint>(p_.k), p_.alpha, a, static_cast<blasint>(plan_.a.ld), b,
                static_cast<blasint>(plan_.b.ld), beta, c, static_cast<blasint>(plan_.ldc));
  }

  template <typename T>
  void run_typed(const GemmArgs& args) const {
    const auto* a = static_cast<const T*>(args.a);
    const auto* b = static_cast<const T*>(args.b);
    auto* c = static_cast<T*>(args.c);
    for (std::int64_t bt = 0; bt < p_.batch; ++bt) {
      T* cb = c + bt * p_.c.batch_stride;
      if (uses_bias()) copy_bias<T>(args, bt, cb, p_.c.row_stride, p_.c.col_stride);
      gemm(a + bt * p_.a.batch_stride, b + bt * p_.b.batch_stride, uses_bias() ? static_cast<T>(p_.beta) : T(0), cb);
      activation_pass<T>(cb, p_.c.row_stride, p_.c.col_stride);
    }
  }

  void run_sbgemm(const GemmArgs& args) {
    const SbgemmFn fn = sbgemm_fn();
    const auto* a = static_cast<const bfloat16*>(args.a);
    const auto* b = static_cast<const bfloat16*>(args.b);
    for (std::int64_t bt = 0; bt < p_.batch; ++bt) {
      float* out;
      std::int64_t rs, cs;
      if (plan_.c_in_workspace) {
        out = workspace_.data();
        rs = p_.n;
        cs = 1;
      } else {
        out = static_cast<float*>(args.c) + bt * p_.c.batch_stride;
        rs = p_.c.row_stride;
        cs = p_.c.col_stride;
      }
      if (uses_bias()) copy_bias<float>(args, bt, out, rs, cs);
      fn(plan_.order, plan_.a.trans, plan_.b.trans, static_cast<blasint>(p_.m), static_cast<blasint>(p_.n),
         static_cast<blasint>(p_.k), static_cast<float>(p_.alpha), a + bt * p_.a.batch_stride,
         static_cast<blasint>(plan_.a.ld), b + bt * p_.b.batch_stride, static_cast<blasint>(plan_.b.ld),
         uses_bias() ? static_cast<float>(p_.beta) : 0.0f, out, static_cast<blasint>(plan_.ldc));
      if (!plan_.c_in_workspace) {
        activation_pass<float>(out, rs, cs);
        continue;
      }
      // The conversion pass doubles as the activation pass.
      auto* c = static_cast<std::uint16_t*>(args.c);
      for_rows(p_.m, p_.n, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i)
          for (std::int64_t j = 0; j < p_.n; ++j)
            c[reference::offset(p_.c, bt, i, j)] = numeric::float_to_bf16(activate<float>(p_.activation, out[i * p_.n + j]));
      });
    }
  }

  void run_dequant(const GemmArgs& args) {
    // What a library path does for int8 weights: widen them to the
    // activation dtype every call (B may change between calls).
    const auto* b = static_cast<const std::int8_t*>(args.b);
    const bool per_channel = p_.scale_b == ScaleKind::per_channel;
    const MatrixDesc w = dequant_layout(p_.b);
    if (w.row_stride == 1) {  // column by column: each column of B is contiguous
      for_rows(p_.n, p_.k, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t j = begin; j < end; ++j) {
          float* col = workspace_.data() + j * w.col_stride;
          const std::int8_t* src = b + j * p_.b.col_stride;
          const float scale = args.scale_b[per_channel ? j : 0];
          for (std::int64_t kk = 0; kk < p_.k; ++kk) col[kk] = static_cast<float>(src[kk]) * scale;
        }
      });
    } else {
      for_rows(p_.k, p_.n, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t kk = begin; kk < end; ++kk) {
          float* row = workspace_.data() + kk * w.row_stride;
          const std::int8_t* src = b + kk * p_.b.row_stride;
          for (std::int64_t j = 0; j < p_.n; ++j)
            row[j] = static_cast<float>(src[j * p_.b.col_stride]) * args.scale_b[per_channel ? j : 0];
        }
      });
    }
    auto* c = static_cast<float*>(args.c);
    if (uses_bias()) copy_bias<float>(args, 0, c, p_.c.row_stride, p_.c.col_stride);
    gemm(static_cast<const float*>(args.a), workspace_.data(), uses_bias() ? static_cast<float>(p_.beta) : 0.0f, c);
    activation_pass<float>(c, p_.c.row_stride, p_.c.col_stride);
  }

  Problem p_;
  Plan plan_;
  int threads_;
  std::vector<float> workspace_;
};

class BlasBackend final : public Backend {
 public:
  std::string_view name() const override { return "BLAS"; }
  DeviceKind device_kind() const override { return DeviceKind::cpu; }

  std::string version() const override {
    // The core type OpenBLAS dispatches to changes its speed: it is part of
    // the key, and so is whether bf16 is served at all.
    std::string out;
    if (const char* config = openblas_get_config()) out += config;  // "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."
    out += "; core=";
    if (const char* core = openblas_get_corename()) out += core;
    out += blas::has_sbgemm() ? "; sbgemm=yes" : "; sbgemm=no";
    return out;
  }

  Availability availability() const override { return Availability::yes(); }

  std::string capabilities() const override {
    std::string out = "mm/addmm/bmm/baddbmm f32, f64";
    out += blas::has_sbgemm() ? ", bf16 (cblas_sbgemm)" : " (no bf16: this OpenBLAS lacks cblas_sbgemm)";
    out += "; mixed_mm f32 (weights dequantized per call); row- or column-major operands;"
           " bias copied into C, activation as a separate pass; no f16, int8 or fp8";
    return out;
  }

  Expected<std::vector<Choice>> enumerate(const Problem& problem, const TuningContext&) const override {
    // One library call is one choice; build() re-derives the plan from the
    // problem, so the choice needs no config of its own.
    auto plan = make_plan(problem);
    if (!plan) return plan.error();
    return std::vector<Choice>{Choice{plan.value().choice, plan.value().description}};
  }

  Expected<std::unique_ptr<Kernel>> build(const Problem& problem, const Choice& choice,
                                          const TuningContext& ctx) const override {
    auto plan = make_plan(problem);
    if (!plan) return plan.error();
    if (choice.name != plan.value().choice)
      return reject(Reason::internal_error,
                    "choice " + choice.name + " is not BLAS's choice for this problem (" + plan.value().choice + ")");
    try {
      return std::unique_ptr<Kernel>(std::make_unique<BlasKernel>(problem, std::move(plan.value()), ctx.threads));
    } catch (const std::bad_alloc&) {
      return reject(Reason::out_of_resources, "could not allocate the BLAS workspace");
    }
  }
};

}  // namespace

std::shared_ptr<Backend> make_blas_backend() { return std::make_shared<BlasBackend>(); }

}  // namespace gemmtune::backends
