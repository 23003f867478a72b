// The epilogue around the library GEMMs: which passes CUBLAS and CUBLASLT
// plan (host-only logic, tested everywhere), that every instantiation a
// plan can ask for exists and compiles with NVRTC for Hopper and Ampere (no
// GPU needed), the launch geometry (vector or element access, the inner
// axis, the grid), and on a GPU the pass itself against the host on every
// dtype route, layout, tail and special value.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "backends/cublaslt/lt_epilogue.h"
#include "gpu/gpu_testing.h"
#include "runtime/cuda/blas_common.h"
#include "runtime/cuda/epilogue_pass.h"
#include "util/numeric.h"

namespace gemmtune {
namespace {

using backends::cublaslt::BiasRoute;
using backends::cublaslt::make_setup;
using backends::cublaslt::Variant;
using gpu_testing::gpu_problem;

const Activation kActivations[] = {Activation::none, Activation::relu, Activation::gelu, Activation::silu,
                                   Activation::gelu_tanh};

// addmm/mm problems over every output dtype, bias kind and dtype, beta,
// alpha and activation the library backends see.
std::vector<Problem> planning_problems() {
  std::vector<Problem> out;
  const struct {
    DType in, out;
  } dtypes[] = {{DType::f32, DType::f32}, {DType::f64, DType::f64}, {DType::bf16, DType::bf16},
                {DType::f16, DType::f16}, {DType::bf16, DType::f32}};
  for (const auto& dt : dtypes)
    for (BiasKind bias : {BiasKind::none, BiasKind::row, BiasKind::full})
      for (bool f32_bias : {false, true})
        for (double beta : {1.0, 0.5, 0.0})
          for (double alpha : {1.0, 0.0})
            for (Activation act : kActivations)
              for (bool col_major_c : {false, true}) {
                if (f32_bias && (bias == BiasKind::none || dt.out == DType::f32 || dt.out == DType::f64)) continue;
                Problem p = gpu_problem(bias == BiasKind::none ? Op::mm : Op::addmm, dt.in, {1, 24, 40, 16}, "nt");
                p.c.dtype = dt.out;
                if (col_major_c) p.c = MatrixDesc::col_major(dt.out, 24, 40);
                p.bias = bias;
                if (bias == BiasKind::full) p.bias_desc = MatrixDesc::row_major(dt.out, 24, 40);
                if (bias != BiasKind::none) p.bias_desc.dtype = f32_bias ? DType::f32 : dt.out;
                p.beta = beta;
                p.alpha = alpha;
                p.activation = act;
                out.push_back(p);
              }
  Problem int_mm = gpu_problem(Op::int_mm, DType::i8, {1, 24, 40, 16}, "nt");
  out.push_back(int_mm);
  int_mm.activation = Activation::relu;
  out.push_back(int_mm);
  return out;
}

// The pass's kernel as LibraryEpilogue::make picks it.
Expected<cuda::EpilogueKernel> pass_kernel(const Problem& p, const cuda::AroundCall& plan, DType call_out) {
  return cuda::epilogue_kernel_for(p.c.dtype, plan.call ? std::optional<DType>(call_out) : std::nullopt,
                                   plan.bias_in_pass ? std::optional<DType>(p.bias_desc.dtype) : std::nullopt,
                                   plan.pass_act);
}

// The invariants every plan keeps, whoever made it.
void expect_sound(const Problem& p, const cuda::AroundCall& plan, DType call_out, const std::string& who) {
  SCOPED_TRACE(who + " " + describe(p) + " alpha=" + std::to_string(p.alpha));
  const bool half = p.c.dtype == DType::f16 || p.c.dtype == DType::bf16;
  if (p.alpha == 0.0 || p.k == 0) {
    EXPECT_FALSE(plan.call);
  }
  if (!cuda::has_bias(p)) {
    EXPECT_FALSE(plan.fill);
    EXPECT_FALSE(plan.bias_in_pass);
  }
  EXPECT_FALSE(plan.fill && plan.bias_in_pass);
  EXPECT_FALSE(plan.fill && plan.staged);
  // A 16-bit output is rounded once: staged whenever the pass adds a bias
  // or applies a smooth activation to the library's result.
  if (half && plan.call && (plan.bias_in_pass || cuda::is_smooth(plan.pass_act))) {
    EXPECT_TRUE(plan.staged);
  }
  if (plan.call) {
    EXPECT_EQ(call_out, plan.staged ? DType::f32 : p.c.dtype);
  }
  if (plan.pass()) {
    auto kernel = pass_kernel(p, plan, call_out);
    EXPECT_TRUE(kernel.ok()) << kernel.error().to_string();
  }
  if (plan.fill) {
    auto fill = cuda::epilogue_kernel_for(call_out, std::nullopt, p.bias_desc.dtype, Activation::none);
    EXPECT_TRUE(fill.ok()) << fill.error().to_string();
  }
}

TEST(EpiloguePlans, EveryCublasAndCublasLtPlanIsSoundAndFindsItsKernel) {
  int plans = 0;
  for (const Problem& p : planning_problems()) {
    const cuda::AroundCall plain = cuda::plain_library_call(p);
    expect_sound(p, plain, plain.staged ? DType::f32 : p.c.dtype, "CUBLAS");
    ++plans;
    for (const Variant& v : backends::cublaslt::variant_order(false, false)) {
      auto s = make_setup(p, 90, v);
      ASSERT_TRUE(s.ok()) << describe(p) << ": " << s.error().to_string();
      cuda::AroundCall around = s.value().around;
      if (p.alpha == 0.0) around = cuda::without_product(p);  // the backend's no-product kernel
      expect_sound(p, around, s.value().out.dtype, "CUBLASLT" + s.value().tag);
      ++plans;
    }
  }
  std::cout << "[ plans    ] " << plans << " plans checked\n";
}

TEST(EpiloguePlans, CublasStagesSixteenBitOutputsAndFoldsTheBiasIntoThePass) {
  Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 64, 64}, "nt");
  p.activation = Activation::gelu;
  cuda::AroundCall plan = cuda::plain_library_call(p);
  EXPECT_TRUE(plan.call && plan.staged && plan.bias_in_pass && !plan.fill);
  EXPECT_EQ(plan.pass_act, Activation::gelu);
  EXPECT_EQ(cuda::describe(plan, p), "; f32 output staged, then one pass: + beta*bias, gelu, rounded once into C");
  // relu commutes with rounding: in place, no staging.
  p = gpu_problem(Op::mm, DType::bf16, {1, 64, 64, 64}, "nt");
  p.activation = Activation::relu;
  plan = cuda::plain_library_call(p);
  EXPECT_TRUE(plan.call && !plan.staged && !plan.bias_in_pass && plan.pass_act == Activation::relu);
  // f32 with a bias alone: the call's beta*C reads a filled C (no pass after).
  p = gpu_problem(Op::addmm, DType::f32, {1, 64, 64, 64}, "nt");
  plan = cuda::plain_library_call(p);
  EXPECT_TRUE(plan.fill && !plan.pass());
  // ...and with an activation, the bias joins the pass instead (one pass, not two).
  p.activation = Activation::silu;
  plan = cuda::plain_library_call(p);
  EXPECT_TRUE(!plan.fill && plan.bias_in_pass && !plan.staged && plan.pass_act == Activation::silu);
}

