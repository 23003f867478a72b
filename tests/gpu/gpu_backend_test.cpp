// CUBLAS, CUBLASLT and CUDA on the GPU: conformance against the GPU reference
// over ops, dtypes, layouts, odd sizes and epilogues (a backend either
// serves a case correctly or rejects it with a catalogued "unsupported"
// reason; where the table says it must serve, a rejection fails), plus the
// runtime's measurement, the algorithm names, rebuilding from a stored name,
// and the tuner choosing among the two.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <thread>

#include "backends/cublas/cublas_backend.h"
#include "backends/cublaslt/cublaslt_backend.h"
#include "backends/cuda/cuda_backend.h"
#include "gemmtune/errors.h"
#include "gemmtune/tuner.h"
#include "gpu/gpu_testing.h"
#include "measure/inputs.h"
#include "measure/verify.h"
#include "runtime/cuda/blas_common.h"
#include "util/numeric.h"

namespace gemmtune {
namespace {

using gpu_testing::gpu_problem;
using gpu_testing::Shape;

enum class Serve { must, may, never };

struct GpuCase {
  std::string name;
  Problem problem;
  Serve cublas = Serve::must;
  Serve cublaslt = Serve::must;
  Serve own = Serve::may;  // CUDA, gemmtune's own kernels
};

std::vector<GpuCase> make_gpu_cases() {
  std::vector<GpuCase> out;
  auto add = [&](std::string name, Problem p, Serve blas, Serve lt, Serve own = Serve::may) {
    out.push_back({std::move(name), std::move(p), blas, lt, own});
  };
  const Serve M = Serve::must, Y = Serve::may, N = Serve::never;
  add("mm_f32_nn", gpu_problem(Op::mm, DType::f32, {1, 64, 48, 40}), M, M);
  {
    Problem p = gpu_problem(Op::mm, DType::f32, {1, 96, 80, 256}, "nt");
    p.allow_tf32 = true;
    add("mm_f32_tf32_nt", p, M, M);
  }
  add("mm_f64_nt_odd", gpu_problem(Op::mm, DType::f64, {1, 33, 31, 17}, "nt"), M, Y);
  add("mm_f16_tn_odd", gpu_problem(Op::mm, DType::f16, {1, 37, 29, 23}, "tn"), M, Y, M);
  add("mm_bf16_nt", gpu_problem(Op::mm, DType::bf16, {1, 128, 256, 64}, "nt"), M, M, M);
  add("mm_bf16_tt", gpu_problem(Op::mm, DType::bf16, {1, 64, 72, 96}, "tt"), M, M, M);
  {
    Problem p = gpu_problem(Op::mm, DType::bf16, {1, 48, 40, 64}, "nt");
    p.c.dtype = DType::f32;
    add("mm_bf16_out_f32", p, M, M, M);
  }
  add("mm_bf16_m1_gemv", gpu_problem(Op::mm, DType::bf16, {1, 1, 4096, 4096}, "nt"), M, M, M);
  // Skinny shapes, the CUDA backend's: K and N tails, two row tiles, split-K.
  add("skinny_bf16_m5_nt_k_tail", gpu_problem(Op::mm, DType::bf16, {1, 5, 200, 1000}, "nt"), M, M, M);
  add("skinny_f16_m16_nn", gpu_problem(Op::mm, DType::f16, {1, 16, 512, 768}, "nn"), M, M, M);
  add("skinny_bf16_m17_nn_n_tail", gpu_problem(Op::mm, DType::bf16, {1, 17, 1000, 264}, "nn"), M, M, M);
  add("skinny_bf16_m2_nt_long_k", gpu_problem(Op::mm, DType::bf16, {1, 2, 64, 14336}, "nt"), M, M, M);
  {
    Problem p = gpu_problem(Op::mm, DType::bf16, {1, 8, 72, 136}, "nt");
    p.c.dtype = DType::f32;
    add("skinny_bf16_m8_out_f32", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 32, 96, 64}, "nt");
    p.bias_desc.dtype = DType::f32;
    p.alpha = 0.5;
    p.beta = 2.0;
    p.activation = Activation::gelu;
    add("skinny_addmm_bf16_m32_f32_bias_gelu", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f16, {1, 3, 40, 48}, "nn");
    p.activation = Activation::silu;
    add("skinny_addmm_f16_m3_nn_silu", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::mm, DType::bf16, {1, 4, 64, 96}, "nt");
    p.a.row_stride = 104;  // padded rows of A
    p.c = MatrixDesc::col_major(DType::bf16, 4, 64);
    add("skinny_bf16_padded_a_colmajor_c", p, M, M, M);
  }
  add("skinny_bf16_tn_served_by_templates", gpu_problem(Op::mm, DType::bf16, {1, 8, 64, 64}, "tn"), M, M, M);
  add("mm_bf16_m33_served_by_templates", gpu_problem(Op::mm, DType::bf16, {1, 33, 64, 64}, "nt"), M, M, M);
  add("mm_bf16_large_sampled", gpu_problem(Op::mm, DType::bf16, {1, 512, 1024, 2048}, "nt"), M, M, M);
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 128, 64}, "nt");
    p.activation = Activation::relu;
    add("addmm_bf16_rowbias_relu", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 128, 64}, "nt");
    p.activation = Activation::gelu;
    add("addmm_bf16_rowbias_gelu", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f32, {1, 40, 24, 56});
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::f32, 40, 24);
    p.alpha = 0.5;
    p.beta = 2.0;
    p.activation = Activation::silu;
    add("addmm_f32_fullbias_silu_alpha_beta", p, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 32, 64, 128}, "nt");
    p.bias_desc.dtype = DType::f32;
    add("addmm_bf16_f32_rowbias", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f16, {1, 32, 48, 64});
    p.beta = 0.5;
    add("addmm_f16_rowbias_beta_half", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::bmm, DType::bf16, {4, 32, 48, 64}, "nt");
    p.b.batch_stride = 0;
    add("bmm_bf16_broadcast_b", p, M, Y, M);
  }
  {
    Problem p = gpu_problem(Op::baddbmm, DType::f32, {3, 24, 40, 16});
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::f32, 24, 40);
    p.bias_desc.batch_stride = 24 * 40;
    add("baddbmm_f32_fullbias", p, M, M);
  }
  // The CUDA backend's templates: every layout with M, N and K tails,
  // split-K, batches, padded and unaligned strides, every epilogue.
  for (const char* layout : {"nn", "nt", "tn", "tt"})
    add(std::string("tmpl_bf16_tails_") + layout, gpu_problem(Op::mm, DType::bf16, {1, 200, 328, 136}, layout), M, M, M);
  add("tmpl_f16_tt_k_tail", gpu_problem(Op::mm, DType::f16, {1, 130, 264, 100}, "tt"), M, M, M);
  add("tmpl_bf16_large_nn", gpu_problem(Op::mm, DType::bf16, {1, 1024, 2048, 1024}, "nn"), M, M, M);
  add("tmpl_bf16_split_k_nt", gpu_problem(Op::mm, DType::bf16, {1, 128, 1024, 8192}, "nt"), M, M, M);
  add("tmpl_f16_split_k_tn", gpu_problem(Op::mm, DType::f16, {1, 96, 512, 4096}, "tn"), M, M, M);
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 200, 136, 72}, "nt");
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::f32, 200, 136);
    p.c.dtype = DType::f32;
    p.alpha = 0.5;
    p.beta = 2.0;
    p.activation = Activation::silu;
    add("tmpl_addmm_bf16_fullbias_f32_out_silu", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f16, {1, 300, 264, 512}, "nn");
    p.activation = Activation::relu;
    add("tmpl_addmm_f16_rowbias_relu_nn", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 512, 768, 256}, "nt");
    p.activation = Activation::gelu;
    p.beta = 0.25;
    add("tmpl_addmm_bf16_gelu_beta", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::baddbmm, DType::bf16, {3, 96, 80, 64}, "nn");
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::bf16, 96, 80);
    p.bias_desc.batch_stride = 96 * 80;
    add("tmpl_baddbmm_bf16_fullbias_batched", p, M, Y, M);
  }
  {
    Problem p = gpu_problem(Op::bmm, DType::f16, {5, 72, 136, 88}, "tn");
    add("tmpl_bmm_f16_tn", p, M, Y, M);
  }
  {
    Problem p = gpu_problem(Op::mm, DType::bf16, {1, 192, 200, 96}, "nt");
    p.a.row_stride = 104;  // padded, still 16-byte rows: TMA
    p.b.col_stride = 112;
    p.c.row_stride = 208;
    add("tmpl_bf16_padded_tma", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::mm, DType::bf16, {1, 100, 60, 36}, "nn");
    p.a.row_stride = 37;  // rows not 16-byte aligned: element-wise loads
    add("tmpl_bf16_unaligned_rows", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::mm, DType::f16, {1, 64, 64, 64}, "nt");
    p.alignment = 8;  // pointers only 8-byte aligned
    add("tmpl_f16_alignment_8", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 40, 56, 0}, "nt");
    p.beta = 2.0;
    p.activation = Activation::gelu;
    add("tmpl_addmm_bf16_k0", p, M, M, M);
  }
  add("tmpl_bf16_m0", gpu_problem(Op::mm, DType::bf16, {1, 0, 64, 64}, "nt"), M, M, M);
  // A batch of none: nothing to launch (a grid of 0 batches is not a launch
  // the driver takes), through the portable templates (8-byte aligned) and
  // the Hopper ones.
  for (int alignment : {8, 16}) {
    Problem p = gpu_problem(Op::bmm, DType::bf16, {0, 64, 64, 64}, "nn");
    p.alignment = alignment;
    add("tmpl_bmm_bf16_batch0_align" + std::to_string(alignment), p, Y, Y, M);
  }
  {
    // More batches and more row tiles than a grid's y and z hold (65535):
    // the portable templates launch in slices.
    Problem many = gpu_problem(Op::bmm, DType::bf16, {70000, 8, 8, 8}, "nn");
    many.alignment = 8;
    add("tmpl_bmm_bf16_70000_batches_portable", many, Y, Y, M);
    Problem tall = gpu_problem(Op::mm, DType::f16, {1, 65535 * 64 + 100, 8, 8}, "nn");
    tall.alignment = 8;
    add("tmpl_mm_f16_rows_beyond_one_grid_portable", tall, Y, Y, M);
  }
  {
    // Interleaved batches (A stored [M][batch][K], as a head-major view of
    // activations): the batch stride is below the row stride, so A's tensor
    // map has strides that do not grow with the dimension. The driver's
    // documentation does not forbid it; this row checks it does not refuse.
    Problem p = gpu_problem(Op::bmm, DType::bf16, {8, 128, 128, 64}, "nn");
    p.a.row_stride = 8 * 64;
    p.a.batch_stride = 64;
    add("tmpl_bmm_bf16_interleaved_batches_tma", p, Y, Y, M);
  }
  add("int_mm_i8_nt", gpu_problem(Op::int_mm, DType::i8, {1, 64, 32, 64}, "nt"), M, Y);
  add("int_mm_i8_nn", gpu_problem(Op::int_mm, DType::i8, {1, 48, 64, 32}, "nn"), N, Y);
  add("int_mm_u8_rejected", gpu_problem(Op::int_mm, DType::u8, {1, 64, 32, 64}, "nt"), N, N);
  {
    Problem p = gpu_problem(Op::int_mm, DType::i8, {1, 32, 32, 30}, "nt");
    add("int_mm_i8_k_not_multiple_of_4", p, N, Y);
  }
  add("scaled_mm_e4m3_nt", gpu_problem(Op::scaled_mm, DType::f8e4m3, {1, 64, 64, 64}, "nt"), N, M);
  {
    Problem p = gpu_problem(Op::scaled_mm, DType::f8e4m3, {1, 64, 128, 64}, "nt");
    p.b.dtype = DType::f8e5m2;
    p.c.dtype = DType::f32;
    p.scale_a = ScaleKind::per_channel;
    p.scale_b = ScaleKind::per_channel;
    add("scaled_mm_e4m3_e5m2_per_channel", p, N, Y);
  }
  {
    Problem p = gpu_problem(Op::scaled_mm, DType::f8e4m3, {1, 64, 64, 64}, "nt");
    p.bias = BiasKind::row;
    p.bias_desc = MatrixDesc::row_major(DType::bf16, 1, 64);
    add("scaled_mm_e4m3_rowbias", p, N, Y);
  }
  add("scaled_mm_nn_rejected", gpu_problem(Op::scaled_mm, DType::f8e4m3, {1, 64, 64, 64}, "nn"), N, N);
  add("mixed_mm_rejected", gpu_problem(Op::mixed_mm, DType::bf16, {1, 16, 16, 16}), N, N);
  {
    Problem p = gpu_problem(Op::mm, DType::f32, {1, 45, 27, 19}, "tn");
    p.c = MatrixDesc::col_major(DType::f32, 45, 27);
    add("mm_f32_colmajor_c", p, M, M);
  }
  {
    Problem p = gpu_problem(Op::mm, DType::bf16, {1, 40, 56, 24});
    p.a.row_stride = 32;  // padded rows
    p.c.row_stride = 64;
    add("mm_bf16_padded_strides", p, M, M, M);
  }
  {
    Problem p = gpu_problem(Op::mm, DType::f32, {1, 16, 16, 16});
    p.b.row_stride = 32;
    p.b.col_stride = 2;
    add("mm_f32_no_unit_stride_rejected", p, N, N);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f32, {1, 12, 20, 0});
    p.beta = 2.0;
    p.activation = Activation::gelu;
    add("addmm_f32_k0", p, M, M);
  }
  add("mm_f32_m0", gpu_problem(Op::mm, DType::f32, {1, 0, 16, 16}), M, M);
  // The epilogue pass and cuBLASLt's fusions: every dtype route, odd widths
  // (vector tails), column-major C, batches, alpha = 0 and beta = 0.
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 136, 64}, "nt");
    p.activation = Activation::gelu_tanh;
    add("addmm_bf16_rowbias_gelu_tanh", p, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f32, {1, 40, 24, 56}, "nt");
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::f32, 40, 24);
    p.alpha = -1.5;
    p.beta = 0.5;
    p.activation = Activation::gelu_tanh;
    add("addmm_f32_fullbias_gelu_tanh_alpha_beta", p, M, M);
  }
  {
    Problem p = gpu_problem(Op::mm, DType::f16, {1, 33, 67, 40}, "tn");
    p.activation = Activation::gelu_tanh;
    add("mm_f16_odd_width_gelu_tanh", p, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 48, 72, 64}, "nt");
    p.c = MatrixDesc::col_major(DType::bf16, 48, 72);
    p.activation = Activation::silu;
    add("addmm_bf16_colmajor_c_rowbias_silu", p, M, M);
  }
  {
    Problem p = gpu_problem(Op::baddbmm, DType::bf16, {3, 40, 96, 32}, "nt");
    p.bias_desc.batch_stride = 104;  // a row bias per batch
    p.beta = -0.75;
    p.activation = Activation::gelu;
    add("baddbmm_bf16_rowbias_per_batch_gelu", p, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 32, 64, 48}, "nt");
    p.alpha = 0.0;
    p.activation = Activation::relu;
    add("addmm_bf16_alpha0_relu", p, M, M);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::f32, {1, 32, 64, 48});
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::f32, 32, 64);
    p.beta = 0.0;
    p.activation = Activation::gelu_tanh;
    add("addmm_f32_beta0_gelu_tanh", p, M, M);
  }
  {
    Problem p = gpu_problem(Op::int_mm, DType::i8, {1, 64, 32, 64}, "nt");
    p.activation = Activation::relu;
    add("int_mm_i8_nt_relu", p, M, Y);
  }
  return out;
}

