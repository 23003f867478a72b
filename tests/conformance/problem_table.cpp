#include "conformance/problem_table.h"

#include <algorithm>
#include <sstream>

#include "testing/problem_specs.h"

namespace gemmtune::conformance {
namespace {

// Odd sizes, all different, so that no transposition or tile edge can hide.
constexpr std::int64_t kM = 17, kN = 63, kK = 129;
constexpr std::int64_t kBatch = 3;
constexpr const char* kLayouts[] = {"nn", "nt", "tn", "tt"};

// The table's spelling: dtype first, kBatch batches.
ProblemSpec spec(Op op, DType dtype, std::int64_t m, std::int64_t n, std::int64_t k, std::string_view layout = "nn") {
  return testing::spec(op, m, n, k, dtype, layout, kBatch);
}

// Batches laid out one after another with a gap of 5 elements (so a kernel
// that assumes dense batches reads or writes the wrong place).
void refresh_batch_stride(MatrixDesc& d, std::int64_t batch) {
  if (batch > 1 && d.batch_stride != 0) d.batch_stride = d.span() + 5;
}

// Every other column of a matrix more than twice as wide: neither stride is 1.
void make_general(MatrixDesc& d, std::int64_t batch) {
  d.col_stride = 2;
  d.row_stride = 2 * d.cols + 6;
  refresh_batch_stride(d, batch);
}

// Row-major with padded rows (a leading dimension larger than the width).
void pad_rows(MatrixDesc& d, std::int64_t batch, std::int64_t pad = 5) {
  d.col_stride = 1;
  d.row_stride = d.cols + pad;
  refresh_batch_stride(d, batch);
}

void make_col_major(MatrixDesc& d, std::int64_t batch, std::int64_t pad = 0) {
  d.row_stride = 1;
  d.col_stride = std::max<std::int64_t>(d.rows, 1) + pad;
  refresh_batch_stride(d, batch);
}

char layout_letter(const MatrixDesc& d) {
  if (d.col_stride == 1 || d.cols <= 1) return 'n';
  if (d.row_stride == 1 || d.rows <= 1) return 't';
  return 's';
}

std::string scalar_text(double v) {
  std::ostringstream out;
  out << v;
  std::string s = out.str();
  for (char& ch : s) {
    if (ch == '.') ch = 'p';
    if (ch == '-') ch = 'm';
  }
  return s;
}

std::string name_of(const Problem& p, const std::string& tag) {
  std::string s(to_string(p.op));
  s += "_";
  s += to_string(p.a.dtype);
  if (p.b.dtype != p.a.dtype) s += "x" + std::string(to_string(p.b.dtype));
  if (p.c.dtype != p.a.dtype && p.op != Op::int_mm) s += "_to_" + std::string(to_string(p.c.dtype));
  s += "_";
  if (is_batched(p.op)) s += std::to_string(p.batch) + "x";
  s += std::to_string(p.m) + "x" + std::to_string(p.n) + "x" + std::to_string(p.k) + "_";
  s += layout_letter(p.a);
  s += layout_letter(p.b);
  if (p.bias != BiasKind::none) {
    s += "_" + std::string(to_string(p.bias)) + "bias";
    if (p.bias_desc.dtype != p.c.dtype) s += std::string(to_string(p.bias_desc.dtype));
  }
  if (p.alpha != 1.0) s += "_alpha" + scalar_text(p.alpha);
  if (p.bias != BiasKind::none && p.beta != 1.0) s += "_beta" + scalar_text(p.beta);
  if (p.activation != Activation::none) s += "_" + std::string(to_string(p.activation));
  if (p.op == Op::scaled_mm || p.op == Op::mixed_mm) {
    if (p.scale_a != ScaleKind::none) s += "_sa" + std::string(to_string(p.scale_a));
    s += "_sb" + std::string(to_string(p.scale_b));
  }
  if (!tag.empty()) s += "_" + tag;
  return s;
}

class Table {
 public:
  void add(const ProblemSpec& s, const std::string& tag = {}) { add(make_problem(s), tag); }
  void add(const Problem& p, const std::string& tag = {}) {
    cases_.push_back(Case{name_of(p, tag), p, exhaustive_too_});
  }
  // Cases added from now on also run in the exhaustive search space.
  void set_exhaustive_too(bool on) { exhaustive_too_ = on; }
  std::vector<Case> take() { return std::move(cases_); }