TEST(EpiloguePlans, BetaZeroIgnoresTheBiasAndAlphaZeroSkipsTheProduct) {
  Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 64, 64}, "nt");
  p.beta = 0.0;
  cuda::AroundCall plan = cuda::plain_library_call(p);
  EXPECT_FALSE(plan.pass());  // C = A.B straight from the library, the bias never read
  p.beta = 2.0;
  p.alpha = 0.0;
  p.activation = Activation::gelu_tanh;
  plan = cuda::plain_library_call(p);
  EXPECT_FALSE(plan.call);  // A and B never read: their NaN and Inf do not propagate
  EXPECT_TRUE(plan.bias_in_pass);
  EXPECT_EQ(plan.pass_act, Activation::gelu_tanh);
  EXPECT_EQ(cuda::describe(plan, p), "; alpha = 0: no library call, one pass writes act(beta*bias)");
}

TEST(CublasLtEpilogue, GeluTanhWithARowBiasIsOneFusedCallWithNoPass) {
  Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 64, 64}, "nt");
  p.activation = Activation::gelu_tanh;
  auto s = make_setup(p, 90, Variant{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().epilogue, CUBLASLT_EPILOGUE_GELU_BIAS);
  EXPECT_FALSE(s.value().around.pass());
  EXPECT_EQ(s.value().tag, "_ebiasgelu");
  EXPECT_TRUE(s.value().fused_gelu());
  // Unfused: the bias still through cuBLASLt? No: nothing fused; staged, one pass.
  auto u = make_setup(p, 90, Variant{false, false, true, false});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u.value().epilogue, CUBLASLT_EPILOGUE_DEFAULT);
  EXPECT_EQ(u.value().tag, "_pbias_f32out_pgelu_tanh");
}

