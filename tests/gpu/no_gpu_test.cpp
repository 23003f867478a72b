// The CUDA side of gemmtune on any machine: the loaders' messages, the
// backends and the runtime reporting themselves unavailable with the reason
// when there is no driver or no GPU (and rejecting, never crashing, when
// asked anyway), the column-major mapping, the stable algorithm names, and
// the device kernels compiling with NVRTC (which needs no GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <thread>

#include "backends/cublas/cublas_backend.h"
#include "backends/cublaslt/cublaslt_backend.h"
#include "backends/cuda/cuda_backend.h"
#include "gemmtune/tuner.h"
#include "gpu/gpu_testing.h"
#include "runtime/cuda/blas_common.h"
#include "runtime/cuda/cuda_api.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune {
namespace {

bool gpu_present() { return cuda::cuda_device(0).availability().available; }

// Mentions what is missing: the driver library, cuInit's error, or devices.
bool names_what_is_missing(const std::string& why) {
  return why.find("libcuda") != std::string::npos || why.find("cuInit") != std::string::npos ||
         why.find("CUDA device") != std::string::npos;
}

using gpu_testing::gpu_problem;

TEST(CudaLoader, MissingDriverLibraryIsNamedInTheError) {
  auto api = cuda::load_driver_api({"libgemmtune_no_such_driver.so.1"});
  EXPECT_FALSE(api.loaded);
  EXPECT_NE(api.error.find("libgemmtune_no_such_driver.so.1"), std::string::npos) << api.error;
}

TEST(CudaLoader, MissingLibrariesAreNamedForNvrtcCublasAndCublasLt) {
  auto nvrtc = cuda::load_nvrtc_api({"libgemmtune_no_nvrtc.so"});
  auto blas = cuda::load_cublas_api({"libgemmtune_no_cublas.so"});
  auto lt = cuda::load_cublaslt_api({"libgemmtune_no_cublaslt.so"});
  EXPECT_FALSE(nvrtc.loaded);
  EXPECT_FALSE(blas.loaded);
  EXPECT_FALSE(lt.loaded);
  EXPECT_NE(nvrtc.error.find("libgemmtune_no_nvrtc.so"), std::string::npos) << nvrtc.error;
  EXPECT_NE(blas.error.find("libgemmtune_no_cublas.so"), std::string::npos) << blas.error;
  EXPECT_NE(lt.error.find("libgemmtune_no_cublaslt.so"), std::string::npos) << lt.error;
}

TEST(CudaLoader, LibraryWithoutTheSymbolsReportsTheFirstMissingOne) {
  // libc loads everywhere and has none of cuBLAS's entry points.
  auto blas = cuda::load_cublas_api({"libc.so.6"});
  EXPECT_FALSE(blas.loaded);
  EXPECT_NE(blas.error.find("missing symbol cublasCreate_v2"), std::string::npos) << blas.error;
}

TEST(CudaLoader, LaterCandidateIsUsedWhenTheFirstIsMissing) {
  auto blas = cuda::load_cublas_api({"libgemmtune_no_cublas.so", "libc.so.6"});
  EXPECT_EQ(blas.library, "libc.so.6");  // opened; then the symbols are missing
  EXPECT_NE(blas.error.find("missing symbol"), std::string::npos) << blas.error;
}

TEST(CudaLoader, DriverErrorTextWorksWithoutADriver) {
  const std::string text = cuda::driver_error_text(CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_FALSE(text.empty());
  const Rejection r = cuda::driver_failure("cuMemAlloc(64 bytes)", CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(r.reason, Reason::out_of_resources);
  EXPECT_NE(r.message.find("cuMemAlloc(64 bytes) failed"), std::string::npos) << r.message;
}

TEST(CudaRuntimeWithoutGpu, ReportsUnavailableNamingWhatIsMissing) {
  auto& rt = runtime::cuda_runtime();
  if (gpu_present()) GTEST_SKIP() << "a GPU is present here (" << cuda::cuda_device(0).info().name << ")";
  EXPECT_EQ(rt.kind(), DeviceKind::cuda);
  EXPECT_FALSE(rt.availability().available);
  EXPECT_TRUE(names_what_is_missing(rt.availability().why)) << rt.availability().why;
  std::cout << "[ why      ] " << rt.availability().why << "\n";
  EXPECT_EQ(rt.fingerprint(), "cuda=unavailable");
}

TEST(CudaRuntimeWithoutGpu, EveryCallRejectsWithTheReasonInsteadOfCrashing) {
  auto& rt = runtime::cuda_runtime();
  if (gpu_present()) GTEST_SKIP() << "a GPU is present here";
  const std::string why = rt.availability().why;
  auto buffer = rt.allocate(1024);
  ASSERT_FALSE(buffer.ok());
  EXPECT_EQ(buffer.error().reason, Reason::unavailable);
  EXPECT_EQ(buffer.error().message, why);
  char host[16] = {};
  EXPECT_FALSE(rt.copy_from_host(reinterpret_cast<void*>(0x1000), host, sizeof(host)).ok());
  EXPECT_FALSE(rt.copy_to_host(host, reinterpret_cast<void*>(0x1000), sizeof(host)).ok());
  EXPECT_FALSE(rt.fill_bytes(reinterpret_cast<void*>(0x1000), 0xff, 16).ok());
  EXPECT_FALSE(rt.synchronize().ok());
  EXPECT_FALSE(rt.flush_caches({}).ok());
  EXPECT_EQ(rt.stream(), nullptr);
  int runs = 0;
  auto timing = rt.measure([&](int) { ++runs; return Status::success(); }, [](int) { return Status::success(); },
                           MeasureOptions{}, 0);
  EXPECT_FALSE(timing.ok());
  EXPECT_EQ(runs, 0);
  auto values = rt.reference(gpu_problem(Op::mm, DType::f32, {1, 8, 8, 8}), GemmArgs{}, {runtime::OutputIndex{0, 0, 0}});
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.error().reason, Reason::unavailable);
}

TEST(CudaRuntimeWithoutGpu, NonexistentDeviceIndexIsUnavailable) {
  auto& rt = cuda::cuda_device(97);
  EXPECT_FALSE(rt.availability().available);
  if (gpu_present())
    EXPECT_NE(rt.availability().why.find("cuda:97 does not exist"), std::string::npos) << rt.availability().why;
  else
    EXPECT_TRUE(names_what_is_missing(rt.availability().why)) << rt.availability().why;
}

TEST(GpuBackendsWithoutGpu, AreRegisteredInOrderAtTheEndOfTheList) {
  auto list = builtin_backends();
  std::vector<std::string> names;
  for (const auto& b : list) names.emplace_back(b->name());
  auto blas = std::find(names.begin(), names.end(), "CUBLAS");
  auto lt = std::find(names.begin(), names.end(), "CUBLASLT");
  auto own = std::find(names.begin(), names.end(), "CUDA");
  ASSERT_NE(blas, names.end());
  ASSERT_NE(lt, names.end());
  ASSERT_NE(own, names.end());
  // Library backends first (ties go to them), then gemmtune's own kernels.
  EXPECT_EQ(lt, blas + 1);
  EXPECT_EQ(own, lt + 1);
  EXPECT_EQ(own + 1, names.end());
  for (const auto& b : list)
    if (b->name() == "CUBLAS" || b->name() == "CUBLASLT" || b->name() == "CUDA") {
      EXPECT_EQ(b->device_kind(), DeviceKind::cuda);
    }
}

TEST(GpuBackendsWithoutGpu, ReportUnavailableWithTheRuntimesReason) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present here";
  for (const auto& backend : {backends::make_cublas_backend(), backends::make_cublaslt_backend()}) {
    const Availability a = backend->availability();
    EXPECT_FALSE(a.available) << backend->name();
    EXPECT_TRUE(names_what_is_missing(a.why)) << backend->name() << ": " << a.why;
    EXPECT_FALSE(backend->capabilities().empty());
    EXPECT_FALSE(backend->version().empty());
  }
}

TEST(GpuBackendsWithoutGpu, EnumerateAndBuildRejectInsteadOfCrashing) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present here";
  const Problem p = gpu_problem(Op::mm, DType::bf16, {1, 64, 64, 64});
  for (const auto& backend : {backends::make_cublas_backend(), backends::make_cublaslt_backend()}) {
    // The context holds the device as the tuner would hand it over.
    auto choices = backend->enumerate(p, gpu_testing::context());
    ASSERT_FALSE(choices.ok()) << backend->name();
    EXPECT_EQ(choices.error().reason, Reason::unavailable) << backend->name();
    auto kernel = backend->build(p, Choice{"cublas_default", ""}, gpu_testing::context());
    ASSERT_FALSE(kernel.ok()) << backend->name();
    EXPECT_EQ(kernel.error().reason, Reason::unavailable) << backend->name();
  }
}