// Built once: tests hold references into it.
const std::vector<GpuCase>& gpu_cases() {
  static const std::vector<GpuCase> cases = make_gpu_cases();
  return cases;
}

// First, last and evenly spread choices in between.
std::vector<Choice> sample(const std::vector<Choice>& all, std::size_t most) {
  if (all.size() <= most) return all;
  std::vector<Choice> out;
  for (std::size_t i = 0; i < most; ++i) out.push_back(all[i * (all.size() - 1) / (most - 1)]);
  return out;
}

// Builds and runs one choice on fresh inputs; checks it against the GPU
// reference (full check for small problems, a sample for large ones).
void check_choice(Backend& backend, const Problem& p, const Choice& choice, std::uint64_t seed) {
  auto& rt = gpu_testing::device();
  TuningContext ctx = gpu_testing::context();
  ctx.compile_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto kernel = backend.build(p, choice, ctx);
  ASSERT_TRUE(kernel.ok()) << choice.name << ": " << kernel.error().to_string();
  const measure::HostData host = measure::make_host_data(p, seed);
  auto set = measure::upload(rt, host);
  ASSERT_TRUE(set.ok()) << set.error().to_string();
  auto sample_ref = measure::make_reference(rt, p, set.value().args(), VerifyMode::automatic, seed);
  ASSERT_TRUE(sample_ref.ok()) << sample_ref.error().to_string();
  ASSERT_TRUE(measure::poison_output(rt, set.value()).ok());
  Status ran = kernel.value()->run(set.value().args(), RunContext{rt.stream()});
  ASSERT_TRUE(ran.ok()) << choice.name << ": " << ran.error().to_string();
  ASSERT_TRUE(rt.synchronize().ok());
  auto verified = measure::verify_output(rt, p, set.value(), sample_ref.value());
  ASSERT_TRUE(verified.ok()) << choice.name << " (" << choice.description << "): " << verified.error().to_string();
}

