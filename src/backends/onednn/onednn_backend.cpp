#include "backends/onednn/onednn_backend.h"

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "backends/reference/reference_math.h"
#include "util/cpu_info.h"

namespace gemmtune::backends {
namespace {

using dnnl::memory;
using Dt = memory::data_type;

// How one choice drives oneDNN.
enum class Variant : std::uint8_t {
  plain,         // B in its given strides
  packed_b,      // B reordered into oneDNN's preferred format inside every call
  runtime_dims,  // M left as DNNL_RUNTIME_DIM_VAL: oneDNN picks a shape-agnostic kernel
};

// Where beta*bias enters. oneDNN 2.x applies the output scale after the
// bias argument (dst = scale * (A.B + bias)), so the bias argument gives
// alpha*A.B + beta*bias only when alpha == beta; otherwise the bias is a
// binary post-op between scale = alpha/beta and a final linear *beta.
enum class BiasForm : std::uint8_t { none, matmul_arg, binary_post_op };

// int_mm post-ops run in f32 inside oneDNN: exact only below 2^24.
constexpr double kExactF32Integer = 16777216.0;

const char* variant_name(Variant v) {
  switch (v) {
    case Variant::plain: return onednn::kPlainChoice;
    case Variant::packed_b: return onednn::kPackedBChoice;
    case Variant::runtime_dims: return onednn::kRuntimeDimsChoice;
  }
  return "?";
}

// The variant a choice name stands for: the inverse of variant_name.
std::optional<Variant> parse_variant_name(const std::string& name) {
  for (Variant v : {Variant::plain, Variant::packed_b, Variant::runtime_dims})
    if (name == variant_name(v)) return v;
  return std::nullopt;
}

std::string isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::all: return "all";
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
  }
  return "isa" + std::to_string(static_cast<int>(isa));
}

// The process-wide CPU engine. Throws dnnl::error if oneDNN cannot make one;
// a later call tries again.
const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN reads the OpenMP thread count when it picks and sizes a kernel;
// enumerate and build set it for their duration only.
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(std::max(threads, 1)); }
  ~OmpThreadsScope() { omp_set_num_threads(saved_); }
  OmpThreadsScope(const OmpThreadsScope&) = delete;
  OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

 private:
  int saved_;
};

std::optional<Dt> to_dnnl(DType t) {
  switch (t) {
    case DType::f32: return Dt::f32;
    case DType::bf16: return Dt::bf16;
    case DType::f16: return Dt::f16;
    case DType::i8: return Dt::s8;
    case DType::u8: return Dt::u8;
    case DType::i32: return Dt::s32;
    default: return std::nullopt;
  }
}

std::string dtypes_text(const Problem& p) {
  return std::string(to_string(p.a.dtype)) + " x " + std::string(to_string(p.b.dtype)) + " -> " +
         std::string(to_string(p.c.dtype));
}

// Strides of a matrix (or a batch of them) as oneDNN should see them.
// Strides of extent-1 dimensions address nothing, but oneDNN reads the
// layout from them: a 129x1 output with strides {1, 129} looks
// column-major and gets only the reference kernel, {1, 1} looks row-major.
// They are set as a dense row-major layout would have them.
struct Strides {
  std::int64_t batch, row, col;
};
Strides normalized_strides(const MatrixDesc& d, bool dense) {
  Strides s{d.batch_stride, d.row_stride, d.col_stride};
  if (dense) s = {d.rows * d.cols, d.cols, 1};
  if (d.cols <= 1) s.col = 1;
  if (d.rows <= 1) s.row = std::max<std::int64_t>(d.cols * s.col, 1);
  return s;
}

