#include "gemmtune/problem.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "gemmtune/errors.h"
#include "util/numeric.h"

namespace gemmtune {
namespace {

[[noreturn]] void fail(const std::string& field, const std::string& message) {
  throw InvalidProblemError(field, message);
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const std::string& field) {
  std::int64_t out;
  if (__builtin_mul_overflow(a, b, &out)) fail(field, "size overflows a 64-bit element count");
  return out;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b, const std::string& field) {
  std::int64_t out;
  if (__builtin_add_overflow(a, b, &out)) fail(field, "size overflows a 64-bit element count");
  return out;
}

struct Dim {
  std::int64_t extent, stride;
  const char* name;
};

// Largest element offset + 1 of a matrix or a batch of matrices, checked
// against overflow, including the byte size.
std::int64_t checked_span(const MatrixDesc& d, std::int64_t batch, const std::string& name) {
  if (d.rows == 0 || d.cols == 0 || batch == 0) return 0;
  std::int64_t last = checked_add(checked_mul(d.rows - 1, d.row_stride, name + ".row_stride"),
                                  checked_mul(d.cols - 1, d.col_stride, name + ".col_stride"), name);
  if (batch > 1) last = checked_add(last, checked_mul(batch - 1, d.batch_stride, name + ".batch_stride"), name);
  std::int64_t span = checked_add(last, 1, name);
  checked_mul(span, static_cast<std::int64_t>(dtype_size(d.dtype)), name);
  return span;
}

// Strides must not make two elements share memory: sorted by stride, each
// dimension must step over everything the smaller ones span.
void check_strides(const MatrixDesc& d, std::int64_t batch, bool is_output, const std::string& name) {
  if (d.row_stride < 0) fail(name + ".row_stride", "negative strides are not supported");
  if (d.col_stride < 0) fail(name + ".col_stride", "negative strides are not supported");
  if (d.batch_stride < 0) fail(name + ".batch_stride", "negative strides are not supported");
  std::array<Dim, 3> dims{{{d.rows, d.row_stride, "row_stride"},
                           {d.cols, d.col_stride, "col_stride"},
                           {batch, d.batch_stride, "batch_stride"}}};
  // An empty matrix stores nothing, so its strides cannot overlap.
  if (d.rows == 0 || d.cols == 0 || batch == 0) return;
  if (is_output && batch > 1 && d.batch_stride == 0)
    fail(name + ".batch_stride", "an output batch stride of 0 would make every batch write the same memory");
  std::vector<Dim> active;
  for (const auto& dim : dims) {
    if (dim.extent <= 1) continue;
    if (&dim == &dims[2] && dim.stride == 0) continue;  // broadcast input batch
    active.push_back(dim);
  }
  std::sort(active.begin(), active.end(), [](const Dim& x, const Dim& y) { return x.stride < y.stride; });
  std::int64_t covered = 0;  // largest offset reachable by the smaller dimensions
  for (const auto& dim : active) {
    if (dim.stride <= covered)
      fail(name + "." + dim.name, "strides overlap: stride " + std::to_string(dim.stride) +
                                      " does not step past the " + std::to_string(covered + 1) +
                                      " elements the smaller dimensions span");
    covered = checked_add(covered, checked_mul(dim.extent - 1, dim.stride, name + "." + dim.name), name);
  }
}

void check_shape(const MatrixDesc& d, std::int64_t rows, std::int64_t cols, const std::string& name) {
  if (d.rows != rows || d.cols != cols)
    fail(name, name + " is " + std::to_string(d.rows) + "x" + std::to_string(d.cols) + " but the problem needs " +
                   std::to_string(rows) + "x" + std::to_string(cols));
}

bool is_standard_float(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::f16 || t == DType::bf16;
}

std::string dtype_list(std::initializer_list<DType> types) {
  std::string out;
  for (DType t : types) {
    if (!out.empty()) out += ", ";
    out += to_string(t);
  }
  return out;
}

void check_dtypes(const Problem& p) {
  const DType a = p.a.dtype, b = p.b.dtype, c = p.c.dtype;
  const std::string op(to_string(p.op));
  switch (p.op) {
    case Op::mm:
    case Op::addmm:
    case Op::bmm:
    case Op::baddbmm:
      if (!is_standard_float(a)) fail("a.dtype", op + " takes f32, f64, f16 or bf16 inputs, not " + std::string(to_string(a)) + " (int8 inputs: int_mm; fp8: scaled_mm)");
      if (b != a) fail("b.dtype", op + " needs B in A's dtype " + std::string(to_string(a)) + ", not " + std::string(to_string(b)));
      if (c != a && !((a == DType::f16 || a == DType::bf16) && c == DType::f32))
        fail("c.dtype", op + " with " + std::string(to_string(a)) + " inputs writes " + std::string(to_string(a)) +
                            ((a == DType::f16 || a == DType::bf16) ? " or f32" : "") + ", not " + std::string(to_string(c)));
      break;
    case Op::int_mm:
      if (a != DType::i8 && a != DType::u8) fail("a.dtype", "int_mm takes i8 or u8 A, not " + std::string(to_string(a)));
      if (b != DType::i8) fail("b.dtype", "int_mm takes i8 B, not " + std::string(to_string(b)));
      if (c != DType::i32) fail("c.dtype", "int_mm writes i32, not " + std::string(to_string(c)));
      break;
    case Op::mixed_mm:
      if (a != DType::f32 && a != DType::f16 && a != DType::bf16)
        fail("a.dtype", "mixed_mm takes " + dtype_list({DType::f32, DType::f16, DType::bf16}) + " activations, not " + std::string(to_string(a)));
      if (b != DType::i8) fail("b.dtype", "mixed_mm takes i8 weights B, not " + std::string(to_string(b)));
      if (c != a && c != DType::f32) fail("c.dtype", "mixed_mm writes A's dtype or f32, not " + std::string(to_string(c)));
      break;
    case Op::scaled_mm:
      if (!is_fp8(a)) fail("a.dtype", "scaled_mm takes fp8 (f8e4m3, f8e5m2) A, not " + std::string(to_string(a)));
      if (!is_fp8(b)) fail("b.dtype", "scaled_mm takes fp8 (f8e4m3, f8e5m2) B, not " + std::string(to_string(b)));
      if (a == DType::f8e5m2 && b == DType::f8e5m2) fail("b.dtype", "scaled_mm does not define f8e5m2 x f8e5m2; use f8e4m3 for at least one side");
      if (c != DType::bf16 && c != DType::f16 && c != DType::f32)
        fail("c.dtype", "scaled_mm writes bf16, f16 or f32, not " + std::string(to_string(c)));
      break;
  }
}

// alpha and beta reach the kernels in the output's precision (or wider):
// a value that becomes infinite there, or a nonzero one that becomes zero,
// would silently turn every result into Inf/NaN or drop a term. Checked by
// the output dtype's own rounding, so every float dtype gets its exact
// limits.
void check_scalar(double v, const char* field, DType out) {
  if (!std::isfinite(v)) fail(field, std::string(field) + " must be finite");
  if (!is_floating(out)) return;
  alignas(8) unsigned char slot[8] = {};
  numeric::store_from_double(slot, out, 0, v);
  const double rounded = numeric::load_as_double(slot, out, 0);
  std::ostringstream text;
  text.precision(17);
  text << v;
  if (!std::isfinite(rounded))
    fail(field, std::string(field) + " = " + text.str() + " overflows the output dtype " +
                    std::string(to_string(out)) + "; scale the inputs instead");
  if (v != 0 && rounded == 0)
    fail(field, std::string(field) + " = " + text.str() + " underflows to 0 in the output dtype " +
                    std::string(to_string(out)) + "; use 0 to drop the term");
}

void check_epilogue(const Problem& p) {
  const std::string op(to_string(p.op));
  check_scalar(p.alpha, "alpha", p.c.dtype);
  check_scalar(p.beta, "beta", p.c.dtype);

  switch (bias_rule(p.op)) {
    case BiasRule::required:
      if (p.bias == BiasKind::none) fail("bias", op + " needs a bias (row or full); use " + (is_batched(p.op) ? "bmm" : "mm") + " for none");
      break;
    case BiasRule::forbidden:
      if (p.bias != BiasKind::none) fail("bias", op + " takes no bias; use " + (p.op == Op::bmm ? "baddbmm" : p.op == Op::mm ? "addmm" : "another op"));
      break;
    case BiasRule::optional: break;
  }
  if (p.bias != BiasKind::none) {
    const DType bd = p.bias_desc.dtype;
    if (p.c.dtype == DType::f64 ? bd != DType::f64 : (bd != p.c.dtype && bd != DType::f32))
      fail("bias_desc.dtype", "bias must be in the output dtype " + std::string(to_string(p.c.dtype)) +
                                  (p.c.dtype == DType::f64 || p.c.dtype == DType::f32 ? "" : " or f32") + ", not " + std::string(to_string(bd)));
    if (p.bias == BiasKind::row) check_shape(p.bias_desc, 1, p.n, "bias_desc");
    else check_shape(p.bias_desc, p.m, p.n, "bias_desc");
  }

  if (p.op == Op::int_mm) {
    if (p.alpha != 1.0) fail("alpha", "int_mm is exact integer arithmetic: alpha must be 1");
    if (p.activation != Activation::none && p.activation != Activation::relu)
      fail("activation", "int_mm writes integers: only relu (or none) is defined");
  }

  const bool scaled = p.op == Op::scaled_mm;
  if (scaled) {
    if (p.scale_a == ScaleKind::none) fail("scale_a", "scaled_mm needs a per_tensor or per_channel scale for A");
    if (p.scale_b == ScaleKind::none) fail("scale_b", "scaled_mm needs a per_tensor or per_channel scale for B");
  } else if (p.op == Op::mixed_mm) {
    if (p.scale_a != ScaleKind::none) fail("scale_a", "mixed_mm scales only the int8 weights B");
    if (p.scale_b == ScaleKind::none) fail("scale_b", "mixed_mm needs a per_channel (or per_tensor) scale for B");
  } else {
    if (p.scale_a != ScaleKind::none) fail("scale_a", op + " takes no scales (only scaled_mm and mixed_mm do)");
    if (p.scale_b != ScaleKind::none) fail("scale_b", op + " takes no scales (only scaled_mm and mixed_mm do)");
  }
}

char layout_letter(const MatrixDesc& d) {
  if (d.col_stride == 1 || d.cols == 1) return 'n';
  if (d.row_stride == 1 || d.rows == 1) return 't';
  return 's';
}

}  // namespace

MatrixDesc MatrixDesc::row_major(DType dtype, std::int64_t rows, std::int64_t cols) {
  return MatrixDesc{dtype, rows, cols, std::max<std::int64_t>(cols, 1), 1, 0};
}

MatrixDesc MatrixDesc::col_major(DType dtype, std::int64_t rows, std::int64_t cols) {
  return MatrixDesc{dtype, rows, cols, 1, std::max<std::int64_t>(rows, 1), 0};
}

bool MatrixDesc::is_row_major() const { return col_stride == 1 || cols <= 1; }
bool MatrixDesc::is_col_major() const { return row_stride == 1 || rows <= 1; }

std::int64_t MatrixDesc::span(std::int64_t batch) const {
  if (rows == 0 || cols == 0 || batch == 0) return 0;
  return (rows - 1) * row_stride + (cols - 1) * col_stride + (batch - 1) * batch_stride + 1;
}

std::size_t operand_bytes(const MatrixDesc& d, std::int64_t batch) {
  return static_cast<std::size_t>(d.span(batch)) * dtype_size(d.dtype);
}

bool product_term_absent(const Problem& p) { return p.k == 0 || p.alpha == 0.0; }

bool bias_term_absent(const Problem& p) { return p.bias == BiasKind::none || p.beta == 0.0; }

std::size_t scale_count(ScaleKind kind, std::int64_t channels) {
  switch (kind) {
    case ScaleKind::none: return 0;
    case ScaleKind::per_tensor: return 1;
    case ScaleKind::per_channel: return static_cast<std::size_t>(channels);
  }
  return 0;
}

void validate(const Problem& p) {
  if (p.batch < 0) fail("batch", "batch must be >= 0, got " + std::to_string(p.batch));
  if (p.m < 0) fail("m", "M must be >= 0, got " + std::to_string(p.m));
  if (p.n < 0) fail("n", "N must be >= 0, got " + std::to_string(p.n));
  if (p.k < 0) fail("k", "K must be >= 0, got " + std::to_string(p.k));
  if (!is_batched(p.op) && p.batch != 1)
    fail("batch", std::string(to_string(p.op)) + " is not batched: batch must be 1 (use bmm/baddbmm)");
  if (p.alignment < 1 || p.alignment > 4096 || (p.alignment & (p.alignment - 1)) != 0)
    fail("alignment", "alignment must be a power of two between 1 and 4096 bytes, got " + std::to_string(p.alignment));
  if (p.device.index < 0) fail("device", "device index must be >= 0");
  // Work must fit in 64 bits too (timing and FLOP counts use it).
  checked_mul(checked_mul(checked_mul(p.batch, p.m, "m"), p.n, "n"), std::max<std::int64_t>(p.k, 1), "k");

  check_shape(p.a, p.m, p.k, "a");
  check_shape(p.b, p.k, p.n, "b");
  check_shape(p.c, p.m, p.n, "c");
  check_dtypes(p);
  check_epilogue(p);

  check_strides(p.a, p.batch, false, "a");
  check_strides(p.b, p.batch, false, "b");
  check_strides(p.c, p.batch, true, "c");
  checked_span(p.a, p.batch, "a");
  checked_span(p.b, p.batch, "b");
  checked_span(p.c, p.batch, "c");
  if (p.bias != BiasKind::none) {
    check_strides(p.bias_desc, p.batch, false, "bias_desc");
    checked_span(p.bias_desc, p.batch, "bias_desc");
  }
}

namespace {

void check_pointer(const void* ptr, std::size_t bytes, int alignment, const std::string& field) {
  if (bytes == 0) return;
  if (ptr == nullptr) fail(field, field + " is null but the operand is not empty");
  if (reinterpret_cast<std::uintptr_t>(ptr) % static_cast<std::uintptr_t>(alignment) != 0)
    fail(field, field + " is not aligned to the problem's " + std::to_string(alignment) + " bytes");
}

bool overlaps(const void* x, std::size_t xb, const void* y, std::size_t yb) {
  if (xb == 0 || yb == 0 || x == nullptr || y == nullptr) return false;
  auto xs = reinterpret_cast<std::uintptr_t>(x), ys = reinterpret_cast<std::uintptr_t>(y);
  return xs < ys + yb && ys < xs + xb;
}

}  // namespace

void validate_args(const Problem& p, const GemmArgs& args) {
  const std::size_t c_bytes = operand_bytes(p.c, p.batch);
  if (c_bytes == 0) return;  // nothing is written, nothing is read
  const std::size_t a_bytes = p.k > 0 ? operand_bytes(p.a, p.batch) : 0;
  const std::size_t b_bytes = p.k > 0 ? operand_bytes(p.b, p.batch) : 0;
  const std::size_t bias_bytes = p.bias != BiasKind::none ? operand_bytes(p.bias_desc, p.batch) : 0;
  check_pointer(args.a, a_bytes, p.alignment, "a.data");
  check_pointer(args.b, b_bytes, p.alignment, "b.data");
  check_pointer(args.c, c_bytes, p.alignment, "c.data");
  check_pointer(args.bias, bias_bytes, p.alignment, "bias.data");
  const std::size_t sa = scale_count(p.scale_a, p.m) * sizeof(float);
  const std::size_t sb = scale_count(p.scale_b, p.n) * sizeof(float);
  if (sa && args.scale_a == nullptr) fail("scale_a.data", "scale_a.data is null but the problem has A scales");
  if (sb && args.scale_b == nullptr) fail("scale_b.data", "scale_b.data is null but the problem has B scales");
  if (overlaps(args.c, c_bytes, args.a, a_bytes)) fail("c.data", "the output overlaps A");
  if (overlaps(args.c, c_bytes, args.b, b_bytes)) fail("c.data", "the output overlaps B");
  if (overlaps(args.c, c_bytes, args.bias, bias_bytes)) fail("c.data", "the output overlaps the bias");
  if (overlaps(args.c, c_bytes, args.scale_a, sa)) fail("c.data", "the output overlaps scale_a");
  if (overlaps(args.c, c_bytes, args.scale_b, sb)) fail("c.data", "the output overlaps scale_b");
}

Problem make_problem(const ProblemSpec& s) {
  Problem p;
  p.op = s.op;
  p.batch = s.batch;
  p.m = s.m;
  p.n = s.n;
  p.k = s.k;
  const DType a = s.dtype;
  DType b = a, c = a;
  switch (s.op) {
    case Op::int_mm: b = DType::i8; c = DType::i32; break;
    case Op::mixed_mm: b = DType::i8; break;
    case Op::scaled_mm: c = DType::bf16; break;
    default: break;
  }
  b = s.b_dtype.value_or(b);
  c = s.out_dtype.value_or(c);
  auto operand = [&](DType t, std::int64_t rows, std::int64_t cols, bool transposed, bool broadcast) {
    MatrixDesc d = transposed ? MatrixDesc::col_major(t, rows, cols) : MatrixDesc::row_major(t, rows, cols);
    d.batch_stride = broadcast || s.batch <= 1 ? 0 : std::max<std::int64_t>(rows * cols, 1);
    return d;
  };
  if (s.m < 0 || s.n < 0 || s.k < 0 || s.batch < 0) {
    validate(p);  // reports the negative size
  }
  p.a = operand(a, s.m, s.k, s.transpose_a, false);
  p.b = operand(b, s.k, s.n, s.transpose_b, s.broadcast_b);
  p.c = operand(c, s.m, s.n, false, false);
  p.bias = s.bias.value_or(bias_rule(s.op) == BiasRule::required ? BiasKind::row : BiasKind::none);
  if (p.bias == BiasKind::row) {
    p.bias_desc = MatrixDesc::row_major(s.bias_dtype.value_or(c), 1, s.n);  // shared by all batches
  } else if (p.bias == BiasKind::full) {
    p.bias_desc = operand(s.bias_dtype.value_or(c), s.m, s.n, false, false);
  }
  p.alpha = s.alpha;
  p.beta = s.beta;
  p.activation = s.activation;
  ScaleKind default_a = s.op == Op::scaled_mm ? ScaleKind::per_tensor : ScaleKind::none;
  ScaleKind default_b = s.op == Op::scaled_mm  ? ScaleKind::per_tensor
                        : s.op == Op::mixed_mm ? ScaleKind::per_channel
                                               : ScaleKind::none;
  p.scale_a = s.scale_a.value_or(default_a);
  p.scale_b = s.scale_b.value_or(default_b);
  p.allow_tf32 = s.allow_tf32;
  p.alignment = s.alignment;
  p.device = s.device;
  return p;
}

std::string describe(const Problem& p) {
  std::ostringstream out;
  out << to_string(p.op) << ' ' << to_string(p.a.dtype);
  if (p.b.dtype != p.a.dtype) out << 'x' << to_string(p.b.dtype);
  if (p.c.dtype != p.a.dtype) out << "->" << to_string(p.c.dtype);
  out << ' ';
  if (is_batched(p.op)) out << p.batch << 'x';
  out << p.m << 'x' << p.n << 'x' << p.k << ' ' << layout_letter(p.a) << layout_letter(p.b);
  if (p.bias != BiasKind::none) out << " bias=" << to_string(p.bias);
  if (p.alpha != 1.0) out << " alpha=" << p.alpha;
  if (p.bias != BiasKind::none && p.beta != 1.0) out << " beta=" << p.beta;
  if (p.activation != Activation::none) out << " act=" << to_string(p.activation);
  if (p.op == Op::scaled_mm) out << " scales=" << to_string(p.scale_a) << ',' << to_string(p.scale_b);
  if (p.op == Op::mixed_mm) out << " scale=" << to_string(p.scale_b);
  if (p.allow_tf32) out << " tf32";
  if (p.device.kind != DeviceKind::cpu) out << " on " << to_string(p.device);
  return out.str();
}

}  // namespace gemmtune