struct Param {
  const char* backend;
  std::size_t index;
};

std::shared_ptr<Backend> make(const char* name) {
  const std::string n(name);
  if (n == "CUBLAS") return backends::make_cublas_backend();
  if (n == "CUBLASLT") return backends::make_cublaslt_backend();
  return backends::make_cuda_backend();
}

class GpuConformance : public ::testing::TestWithParam<Param> {};

TEST_P(GpuConformance, ServesCorrectlyOrRejectsAsUnsupported) {
  GEMMTUNE_REQUIRE_GPU();
  const GpuCase& c = gpu_cases()[GetParam().index];
  const std::string backend_name = GetParam().backend;
  const Serve serve = backend_name == "CUBLAS" ? c.cublas : backend_name == "CUBLASLT" ? c.cublaslt : c.own;
  validate(c.problem);
  auto backend = make(GetParam().backend);
  ASSERT_TRUE(backend->availability().available) << backend->availability().why;
  for (SearchSpace space : {SearchSpace::standard, SearchSpace::exhaustive}) {
    TuningContext ctx = gpu_testing::context();
    ctx.search_space = space;
    auto choices = backend->enumerate(c.problem, ctx);
    if (!choices) {
      std::cout << "[ rejects  ] " << backend_name << " " << c.name << ": " << choices.error().to_string() << "\n";
      ASSERT_NE(serve, Serve::must) << backend_name << " must serve " << c.name << ": " << choices.error().to_string();
      EXPECT_TRUE(is_unsupported(choices.error().reason)) << choices.error().to_string();
      return;
    }
    ASSERT_NE(serve, Serve::never) << backend_name << " offered " << choices.value().size() << " choices for "
                                   << c.name << ", which it cannot serve";
    ASSERT_FALSE(choices.value().empty());
    std::set<std::string> names;
    for (const auto& choice : choices.value()) EXPECT_TRUE(names.insert(choice.name).second) << choice.name;
    if (space == SearchSpace::standard) {
      std::cout << "[ offers   ] " << backend_name << " " << c.name << ": " << choices.value().size()
                << " choices, first " << choices.value().front().name << "\n";
      std::uint64_t seed = 17;
      for (const auto& choice : sample(choices.value(), 3)) check_choice(*backend, c.problem, choice, ++seed);
    } else {
      std::cout << "[ offers   ] " << backend_name << " " << c.name << " (exhaustive): " << choices.value().size()
                << " choices\n";
      std::uint64_t seed = 71;
      for (const auto& choice : sample(choices.value(), 3)) check_choice(*backend, c.problem, choice, ++seed);
    }
    if (HasFatalFailure()) return;
  }
}