// A matrix (or a batch of them) as a oneDNN memory descriptor. `dense`
// replaces the strides by row-major ones (used to diagnose whether a
// rejection is about the layout or the data types). Throws dnnl::error when
// oneDNN cannot describe the strides.
memory::desc matrix_md(const MatrixDesc& d, std::int64_t batch, bool batched, Dt dt, bool runtime_rows = false,
                       bool dense = false) {
  Strides s = normalized_strides(d, dense);
  const memory::dim rows = runtime_rows ? DNNL_RUNTIME_DIM_VAL : d.rows;
  if (!batched) return memory::desc({rows, d.cols}, dt, {s.row, s.col});
  const std::int64_t batch_dim = batch > 1 && s.batch != 0 ? batch : 1;
  if (batch_dim == 1) s.batch = std::max(d.rows * s.row, d.cols * s.col);
  return memory::desc({batch_dim, rows, d.cols}, dt, {s.batch, s.row, s.col});
}

// oneDNN's rule for strides (stricter than gemmtune's): sorted by stride,
// each must be at least the previous stride times its extent. A batch of
// matrices with padded rows and a batch stride that does not include the
// padding of the last row breaks it.
std::optional<std::string> onednn_stride_problem(const char* name, const MatrixDesc& d, std::int64_t batch,
                                                 bool batched) {
  if (!batched || batch <= 1 || d.batch_stride == 0) return std::nullopt;
  const Strides s = normalized_strides(d, false);
  const std::int64_t needed = std::max(d.rows * s.row, d.cols * s.col);
  if (s.batch >= needed) return std::nullopt;
  return std::string(name) + "'s batch stride " + std::to_string(d.batch_stride) +
         " is below its leading dimension times its extent (" + std::to_string(needed) +
         "): oneDNN cannot describe such a tensor";
}

memory::desc any_weights_md(const Problem& p, bool batched, Dt dt) {
  if (!batched) return memory::desc({p.k, p.n}, dt, memory::format_tag::any);
  const std::int64_t batch_dim = p.batch > 1 && p.b.batch_stride != 0 ? p.batch : 1;
  return memory::desc({batch_dim, p.k, p.n}, dt, memory::format_tag::any);
}

// oneDNN's relu (and clip) compute max(x, 0), which turns NaN into 0; the
// contract is relu(NaN) = NaN. elu with alpha 0 is x > 0 ? x : 0 * (e^x - 1),
// which keeps NaN and gives -0 for x <= 0; abs then makes that +0. Both are
// exact for every other value. (A trailing linear 1 * x + 0 would do the
// same, but oneDNN 2.7 miscomputes a chain holding two linear post-ops.)
void append_relu_keeping_nan(dnnl::post_ops& ops) {
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_elu, 0.0f, 0.0f);
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_abs, 0.0f, 0.0f);
}

bool int_relu_needs_pass(const Problem& p) {
  if (p.op != Op::int_mm || p.activation != Activation::relu) return false;
  const double max_a = p.a.dtype == DType::u8 ? 255.0 : 128.0;
  return static_cast<double>(p.k) * max_a * 128.0 >= kExactF32Integer;
}

bool has_bias(const Problem& p) { return !bias_term_absent(p); }

// oneDNN 2.6's brgemm kernels silently ignore the strides of the bias and of
// binary post-op sources (a row bias read with stride 3 came out wrong) and
// mis-broadcast a per-batch row bias. So the bias is handed to oneDNN only
// in the two layouts verified correct: a contiguous row vector shared by all
// batches, or a dense full bias with one matrix per batch (or no batches).
// Any other bias is first copied, on every call, into a dense buffer (the
// copy is part of the timed call): a strided row bias shared by all batches
// into a dense row, anything else into a buffer of C's shape.
enum class BiasStaging : std::uint8_t { direct, dense_row, dense_full };

BiasStaging bias_staging(const Problem& p) {
  const MatrixDesc& d = p.bias_desc;
  const bool shared = !is_batched(p.op) || p.batch <= 1 || d.batch_stride == 0;
  if (p.bias == BiasKind::row) {
    if (!shared) return BiasStaging::dense_full;
    return d.col_stride == 1 || d.cols <= 1 ? BiasStaging::direct : BiasStaging::dense_row;
  }
  const bool dense_rows = (d.col_stride == 1 || d.cols <= 1) && (d.row_stride == d.cols || d.rows <= 1);
  const bool per_batch = !is_batched(p.op) || p.batch <= 1 || d.batch_stride == d.rows * d.cols;
  return dense_rows && per_batch ? BiasStaging::direct : BiasStaging::dense_full;
}