// The device comes from the tuning context, never from a global: a context
// without one, or with a device that is not CUDA (a CPU runtime, a fake),
// is refused by name on any machine, GPU or not.
TEST(GpuBackends, TakeTheirDeviceFromTheContextAndRefuseAnyOther) {
  const Problem p = gpu_problem(Op::mm, DType::bf16, {1, 16, 64, 64});
  TuningContext cpu_device;
  cpu_device.device = &runtime::cpu_runtime();
  for (const auto& backend :
       {backends::make_cublas_backend(), backends::make_cublaslt_backend(), backends::make_cuda_backend()}) {
    auto none = backend->enumerate(p, TuningContext{});
    ASSERT_FALSE(none.ok()) << backend->name();
    EXPECT_NE(none.error().message.find("no device runtime"), std::string::npos) << none.error().to_string();
    auto wrong = backend->build(p, Choice{"cublas_default", ""}, cpu_device);
    ASSERT_FALSE(wrong.ok()) << backend->name();
    EXPECT_NE(wrong.error().message.find("not a CUDA device"), std::string::npos) << wrong.error().to_string();
  }
}

TEST(GpuBackendsWithoutGpu, TunerWithOnlyGpuBackendsSaysNoValidChoicesWithTheReason) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present here";
  TuneOptions options;
  options.backends = std::vector<std::string>{"CUBLAS", "CUBLASLT"};
  options.use_cache = false;
  Tuner tuner(options);
  try {
    tuner.tune(gpu_problem(Op::mm, DType::bf16, {1, 32, 32, 32}));
    FAIL() << "tuning on an unavailable GPU succeeded";
  } catch (const NoValidChoicesError& e) {
    const std::string report = e.what();
    EXPECT_NE(report.find("CUBLAS"), std::string::npos) << report;
    EXPECT_TRUE(names_what_is_missing(report)) << report;
  }
}