TEST(CublasLtEpilogue, GeluTanhIsNotFusedForAnF16OutputWhereCublasLtsGeluMissesByAnUlp) {
  Problem p = gpu_problem(Op::mm, DType::f16, {1, 64, 64, 64}, "nt");
  p.activation = Activation::gelu_tanh;
  auto s = make_setup(p, 90, Variant{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().epilogue, CUBLASLT_EPILOGUE_DEFAULT);
  EXPECT_TRUE(s.value().staged());
  EXPECT_EQ(s.value().around.pass_act, Activation::gelu_tanh);
  EXPECT_EQ(s.value().tag, "_f32out_pgelu_tanh");
}

TEST(CublasLtEpilogue, ExactGeluKeepsTheBiasFusedAndRoundsOnceAfterThePass) {
  Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 64, 64}, "nt");
  p.activation = Activation::gelu;
  auto s = make_setup(p, 90, Variant{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().epilogue, CUBLASLT_EPILOGUE_BIAS);
  EXPECT_TRUE(s.value().staged());
  EXPECT_EQ(s.value().around.pass_act, Activation::gelu);
  EXPECT_FALSE(s.value().around.bias_in_pass);
  EXPECT_EQ(s.value().tag, "_ebias_f32out_pgelu");
}

// PyTorch's relu keeps NaN; cuBLASLt's RELU epilogue in f32 kernels made it
// 0 on an H100 (GpuSpecialValues), its kernels for bf16 inputs kept it (bf16
// and f32 outputs). f32 inputs take relu in the pass.
TEST(CublasLtEpilogue, ReluIsFusedOnlyForSixteenBitInputsBecauseF32KernelsTurnNanIntoZero) {
  for (Op op : {Op::mm, Op::addmm}) {
    Problem p = gpu_problem(op, DType::f32, {1, 64, 64, 64}, "nt");
    p.activation = Activation::relu;
    auto s = make_setup(p, 90, Variant{});
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s.value().epilogue, op == Op::addmm ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
    EXPECT_EQ(s.value().around.pass_act, Activation::relu);
    for (DType out : {DType::bf16, DType::f32}) {  // bf16 in: fused, whatever the output
      Problem h = gpu_problem(op, DType::bf16, {1, 64, 64, 64}, "nt");
      h.activation = Activation::relu;
      h.c.dtype = h.bias_desc.dtype = out;
      auto t = make_setup(h, 90, Variant{});
      ASSERT_TRUE(t.ok());
      EXPECT_EQ(t.value().epilogue, op == Op::addmm ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU);
      EXPECT_EQ(t.value().around.pass_act, Activation::none);
    }
  }
}