// The dense buffer of a staged bias.
MatrixDesc staged_bias_desc(const Problem& p) {
  if (bias_staging(p) == BiasStaging::dense_row) return MatrixDesc::row_major(p.bias_desc.dtype, 1, p.n);
  MatrixDesc d = MatrixDesc::row_major(p.bias_desc.dtype, p.m, p.n);
  d.batch_stride = is_batched(p.op) && p.batch > 1 ? p.m * p.n : 0;
  return d;
}

// The primitive descriptor of one variant, and the descriptors a kernel
// binds its memory to (always concrete, even for the run-time-dims variant).
struct Created {
  dnnl::matmul::primitive_desc pd;
  memory::desc src, user_weights, dst, bias;
  bool int_relu_pass = false;
};

struct Attempt {
  bool dense = false;     // row-major strides instead of the problem's
  bool epilogue = true;   // alpha, bias, activation
};

// Throws dnnl::error when oneDNN has no implementation; returns nullopt for
// combinations this backend does not express (e.g. an alpha/beta ratio
// outside f32's range).
std::optional<Created> create(const Problem& p, Variant variant, BiasForm bias_form, Attempt attempt) {
  const bool batched = is_batched(p.op);
  const Dt src_dt = *to_dnnl(p.a.dtype), wei_dt = *to_dnnl(p.b.dtype), dst_dt = *to_dnnl(p.c.dtype);
  const bool runtime = variant == Variant::runtime_dims;
  Created out;
  out.src = matrix_md(p.a, p.batch, batched, src_dt, false, attempt.dense);
  out.user_weights = matrix_md(p.b, p.batch, batched, wei_dt, false, attempt.dense);
  out.dst = matrix_md(p.c, p.batch, batched, dst_dt, false, attempt.dense);
  const memory::desc src_md = runtime ? matrix_md(p.a, p.batch, batched, src_dt, true, attempt.dense) : out.src;
  const memory::desc dst_md = runtime ? matrix_md(p.c, p.batch, batched, dst_dt, true, attempt.dense) : out.dst;
  const memory::desc wei_md = variant == Variant::packed_b ? any_weights_md(p, batched, wei_dt) : out.user_weights;

  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops ops;
  memory::desc bias_arg_md;
  if (attempt.epilogue) {
    double scale = p.alpha;
    if (has_bias(p)) {
      if (bias_form == BiasForm::none) return std::nullopt;
      const Dt bias_dt = *to_dnnl(p.bias_desc.dtype);
      const bool staged = bias_staging(p) != BiasStaging::direct;
      const MatrixDesc bias_desc = staged ? staged_bias_desc(p) : p.bias_desc;
      out.bias = matrix_md(bias_desc, p.batch, batched, bias_dt, false, attempt.dense);
      if (bias_form == BiasForm::matmul_arg) {
        if (p.alpha != p.beta) return std::nullopt;
        bias_arg_md = runtime && bias_desc.rows > 1 ? matrix_md(bias_desc, p.batch, batched, bias_dt, true, attempt.dense)
                                                     : out.bias;
      } else {
        scale = p.alpha / p.beta;
        const float f = static_cast<float>(scale);
        if (!std::isfinite(f) || (scale != 0 && (std::fabs(scale) < 1e-30 || std::fabs(scale) > 1e30)))
          return std::nullopt;
        ops.append_binary(dnnl::algorithm::binary_add, out.bias);
        if (p.beta != 1.0) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, static_cast<float>(p.beta), 0.0f);
      }
    } else if (bias_form != BiasForm::none) {
      return std::nullopt;
    }
    if (scale != 1.0) attr.set_output_scales(0, {static_cast<float>(scale)});
    switch (p.activation) {
      case Activation::none: break;
      case Activation::relu:
        if (int_relu_needs_pass(p)) out.int_relu_pass = true;
        else if (p.op == Op::int_mm) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);  // no NaN in int32
        else append_relu_keeping_nan(ops);
        break;
      case Activation::gelu: ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f); break;
      case Activation::silu: ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f); break;
      case Activation::gelu_tanh: ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_tanh, 0.0f, 0.0f); break;
    }
    if (ops.len() > 0) attr.set_post_ops(ops);
  }
  const bool bias_arg = attempt.epilogue && has_bias(p) && bias_form == BiasForm::matmul_arg;
  const auto desc = bias_arg ? dnnl::matmul::desc(src_md, wei_md, bias_arg_md, dst_md)
                             : dnnl::matmul::desc(src_md, wei_md, dst_md);
  out.pd = dnnl::matmul::primitive_desc(desc, attr, cpu_engine());
  return out;
}

