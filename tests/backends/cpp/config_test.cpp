// The CPP backend's configuration: names, invariants, search spaces, ISA
// checks and rejections. Nothing here needs correct arithmetic; the
// correctness tests run the kernels.
#include <gtest/gtest.h>

#include "testing/problem_specs.h"

#include <set>

#include "backends/cpp/config.h"
#include "backends/cpp/tile_catalog.h"
#include "cpp_test_support.h"

namespace gemmtune::cpp_test {
namespace {

using backends::cpp::Arith;
using backends::cpp::CpuFeatures;
using backends::cpp::Isa;
using backends::cpp::KernelConfig;
using backends::cpp::Path;

using gemmtune::testing::spec;

CpuFeatures avx2_only() {
  CpuFeatures f = CpuFeatures::detect();
  f.avx512 = f.avx512_bf16 = f.avx512_vnni = false;
  f.avx2_fma = true;
  return f;
}

// Every extension this backend knows: for checks that only build (never
// run) a choice, so they hold on any CPU.
CpuFeatures every_extension() {
  CpuFeatures f = CpuFeatures::detect();
  f.avx2_fma = f.avx512 = f.avx512_bf16 = f.avx512_vnni = true;
  return f;
}

CpuFeatures avx512_without_extensions() {
  CpuFeatures f = CpuFeatures::detect();
  f.avx2_fma = f.avx512 = true;
  f.avx512_bf16 = f.avx512_vnni = false;
  return f;
}

std::vector<Problem> assorted_problems() {
  std::vector<Problem> out;
  out.push_back(problem_of(spec(Op::mm, 1024, 1024, 1024)));
  out.push_back(problem_of(spec(Op::mm, 16, 1024, 1024)));
  out.push_back(problem_of(spec(Op::mm, 64, 64, 64)));
  out.push_back(problem_of(spec(Op::mm, 3, 5, 7)));
  out.push_back(problem_of(spec(Op::addmm, 512, 256, 1000, DType::bf16)));
  out.push_back(problem_of(spec(Op::int_mm, 300, 200, 100, DType::u8)));
  out.push_back(problem_of(spec(Op::int_mm, 300, 200, 100, DType::i8)));
  out.push_back(problem_of(spec(Op::mixed_mm, 8, 4096, 4096, DType::bf16)));
  ProblemSpec batched = spec(Op::bmm, 64, 64, 64);
  batched.batch = 16;
  out.push_back(problem_of(batched));
  return out;
}

TEST(CppConfig, NameRoundTripsForBothPathsAndBatchSplits) {
  KernelConfig packed;
  packed.mr = 14;
  packed.nr = 32;
  packed.kc = 256;
  packed.mc = 112;
  packed.nc = 1536;
  packed.tm = 2;
  EXPECT_EQ(backends::cpp::config_name(packed), "cpp_avx512_f32_mr14_nr32_kc256_mc112_nc1536_t2x1");
  KernelConfig direct;
  direct.path = Path::direct;
  direct.mr = 8;
  direct.nr = 48;
  direct.kc = 1024;
  direct.tn = 2;
  EXPECT_EQ(backends::cpp::config_name(direct), "cpp_avx512_f32_direct_mr8_nr48_kc1024_t1x2");
  KernelConfig batched = packed;
  batched.arith = Arith::s8s8;
  batched.tb = 2;
  batched.tm = 1;
  EXPECT_EQ(backends::cpp::config_name(batched), "cpp_avx512_s8s8_mr14_nr32_kc256_mc112_nc1536_b2_t1x1");
  for (const KernelConfig& c : {packed, direct, batched}) {
    auto parsed = backends::cpp::parse_config_name(backends::cpp::config_name(c));
    ASSERT_TRUE(parsed.has_value()) << backends::cpp::config_name(c);
    EXPECT_EQ(*parsed, c);
  }
}

TEST(CppConfig, ParseRejectsNamesItWouldNotWrite) {
  for (const char* bad : {"", "cpp", "cpp_avx512_f32", "blas_sgemm", "cpp_avx512_f64_mr14_nr32_kc256_mc112_nc1536_t1x1",
                          "cpp_avx512_f32_mr14_nr32_kc256_mc112_t1x1", "cpp_avx512_f32_mr014_nr32_kc256_mc112_nc1536_t1x1",
                          "cpp_avx512_f32_mr14_nr32_kc256_mc112_nc1536_t1x1_extra", "cpp_avx512_f32_mr14_nr32_kc256_mc112_nc1536_b1_t1x1",
                          "cpp_avx512_f32_direct_mr8_nr48_t1x1", "cpp_avx512_f32_mr14_nr32_kc256_mc112_nc1536_t1"}) {
    EXPECT_FALSE(backends::cpp::parse_config_name(bad).has_value()) << bad;
  }
}

TEST(CppConfig, ChoiceNamesAreUniqueAndRebuildFromTheirNameAlone) {
  for (SearchSpace space : {SearchSpace::standard, SearchSpace::exhaustive}) {
    for (const Problem& p : assorted_problems()) {
      auto choices = backend().enumerate(p, context(2, space));
      ASSERT_TRUE(choices.ok()) << describe(p) << ": " << choices.error().to_string();
      ASSERT_FALSE(choices.value().empty());
      std::set<std::string> names;
      for (const Choice& c : choices.value()) {
        EXPECT_TRUE(names.insert(c.name).second) << "duplicate " << c.name;
        EXPECT_EQ(c.name.rfind("cpp_", 0), 0u) << c.name;
        EXPECT_FALSE(c.description.empty());
        auto parsed = backends::cpp::parse_config_name(c.name);
        ASSERT_TRUE(parsed.has_value()) << c.name;
        EXPECT_EQ(backends::cpp::config_name(*parsed), c.name);
      }
      // The tuner rebuilds a cached winner from its name: build the first and
      // last choices with nothing but the name.
      for (const Choice* c : {&choices.value().front(), &choices.value().back()}) {
        auto kernel = backend().build(p, choice_named(c->name), context(2, space));
        EXPECT_TRUE(kernel.ok()) << c->name << ": " << (kernel.ok() ? "" : kernel.error().to_string());
      }
    }
  }
}

TEST(CppConfig, DefaultSpaceIsShortAndExhaustiveIsMuchLarger) {
  for (const Problem& p : assorted_problems()) {
    auto standard = backend().enumerate(p, context(2));
    auto exhaustive = backend().enumerate(p, context(2, SearchSpace::exhaustive));
    ASSERT_TRUE(standard.ok() && exhaustive.ok());
    EXPECT_GE(standard.value().size(), 2u) << describe(p);
    EXPECT_LE(standard.value().size(), 10u) << describe(p);
    EXPECT_GE(exhaustive.value().size(), 4 * standard.value().size()) << describe(p);
  }
}

TEST(CppConfig, ThreadSplitsNeverExceedTheContextsThreads) {
  for (int threads : {1, 2, 3, 4}) {
    for (const Problem& p : assorted_problems()) {
      auto choices = backend().enumerate(p, context(threads, SearchSpace::exhaustive));
      ASSERT_TRUE(choices.ok());
      for (const Choice& c : choices.value()) {
        auto parsed = backends::cpp::parse_config_name(c.name);
        ASSERT_TRUE(parsed.has_value());
        EXPECT_LE(parsed->threads(), threads) << c.name;
      }
    }
  }
  // A choice that needs more threads than allowed is refused at build.
  Problem p = problem_of(spec(Op::mm, 256, 256, 256));
  auto kernel = backends::make_cpp_backend(every_extension())
                    ->build(p, choice_named("cpp_avx512_f32_mr14_nr32_kc256_mc112_nc256_t2x1"), context(1));
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().reason, Reason::out_of_resources);
}

TEST(CppConfig, InvariantCheckRejectsBadBlocksAndUnknownTiles) {
  KernelConfig good;
  good.mr = 14;
  good.nr = 32;
  good.kc = 256;
  good.mc = 112;
  good.nc = 1024;
  EXPECT_TRUE(backends::cpp::check_config(good).ok());

  auto expect_bad = [](KernelConfig c, const char* why) {
    Status s = backends::cpp::check_config(c);
    EXPECT_FALSE(s.ok()) << why;
  };
  KernelConfig c = good;
  c.mc = 100;  // not a multiple of MR 14
  expect_bad(c, "MC not a multiple of MR");
  c = good;
  c.nc = 1000;  // not a multiple of NR 32
  expect_bad(c, "NC not a multiple of NR");
  c = good;
  c.arith = Arith::bf16;
  c.kc = 255;  // bf16 consumes K in pairs
  expect_bad(c, "KC not a multiple of the K group");
  c = good;
  c.mr = 13;  // no 13x32 tile is compiled in
  c.mc = 104;
  expect_bad(c, "unregistered tile");
  c = good;
  c.path = Path::direct;
  c.mc = c.nc = 0;
  c.arith = Arith::bf16;
  expect_bad(c, "direct path for a tile without a direct form");
  c = good;
  c.tm = 0;
  expect_bad(c, "empty thread grid");
}

TEST(CppConfig, RegistrationRejectsABrokenTileDescriptor) {
  const auto& catalog = backends::cpp::tile_catalog();
  ASSERT_FALSE(catalog.empty());
  backends::cpp::TileKernel tile = catalog.front();
  std::vector<backends::cpp::TileKernel> none;
  EXPECT_EQ(backends::cpp::tile_problem(tile, none), "");
  backends::cpp::TileKernel bad = tile;
  bad.nr = tile.nr + 3;  // not a multiple of the vector width
  EXPECT_NE(backends::cpp::tile_problem(bad, none), "");
  bad = tile;
  bad.mr = 40;  // more accumulators than registers
  EXPECT_NE(backends::cpp::tile_problem(bad, none), "");
  bad = tile;
  bad.pack_b = nullptr;
  EXPECT_NE(backends::cpp::tile_problem(bad, none), "");
  EXPECT_NE(backends::cpp::tile_problem(tile, {tile}), "");  // registered twice
}

TEST(CppConfig, CpuWithoutAvx512GetsOnlyAvx2ChoicesAndRejectsAvx512OnesWithMissingIsa) {
  auto backend = backends::make_cpp_backend(avx2_only());
  Problem p = problem_of(spec(Op::mm, 200, 300, 400));
  for (SearchSpace space : {SearchSpace::standard, SearchSpace::exhaustive}) {
    auto choices = backend->enumerate(p, context(2, space));
    ASSERT_TRUE(choices.ok());
    for (const Choice& c : choices.value()) EXPECT_EQ(c.name.rfind("cpp_avx2_", 0), 0u) << c.name;
  }
  auto kernel = backend->build(p, choice_named("cpp_avx512_f32_mr14_nr32_kc256_mc112_nc320_t1x1"), context(2));
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().reason, Reason::missing_isa);
  EXPECT_NE(kernel.error().message.find("AVX-512"), std::string::npos) << kernel.error().message;
}