TEST(DeviceKernels, CompileWithNvrtcForHopperAndAmpere) {
  const std::string why = cuda::nvrtc_unavailable_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  for (const char* arch : {"sm_90", "sm_80"}) {
    auto cubin = cuda::compile_kernels_for(arch);
    ASSERT_TRUE(cubin.ok()) << arch << ": " << cubin.error().message;
    EXPECT_GT(cubin.value().size(), 1000u) << arch;
  }
}

TEST(DeviceKernels, NvrtcCompileErrorsComeBackWithTheLog) {
  const std::string why = cuda::nvrtc_unavailable_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  // Through the public path only the fixed source compiles; a bad
  // architecture exercises the same error reporting.
  auto cubin = cuda::compile_kernels_for("sm_not_an_arch");
  ASSERT_FALSE(cubin.ok());
  EXPECT_EQ(cubin.error().reason, Reason::compile_error);
  EXPECT_NE(cubin.error().message.find("sm_not_an_arch"), std::string::npos) << cubin.error().message;
}

TEST(CublasLtNames, AlgorithmNameRoundTripsAndKeepsTheTags) {
  backends::cublaslt::AlgoConfig c;
  c.algo_id = 66;
  c.tile = 20;
  c.stages = 35;
  c.split_k = 4;
  c.reduction = 2;
  c.swizzle = 1;
  c.custom = 3;
  c.inner_shape = 7;
  c.cluster_shape = 12;
  const std::string name = backends::cublaslt::algo_name(c);
  EXPECT_EQ(name, "lt_a66_t20_s35_sk4_r2_sw1_c3_i7_cl12");
  std::string rest;
  auto parsed = backends::cublaslt::parse_algo_name(name + "_ebiasrelu_pgelu", &rest);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, c);
  EXPECT_EQ(rest, "_ebiasrelu_pgelu");
}

// cuBLASLt's heuristic reports split-K -1 for some algorithms (algo 11, f32,
// H100): such a choice must be rebuilt from its name like any other (it was
// rejected at build as "not a CUBLASLT choice name" until the GPU tests ran).
TEST(CublasLtNames, ANegativeSplitKFromTheHeuristicRoundTrips) {
  backends::cublaslt::AlgoConfig c;
  c.algo_id = 11;
  c.split_k = -1;
  c.reduction = 2;
  c.custom = 1;
  const std::string name = backends::cublaslt::algo_name(c);
  EXPECT_EQ(name, "lt_a11_t0_s0_sk-1_r2_sw0_c1_i0_cl0");
  auto parsed = backends::cublaslt::parse_algo_name(name);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, c);
}

TEST(CublasLtNames, RejectsNamesThatAreNotAlgorithms) {
  for (const char* bad : {"cublas_default", "lt_a66", "lt_a66_t20_s0_sk0_r0_sw0_c0_i0_cl0", "lt_ax_t1",
                          "lt_a66_t20_s0_sk-2_r0_sw0_c0_i0_cl0", "lt_a66_t-1_s0_sk1_r0_sw0_c0_i0_cl0",
                          "lt_a-1_t20_s0_sk1_r0_sw0_c0_i0_cl0", ""})
    EXPECT_FALSE(backends::cublaslt::parse_algo_name(bad).has_value()) << bad;
}