bool is_reference_impl(const std::string& impl) { return impl.rfind("ref", 0) == 0; }

// Tries the bias forms in order of preference and keeps the first that gets
// a real kernel; oneDNN's reference kernel only if nothing else exists
// (e.g. a full bias as the matmul argument gets ref:any, as a binary
// post-op brgemm).
struct Found {
  Created created;
  BiasForm bias_form;
};
std::optional<Found> create_any_form(const Problem& p, Variant variant) {
  const std::vector<BiasForm> forms = has_bias(p) ? std::vector<BiasForm>{BiasForm::matmul_arg, BiasForm::binary_post_op}
                                                  : std::vector<BiasForm>{BiasForm::none};
  std::optional<Found> slow;
  for (BiasForm form : forms) {
    try {
      auto created = create(p, variant, form, Attempt{});
      if (!created) continue;
      if (!is_reference_impl(created->pd.impl_info_str())) return Found{std::move(*created), form};
      if (!slow) slow = Found{std::move(*created), form};
    } catch (const dnnl::error&) {
      // No implementation for this form; try the next one.
    }
  }
  return slow;
}

// Whether oneDNN serves the problem stripped down to its data types (dense
// layout, no epilogue), then with its layout: tells which of dtype, layout
// or epilogue a failure is about. `need_fast` counts oneDNN's reference
// implementation as a failure.
Rejection diagnose(const Problem& p, bool need_fast) {
  auto works = [&](Attempt attempt) {
    try {
      auto created = create(p, Variant::plain, BiasForm::none, attempt);
      return created && !(need_fast && is_reference_impl(created->pd.impl_info_str()));
    } catch (const dnnl::error&) {
      return false;
    }
  };
  // "oneDNN has no matmul implementation for <subject>" or, when only its
  // reference kernel exists, says so and where that kernel is offered.
  auto say = [&](const std::string& subject) {
    if (!need_fast) return "oneDNN has no matmul implementation for " + subject;
    return "oneDNN has only its reference implementation (ref:any) for " + subject +
           "; that kernel is offered in the exhaustive search space only";
  };
  if (!works(Attempt{true, false})) {
    if (p.a.dtype == DType::f16 && !need_fast) {
      const auto& cpu = cpu::info();
      return reject(Reason::unsupported_dtype,
                    std::string("oneDNN has no f16 matmul for this CPU (") + dtypes_text(p) + "; " +
                        (cpu.avx512_fp16 ? "primitive creation failed" : "needs AVX512_FP16, which this CPU lacks") +
                        ")");
    }
    return reject(Reason::unsupported_dtype, say(dtypes_text(p) + " on this CPU"));
  }
  if (!works(Attempt{false, false})) {
    std::ostringstream text;
    text << "these strides (A " << p.a.row_stride << "," << p.a.col_stride << "; B " << p.b.row_stride << ","
         << p.b.col_stride << "; C " << p.c.row_stride << "," << p.c.col_stride << ")";
    return reject(Reason::unsupported_layout, say(text.str()));
  }
  return reject(Reason::unsupported_epilogue, say("this epilogue (alpha, beta, bias, activation) with " + dtypes_text(p)));
}