TEST(CppConfig, AvxTwoChoicesComputeCorrectlyWhereTheyRun) {
  // The AVX2 tiles run on any AVX2 CPU, this one included.
  auto avx2 = backends::make_cpp_backend(avx2_only());
  ProblemSpec s = spec(Op::addmm, 37, 45, 61);
  s.activation = Activation::gelu;
  Problem p = problem_of(s);
  auto choices = avx2->enumerate(p, context(2));
  ASSERT_TRUE(choices.ok());
  for (const Choice& c : choices.value()) EXPECT_TRUE(matches_reference(p, c, context(2))) << c.name;
}

TEST(CppConfig, IntMmWithoutVnniIsRejectedWithMissingIsa) {
  auto backend = backends::make_cpp_backend(avx512_without_extensions());
  auto choices = backend->enumerate(problem_of(spec(Op::int_mm, 64, 64, 64, DType::u8)), context());
  ASSERT_FALSE(choices.ok());
  EXPECT_EQ(choices.error().reason, Reason::missing_isa);
  EXPECT_NE(choices.error().message.find("AVX512_VNNI"), std::string::npos) << choices.error().message;
}

TEST(CppConfig, Bf16WithoutAvx512Bf16FallsBackToF32ArithmeticChoices) {
  auto backend = backends::make_cpp_backend(avx512_without_extensions());
  Problem p = problem_of(spec(Op::mm, 64, 64, 64, DType::bf16));
  auto choices = backend->enumerate(p, context());
  ASSERT_TRUE(choices.ok());
  for (const Choice& c : choices.value()) EXPECT_NE(c.name.find("_f32_"), std::string::npos) << c.name;
  auto kernel = backend->build(p, choice_named("cpp_avx512_bf16_mr14_nr32_kc64_mc70_nc64_t1x1"), context());
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().reason, Reason::missing_isa);
}