 private:
  std::vector<Case> cases_;
  bool exhaustive_too_ = false;
};

void add_dtype_layout_grid(Table& t) {
  const struct {
    DType in;
    std::optional<DType> out;
  } dtypes[] = {{DType::f32, {}},  {DType::f64, {}},           {DType::f16, {}},
                {DType::bf16, {}}, {DType::f16, DType::f32}, {DType::bf16, DType::f32}};
  for (Op op : {Op::mm, Op::addmm, Op::bmm, Op::baddbmm})
    for (const auto& dt : dtypes)
      for (const char* layout : kLayouts) {
        ProblemSpec s = spec(op, dt.in, kM, kN, kK, layout);
        s.out_dtype = dt.out;
        if (op == Op::baddbmm) s.bias = BiasKind::full;  // addmm keeps the default row bias
        t.add(s);
      }
}

void add_odd_sizes(Table& t) {
  const std::int64_t sizes[][3] = {{1, 1, 1}, {1, 129, 3}, {129, 1, 63}, {3, 17, 1}, {63, 3, 17}, {129, 63, 17}};
  for (const auto& mnk : sizes) {
    t.add(spec(Op::mm, DType::f32, mnk[0], mnk[1], mnk[2], "nn"));
    t.add(spec(Op::mm, DType::bf16, mnk[0], mnk[1], mnk[2], "nt"));
    ProblemSpec f64 = spec(Op::addmm, DType::f64, mnk[0], mnk[1], mnk[2], "tn");
    t.add(f64);
    t.add(spec(Op::int_mm, DType::u8, mnk[0], mnk[1], mnk[2], "nn"));
    ProblemSpec bmm = spec(Op::bmm, DType::f32, mnk[0], mnk[1], mnk[2], "tt");
    t.add(bmm);
  }
}

void add_empty_dimensions(Table& t) {
  // K = 0: C = act(beta*bias) or act(0).
  t.add(spec(Op::mm, DType::f32, kM, kN, 0));
  {
    ProblemSpec s = spec(Op::addmm, DType::f32, kM, kN, 0);
    s.beta = 0.5;
    s.activation = Activation::relu;
    t.add(s);
  }
  {
    ProblemSpec s = spec(Op::addmm, DType::bf16, kM, kN, 0, "tt");
    s.bias = BiasKind::full;
    s.activation = Activation::gelu;
    t.add(s);
  }
  {
    ProblemSpec s = spec(Op::addmm, DType::f32, kM, kN, 0, "nt");
    s.beta = -3.0;
    s.activation = Activation::gelu_tanh;
    t.add(s);
  }
  {
    ProblemSpec s = spec(Op::baddbmm, DType::f64, kM, kN, 0);
    s.beta = 2.0;
    t.add(s);
  }
  {
    ProblemSpec s = spec(Op::int_mm, DType::u8, kM, kN, 0);
    s.activation = Activation::relu;
    t.add(s);
  }
  {
    ProblemSpec s = spec(Op::mixed_mm, DType::f32, kM, kN, 0);
    s.bias = BiasKind::row;
    t.add(s);
  }
  t.add(spec(Op::bmm, DType::bf16, kM, kN, 0));
  // M = 0, N = 0, batch = 0: nothing to write, nothing may crash.
  for (DType dt : {DType::f32, DType::bf16}) {
    t.add(spec(Op::addmm, dt, 0, kN, kK));
    t.add(spec(Op::addmm, dt, kM, 0, kK));
  }
  t.add(spec(Op::int_mm, DType::i8, 0, kN, kK));
  t.add(spec(Op::int_mm, DType::i8, kM, 0, kK));
  t.add(spec(Op::mm, DType::f64, 0, 0, 0));
  {
    ProblemSpec s = spec(Op::bmm, DType::f32, kM, kN, kK);
    s.batch = 0;
    t.add(s);
  }
}

void add_strided_layouts(Table& t) {
  // A general-strided A (a column slice of a wider matrix).
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    Problem p = make_problem(spec(Op::mm, dt, kM, kN, kK));
    make_general(p.a, p.batch);
    t.add(p, "generalA");
  }
  {
    Problem p = make_problem(spec(Op::int_mm, DType::i8, kM, kN, kK));
    make_general(p.a, p.batch);
    t.add(p, "generalA");
  }
  {
    Problem p = make_problem(spec(Op::bmm, DType::f32, kM, kN, kK));
    make_general(p.a, p.batch);
    t.add(p, "generalA");
  }
  // A general-strided B.
  for (DType dt : {DType::f32, DType::bf16}) {
    Problem p = make_problem(spec(Op::mm, dt, kM, kN, kK));
    make_general(p.b, p.batch);
    t.add(p, "generalB");
  }
  // Strided output: padded rows, and padded batches.
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    Problem p = make_problem(spec(Op::addmm, dt, kM, kN, kK, "nt"));
    pad_rows(p.c, p.batch);
    t.add(p, "paddedC");
  }
  {
    Problem p = make_problem(spec(Op::int_mm, DType::u8, kM, kN, kK, "tn"));
    pad_rows(p.c, p.batch);
    t.add(p, "paddedC");
  }
  {
    Problem p = make_problem(spec(Op::bmm, DType::f32, kM, kN, kK));
    pad_rows(p.c, p.batch);
    t.add(p, "paddedC");
  }
  {
    Problem p = make_problem(spec(Op::bmm, DType::bf16, kM, kN, kK, "nt"));
    pad_rows(p.c, p.batch);
    t.add(p, "paddedC");
  }
  // Column-major output.
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    ProblemSpec s = spec(Op::addmm, dt, kM, kN, kK, "tn");
    s.activation = Activation::relu;
    Problem p = make_problem(s);
    make_col_major(p.c, p.batch);
    t.add(p, "colmajorC");
  }
  // Padded leading dimensions on every operand, transposed and not.
  for (const char* layout : {"nt", "tn"}) {
    for (DType dt : {DType::f32, DType::bf16}) {
      Problem p = make_problem(spec(Op::baddbmm, dt, kM, kN, kK, layout));
      for (MatrixDesc* d : {&p.a, &p.b}) {
        if (d->col_stride == 1) pad_rows(*d, p.batch, 7);
        else make_col_major(*d, p.batch, 7);
      }
      pad_rows(p.c, p.batch, 3);
      t.add(p, "paddedABC");
    }
  }
  // Strided bias: full bias with padded rows; row bias read with a stride.
  for (DType dt : {DType::f32, DType::bf16}) {
    ProblemSpec s = spec(Op::addmm, dt, kM, kN, kK);
    s.bias = BiasKind::full;
    Problem p = make_problem(s);
    pad_rows(p.bias_desc, p.batch, 9);
    t.add(p, "paddedBias");
    Problem q = make_problem(spec(Op::addmm, dt, kM, kN, kK, "tt"));
    q.bias_desc.col_stride = 3;
    q.bias_desc.row_stride = 3 * kN;
    t.add(q, "stridedBias");
  }
  {
    Problem p = make_problem(spec(Op::mixed_mm, DType::f32, kM, kN, kK, "tn"));
    make_general(p.b, p.batch);
    t.add(p, "generalB");
  }
}