std::vector<Param> all_params() {
  std::vector<Param> out;
  for (const char* backend : {"CUBLAS", "CUBLASLT", "CUDA"})
    for (std::size_t i = 0; i < gpu_cases().size(); ++i) out.push_back({backend, i});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Table, GpuConformance, ::testing::ValuesIn(all_params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::string(info.param.backend) + "_" + gpu_cases()[info.param.index].name;
                         });

// ---- beyond the table ----

TEST(Cublas, OffersOnlyTheDefaultAlgorithmWhereCublasIgnoresTheOthers) {
  GEMMTUNE_REQUIRE_GPU();
  if (gpu_testing::device().info().sm() < 80) GTEST_SKIP() << "pre-Ampere GPU: explicit algorithms are honoured";
  auto backend = backends::make_cublas_backend();
  TuningContext ctx = gpu_testing::context();
  ctx.search_space = SearchSpace::exhaustive;
  auto choices = backend->enumerate(gpu_problem(Op::mm, DType::f32, {1, 64, 64, 64}), ctx);
  ASSERT_TRUE(choices.ok()) << choices.error().to_string();
  for (const auto& c : choices.value()) EXPECT_EQ(c.name.find("cublas_algo"), std::string::npos) << c.name;
  EXPECT_NE(choices.value().front().description.find("no effect"), std::string::npos)
      << choices.value().front().description;
}

TEST(CublasLt, ExhaustiveOffersMoreThanDefaultUnderStableNames) {
  GEMMTUNE_REQUIRE_GPU();
  auto backend = backends::make_cublaslt_backend();
  const Problem p = gpu_problem(Op::mm, DType::bf16, {1, 1024, 1024, 1024}, "nt");
  auto standard = backend->enumerate(p, gpu_testing::context());
  TuningContext ex = gpu_testing::context();
  ex.search_space = SearchSpace::exhaustive;
  auto exhaustive = backend->enumerate(p, ex);
  ASSERT_TRUE(standard.ok()) << standard.error().to_string();
  ASSERT_TRUE(exhaustive.ok()) << exhaustive.error().to_string();
  EXPECT_LE(standard.value().size(), static_cast<std::size_t>(backends::cublaslt::kDefaultLimit));
  EXPECT_GT(exhaustive.value().size(), standard.value().size());
  std::cout << "[ counts   ] default " << standard.value().size() << ", exhaustive " << exhaustive.value().size()
            << "\n";
  for (const auto& c : exhaustive.value())
    EXPECT_TRUE(backends::cublaslt::parse_algo_name(c.name).has_value()) << c.name;
  // Same library, same problem: the same names again (no list positions).
  auto again = backend->enumerate(p, gpu_testing::context());
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again.value().size(), standard.value().size());
  for (std::size_t i = 0; i < again.value().size(); ++i) EXPECT_EQ(again.value()[i].name, standard.value()[i].name);
}

TEST(CublasLt, ChoiceRebuiltFromItsNameAloneComputesCorrectly) {
  GEMMTUNE_REQUIRE_GPU();
  auto backend = backends::make_cublaslt_backend();
  Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 256, 512, 128}, "nt");
  p.activation = Activation::relu;
  auto choices = backend->enumerate(p, gpu_testing::context());
  ASSERT_TRUE(choices.ok()) << choices.error().to_string();
  for (const auto& c : sample(choices.value(), 3)) {
    std::cout << "[ rebuild  ] " << c.name << "\n";
    check_choice(*backend, p, Choice{c.name, ""}, 5);
    if (HasFatalFailure()) return;
  }
}

TEST(CublasLt, ReportsTheWorkspaceItsAlgorithmUses) {
  GEMMTUNE_REQUIRE_GPU();
  auto backend = backends::make_cublaslt_backend();
  const Problem p = gpu_problem(Op::mm, DType::bf16, {1, 16, 4096, 4096}, "nt");
  auto choices = backend->enumerate(p, gpu_testing::context());
  ASSERT_TRUE(choices.ok()) << choices.error().to_string();
  std::size_t most = 0;
  for (const auto& c : choices.value()) {
    auto kernel = backend->build(p, c, gpu_testing::context());
    ASSERT_TRUE(kernel.ok()) << kernel.error().to_string();
    EXPECT_LE(kernel.value()->workspace_bytes(), backends::cublaslt::kDefaultWorkspaceBytes);
    most = std::max(most, kernel.value()->workspace_bytes());
  }
  std::cout << "[ workspace] largest among " << choices.value().size() << " choices: " << most << " bytes\n";
}

TEST(CublasLt, GeluIsNotFusedBecauseCublasLtsGeluIsTheTanhForm) {
  GEMMTUNE_REQUIRE_GPU();
  auto backend = backends::make_cublaslt_backend();
  Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 64, 64}, "nt");
  p.activation = Activation::gelu;
  auto choices = backend->enumerate(p, gpu_testing::context());
  ASSERT_TRUE(choices.ok()) << choices.error().to_string();
  // The bias in cuBLASLt's BIAS epilogue where it takes this bias and f32
  // output (on an H100 with CUDA 13.0 it took none for a bf16
  // bias with f32 D: every choice offered was the unfused variant's, whose
  // pass adds the bias), gelu in the pass.
  for (const auto& c : choices.value()) {
    EXPECT_TRUE(c.name.ends_with("_ebias_f32out_pgelu") || c.name.ends_with("_pbias_f32out_pgelu")) << c.name;
    EXPECT_NE(c.description.find("tanh form"), std::string::npos) << c.description;
  }
}