// oneDNN 2.6 dies of SIGFPE (not an exception) creating a matmul with a
// dimension of 2^40; nothing above 32 bits is handed to it, strides
// included (untested territory, and a crash cannot be caught).
std::optional<std::string> size_problem(const Problem& p) {
  constexpr std::int64_t kMax = 2147483647;
  for (auto [value, what] : {std::pair{p.batch, "batch"}, std::pair{p.m, "M"}, std::pair{p.n, "N"},
                             std::pair{p.k, "K"}})
    if (value > kMax) return std::string(what) + "=" + std::to_string(value) + " exceeds 2^31-1, oneDNN 2.6's safe limit";
  for (auto [d, name] : {std::pair{&p.a, "A"}, std::pair{&p.b, "B"}, std::pair{&p.c, "C"}, std::pair{&p.bias_desc, "bias"}}) {
    if (d == &p.bias_desc && p.bias == BiasKind::none) continue;
    for (std::int64_t stride : {d->row_stride, d->col_stride, d->batch_stride})
      if (stride > kMax)
        return std::string("a stride of ") + name + " (" + std::to_string(stride) + ") exceeds 2^31-1, oneDNN 2.6's safe limit";
  }
  return std::nullopt;
}

// Op and dtype checks that need no primitive.
std::optional<Rejection> reject_upfront(const Problem& p) {
  if (p.device.kind != DeviceKind::cpu) return reject(Reason::wrong_device, "ONEDNN runs on the CPU only");
  switch (p.op) {
    case Op::scaled_mm:
      return reject(Reason::unsupported_dtype, "fp8 inputs not supported: oneDNN 2.6 has no fp8 data types");
    case Op::mixed_mm:
      return reject(Reason::unsupported_dtype,
                    "mixed_mm not supported: oneDNN 2.6 matmul cannot take int8 weights with " +
                        std::string(to_string(p.a.dtype)) + " activations (no weight decompression before 3.x)");
    default: break;
  }
  for (DType t : {p.a.dtype, p.b.dtype, p.c.dtype})
    if (!to_dnnl(t))
      return reject(Reason::unsupported_dtype,
                    std::string(to_string(t)) + " not supported: oneDNN's CPU matmul has no " +
                        std::string(to_string(t)) + " (" + dtypes_text(p) + ")");
  if (p.bias != BiasKind::none && !to_dnnl(p.bias_desc.dtype))
    return reject(Reason::unsupported_dtype, "bias dtype " + std::string(to_string(p.bias_desc.dtype)) + " not supported");
  return std::nullopt;
}

bool is_degenerate(const Problem& p) { return p.batch == 0 || p.m == 0 || p.n == 0 || product_term_absent(p); }

std::string epilogue_text(const Problem& p, const Created& c, BiasForm form) {
  std::string out;
  if (has_bias(p)) {
    out += form == BiasForm::matmul_arg ? "; bias as matmul argument" : "; bias as binary post-op";
    if (bias_staging(p) != BiasStaging::direct) out += " (copied to a dense buffer every call)";
  }
  if (p.alpha != 1.0 || (has_bias(p) && form == BiasForm::binary_post_op && p.beta != 1.0)) out += "; output scale";
  if (p.activation != Activation::none)
    out += c.int_relu_pass ? "; relu as a separate exact int32 pass"
                           : "; " + std::string(to_string(p.activation)) + " as eltwise post-op";
  return out;
}

// M, N or batch = 0 (nothing to write), K = 0 or alpha = 0 (C =
// act(beta*bias) or act(0)). oneDNN is not called: its primitive creation
// divides by zero on empty reduction dimensions, and with alpha = 0 it would
// still read A and B (0 * NaN is NaN). What is left is only the epilogue,
// rare enough for the element-by-element definition to serve.
class DegenerateKernel final : public Kernel {
 public:
  explicit DegenerateKernel(Problem p) : p_(std::move(p)) {}
  Status run(const GemmArgs& args, const RunContext&) override {
    reference::compute(p_, args, 1);
    return Status::success();
  }

 private:
  Problem p_;
};