void add_broadcast_batches(Table& t) {
  for (const char* layout : {"nn", "tn", "nt"}) {
    ProblemSpec s = spec(Op::bmm, DType::f32, kM, kN, kK, layout);
    s.broadcast_b = true;
    t.add(s, "broadcastB");
  }
  for (DType dt : {DType::bf16, DType::f64}) {
    ProblemSpec s = spec(Op::baddbmm, dt, kM, kN, kK, "nt");
    s.broadcast_b = true;
    t.add(s, "broadcastB");
  }
  {
    // A shared by every batch, B per batch.
    Problem p = make_problem(spec(Op::bmm, DType::f32, kM, kN, kK, "tn"));
    p.a.batch_stride = 0;
    t.add(p, "broadcastA");
  }
  {
    // A full bias shared by every batch.
    ProblemSpec s = spec(Op::baddbmm, DType::f32, kM, kN, kK);
    s.bias = BiasKind::full;
    Problem p = make_problem(s);
    p.bias_desc.batch_stride = 0;
    t.add(p, "broadcastBias");
  }
  {
    // A row bias per batch.
    Problem p = make_problem(spec(Op::baddbmm, DType::f32, kM, kN, kK));
    p.bias_desc.batch_stride = kN + 1;
    t.add(p, "perBatchRowBias");
  }
}