// cuBLASLt's GELU_BIAS serves gelu_tanh with no pass at all; because it is
// cuBLASLt's own evaluation, the unfused variant stands by with a few
// algorithms, and every offered choice (fused or not) must verify or be
// rejected at verify -- this prints which.
TEST(CublasLt, GeluTanhIsFusedWithTheUnfusedVariantStandingBy) {
  GEMMTUNE_REQUIRE_GPU();
  auto backend = backends::make_cublaslt_backend();
  for (DType out : {DType::bf16, DType::f32}) {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 128, 256, 192}, "nt");
    p.c.dtype = out;
    p.bias_desc.dtype = out;
    p.activation = Activation::gelu_tanh;
    auto choices = backend->enumerate(p, gpu_testing::context());
    ASSERT_TRUE(choices.ok()) << choices.error().to_string();
    int fused = 0, unfused = 0;
    for (const auto& c : choices.value()) {
      if (c.name.ends_with("_ebiasgelu")) ++fused;
      if (c.name.ends_with("_pgelu_tanh")) ++unfused;
    }
    std::cout << "[ gelu_tanh] " << to_string(out) << " out: " << fused << " fused, " << unfused << " standing by\n";
    EXPECT_GT(fused, 0);
    EXPECT_GT(unfused, 0);
    EXPECT_EQ(fused + unfused, static_cast<int>(choices.value().size()));
    const measure::HostData host = measure::make_host_data(p, 3);
    auto& rt = gpu_testing::device();
    auto set = measure::upload(rt, host);
    ASSERT_TRUE(set.ok());
    auto ref = measure::make_reference(rt, p, set.value().args(), VerifyMode::full, 3);
    ASSERT_TRUE(ref.ok());
    for (const auto& c : sample(choices.value(), 4)) {
      auto kernel = backend->build(p, c, gpu_testing::context());
      ASSERT_TRUE(kernel.ok()) << kernel.error().to_string();
      ASSERT_TRUE(measure::poison_output(rt, set.value()).ok());
      ASSERT_TRUE(kernel.value()->run(set.value().args(), RunContext{rt.stream()}).ok());
      auto verified = measure::verify_output(rt, p, set.value(), ref.value());
      std::cout << "[ verify   ] " << c.name << ": "
                << (verified.ok() ? "verifies" : "rejected: " + verified.error().to_string()) << "\n";
      if (c.name.ends_with("_pgelu_tanh")) {
        EXPECT_TRUE(verified.ok()) << verified.error().to_string();
      }
    }
  }
}

// relu keeps NaN (the rule every backend follows): a NaN in A's first row
// makes C's first row NaN through every CUBLAS and CUBLASLT choice, fused
// RELU/RELU_BIAS epilogues and the pass alike; the other rows stay finite.
TEST(LibraryEpilogues, ReluKeepsNanThroughEveryChoice) {
  GEMMTUNE_REQUIRE_GPU();
  auto& rt = gpu_testing::device();
  for (const char* which : {"CUBLAS", "CUBLASLT"})
    for (DType out : {DType::bf16, DType::f32}) {
      Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 32, 64, 48}, "nt");
      p.c.dtype = out;
      p.bias_desc.dtype = out;
      p.activation = Activation::relu;
      auto backend = make(which);
      auto choices = backend->enumerate(p, gpu_testing::context());
      ASSERT_TRUE(choices.ok()) << choices.error().to_string();
      measure::HostData host = measure::make_host_data(p, 9);
      static_cast<std::uint16_t*>(host.a.data())[0] = 0x7fc0;  // bf16 NaN at A[0][0]
      auto set = measure::upload(rt, host);
      ASSERT_TRUE(set.ok());
      for (const auto& c : sample(choices.value(), 6)) {
        SCOPED_TRACE(std::string(which) + " " + c.name);
        auto kernel = backend->build(p, c, gpu_testing::context());
        ASSERT_TRUE(kernel.ok()) << kernel.error().to_string();
        ASSERT_TRUE(kernel.value()->run(set.value().args(), RunContext{rt.stream()}).ok());
        std::vector<unsigned char> got(set.value().c.bytes());
        ASSERT_TRUE(rt.copy_to_host(got.data(), set.value().c.get(), got.size()).ok());
        int finite_first_row = 0, nan_elsewhere = 0;
        for (std::int64_t i = 0; i < p.m; ++i)
          for (std::int64_t j = 0; j < p.n; ++j) {
            const double v = numeric::load_as_double(got.data(), out, i * p.c.row_stride + j * p.c.col_stride);
            if (i == 0 && !std::isnan(v)) ++finite_first_row;
            if (i > 0 && std::isnan(v)) ++nan_elsewhere;
          }
        EXPECT_EQ(finite_first_row, 0) << "relu turned NaN into numbers";
        EXPECT_EQ(nan_elsewhere, 0);
      }
    }
}

// ---- the runtime ----

TEST(CudaRuntimeOnGpu, FingerprintNamesTheCardAndDriverButNoLibrary) {
  GEMMTUNE_REQUIRE_GPU();
  const std::string f = gpu_testing::device().fingerprint();
  std::cout << "[ device   ] " << f << "\n";
  EXPECT_EQ(f.rfind("gpu=", 0), 0u) << f;
  for (const char* part : {";sm=", ";sms=", ";l2=", ";driver="}) EXPECT_NE(f.find(part), std::string::npos) << f;
  // Library versions are the library backends' own (keyed where they are enabled).
  EXPECT_EQ(f.find("cublas"), std::string::npos) << f;
  EXPECT_GT(gpu_testing::device().last_level_cache_bytes(), 0u);
}

TEST(CudaRuntimeOnGpu, FailedCallsNameTheCall) {
  GEMMTUNE_REQUIRE_GPU();
  auto buffer = gpu_testing::device().allocate(std::size_t{1} << 52);
  ASSERT_FALSE(buffer.ok());
  EXPECT_EQ(buffer.error().reason, Reason::out_of_resources);
  EXPECT_NE(buffer.error().message.find("cuMemAlloc"), std::string::npos) << buffer.error().message;
  EXPECT_NE(buffer.error().message.find("CUDA_ERROR_OUT_OF_MEMORY"), std::string::npos) << buffer.error().message;
}