class OneDnnKernel final : public Kernel {
 public:
  OneDnnKernel(Problem p, Variant variant, BiasForm form, Created created, int threads)
      : p_(std::move(p)), variant_(variant), form_(form), threads_(std::max(threads, 1)),
        int_relu_pass_(created.int_relu_pass) {
    const auto& engine = cpu_engine();
    stream_ = dnnl::stream(engine);
    primitive_ = dnnl::matmul(created.pd);
    src_ = memory(created.src, engine, DNNL_MEMORY_NONE);
    dst_ = memory(created.dst, engine, DNNL_MEMORY_NONE);
    user_weights_ = memory(created.user_weights, engine, DNNL_MEMORY_NONE);
    const memory::desc scratch_md = created.pd.scratchpad_desc();
    scratch_ = memory(scratch_md, engine);
    workspace_bytes_ = scratch_md.get_size();
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}, {DNNL_ARG_SCRATCHPAD, scratch_}};
    if (variant_ == Variant::packed_b) {
      packed_weights_ = memory(created.pd.weights_desc(), engine);
      workspace_bytes_ += created.pd.weights_desc().get_size();
      dnnl::primitive_attr reorder_attr;
      reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(user_weights_, packed_weights_, reorder_attr));
      reorder_args_ = {{DNNL_ARG_FROM, user_weights_}, {DNNL_ARG_TO, packed_weights_}};
      args_[DNNL_ARG_WEIGHTS] = packed_weights_;
    } else {
      args_[DNNL_ARG_WEIGHTS] = user_weights_;
    }
    if (has_bias(p_)) {
      if (bias_staging(p_) != BiasStaging::direct) {
        const MatrixDesc staged = staged_bias_desc(p_);
        const std::int64_t batches = staged.batch_stride != 0 ? p_.batch : 1;
        staged_bias_.resize(static_cast<std::size_t>(batches * staged.rows * staged.cols) *
                            dtype_size(p_.bias_desc.dtype));
        workspace_bytes_ += staged_bias_.size();
      }
      bias_ = memory(created.bias, engine, DNNL_MEMORY_NONE);
      if (form_ == BiasForm::matmul_arg) args_[DNNL_ARG_BIAS] = bias_;
      else args_[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = bias_;
    }
  }

  std::size_t workspace_bytes() const override { return workspace_bytes_; }

  // Copies the bias into the dense buffer oneDNN reads correctly.
  void stage_bias(const void* bias) {
    if (dtype_size(p_.bias_desc.dtype) == 4) stage_bias_typed<std::uint32_t>(bias);
    else stage_bias_typed<std::uint16_t>(bias);
  }
  template <typename Bits>
  void stage_bias_typed(const void* bias) {
    const auto* src = static_cast<const Bits*>(bias);
    auto* dst = reinterpret_cast<Bits*>(staged_bias_.data());
    const MatrixDesc& d = p_.bias_desc;
    const MatrixDesc staged = staged_bias_desc(p_);
    const std::int64_t batches = staged.batch_stride != 0 ? p_.batch : 1;
    for (std::int64_t bt = 0; bt < batches; ++bt)
      for (std::int64_t i = 0; i < staged.rows; ++i) {
        const Bits* row = src + bt * d.batch_stride + (p_.bias == BiasKind::row ? 0 : i) * d.row_stride;
        Bits* out = dst + bt * staged.batch_stride + i * staged.row_stride;
        for (std::int64_t j = 0; j < p_.n; ++j) out[j] = row[j * d.col_stride];
      }
  }

  Status run(const GemmArgs& args, const RunContext&) override {
    try {
      // OpenMP's thread count is per-thread global state; set it every call.
      omp_set_num_threads(threads_);
      src_.set_data_handle(const_cast<void*>(args.a));
      user_weights_.set_data_handle(const_cast<void*>(args.b));
      dst_.set_data_handle(args.c);
      if (has_bias(p_)) {
        if (staged_bias_.empty()) {
          bias_.set_data_handle(const_cast<void*>(args.bias));
        } else {
          stage_bias(args.bias);
          bias_.set_data_handle(staged_bias_.data());
        }
      }
      if (variant_ == Variant::packed_b) {
        // B may change between calls, so the reorder is part of every call.
        reorder_.execute(stream_, reorder_args_);
      }
      primitive_.execute(stream_, args_);
      stream_.wait();
    } catch (const dnnl::error& e) {
      return Rejection{Stage::run, Reason::runtime_error, std::string("oneDNN matmul failed: ") + e.what()};
    } catch (const std::exception& e) {
      return Rejection{Stage::run, Reason::runtime_error, e.what()};
    }
    if (int_relu_pass_) {
      auto* c = static_cast<std::int32_t*>(args.c);
      for (std::int64_t bt = 0; bt < p_.batch; ++bt)
        for (std::int64_t i = 0; i < p_.m; ++i)
          for (std::int64_t j = 0; j < p_.n; ++j) {
            std::int32_t& v = c[reference::offset(p_.c, bt, i, j)];
            if (v < 0) v = 0;
          }
    }
    return Status::success();
  }

 private:
  Problem p_;
  Variant variant_;
  BiasForm form_;
  int threads_;
  bool int_relu_pass_;
  std::size_t workspace_bytes_ = 0;
  dnnl::stream stream_;
  dnnl::matmul primitive_;
  dnnl::reorder reorder_;
  memory src_, dst_, user_weights_, packed_weights_, bias_, scratch_;
  std::vector<unsigned char> staged_bias_;
  // Built once: memory objects are handles, so set_data_handle() on them
  // reaches these maps, and run() allocates nothing.
  std::unordered_map<int, memory> args_, reorder_args_;
};