void add_epilogues(Table& t) {
  const struct {
    double alpha, beta;
  } scalars[] = {{1.0, 1.0}, {0.5, 2.0}, {1.5, 1.5}, {-1.0, 0.0}};
  const struct {
    DType in;
    std::optional<DType> out;
  } dtypes[] = {{DType::f32, {}}, {DType::f64, {}}, {DType::bf16, {}}, {DType::bf16, DType::f32}};
  int variant = 0;
  for (const auto& dt : dtypes)
    for (Activation act :
         {Activation::none, Activation::relu, Activation::gelu, Activation::silu, Activation::gelu_tanh})
      for (const auto& sc : scalars) {
        ProblemSpec s = spec(Op::addmm, dt.in, 17, 31, 63, variant % 3 == 0 ? "nt" : "nn");
        s.out_dtype = dt.out;
        s.alpha = sc.alpha;
        s.beta = sc.beta;
        s.activation = act;
        s.bias = variant % 2 == 0 ? BiasKind::row : BiasKind::full;
        ++variant;
        t.add(s);
      }
  // f32 bias on a bf16 output.
  {
    ProblemSpec s = spec(Op::addmm, DType::bf16, 17, 31, 63);
    s.bias_dtype = DType::f32;
    s.alpha = 0.5;
    s.beta = 2.0;
    t.add(s);
  }
  // Activations and alpha without a bias.
  {
    ProblemSpec s = spec(Op::mm, DType::f32, 17, 31, 63);
    s.alpha = 0.5;
    s.activation = Activation::gelu;
    t.add(s);
  }
  {
    ProblemSpec s = spec(Op::mm, DType::bf16, 17, 31, 63, "tn");
    s.activation = Activation::silu;
    t.add(s);
  }
  {
    ProblemSpec s = spec(Op::bmm, DType::f32, 17, 31, 63, "nt");
    s.alpha = -2.0;
    s.activation = Activation::relu;
    t.add(s);
  }
  {
    ProblemSpec s = spec(Op::baddbmm, DType::bf16, 17, 31, 63);
    s.bias = BiasKind::full;
    s.alpha = 0.25;
    s.beta = -1.0;
    s.activation = Activation::gelu;
    t.add(s);
  }
  // Pre-activations of tens, where tanh saturates and gelu's negative tail
  // is a difference of nearly equal terms; and of 1e-4, where tanh(u) ~ u.
  for (double alpha : {6.0, 1e-4})
    for (DType dt : {DType::f32, DType::bf16}) {
      ProblemSpec s = spec(Op::addmm, dt, 17, 31, 63, "nt");
      s.alpha = alpha;
      s.beta = alpha;
      s.activation = Activation::gelu_tanh;
      t.add(s);
    }
}

void add_int_mm(Table& t) {
  for (DType a : {DType::u8, DType::i8})
    for (const char* layout : kLayouts) t.add(spec(Op::int_mm, a, kM, kN, kK, layout));
  // relu; and K large enough that sums pass 2^24, where an f32 epilogue
  // would round.
  for (DType a : {DType::u8, DType::i8})
    for (std::int64_t k : {kK, std::int64_t{1100}}) {
      ProblemSpec s = spec(Op::int_mm, a, 5, 7, k, "nt");
      s.activation = Activation::relu;
      t.add(s);
    }
  t.add(spec(Op::int_mm, DType::i8, 5, 7, 1100, "tn"));
}

void add_mixed_mm(Table& t) {
  const struct {
    DType a;
    std::optional<DType> out;
  } dtypes[] = {{DType::f32, {}}, {DType::bf16, {}}, {DType::f16, {}}, {DType::bf16, DType::f32}, {DType::f16, DType::f32}};
  int variant = 0;
  for (const auto& dt : dtypes)
    for (ScaleKind scale : {ScaleKind::per_channel, ScaleKind::per_tensor}) {
      ProblemSpec s = spec(Op::mixed_mm, dt.a, kM, kN, kK, kLayouts[variant % 4]);
      s.out_dtype = dt.out;
      s.scale_b = scale;
      if (variant % 2 == 1) {
        s.bias = BiasKind::row;
        s.alpha = 0.5;
        s.activation = Activation::silu;
      }
      ++variant;
      t.add(s);
    }
}

void add_scaled_mm(Table& t) {
  const struct {
    DType a, b;
  } pairs[] = {{DType::f8e4m3, DType::f8e4m3}, {DType::f8e4m3, DType::f8e5m2}, {DType::f8e5m2, DType::f8e4m3}};
  int variant = 0;
  for (const auto& pair : pairs)
    for (DType out : {DType::bf16, DType::f32, DType::f16}) {
      ProblemSpec s = spec(Op::scaled_mm, pair.a, kM, kN, kK, variant % 2 == 0 ? "nt" : "nn");
      s.b_dtype = pair.b;
      s.out_dtype = out;
      if (variant % 3 == 1) {
        s.scale_a = ScaleKind::per_channel;
        s.scale_b = ScaleKind::per_channel;
      }
      if (variant % 3 == 2) {
        s.bias = BiasKind::row;
        s.activation = Activation::gelu;
      }
      ++variant;
      t.add(s);
    }
}