TEST(CudaRuntimeOnGpu, CopiesRoundTripInOrderWithTheStream) {
  GEMMTUNE_REQUIRE_GPU();
  auto& rt = gpu_testing::device();
  std::vector<std::uint32_t> in(1 << 20), out(1 << 20, 0);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint32_t>(i * 2654435761u);
  auto a = rt.allocate(in.size() * 4);
  auto b = rt.allocate(in.size() * 4);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(rt.copy_from_host(a.value().get(), in.data(), in.size() * 4).ok());
  ASSERT_TRUE(rt.fill_bytes(b.value().get(), 0xab, in.size() * 4).ok());  // queued, then overwritten
  ASSERT_TRUE(rt.copy_on_device(b.value().get(), a.value().get(), in.size() * 4).ok());
  ASSERT_TRUE(rt.copy_to_host(out.data(), b.value().get(), out.size() * 4).ok());
  EXPECT_EQ(in, out);
}

TEST(CudaRuntimeOnGpu, GatherPacksTheElementsAtTheOffsetsInOrderForEveryWidth) {
  GEMMTUNE_REQUIRE_GPU();
  auto& rt = gpu_testing::device();
  std::vector<unsigned char> host(8 * 1000 + 1);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<unsigned char>(i * 7 + i / 256);
  auto buffer = rt.allocate(host.size());
  ASSERT_TRUE(buffer.ok()) << buffer.error().to_string();
  ASSERT_TRUE(rt.copy_from_host(buffer.value().get(), host.data(), host.size()).ok());
  // More than one block of 128 threads, repeats, the first and last elements.
  std::vector<std::int64_t> offsets;
  for (std::int64_t s = 0; s < 300; ++s) offsets.push_back((s * 337) % 1000);
  offsets.push_back(0);
  offsets.push_back(999);
  const auto* base = static_cast<const unsigned char*>(buffer.value().get());
  // From the byte after the start too: no alignment is assumed.
  for (std::size_t shift : {0, 1}) {
    for (std::size_t width : {1, 2, 4, 8}) {
      std::vector<unsigned char> got(offsets.size() * width, 0);
      ASSERT_TRUE(rt.gather(got.data(), base + shift, width, offsets).ok());
      for (std::size_t s = 0; s < offsets.size(); ++s)
        ASSERT_EQ(std::memcmp(got.data() + s * width, host.data() + shift + offsets[s] * width, width), 0)
            << "width " << width << ", shift " << shift << ", element " << s;
    }
  }
  EXPECT_TRUE(rt.gather(nullptr, base, 2, {}).ok());
}

// A bandwidth-bound pass over 8 MiB in and 8 MiB out, which L2 holds. Warm:
// the same pass runs just before the timed one (untimed), so its data is in
// L2; cold: the runtime's scrub runs there instead. Both keep the GPU busy
// up to the timed region, so the only difference is where the data comes
// from, and cold must be slower: what makes the tuner's cold timing mean
// something.
TEST(CudaRuntimeOnGpu, ScrubbingL2MakesAnL2ResidentPassSlower) {
  GEMMTUNE_REQUIRE_GPU();
  auto& rt = gpu_testing::device();
  const std::int64_t rows = 2048, cols = 1024;  // 2M f32
  const MatrixDesc desc = MatrixDesc::row_major(DType::f32, rows, cols);
  auto src = rt.allocate(static_cast<std::size_t>(rows * cols) * 4);
  auto dst = rt.allocate(static_cast<std::size_t>(rows * cols) * 4);
  ASSERT_TRUE(src.ok() && dst.ok());
  ASSERT_TRUE(rt.fill_bytes(src.value().get(), 0x3f, src.value().bytes()).ok());
  auto pass = cuda::load_epilogue(rt, cuda::EpilogueKernel{DType::f32, DType::f32, DType::f32, Activation::none});
  ASSERT_TRUE(pass.ok()) << pass.error().to_string();
  cuda::EpilogueOperands op;
  op.src = src.value().get();
  op.src_desc = desc;
  op.dst = dst.value().get();
  op.dst_desc = desc;
  op.m = rows;
  op.n = cols;
  auto run = [&](int) { return cuda::launch_epilogue(rt, static_cast<CUstream>(rt.stream()), pass.value(), op); };
  MeasureOptions options;
  options.budget_ms = 5;
  options.min_repeats = 200;
  auto warm = rt.measure(run, run, options, 0);
  auto cold = rt.measure(run, [&](int) { return rt.flush_caches({}); }, options, 0);
  ASSERT_TRUE(warm.ok()) << warm.error().to_string();
  ASSERT_TRUE(cold.ok()) << cold.error().to_string();
  std::cout << "[ timing   ] 16 MiB pass: warm " << warm.value().median_us << " us, cold " << cold.value().median_us
            << " us\n";
  EXPECT_GT(cold.value().median_us, warm.value().median_us);
}

TEST(CudaRuntimeOnGpu, GraphTimingReplaysACapturedRun) {
  GEMMTUNE_REQUIRE_GPU();
  auto& rt = gpu_testing::device();
  for (const char* which : {"CUBLAS", "CUBLASLT"}) {
    auto backend = make(which);
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 64, 256, 256}, "nt");
    p.activation = Activation::gelu;  // GEMM plus an elementwise kernel in the graph
    auto choices = backend->enumerate(p, gpu_testing::context());
    ASSERT_TRUE(choices.ok()) << choices.error().to_string();
    auto kernel = backend->build(p, choices.value().front(), gpu_testing::context());
    ASSERT_TRUE(kernel.ok()) << kernel.error().to_string();
    const measure::HostData host = measure::make_host_data(p, 8);
    auto set = measure::upload(rt, host);
    ASSERT_TRUE(set.ok());
    const GemmArgs args = set.value().args();
    int runs = 0;
    auto run = [&](int) {
      ++runs;
      return kernel.value()->run(args, RunContext{rt.stream()});
    };
    MeasureOptions options;
    options.cuda_graph = true;
    options.budget_ms = 5;
    auto timing = rt.measure(run, [](int) { return Status::success(); }, options, 0);
    ASSERT_TRUE(timing.ok()) << which << ": " << timing.error().to_string();
    EXPECT_EQ(runs, 2) << "one warm-up run and one captured run; the rest are replays";
    EXPECT_GT(timing.value().median_us, 0.0);
    std::cout << "[ graph    ] " << which << " " << timing.value().median_us << " us over "
              << timing.value().repeats << " replays\n";
    // The replays computed the right thing too.
    auto sample_ref = measure::make_reference(rt, p, args, VerifyMode::full, 1);
    ASSERT_TRUE(sample_ref.ok());
    auto verified = measure::verify_output(rt, p, set.value(), sample_ref.value());
    EXPECT_TRUE(verified.ok()) << verified.error().to_string();
  }
}