class OneDnnBackend final : public Backend {
 public:
  std::string_view name() const override { return "ONEDNN"; }
  DeviceKind device_kind() const override { return DeviceKind::cpu; }

  std::string version() const override {
    const dnnl_version_t* v = dnnl_version();
    std::string out = "onednn-" + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                      std::to_string(v->patch);
    // The ISA oneDNN dispatches to decides which kernels exist and how fast.
    try {
      out += " isa=" + isa_name(dnnl::get_effective_cpu_isa());
    } catch (const dnnl::error&) {
      out += " isa=unknown";
    }
    out += " runtime=omp";
    return out;
  }

  Availability availability() const override {
    try {
      if (dnnl::engine::get_count(dnnl::engine::kind::cpu) == 0)
        return Availability::no("oneDNN reports no CPU engine");
      (void)cpu_engine();
      return Availability::yes();
    } catch (const dnnl::error& e) {
      return Availability::no(std::string("oneDNN could not create a CPU engine: ") + e.what());
    } catch (const std::exception& e) {
      return Availability::no(std::string("oneDNN could not create a CPU engine: ") + e.what());
    }
  }

  std::string capabilities() const override {
    return "mm/addmm/bmm/baddbmm f32, bf16 (bf16 or f32 output), f16 only where the CPU has f16 kernels; "
           "int_mm u8/s8 x s8 -> s32; alpha as output scale, bias as argument or post-op, relu/gelu/gelu_tanh/silu "
           "as post-ops; choices: plain, packed_b (reorder each call), runtime_dims; no f64, fp8 or mixed_mm";
  }