TEST(CppConfig, CpuWithoutAvx2IsUnavailable) {
  CpuFeatures none;
  none.avx2_fma = false;
  auto backend = backends::make_cpp_backend(none);
  EXPECT_FALSE(backend->availability().available);
  EXPECT_NE(backend->availability().why.find("AVX2"), std::string::npos);
}

TEST(CppConfig, UnsupportedProblemsAreRejectedWithCataloguedReasons) {
  ProblemSpec fp8 = spec(Op::scaled_mm, 32, 32, 32, DType::f8e4m3);
  auto scaled = backend().enumerate(problem_of(fp8), context());
  ASSERT_FALSE(scaled.ok());
  EXPECT_EQ(scaled.error().reason, Reason::unsupported_op);

  auto f64 = backend().enumerate(problem_of(spec(Op::mm, 32, 32, 32, DType::f64)), context());
  ASSERT_FALSE(f64.ok());
  EXPECT_EQ(f64.error().reason, Reason::unsupported_dtype);

  Problem gpu = problem_of(spec(Op::mm, 32, 32, 32));
  gpu.device = Device{DeviceKind::cuda, 0};
  auto wrong = backend().enumerate(gpu, context());
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().reason, Reason::wrong_device);
}

TEST(CppConfig, ChoiceForAnotherDtypeOrLayoutIsRejectedAtBuild) {
  auto any_cpu = backends::make_cpp_backend(every_extension());
  Problem p = problem_of(spec(Op::mm, 64, 64, 64));
  auto kernel = any_cpu->build(p, choice_named("cpp_avx512_u8s8_mr14_nr32_kc64_mc70_nc64_t1x1"), context());
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().reason, Reason::unsupported_dtype);
  auto direct = any_cpu->build(problem_of(spec(Op::mm, 64, 64, 64, DType::bf16)),
                               choice_named("cpp_avx512_f32_direct_mr8_nr48_kc64_t1x1"), context());
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.error().reason, Reason::unsupported_layout);
  ProblemSpec transposed_b = spec(Op::mm, 64, 64, 64);
  transposed_b.transpose_b = true;  // the direct path reads B rows in place
  auto strided = any_cpu->build(problem_of(transposed_b), choice_named("cpp_avx512_f32_direct_mr8_nr48_kc64_t1x1"),
                                context());
  ASSERT_FALSE(strided.ok());
  EXPECT_EQ(strided.error().reason, Reason::unsupported_layout);
  auto garbage = any_cpu->build(p, choice_named("not_a_cpp_choice"), context());
  ASSERT_FALSE(garbage.ok());
}

TEST(CppConfig, BackendIdentity) {
  EXPECT_EQ(backend().name(), "CPP");
  EXPECT_EQ(backend().device_kind(), DeviceKind::cpu);
  EXPECT_TRUE(backend().may_be_inexact());
  EXPECT_EQ(backend().version().rfind("cpp-kernels-", 0), 0u);
  EXPECT_NE(backend().version().find("isa="), std::string::npos);
  EXPECT_FALSE(backend().capabilities().empty());
  // The ISA list is part of the version: another CPU gets another cache key.
  EXPECT_NE(backends::make_cpp_backend(avx2_only())->version(), backends::make_cpp_backend(every_extension())->version());
}

}  // namespace
}  // namespace gemmtune::cpp_test