TEST(CublasLtEpilogue, BiasRoutesFollowBetaLayoutAndDtype) {
  // A scaled row bias cannot use the BIAS epilogue (it adds the bias
  // unscaled): on f32 with gelu_tanh it is filled for the call's beta*C and
  // gelu_tanh stays fused.
  Problem p = gpu_problem(Op::addmm, DType::f32, {1, 64, 64, 64}, "nt");
  p.beta = 0.5;
  p.activation = Activation::gelu_tanh;
  auto s = make_setup(p, 90, Variant{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().bias, BiasRoute::fill);
  EXPECT_EQ(s.value().epilogue, CUBLASLT_EPILOGUE_GELU);
  EXPECT_EQ(s.value().beta_call, 0.5);
  // On bf16 it joins the pass (staged: rounded once).
  p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 64, 64}, "nt");
  p.activation = Activation::relu;
  p.beta = 0.5;
  s = make_setup(p, 90, Variant{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().bias, BiasRoute::pass);
  EXPECT_TRUE(s.value().staged());
  EXPECT_EQ(s.value().beta_call, 0.0);
  // A full f32 bias is read as C, with gelu_tanh fused after it.
  p = gpu_problem(Op::addmm, DType::f32, {1, 64, 64, 64}, "nt");
  p.bias = BiasKind::full;
  p.bias_desc = MatrixDesc::row_major(DType::f32, 64, 64);
  p.activation = Activation::gelu_tanh;
  s = make_setup(p, 90, Variant{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().bias, BiasRoute::as_c);
  EXPECT_EQ(s.value().epilogue, CUBLASLT_EPILOGUE_GELU);
  EXPECT_FALSE(s.value().around.pass());
  // A column-major C takes no BIAS epilogue (it is per row of D there).
  p = gpu_problem(Op::addmm, DType::f32, {1, 64, 64, 64}, "nt");
  p.c = MatrixDesc::col_major(DType::f32, 64, 64);
  s = make_setup(p, 90, Variant{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().bias, BiasRoute::fill);
  // int_mm: cuBLASLt's relu epilogue is for floats; the pass does it.
  p = gpu_problem(Op::int_mm, DType::i8, {1, 64, 64, 64}, "nt");
  p.activation = Activation::relu;
  s = make_setup(p, 90, Variant{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().epilogue, CUBLASLT_EPILOGUE_DEFAULT);
  EXPECT_EQ(s.value().around.pass_act, Activation::relu);
}

TEST(CublasLtEpilogue, EveryVariantOfAProblemHasItsOwnTagOrTheSameSetup) {
  // build() finds a choice's variant by its tag: two variants with one tag
  // must be the same way of running the problem.
  for (const Problem& p : planning_problems()) {
    std::vector<std::pair<std::string, std::string>> seen;  // tag -> epilogue summary
    for (const Variant& v : backends::cublaslt::variant_order(false, false)) {
      auto s = make_setup(p, 90, v);
      ASSERT_TRUE(s.ok());
      const auto& a = s.value().around;
      const std::string summary = std::to_string(static_cast<int>(s.value().bias)) +
                                  std::to_string(static_cast<int>(s.value().epilogue)) + std::to_string(a.staged) +
                                  std::to_string(a.fill) + std::to_string(a.bias_in_pass) +
                                  std::to_string(static_cast<int>(a.pass_act));
      for (const auto& [tag, other] : seen)
        if (tag == s.value().tag) {
          EXPECT_EQ(other, summary) << describe(p) << " " << tag;
        }
      seen.emplace_back(s.value().tag, summary);
    }
  }
}

// ---- the kernels ----

TEST(EpilogueKernels, NamesAreDistinctAndEveryActivationIsCovered) {
  std::vector<std::string> names;
  for (const auto& k : cuda::all_epilogue_kernels()) names.push_back(cuda::kernel_name(k));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "gemmtune_epilogue_bf16_f32_f32_gelu_tanh"), names.end());
  for (Activation act : kActivations)
    for (DType out : {DType::f32, DType::f64, DType::f16, DType::bf16})
      EXPECT_TRUE(cuda::epilogue_kernel_for(out, std::nullopt, std::nullopt, act).ok())
          << to_string(out) << " " << to_string(act);
  auto missing = cuda::epilogue_kernel_for(DType::bf16, DType::bf16, std::nullopt, Activation::gelu);
  ASSERT_FALSE(missing.ok());  // a 16-bit in-place gelu would round twice: never planned, never built
  EXPECT_EQ(missing.error().reason, Reason::internal_error);
}

TEST(EpilogueKernels, EveryInstantiationCompilesWithNvrtcForHopperAndAmpere) {
  const std::string why = cuda::nvrtc_unavailable_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  const auto& all = cuda::all_epilogue_kernels();
  for (const char* arch : {"sm_90", "sm_80"}) {
    auto cubin = cuda::compile_source_for(cuda::epilogue_source(all), arch, {});
    ASSERT_TRUE(cubin.ok()) << arch << ": " << cubin.error().message;
    const std::string bytes(cubin.value().begin(), cubin.value().end());
    for (const auto& k : all) EXPECT_NE(bytes.find(cuda::kernel_name(k)), std::string::npos) << arch << " lacks "
                                                                                           << cuda::kernel_name(k);
  }
  std::cout << "[ compiled ] " << all.size() << " epilogue kernels for sm_90 and sm_80\n";
}

// ---- launch geometry ----

cuda::EpilogueOperands operands(DType out, std::int64_t m, std::int64_t n, std::int64_t batch = 1) {
  cuda::EpilogueOperands op;
  op.dst_desc = MatrixDesc::row_major(out, m, n);
  op.dst_desc.batch_stride = m * n;
  op.src_desc = MatrixDesc::row_major(DType::f32, m, n);
  op.src_desc.batch_stride = m * n;
  op.dst = reinterpret_cast<void*>(std::uintptr_t{1} << 20);
  op.src = reinterpret_cast<const void*>(std::uintptr_t{1} << 24);
  op.m = m;
  op.n = n;
  op.batch = batch;
  return op;
}

TEST(EpilogueLaunch, AlignedRowsGoSixteenBytesAtATimeAlongTheColumns) {
  cuda::EpilogueOperands op = operands(DType::bf16, 2048, 14336);
  op.bias = reinterpret_cast<const void*>(std::uintptr_t{1} << 28);
  op.bias_desc = MatrixDesc::row_major(DType::bf16, 1, 14336);
  op.row_bias = true;
  const auto launch = cuda::plan_epilogue_launch(op, 132);
  EXPECT_EQ(launch.params.vector, 1);
  EXPECT_EQ(launch.params.inner, 14336);
  EXPECT_EQ(launch.params.outer, 2048);
  EXPECT_EQ(launch.params.dst_is, 1);
  EXPECT_EQ(launch.params.bias_os, 0);  // one bias row for every output row
  EXPECT_EQ(launch.params.bias_is, 1);
  EXPECT_EQ(launch.block[0] * launch.block[1], 256u);
  // Every 8-element vector of a row has a thread: 1792 lanes.
  EXPECT_GE(std::int64_t{launch.grid[0]} * launch.block[0], 1792);
  EXPECT_LE(launch.grid[1], 65535u);
  EXPECT_GE(launch.grid[1], 1u);
}

TEST(EpilogueLaunch, OddStridesAndMisalignedPointersFallBackToElements) {
  cuda::EpilogueOperands op = operands(DType::bf16, 64, 100);
  op.dst_desc.row_stride = 104;  // 208-byte rows: every row aligned; 12 vectors and a tail each
  op.src_desc.row_stride = 104;
  EXPECT_EQ(cuda::plan_epilogue_launch(op, 132).params.vector, 1);
  op.dst_desc.row_stride = 101;  // 202-byte rows: not every row 16-byte aligned
  EXPECT_EQ(cuda::plan_epilogue_launch(op, 132).params.vector, 0);
  op = operands(DType::bf16, 64, 100);
  op.dst = reinterpret_cast<void*>((std::uintptr_t{1} << 20) + 2);
  EXPECT_EQ(cuda::plan_epilogue_launch(op, 132).params.vector, 0);
  op = operands(DType::bf16, 64, 100);
  op.src_desc.col_stride = 2;
  op.src_desc.row_stride = 200;
  EXPECT_EQ(cuda::plan_epilogue_launch(op, 132).params.vector, 0);
  op = operands(DType::bf16, 64, 100, 3);
  op.dst_desc.batch_stride = 64 * 100 + 3;  // batches start unaligned
  EXPECT_EQ(cuda::plan_epilogue_launch(op, 132).params.vector, 0);
}

TEST(EpilogueLaunch, ColumnMajorOutputsRunAlongTheirColumns) {
  cuda::EpilogueOperands op = operands(DType::f32, 96, 40);
  op.dst_desc = MatrixDesc::col_major(DType::f32, 96, 40);
  op.src_desc = MatrixDesc::col_major(DType::f32, 96, 40);
  op.bias = reinterpret_cast<const void*>(std::uintptr_t{1} << 28);
  op.bias_desc = MatrixDesc::row_major(DType::f32, 1, 40);
  op.row_bias = true;
  const auto launch = cuda::plan_epilogue_launch(op, 132);
  EXPECT_EQ(launch.params.inner, 96);
  EXPECT_EQ(launch.params.outer, 40);
  EXPECT_EQ(launch.params.dst_os, 96);
  EXPECT_EQ(launch.params.bias_is, 0);  // one bias value per output column: a scalar per row of the walk
  EXPECT_EQ(launch.params.bias_os, 1);
  EXPECT_EQ(launch.params.vector, 1);
}

TEST(EpilogueLaunch, NarrowOutputsPutSeveralRowsInABlockAndEmptyOnesLaunchNothing) {
  cuda::EpilogueOperands op = operands(DType::f32, 100000, 3);
  auto launch = cuda::plan_epilogue_launch(op, 132);
  EXPECT_EQ(launch.params.vector, 0);  // 12-byte rows
  EXPECT_EQ(launch.block[0], 4u);
  EXPECT_EQ(launch.block[1], 64u);
  op = operands(DType::f32, 100000, 1);  // a single column is walked along its length
  op.dst_desc = MatrixDesc::col_major(DType::f32, 100000, 1);
  op.src_desc = MatrixDesc::col_major(DType::f32, 100000, 1);
  launch = cuda::plan_epilogue_launch(op, 132);
  EXPECT_EQ(launch.params.inner, 100000);
  EXPECT_TRUE(cuda::plan_epilogue_launch(operands(DType::f32, 0, 8), 132).empty);
  EXPECT_TRUE(cuda::plan_epilogue_launch(operands(DType::f32, 8, 8, 0), 132).empty);
}

// ---- on the GPU ----

std::int64_t elements_of(const MatrixDesc& d, std::int64_t batch) { return d.span(batch); }

struct DeviceMatrixData {
  MatrixDesc desc;
  std::vector<unsigned char> host;
  runtime::DeviceBuffer device;
};

// Random values in [-range, range] at every element (gaps of strided
// layouts too), uploaded.
DeviceMatrixData upload(const MatrixDesc& desc, std::int64_t batch, std::uint64_t seed, double range) {
  DeviceMatrixData d;
  d.desc = desc;
  const std::int64_t count = std::max<std::int64_t>(elements_of(desc, batch), 1);
  d.host.resize(static_cast<std::size_t>(count) * dtype_size(desc.dtype));
  for (std::int64_t i = 0; i < count; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(seed >> 11) / 9007199254740992.0;
    numeric::store_from_double(d.host.data(), desc.dtype, i,
                               desc.dtype == DType::i32 ? std::round((2 * u - 1) * 1000) : (2 * u - 1) * range);
  }
  auto& rt = gpu_testing::device();
  auto buffer = rt.allocate(d.host.size());
  EXPECT_TRUE(buffer.ok());
  if (!buffer) return d;
  d.device = std::move(buffer.value());
  EXPECT_TRUE(rt.copy_from_host(d.device.get(), d.host.data(), d.host.size()).ok());
  return d;
}

std::int64_t at(const MatrixDesc& d, std::int64_t b, std::int64_t i, std::int64_t j) {
  return b * d.batch_stride + i * d.row_stride + j * d.col_stride;
}

double half_ulp(DType t) {
  switch (t) {
    case DType::f64: return 0x1.0p-53;
    case DType::f32: return 0x1.0p-24;
    case DType::f16: return 0x1.0p-11;
    case DType::bf16: return 0x1.0p-8;
    default: return 0;
  }
}

struct PassCase {
  std::string name;
  cuda::EpilogueKernel kernel;
  MatrixDesc dst, src, bias;
  bool has_src = true, has_bias = false, row_bias = false, in_place = false;
  double beta = 1.0;
  std::int64_t batch = 1, m = 0, n = 0;
};

// Runs the pass and compares every element with act(src + beta*bias) in
// double, rounded to dst's dtype: within one rounding of the output plus
// the f32 activation's few ulps; elements outside the output untouched.
void check_pass(const PassCase& c) {
  SCOPED_TRACE(c.name);
  auto& rt = gpu_testing::device();
  auto pass = cuda::load_epilogue(rt, c.kernel);
  ASSERT_TRUE(pass.ok()) << pass.error().to_string();
  DeviceMatrixData dst = upload(c.dst, c.batch, 11, 4.0);
  DeviceMatrixData src = c.has_src && !c.in_place ? upload(c.src, c.batch, 23, 6.0) : DeviceMatrixData{};
  DeviceMatrixData bias = c.has_bias ? upload(c.bias, c.batch, 37, 3.0) : DeviceMatrixData{};
  cuda::EpilogueOperands op;
  if (c.has_src) {
    op.src = c.in_place ? dst.device.get() : src.device.get();
    op.src_desc = c.in_place ? c.dst : c.src;
  }
  if (c.has_bias) {
    op.bias = bias.device.get();
    op.bias_desc = c.bias;
    op.row_bias = c.row_bias;
  }
  op.beta = c.beta;
  op.dst = dst.device.get();
  op.dst_desc = c.dst;
  op.batch = c.batch;
  op.m = c.m;
  op.n = c.n;
  std::cout << "[ pass     ] " << c.name << ": " << (cuda::plan_epilogue_launch(op, 132).params.vector ? "16-byte vectors" : "elements") << "\n";
  ASSERT_TRUE(cuda::launch_epilogue(rt, static_cast<CUstream>(rt.stream()), pass.value(), op).ok());
  std::vector<unsigned char> got(dst.host.size());
  ASSERT_TRUE(rt.copy_to_host(got.data(), dst.device.get(), got.size()).ok());
  std::vector<bool> written(static_cast<std::size_t>(std::max<std::int64_t>(elements_of(c.dst, c.batch), 1)), false);
  int bad = 0;
  for (std::int64_t b = 0; b < c.batch; ++b)
    for (std::int64_t i = 0; i < c.m; ++i)
      for (std::int64_t j = 0; j < c.n; ++j) {
        const std::int64_t o = at(c.dst, b, i, j);
        written[static_cast<std::size_t>(o)] = true;
        double x = 0, magnitude = 0;
        if (c.has_src) {
          const auto& s = c.in_place ? dst : src;
          x = numeric::load_as_double(s.host.data(), s.desc.dtype, at(s.desc, b, i, j));
          magnitude = std::fabs(x);
        }
        if (c.has_bias) {
          const double term = c.beta * numeric::load_as_double(bias.host.data(), c.bias.dtype,
                                                                at(c.bias, b, c.row_bias ? 0 : i, j));
          x += term;
          magnitude += std::fabs(term);
        }
        const double want = numeric::activate(c.kernel.act, x);
        const double value = numeric::load_as_double(got.data(), c.dst.dtype, o);
        // One rounding of the output, plus the f32 sum's and activation's
        // few ulps of the operands' magnitude (the verifier's scale).
        const double allowed = 2 * half_ulp(c.dst.dtype) * std::fabs(want) +
                               (c.dst.dtype == DType::i32 ? 0.0 : 4e-7 * magnitude + 1e-38);
        if (!(std::fabs(value - want) <= allowed) && bad++ < 5)
          ADD_FAILURE() << "[" << b << "," << i << "," << j << "] = " << value << ", want " << want << " (x = " << x
                        << ")";
      }
  for (std::size_t o = 0; o < written.size(); ++o) {
    if (written[o]) continue;
    const std::size_t size = dtype_size(c.dst.dtype);
    if (std::memcmp(got.data() + o * size, dst.host.data() + o * size, size) != 0 && bad++ < 10)
      ADD_FAILURE() << "offset " << o << " is outside the output and was written";
  }
}

PassCase named(std::string name, cuda::EpilogueKernel kernel) {
  PassCase c;
  c.name = std::move(name);
  c.kernel = kernel;
  return c;
}

std::vector<PassCase> pass_cases() {
  std::vector<PassCase> out;
  auto row = [](DType t, std::int64_t m, std::int64_t n, std::int64_t batch = 1) {
    MatrixDesc d = MatrixDesc::row_major(t, m, n);
    d.batch_stride = batch > 1 ? m * n : 0;
    return d;
  };
  {
    PassCase c = named("bf16_from_f32_rowbias_gelu_tanh_tail", {DType::bf16, DType::f32, DType::bf16, Activation::gelu_tanh});
    c.m = 37;
    c.n = 1029;  // 128 vectors and a 5-element tail per row
    c.dst = row(DType::bf16, c.m, c.n);
    c.src = row(DType::f32, c.m, c.n);
    c.bias = row(DType::bf16, 1, c.n);
    c.has_bias = c.row_bias = true;
    out.push_back(c);
  }
  {
    PassCase c = named("f16_from_f32_f32_fullbias_gelu_colmajor", {DType::f16, DType::f32, DType::f32, Activation::gelu});
    c.m = 200;
    c.n = 24;
    c.dst = MatrixDesc::col_major(DType::f16, c.m, c.n);
    c.src = MatrixDesc::col_major(DType::f32, c.m, c.n);
    c.bias = MatrixDesc::col_major(DType::f32, c.m, c.n);
    c.has_bias = true;
    c.beta = -0.5;
    out.push_back(c);
  }
  {
    PassCase c = named("bf16_in_place_relu_padded_rows", {DType::bf16, DType::bf16, DType::bf16, Activation::relu});
    c.m = 33;
    c.n = 70;
    c.dst = row(DType::bf16, c.m, c.n);
    c.dst.row_stride = 73;  // unaligned rows: element by element
    c.in_place = true;
    out.push_back(c);
  }
  {
    PassCase c = named("f32_in_place_rowbias_silu_batches", {DType::f32, DType::f32, DType::f32, Activation::silu});
    c.batch = 3;
    c.m = 50;
    c.n = 260;
    c.dst = row(DType::f32, c.m, c.n);
    c.dst.batch_stride = c.m * c.n + 16;  // gaps between batches, still aligned
    c.bias = row(DType::f32, 1, c.n);     // batch stride 0: shared by every batch
    c.has_bias = c.row_bias = true;
    c.beta = 1.5;
    c.in_place = true;
    out.push_back(c);
  }
  {
    PassCase c = named("f64_in_place_fullbias_gelu", {DType::f64, DType::f64, DType::f64, Activation::gelu});
    c.m = 31;
    c.n = 45;
    c.dst = row(DType::f64, c.m, c.n);
    c.bias = row(DType::f64, c.m, c.n);
    c.has_bias = true;
    c.beta = 0.25;
    c.in_place = true;
    out.push_back(c);
  }
  {
    PassCase c = named("i32_in_place_relu", {DType::i32, DType::i32, DType::i32, Activation::relu});
    c.m = 17;
    c.n = 129;
    c.dst = row(DType::i32, c.m, c.n);
    c.in_place = true;
    out.push_back(c);
  }
  {
    PassCase c = named("bf16_no_product_rowbias_gelu_tanh", {DType::bf16, DType::f32, DType::bf16, Activation::gelu_tanh});
    c.m = 19;
    c.n = 64;
    c.dst = row(DType::bf16, c.m, c.n);
    c.bias = row(DType::bf16, 1, c.n);
    c.has_src = false;
    c.has_bias = c.row_bias = true;
    c.beta = 2.0;
    out.push_back(c);
  }
  {
    PassCase c = named("f32_fill_rowbias", {DType::f32, DType::f32, DType::f32, Activation::none});
    c.m = 64;
    c.n = 96;
    c.dst = row(DType::f32, c.m, c.n);
    c.bias = row(DType::f32, 1, c.n);
    c.has_src = false;
    c.has_bias = c.row_bias = true;
    out.push_back(c);
  }
  {
    PassCase c = named("f32_zeros", {DType::f32, DType::f32, DType::f32, Activation::none});
    c.m = 5;
    c.n = 7;
    c.dst = row(DType::f32, c.m, c.n);
    c.has_src = false;
    out.push_back(c);
  }
  {
    PassCase c = named("bf16_single_column_from_f32_silu", {DType::bf16, DType::f32, DType::bf16, Activation::silu});
    c.m = 5000;
    c.n = 1;
    c.dst = MatrixDesc::col_major(DType::bf16, c.m, c.n);
    c.src = MatrixDesc::col_major(DType::f32, c.m, c.n);
    out.push_back(c);
  }
  return out;
}

TEST(EpiloguePassOnGpu, MatchesTheHostOnEveryRouteLayoutAndTail) {
  GEMMTUNE_REQUIRE_GPU();
  for (const PassCase& c : pass_cases()) {
    check_pass(c);
    if (HasFatalFailure()) return;
  }
}

TEST(EpiloguePassOnGpu, ReluKeepsNanAndTheActivationsFollowTheirFormulasAtInfinity) {
  GEMMTUNE_REQUIRE_GPU();
  auto& rt = gpu_testing::device();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x{NAN, -inf, inf, -3.0f, 0.0f, 3.0f, -1e30f, 1e30f};
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  auto src = rt.allocate(x.size() * 4);
  auto dst = rt.allocate(x.size() * 4);
  ASSERT_TRUE(src.ok() && dst.ok());
  ASSERT_TRUE(rt.copy_from_host(src.value().get(), x.data(), x.size() * 4).ok());
  for (Activation act : kActivations) {
    SCOPED_TRACE(std::string(to_string(act)));
    auto pass = cuda::load_epilogue(rt, cuda::EpilogueKernel{DType::f32, DType::f32, DType::f32, act});
    ASSERT_TRUE(pass.ok());
    cuda::EpilogueOperands op;
    op.src = src.value().get();
    op.src_desc = MatrixDesc::row_major(DType::f32, 1, n);
    op.dst = dst.value().get();
    op.dst_desc = op.src_desc;
    op.m = 1;
    op.n = n;
    ASSERT_TRUE(cuda::launch_epilogue(rt, static_cast<CUstream>(rt.stream()), pass.value(), op).ok());
    std::vector<float> got(x.size());
    ASSERT_TRUE(rt.copy_to_host(got.data(), dst.value().get(), got.size() * 4).ok());
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (act == Activation::relu && std::isnan(x[i])) continue;  // below
      const double want = numeric::activate(act, x[i]);
      if (std::isinf(want)) {
        EXPECT_EQ(got[i], want) << "x = " << x[i];
      } else if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got[i])) << "x = " << x[i] << ": " << got[i];
      } else {
        EXPECT_NEAR(got[i], want, 1e-6 * std::fabs(want)) << "x = " << x[i];
      }
    }
    if (act == Activation::relu) {
      EXPECT_TRUE(std::isnan(got[0])) << "relu(NaN) must stay NaN";
    }
  }
}

}  // namespace
}  // namespace gemmtune