  Expected<std::vector<Choice>> enumerate(const Problem& p, const TuningContext& ctx) const override {
    if (auto rejection = reject_upfront(p)) return *rejection;
    if (is_degenerate(p)) {
      const bool empty = p.batch == 0 || p.m == 0 || p.n == 0;
      const char* what = empty         ? "empty output: nothing to compute"
                         : p.k == 0    ? "K=0: no matmul call; C = act(beta*bias) or act(0)"
                                       : "alpha=0: no matmul call, A and B not read; C = act(beta*bias) or act(0)";
      return std::vector<Choice>{Choice{onednn::kPlainChoice, what}};
    }
    if (auto too_big = size_problem(p)) return reject(Reason::unsupported_shape, *too_big);
    const bool batched = is_batched(p.op);
    for (auto [name, desc] : {std::pair{"A", &p.a}, std::pair{"B", &p.b}, std::pair{"C", &p.c}})
      if (auto problem = onednn_stride_problem(name, *desc, p.batch, batched))
        return reject(Reason::unsupported_layout, *problem);
    try {
      OmpThreadsScope threads(ctx.threads);
      const bool exhaustive = ctx.search_space == SearchSpace::exhaustive;
      std::vector<Choice> choices;
      std::string plain_impl;
      std::optional<memory::desc> plain_weights;
      bool any_created = false;
      for (Variant variant : {Variant::plain, Variant::packed_b, Variant::runtime_dims}) {
        auto found = create_any_form(p, variant);
        if (!found) continue;
        any_created = true;
        const std::string impl = found->created.pd.impl_info_str();
        if (variant == Variant::plain) {
          plain_impl = impl;
          plain_weights = found->created.user_weights;
        }
        if (is_reference_impl(impl) && !exhaustive) continue;
        // Only real alternatives: a "packed" format equal to the given one
        // or a run-time-dims kernel identical to the plain one is not.
        if (variant == Variant::packed_b && found->created.pd.weights_desc() == found->created.user_weights)
          continue;
        if (variant == Variant::runtime_dims && !exhaustive && impl == plain_impl) continue;
        std::string description = impl;
        switch (variant) {
          case Variant::plain: description += "; B in its given strides"; break;
          case Variant::packed_b: description += "; B reordered to oneDNN's preferred format every call"; break;
          case Variant::runtime_dims: description += "; M as a run-time dimension"; break;
        }
        description += epilogue_text(p, found->created, found->bias_form);
        // The name is the variant; build() finds the same bias form again
        // (create_any_form is deterministic for a problem and thread count).
        choices.push_back(Choice{variant_name(variant), std::move(description)});
      }
      if (choices.empty()) return diagnose(p, any_created);
      return choices;
    } catch (const dnnl::error& e) {
      return reject(Reason::internal_error, std::string("oneDNN failed while enumerating: ") + e.what());
    } catch (const std::exception& e) {
      return reject(Reason::internal_error, std::string("oneDNN failed while enumerating: ") + e.what());
    }
  }

  Expected<std::unique_ptr<Kernel>> build(const Problem& p, const Choice& choice,
                                          const TuningContext& ctx) const override {
    if (auto rejection = reject_upfront(p)) return *rejection;
    const std::optional<Variant> variant = parse_variant_name(choice.name);
    if (!variant) return reject(Reason::internal_error, "'" + choice.name + "' is not a ONEDNN choice name");
    if (is_degenerate(p)) {
      if (*variant != Variant::plain)
        return reject(Reason::internal_error, "an empty output or K = 0 is served by " +
                                                  std::string(onednn::kPlainChoice) + " only, not " + choice.name);
      return std::unique_ptr<Kernel>(std::make_unique<DegenerateKernel>(p));
    }
    try {
      OmpThreadsScope threads(ctx.threads);
      std::optional<Found> found = create_any_form(p, *variant);
      if (!found) {
        // Every bias form failed: create the first one again, outside
        // create_any_form's catch, so that oneDNN's own error (out of
        // memory, ...) is what the rejection reports.
        const BiasForm first = has_bias(p) ? BiasForm::matmul_arg : BiasForm::none;
        if (auto created = create(p, *variant, first, Attempt{}))
          found = Found{std::move(*created), first};
        else
          return reject(Reason::unsupported_shape, "oneDNN has no " + choice.name + " primitive for " + describe(p));
      }
      return std::unique_ptr<Kernel>(std::make_unique<OneDnnKernel>(p, *variant, found->bias_form,
                                                                    std::move(found->created), ctx.threads));
    } catch (const dnnl::error& e) {
      const Reason reason = e.status == dnnl_out_of_memory ? Reason::out_of_resources : Reason::internal_error;
      return reject(reason, std::string("oneDNN could not build ") + choice.name + ": " + e.what());
    } catch (const std::bad_alloc&) {
      return reject(Reason::out_of_resources, "out of memory while building " + choice.name);
    } catch (const std::exception& e) {
      return reject(Reason::internal_error, std::string("oneDNN could not build ") + choice.name + ": " + e.what());
    }
  }
};

}  // namespace

std::shared_ptr<Backend> make_onednn_backend() { return std::make_shared<OneDnnBackend>(); }

}  // namespace gemmtune::backends