// ---- through the tuner ----

// A tuner of these backends that neither reads nor writes the results cache.
Tuner uncached_tuner(std::vector<std::string> backends, double budget_ms) {
  TuneOptions options;
  options.backends = std::move(backends);
  options.use_cache = false;
  options.measure.budget_ms = budget_ms;
  return Tuner(options);
}

TEST(TunerOnGpu, SelectsAVerifiedKernelAmongCublasAndCublasLt) {
  GEMMTUNE_REQUIRE_GPU();
  Tuner tuner = uncached_tuner({"CUBLAS", "CUBLASLT"}, 5);
  const Problem p = gpu_problem(Op::mm, DType::bf16, {1, 128, 4096, 4096}, "nt");
  Selection selection = tuner.select(p);
  std::cout << "[ winner   ] " << selection.backend() << "/" << selection.choice() << " "
            << selection.record().winner->time_us << " us\n";
  EXPECT_TRUE(selection.backend() == "CUBLAS" || selection.backend() == "CUBLASLT");
  int timed = 0;
  for (const auto& c : selection.record().choices) {
    if (c.ok()) ++timed;
    else std::cout << "[ rejected ] " << c.backend << "/" << c.name << ": " << c.rejection->to_string() << "\n";
  }
  EXPECT_GE(timed, 2);
  auto& rt = gpu_testing::device();
  const measure::HostData host = measure::make_host_data(p, 77);
  auto set = measure::upload(rt, host);
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE(measure::poison_output(rt, set.value()).ok());
  selection.run(set.value().args(), rt.stream());
  ASSERT_TRUE(rt.synchronize().ok());
  auto sample_ref = measure::make_reference(rt, p, set.value().args(), VerifyMode::sampled, 77);
  ASSERT_TRUE(sample_ref.ok());
  auto verified = measure::verify_output(rt, p, set.value(), sample_ref.value());
  EXPECT_TRUE(verified.ok()) << verified.error().to_string();
}

// ---- CUDA: gemmtune's own kernels ----

// K = 0 with the caller's own non-null A and B (a zero-width view of a live
// tensor): the tuner's empty operands are null, so tuning never showed that
// a Hopper kernel encoded tensor maps of dimension 0, which the driver
// refuses.
TEST(TunerOnGpu, AnEmptyProductRunsOnTheCallersNonNullOperands) {
  GEMMTUNE_REQUIRE_GPU();
  Tuner tuner = uncached_tuner({"CUDA"}, 2);
  Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 100, 72, 0}, "nn");
  p.beta = 2.0;
  p.alignment = 16;
  Selection selection = tuner.select(p);
  std::cout << "[ winner   ] " << selection.choice() << "\n";
  auto& rt = gpu_testing::device();
  const measure::HostData host = measure::make_host_data(p, 5);
  auto set = measure::upload(rt, host);
  ASSERT_TRUE(set.ok());
  auto dummy = rt.allocate(4096);
  ASSERT_TRUE(dummy.ok());
  GemmArgs args = set.value().args();
  args.a = dummy.value().get();
  args.b = dummy.value().get();
  ASSERT_TRUE(measure::poison_output(rt, set.value()).ok());
  EXPECT_NO_THROW(selection.run(args, rt.stream()));
  ASSERT_TRUE(rt.synchronize().ok());
  auto reference = measure::make_reference(rt, p, set.value().args(), VerifyMode::full, 5);
  ASSERT_TRUE(reference.ok());
  auto verified = measure::verify_output(rt, p, set.value(), reference.value());
  EXPECT_TRUE(verified.ok()) << verified.error().to_string();
}