TEST(BlasScalars, PassesAlphaAndBetaInTheCallsScaleType) {
  EXPECT_EQ(cuda::scale_type_of(CUBLAS_COMPUTE_64F), CUDA_R_64F);
  EXPECT_EQ(cuda::scale_type_of(CUBLAS_COMPUTE_32I), CUDA_R_32I);
  EXPECT_EQ(cuda::scale_type_of(CUBLAS_COMPUTE_32F_FAST_TF32), CUDA_R_32F);
  const cuda::BlasScalars f32(CUDA_R_32F, 0.5, -2.0);
  EXPECT_EQ(*static_cast<const float*>(f32.alpha()), 0.5f);
  EXPECT_EQ(*static_cast<const float*>(f32.beta()), -2.0f);
  const cuda::BlasScalars f64(CUDA_R_64F, 0.1, 3.0);
  EXPECT_EQ(*static_cast<const double*>(f64.alpha()), 0.1);  // not rounded through float
  EXPECT_EQ(*static_cast<const double*>(f64.beta()), 3.0);
  const cuda::BlasScalars i32(CUDA_R_32I, 1.0, 0.0);
  EXPECT_EQ(*static_cast<const std::int32_t*>(i32.alpha()), 1);
  EXPECT_EQ(*static_cast<const std::int32_t*>(i32.beta()), 0);
}

// ---- mapping onto a column-major call (host-only logic) ----

// A bf16 5x7x3 mm: small enough to read the expected strides off by hand.
Problem layout_problem(const char* layout) { return gpu_problem(Op::mm, DType::bf16, {1, 5, 7, 3}, layout); }

TEST(ColumnMajorMapping, RowMajorOutputIsWrittenAsTheTransposeWithOperandsSwapped) {
  // nn: C^T = B^T A^T; row-major B is B^T column-major (not transposed).
  auto g = cuda::map_to_column_major(layout_problem("nn"), layout_problem("nn").c);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g.value().swapped);
  EXPECT_EQ(g.value().m, 7);
  EXPECT_EQ(g.value().n, 5);
  EXPECT_EQ(g.value().k, 3);
  EXPECT_FALSE(g.value().x.transposed);
  EXPECT_EQ(g.value().x.ld, 7);
  EXPECT_FALSE(g.value().y.transposed);
  EXPECT_EQ(g.value().y.ld, 3);
  EXPECT_EQ(g.value().d.ld, 7);
}

TEST(ColumnMajorMapping, NtLayoutIsTheTnFormFp8Needs) {
  // y = x W^T with W stored N x K row-major: B column-major.
  const Problem p = layout_problem("nt");
  auto g = cuda::map_to_column_major(p, p.c);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g.value().x.transposed);
  EXPECT_EQ(g.value().x.ld, 3);
  EXPECT_FALSE(g.value().y.transposed);
}

TEST(ColumnMajorMapping, ColumnMajorOutputIsWrittenDirectly) {
  Problem p = layout_problem("tt");
  p.c = MatrixDesc::col_major(DType::bf16, 5, 7);
  auto g = cuda::map_to_column_major(p, p.c);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g.value().swapped);
  EXPECT_EQ(g.value().m, 5);
  EXPECT_FALSE(g.value().x.transposed);  // A column-major
  EXPECT_EQ(g.value().x.ld, 5);
  EXPECT_FALSE(g.value().y.transposed);  // B column-major
  EXPECT_EQ(g.value().y.ld, 3);
  EXPECT_EQ(g.value().d.ld, 5);
}

TEST(ColumnMajorMapping, OperandWithoutAUnitStrideIsUnsupportedAndNamed) {
  Problem p = layout_problem("nn");
  p.b.row_stride = 16;
  p.b.col_stride = 2;  // every other element of a padded buffer
  auto g = cuda::map_to_column_major(p, p.c);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().reason, Reason::unsupported_layout);
  EXPECT_NE(g.error().message.find("B ("), std::string::npos) << g.error().message;
}

TEST(ColumnMajorMapping, PaddedLeadingDimensionsAreKept) {
  Problem p = layout_problem("nn");
  p.a.row_stride = 8;   // A 5x3 in rows of 8
  p.c.row_stride = 10;  // C 5x7 in rows of 10
  auto g = cuda::map_to_column_major(p, p.c);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g.value().y.ld, 8);
  EXPECT_EQ(g.value().d.ld, 10);
}

TEST(ColumnMajorMapping, StagingBufferFollowsTheOutputsOrientation) {
  Problem p = layout_problem("nn");
  const MatrixDesc row = cuda::staging_desc(p);
  EXPECT_EQ(row.dtype, DType::f32);
  EXPECT_EQ(row.col_stride, 1);
  p.c = MatrixDesc::col_major(DType::bf16, 5, 7);
  const MatrixDesc col = cuda::staging_desc(p);
  EXPECT_EQ(col.row_stride, 1);
  EXPECT_EQ(col.batch_stride, 35);
}

}  // namespace
}  // namespace gemmtune