std::vector<Case> build_table() {
  Table t;
  add_dtype_layout_grid(t);
  t.set_exhaustive_too(true);
  add_odd_sizes(t);
  add_empty_dimensions(t);
  add_strided_layouts(t);
  add_broadcast_batches(t);
  t.set_exhaustive_too(false);
  add_epilogues(t);
  add_int_mm(t);
  add_mixed_mm(t);
  add_scaled_mm(t);
  return t.take();
}

bool is_mm_family(Op op) { return op == Op::mm || op == Op::addmm || op == Op::bmm || op == Op::baddbmm; }

bool is_empty_output(const Problem& p) { return p.batch == 0 || p.m == 0 || p.n == 0; }

// A and B are not read when K = 0 (or nothing is written): their layout
// cannot be a reason to refuse.
bool operands_blas_like(const Problem& p) {
  if (is_empty_output(p) || p.k == 0) return true;
  return is_blas_layout(p.a) && is_blas_layout(p.b);
}

bool output_row_major(const Problem& p) { return is_empty_output(p) || p.c.col_stride == 1 || p.c.cols <= 1; }

// oneDNN describes a batch of matrices only when each batch stride covers
// the leading dimension times the extent (the padding of the last row
// included); gemmtune allows tighter batches.
bool onednn_batch_strides(const Problem& p) {
  if (!is_batched(p.op) || p.batch <= 1 || is_empty_output(p) || p.k == 0) return true;
  for (const MatrixDesc* d : {&p.a, &p.b, &p.c}) {
    if (d->batch_stride == 0) continue;
    const std::int64_t row = d->rows <= 1 ? d->cols * d->col_stride : d->row_stride;
    const std::int64_t col = d->cols <= 1 ? 1 : d->col_stride;
    if (d->batch_stride < std::max(d->rows * row, d->cols * col)) return false;
  }
  return true;
}

}  // namespace

bool is_blas_layout(const MatrixDesc& d) {
  const bool row_like = (d.col_stride == 1 || d.cols <= 1) && (d.rows <= 1 || d.row_stride >= std::max<std::int64_t>(d.cols, 1));
  const bool col_like = (d.row_stride == 1 || d.rows <= 1) && (d.cols <= 1 || d.col_stride >= std::max<std::int64_t>(d.rows, 1));
  return row_like || col_like;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> table = build_table();
  return table;
}

std::vector<std::string> must_serve_backends() { return {"REFERENCE", "BLAS", "ONEDNN", "CPP"}; }

std::optional<std::string> must_serve(std::string_view backend, const Problem& p) {
  if (backend == "REFERENCE") return "REFERENCE is the oracle: it serves every op, dtype and layout";
  if (backend == "BLAS") {
    const bool dtype_ok = (is_mm_family(p.op) && (p.a.dtype == DType::f32 || p.a.dtype == DType::f64)) ||
                          (p.op == Op::mixed_mm && p.a.dtype == DType::f32);
    const bool c_ok = is_empty_output(p) || p.k == 0 || is_blas_layout(p.c);
    if (dtype_ok && operands_blas_like(p) && c_ok)
      return "BLAS serves mm/addmm/bmm/baddbmm in f32 and f64 and mixed_mm with f32 activations, with row- or "
             "column-major A, B and C";
    return std::nullopt;
  }
  if (backend == "ONEDNN") {
    const bool dtype_ok = (is_mm_family(p.op) && (p.a.dtype == DType::f32 || p.a.dtype == DType::bf16)) ||
                          p.op == Op::int_mm;
    if (dtype_ok && operands_blas_like(p) && (p.k == 0 || output_row_major(p)) && onednn_batch_strides(p))
      return "ONEDNN serves the mm family in f32 and bf16 and int_mm (u8/s8), with row- or column-major A and B, "
             "a row-major (possibly padded) C, and batch strides of at least leading dimension x extent";
    return std::nullopt;
  }
  if (backend == "CPP") {
    const bool dtype_ok = (is_mm_family(p.op) && (p.a.dtype == DType::f32 || p.a.dtype == DType::bf16)) ||
                          p.op == Op::int_mm ||
                          (p.op == Op::mixed_mm && (p.a.dtype == DType::f32 || p.a.dtype == DType::bf16));
    if (dtype_ok && operands_blas_like(p) && (p.k == 0 || output_row_major(p)))
      return "CPP serves the mm family in f32 and bf16, int_mm and mixed_mm (f32/bf16 activations), with row- or "
             "column-major A and B and a row-major C";
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace gemmtune::conformance