// Every choice of the standard space (not a sample): these are the kernels a
// user gets by default, on shapes that reach every family and path.
TEST(CudaTemplates, EveryStandardChoiceComputesCorrectly) {
  GEMMTUNE_REQUIRE_GPU();
  auto backend = backends::make_cuda_backend();
  std::vector<Problem> problems = {
      gpu_problem(Op::mm, DType::bf16, {1, 1, 2048, 4096}, "nt"),
      gpu_problem(Op::mm, DType::bf16, {1, 16, 1024, 3072}, "nn"),
      gpu_problem(Op::mm, DType::f16, {1, 24, 520, 1000}, "nt"),
      gpu_problem(Op::mm, DType::bf16, {1, 1000, 1500, 700}, "nt"),
      gpu_problem(Op::mm, DType::bf16, {1, 1000, 1500, 700}, "nn"),
      gpu_problem(Op::mm, DType::f16, {1, 520, 1032, 264}, "tt"),
      gpu_problem(Op::mm, DType::bf16, {1, 128, 2048, 8192}, "nt"),
      gpu_problem(Op::bmm, DType::bf16, {6, 260, 200, 136}, "tn"),
  };
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 700, 900, 520}, "nt");
    p.activation = Activation::gelu;
    p.bias_desc.dtype = DType::f32;
    problems.push_back(p);
  }
  {
    // A full f32 bias and an f32 C: the staged epilogue's per-element bias
    // and 32-byte stores.
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 300, 520, 264}, "nt");
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::f32, 300, 520);
    p.c = MatrixDesc::row_major(DType::f32, 300, 520);
    p.activation = Activation::gelu_tanh;
    problems.push_back(p);
  }
  {
    // C's rows 1003 elements apart: no 16-byte (nor pair) stores, element by element.
    Problem p = gpu_problem(Op::mm, DType::bf16, {1, 1000, 1001, 512}, "nt");
    p.c.row_stride = 1003;
    problems.push_back(p);
  }
  int split = 0, hopper = 0;
  for (const Problem& p : problems) {
    TuningContext ctx = gpu_testing::context();
    ctx.compile_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto choices = backend->enumerate(p, ctx);
    ASSERT_TRUE(choices.ok()) << describe(p) << ": " << choices.error().to_string();
    std::cout << "[ offers   ] CUDA " << describe(p) << ": " << choices.value().size() << " choices\n";
    std::uint64_t seed = 5;
    for (const auto& choice : choices.value()) {
      split += (choice.name.starts_with("cuda_skinny_") && !choice.name.ends_with("_s1")) ||
               (choice.name.starts_with("cuda_sm90_") && !choice.name.ends_with("_k1"));
      hopper += choice.name.starts_with("cuda_sm90_");
      check_choice(*backend, p, choice, ++seed);
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_GT(split, 0) << "no split-K choice was offered, so none was checked";
  if (gpu_testing::device().info().sm() == 90) {
    EXPECT_GT(hopper, 0);
    // Clusters are in the exhaustive space only (never faster on the H100):
    // check them by name, on a problem with partial tiles in M, N and K
    // (K = 712: rows of 1424 bytes, the 16-byte multiple TMA needs).
    const Problem p = gpu_problem(Op::mm, DType::bf16, {1, 1000, 1500, 712}, "nt");
    for (const char* name : {"cuda_sm90_128x256_s4_c2_k1", "cuda_sm90_128x128_s6_c2_k1"}) {
      check_choice(*backend, p, Choice{name, {}}, 11);
      if (HasFatalFailure()) return;
    }
    // The 64x256 ping-pong, standard for problems with an activation (offered
    // on large ones only), in every layout with partial tiles and a row bias.
    for (const char* layout : {"nn", "nt", "tn", "tt"}) {
      Problem act = gpu_problem(Op::addmm, DType::bf16, {1, 1000, 1504, 712}, layout);
      act.activation = Activation::gelu;
      check_choice(*backend, act, Choice{"cuda_sm90_64x256_s5_c1_k1_pp", {}}, 13);
      if (HasFatalFailure()) return;
    }
  }
}

// Split-K leaves its scratch zero (tickets) for the next run: three runs in a
// row on fresh inputs must each be right, for the skinny and the Hopper kind.
TEST(CudaTemplates, SplitKScratchIsCleanForTheNextRun) {
  GEMMTUNE_REQUIRE_GPU();
  auto backend = backends::make_cuda_backend();
  struct Case {
    Problem p;
    std::string suffix;
  };
  std::vector<Case> cases = {{gpu_problem(Op::mm, DType::bf16, {1, 4, 256, 8192}, "nt"), "_s8"}};
  if (gpu_testing::device().info().sm() == 90)
    cases.push_back({gpu_problem(Op::mm, DType::bf16, {1, 256, 512, 8192}, "nt"), "_k4"});
  for (const Case& c : cases) {
    TuningContext ctx = gpu_testing::context();
    ctx.search_space = SearchSpace::exhaustive;
    ctx.compile_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto choices = backend->enumerate(c.p, ctx);
    ASSERT_TRUE(choices.ok()) << choices.error().to_string();
    auto it = std::find_if(choices.value().begin(), choices.value().end(),
                           [&](const Choice& ch) { return ch.name.ends_with(c.suffix); });
    ASSERT_NE(it, choices.value().end()) << c.suffix;
    auto kernel = backend->build(c.p, Choice{it->name, ""}, ctx);  // from the name alone
    ASSERT_TRUE(kernel.ok()) << kernel.error().to_string();
    EXPECT_GE(kernel.value()->workspace_bytes(), static_cast<std::size_t>(c.p.m * c.p.n * 4));
    auto& rt = gpu_testing::device();
    for (std::uint64_t seed : {1, 2, 3}) {
      const measure::HostData host = measure::make_host_data(c.p, seed);
      auto set = measure::upload(rt, host);
      ASSERT_TRUE(set.ok());
      auto ref = measure::make_reference(rt, c.p, set.value().args(), VerifyMode::full, seed);
      ASSERT_TRUE(ref.ok());
      ASSERT_TRUE(measure::poison_output(rt, set.value()).ok());
      ASSERT_TRUE(kernel.value()->run(set.value().args(), RunContext{rt.stream()}).ok());
      ASSERT_TRUE(rt.synchronize().ok());
      auto verified = measure::verify_output(rt, c.p, set.value(), ref.value());
      EXPECT_TRUE(verified.ok()) << it->name << " run " << seed << ": " << verified.error().to_string();
    }
  }
}

// The enabled list is law: CUDA alone serves every bf16/f16 GEMM (here one
// that needs the Hopper or portable templates), and says why it cannot serve
// f32, naming the disabled backends that would.
TEST(CudaTemplates, AloneItServesLargeShapesAndExplainsWhatItCannot) {
  GEMMTUNE_REQUIRE_GPU();
  Tuner tuner = uncached_tuner({"CUDA"}, 5);
  Selection s = tuner.select(gpu_problem(Op::mm, DType::bf16, {1, 512, 1024, 1024}, "nt"));
  EXPECT_EQ(s.backend(), "CUDA");
  try {
    tuner.select(gpu_problem(Op::mm, DType::f32, {1, 64, 256, 256}, "nt"));
    FAIL() << "CUDA served f32";
  } catch (const NoValidChoicesError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bf16 or f16"), std::string::npos) << what;
    EXPECT_NE(what.find("CUBLAS"), std::string::npos) << what;
  }
}

TEST(TunerOnGpu, SelectsCudaForADecodeShapeOnlyWhenItIsFaster) {
  GEMMTUNE_REQUIRE_GPU();
  Tuner tuner = uncached_tuner({"CUBLAS", "CUBLASLT", "CUDA"}, 10);
  Selection selection = tuner.select(gpu_problem(Op::mm, DType::bf16, {1, 1, 4096, 4096}, "nt"));
  double best_library = 0, best_own = 0;
  for (const auto& c : selection.record().choices) {
    if (!c.ok() || !c.timing) continue;
    double& best = c.backend == "CUDA" ? best_own : best_library;
    if (best == 0 || c.timing->median_us < best) best = c.timing->median_us;
  }
  std::cout << "[ winner   ] " << selection.backend() << "/" << selection.choice() << "; best library "
            << best_library << " us, best CUDA " << best_own << " us\n";
  ASSERT_GT(best_library, 0);
  ASSERT_GT(best_own, 0);
  // The winner is the faster side (ties within 1% may go to the library).
  if (selection.backend() == "CUDA") EXPECT_LE(best_own, best_library * 1.01);
  else EXPECT_LE(best_library, best_own * 1.01);
}

}  // namespace
}  // namespace gemmtune
