// The CUDA backend's template families on any machine (no GPU needed): what
// they offer on a described H100 and A100, names that parse back to their
// configuration, every offered kernel compiling with NVRTC for sm_90a and
// sm_80, and the compiled-kernel cache on disk.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/framework/embedded.h"
#include "backends/cuda/framework/kernel_cache.h"
#include "backends/cuda/hopper/hopper_family.h"
#include "backends/cuda/portable/portable_family.h"
#include "backends/cuda/skinny/skinny_family.h"
#include "gpu/gpu_testing.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune {
namespace {

namespace ck = backends::cuda_kernels;
using gpu_testing::gpu_problem;
using gpu_testing::Shape;

cuda::DeviceInfo h100() {
  cuda::DeviceInfo d;
  d.name = "NVIDIA H100 80GB HBM3 (described)";
  d.sm_major = 9;
  d.sm_minor = 0;
  d.sm_count = 132;
  d.l2_bytes = 50 << 20;
  return d;
}

cuda::DeviceInfo a100() {
  cuda::DeviceInfo d;
  d.name = "NVIDIA A100 (described)";
  d.sm_major = 8;
  d.sm_minor = 0;
  d.sm_count = 108;
  d.l2_bytes = 40 << 20;
  return d;
}

// Problems that between them reach every family, layout, epilogue and
// path of the kernels: tails, batches, broadcast, padding, unaligned
// strides, split-K, clusters, f32 output, both biases, every activation.
std::vector<Problem> representative_problems() {
  std::vector<Problem> out;
  for (const char* layout : {"nn", "nt", "tn", "tt"}) {
    out.push_back(gpu_problem(Op::mm, DType::bf16, {1, 4096, 4096, 4096}, layout));
    out.push_back(gpu_problem(Op::mm, DType::f16, {1, 200, 328, 136}, layout));
  }
  out.push_back(gpu_problem(Op::mm, DType::bf16, {1, 128, 4096, 14336}, "nt"));  // split-K
  out.push_back(gpu_problem(Op::mm, DType::bf16, {1, 16, 4096, 4096}, "nt"));    // skinny
  out.push_back(gpu_problem(Op::mm, DType::bf16, {1, 24, 4096, 4096}, "nn"));    // skinny, two row tiles
  for (Activation act : {Activation::relu, Activation::gelu, Activation::silu, Activation::gelu_tanh}) {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 2048, 14336, 4096}, "nt");
    p.activation = act;
    out.push_back(p);
  }
  {
    Problem p = gpu_problem(Op::addmm, DType::bf16, {1, 300, 520, 264}, "nt");
    p.bias = BiasKind::full;
    p.bias_desc = MatrixDesc::row_major(DType::f32, 300, 520);
    p.c.dtype = DType::f32;
    out.push_back(p);
  }
  {
    Problem p = gpu_problem(Op::bmm, DType::bf16, {8, 512, 512, 256}, "nt");
    p.b.batch_stride = 0;  // broadcast B
    out.push_back(p);
  }
  {
    Problem p = gpu_problem(Op::mm, DType::bf16, {1, 100, 60, 36}, "nn");
    p.a.row_stride = 37;  // no 16-byte rows: the portable element-wise path
    out.push_back(p);
  }
  return out;
}

std::vector<ck::KernelSource> sources_for(const std::vector<Problem>& problems, const cuda::DeviceInfo& device,
                                          SearchSpace space) {
  std::vector<ck::KernelSource> out;
  std::set<std::string> seen;
  for (const Problem& p : problems) {
    const ck::FamilyContext ctx{device, space};
    auto choices = ck::offer(p, ctx);
    if (!choices) continue;
    for (const Choice& c : choices.value()) {
      const ck::TemplateFamily* f = ck::owner(c.name);
      if (!f) continue;
      auto s = f->source(p, c.name, ctx);
      if (s && seen.insert(s.value().digest()).second) out.push_back(s.value());
    }
  }
  return out;
}

// A kernel's code path: its configuration without the constants that only
// change numbers (epilogue choice, stages, layouts of A and B).
std::string code_path(const ck::KernelSource& s) {
  static const std::set<std::string> constants{"GT_OUT_F32", "GT_BIAS", "GT_BIAS_F32", "GT_ACT",     "GT_STAGES",
                                               "GT_A_KMAJOR", "GT_B_KMAJOR", "GT_KMAJOR", "GT_UNROLL",
                                               "GT_HOST_SMEM_BYTES"};
  std::string out = s.file + " " + s.arch + ":";
  for (const auto& [k, v] : s.defines)
    if (!constants.count(k)) out += k + "=" + v + ";";
  return out;
}

TEST(CudaTemplates, EveryBf16AndF16ProblemIsServedOnHopperAndAmpere) {
  for (const cuda::DeviceInfo& device : {h100(), a100()})
    for (const Problem& p : representative_problems()) {
      validate(p);
      auto choices = ck::offer(p, ck::FamilyContext{device, SearchSpace::standard});
      ASSERT_TRUE(choices.ok()) << device.name << ", " << describe(p) << ": " << choices.error().to_string();
      EXPECT_LE(choices.value().size(), 17u) << describe(p) << ": the standard space should stay small";
    }
}

TEST(CudaTemplates, HopperTemplatesServeTmaLayoutsAndLeaveTheRestToThePortableOnes) {
  const ck::FamilyContext ctx{h100(), SearchSpace::standard};
  auto count = [&](const Problem& p, std::string_view prefix) {
    auto choices = ck::offer(p, ctx);
    EXPECT_TRUE(choices.ok()) << choices.error().to_string();
    int n = 0;
    for (const Choice& c : choices.value()) n += c.name.starts_with(prefix);
    return n;
  };
  for (const char* layout : {"nn", "nt", "tn", "tt"}) {
    const Problem p = gpu_problem(Op::mm, DType::bf16, {1, 1024, 1024, 1024}, layout);
    EXPECT_GT(count(p, "cuda_sm90_"), 0) << layout;
    EXPECT_EQ(count(p, "cuda_mma_"), 0) << layout << ": the portable templates are the fallback";
  }
  Problem odd = gpu_problem(Op::mm, DType::bf16, {1, 100, 60, 36}, "nn");
  odd.a.row_stride = 37;
  EXPECT_EQ(count(odd, "cuda_sm90_"), 0);
  EXPECT_GT(count(odd, "cuda_mma_"), 0);
  // On an A100 only the portable (and skinny) ones exist.
  auto ampere = ck::offer(gpu_problem(Op::mm, DType::bf16, {1, 1024, 1024, 1024}, "nt"),
                          ck::FamilyContext{a100(), SearchSpace::standard});
  ASSERT_TRUE(ampere.ok());
  for (const Choice& c : ampere.value()) EXPECT_TRUE(c.name.starts_with("cuda_mma_")) << c.name;
}

TEST(CudaTemplates, ProblemsBeyondOneGridOrOneIntOfTilesAreStillServed) {
  // More batches or row tiles than a grid's y or z holds: the portable
  // templates launch in slices (they were refused, while the Hopper family's
  // rejection said "the portable templates serve it").
  const ck::FamilyContext ctx{h100(), SearchSpace::standard};
  Problem many = gpu_problem(Op::bmm, DType::bf16, {70000, 64, 64, 64}, "nn");
  many.alignment = 8;
  Problem tall = gpu_problem(Op::mm, DType::f16, {1, 65535 * 64 + 100, 8, 8}, "nn");
  tall.alignment = 8;
  for (const Problem& p : {many, tall}) {
    auto choices = ck::offer(p, ctx);
    ASSERT_TRUE(choices.ok()) << describe(p) << ": " << choices.error().to_string();
    EXPECT_TRUE(choices.value().front().name.starts_with("cuda_mma_")) << describe(p);
  }
  // More tiles than the Hopper kernel numbers in 32-bit ints: not offered by
  // it (the count would wrap), served by the portable templates instead.
  Problem tiny = gpu_problem(Op::bmm, DType::bf16, {std::int64_t{1} << 31, 1, 8, 8}, "nt");
  tiny.b.batch_stride = 0;
  EXPECT_TRUE(ck::hopper::candidates(tiny, 132, SearchSpace::standard).empty());
  auto choices = ck::offer(tiny, ctx);
  ASSERT_TRUE(choices.ok()) << choices.error().to_string();
  for (const Choice& c : choices.value()) EXPECT_FALSE(c.name.starts_with("cuda_sm90_")) << c.name;
}

TEST(CudaTemplates, OtherDtypesAndOpsAreRejectedWithTheReason) {
  const ck::FamilyContext ctx{h100(), SearchSpace::standard};
  auto f32 = ck::offer(gpu_problem(Op::mm, DType::f32, {1, 64, 64, 64}, "nt"), ctx);
  ASSERT_FALSE(f32.ok());
  EXPECT_EQ(f32.error().reason, Reason::unsupported_dtype);
  EXPECT_NE(f32.error().message.find("CUBLAS"), std::string::npos) << f32.error().message;
  auto int8 = ck::offer(gpu_problem(Op::int_mm, DType::i8, {1, 64, 64, 64}, "nt"), ctx);
  ASSERT_FALSE(int8.ok());
  EXPECT_EQ(int8.error().reason, Reason::unsupported_op);
}

TEST(CudaTemplates, ProblemsOfOneWaveOfSmallTilesGetTheDeepestRingOneCtaHolds) {
  auto names = [&](const Problem& p) {
    auto choices = ck::offer(p, ck::FamilyContext{h100(), SearchSpace::standard});
    EXPECT_TRUE(choices.ok());
    std::set<std::string> out;
    if (choices.ok())
      for (const Choice& c : choices.value()) out.insert(c.name);
    return out;
  };
  // 128 tiles of 64 x 64 on 132 SMs: one wave, unsplit, 13 stages (the most
  // that fit 227 KiB with the epilogue's chunks); 64 tiles of 64 x 128 and
  // 128 x 64, 8 stages, unsplit and split in two.
  const auto m128 = names(gpu_problem(Op::mm, DType::bf16, {1, 128, 4096, 4096}, "nt"));
  for (const char* want : {"cuda_sm90_64x64_s13_c1_k1", "cuda_sm90_64x128_s8_c1_k1", "cuda_sm90_64x128_s8_c1_k2",
                           "cuda_sm90_128x64_s8_c1_k1", "cuda_sm90_128x64_s8_c1_k2"})
    EXPECT_TRUE(m128.count(want)) << want;
  EXPECT_FALSE(m128.count("cuda_sm90_64x64_s13_c1_k2")) << "256 units: a second wave";
  // Beside the shallow rings the H100 measured fastest there (round 9), not in their place.
  for (const char* kept : {"cuda_sm90_64x64_s6_c1_k2", "cuda_sm90_128x64_s6_c1_k2"})
    EXPECT_TRUE(m128.count(kept)) << kept;
  EXPECT_LE(m128.size(), 17u);
  // At most 32 rows: none (the skinny family's many choices fill the space;
  // the shallow 64x128 k4 is the measured best at 16x4096x4096 nn).
  for (const std::string& n : names(gpu_problem(Op::mm, DType::bf16, {1, 16, 4096, 4096}, "nn"))) {
    auto c = ck::hopper::parse(n);
    if (c) EXPECT_LE(c->stages, 6) << n;
  }
  // K of 136 (3 blocks): no unit would fill even the shallow ring.
  for (const std::string& n : names(gpu_problem(Op::mm, DType::bf16, {1, 200, 328, 136}, "nt"))) {
    auto c = ck::hopper::parse(n);
    if (c) EXPECT_LE(c->stages, 6) << n;
  }
  // Many tiles: the ranking's rings only (compute-bound; deeper measured no faster).
  for (const std::string& n : names(gpu_problem(Op::mm, DType::bf16, {1, 4096, 4096, 4096}, "nt"))) {
    auto c = ck::hopper::parse(n);
    if (c) EXPECT_LE(c->stages, 6) << n;
  }
  auto deep = ck::hopper::parse("cuda_sm90_64x64_s13_c2_k1");
  ASSERT_TRUE(deep.has_value());
  EXPECT_EQ(deep->stages, 13);
  EXPECT_FALSE(ck::hopper::parse("cuda_sm90_64x64_s14_c1_k1").has_value()) << "14 stages do not fit";
  EXPECT_FALSE(ck::hopper::parse("cuda_sm90_64x64_s17_c1_k1").has_value());
}

TEST(CudaTemplates, PingPongTilesAreOfferedWhereEveryCtaGetsTwoTilesAndInTheStandardSpaceOnlyWithAnActivation) {
  auto names = [&](const Problem& p, SearchSpace space) {
    auto choices = ck::offer(p, ck::FamilyContext{h100(), space});
    EXPECT_TRUE(choices.ok());
    std::set<std::string> out;
    if (choices.ok())
      for (const Choice& c : choices.value()) out.insert(c.name);
    return out;
  };
  const Problem big = gpu_problem(Op::mm, DType::bf16, {1, 2048, 14336, 4096}, "nt");
  // 16 x 112 tiles of 128 x 128 on 132 SMs: more than two per CTA.
  auto exhaustive = names(big, SearchSpace::exhaustive);
  EXPECT_TRUE(exhaustive.count("cuda_sm90_128x128_s6_c1_k1_pp")) << "no ping-pong 128x128 for a large problem";
  EXPECT_TRUE(exhaustive.count("cuda_sm90_64x256_s5_c1_k1_pp")) << "no ping-pong 64x256 for a large problem";
  // Slower than the cooperative tiles on plain mm (round 5): not in its standard space.
  for (const std::string& n : names(big, SearchSpace::standard)) EXPECT_FALSE(n.ends_with("_pp")) << n;
  // With an activation the 64x256 ping-pong is (round 5's fastest for addmm + gelu).
  Problem gelu = gpu_problem(Op::addmm, DType::bf16, {1, 2048, 14336, 4096}, "nt");
  gelu.activation = Activation::gelu;
  validate(gelu);
  EXPECT_TRUE(names(gelu, SearchSpace::standard).count("cuda_sm90_64x256_s5_c1_k1_pp"));
  // 1 x 32 tiles: a CTA would have one tile and one consumer idle.
  for (const std::string& n : names(gpu_problem(Op::mm, DType::bf16, {1, 128, 4096, 4096}, "nt"),
                                    SearchSpace::exhaustive))
    EXPECT_FALSE(n.ends_with("_pp")) << n;
  auto parsed = ck::hopper::parse("cuda_sm90_128x128_s6_c1_k1_pp");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->pingpong);
  EXPECT_EQ(parsed->consumers(), 2);
  EXPECT_EQ(parsed->accumulators(), 128);
}

TEST(CudaTemplates, TheStagedEpilogueIsTheStandardOneAndTheDirectOneIsOfferedExhaustivelyBesideIt) {
  const Problem big = gpu_problem(Op::addmm, DType::bf16, {1, 2048, 14336, 4096}, "nt");
  auto standard = ck::offer(big, ck::FamilyContext{h100(), SearchSpace::standard});
  auto exhaustive = ck::offer(big, ck::FamilyContext{h100(), SearchSpace::exhaustive});
  ASSERT_TRUE(standard.ok() && exhaustive.ok());
  std::set<std::string> all;
  for (const Choice& c : exhaustive.value()) all.insert(c.name);
  std::size_t hopper = 0;
  for (const Choice& c : standard.value()) {
    if (!c.name.starts_with("cuda_sm90_")) continue;
    ++hopper;
    EXPECT_FALSE(c.name.ends_with("_direct")) << c.name;
    EXPECT_NE(c.description.find("staged through shared memory"), std::string::npos) << c.description;
    // Each standard choice can be compared with the same tile's direct epilogue.
    if (!c.name.ends_with("_pp")) {
      EXPECT_TRUE(all.count(c.name + "_direct")) << c.name;
    }
  }
  EXPECT_GT(hopper, 0u);
  auto staged = ck::hopper::parse("cuda_sm90_128x256_s4_c1_k1");
  auto direct = ck::hopper::parse("cuda_sm90_128x256_s4_c1_k1_direct");
  ASSERT_TRUE(staged && direct);
  EXPECT_FALSE(staged->direct);
  EXPECT_TRUE(direct->direct);
  // The staged chunks are in the shared memory the launch asks for (the
  // kernel's own count is checked against it when it compiles), and still
  // fit beside a 4-stage 128x256 ring.
  EXPECT_GT(staged->smem_bytes(), direct->smem_bytes());
  EXPECT_TRUE(staged->invalid().empty()) << staged->invalid();
}

// Round 4 on the H100: the split-K planner divided by the tile count, so an
// empty output (M, N or the batch 0) killed the process with SIGFPE.
TEST(CudaTemplates, EmptyOutputsAreOfferedOrRejectedWithoutCrashing) {
  for (const cuda::DeviceInfo& device : {h100(), a100()})
    for (SearchSpace space : {SearchSpace::standard, SearchSpace::exhaustive})
      for (Shape shape : {Shape{1, 0, 64, 64}, Shape{1, 64, 0, 64}, Shape{1, 64, 64, 0}, Shape{0, 64, 64, 64},
                          Shape{1, 0, 0, 0}, Shape{1, 0, 4096, 4096}})
        for (const char* layout : {"nt", "nn"}) {
          const Problem p = gpu_problem(Op::mm, DType::bf16, shape, layout);
          auto choices = ck::offer(p, ck::FamilyContext{device, space});
          if (!choices.ok()) {
            EXPECT_FALSE(choices.error().message.empty());
          }
        }
}

TEST(CudaTemplateNames, EveryOfferedNameParsesBackToItsConfiguration) {
  std::size_t checked = 0;
  for (const cuda::DeviceInfo& device : {h100(), a100()})
    for (SearchSpace space : {SearchSpace::standard, SearchSpace::exhaustive})
      for (const Problem& p : representative_problems()) {
        auto choices = ck::offer(p, ck::FamilyContext{device, space});
        ASSERT_TRUE(choices.ok()) << choices.error().to_string();
        std::set<std::string> names;
        for (const Choice& c : choices.value()) {
          EXPECT_TRUE(names.insert(c.name).second) << "offered twice: " << c.name;
          ASSERT_NE(ck::owner(c.name), nullptr) << c.name;
          if (c.name.starts_with("cuda_sm90_")) {
            auto config = ck::hopper::parse(c.name);
            ASSERT_TRUE(config.has_value()) << c.name;
            EXPECT_EQ(ck::hopper::name(*config), c.name);
          } else if (c.name.starts_with("cuda_mma_")) {
            auto config = ck::portable::parse(c.name);
            ASSERT_TRUE(config.has_value()) << c.name;
            EXPECT_EQ(ck::portable::name(*config), c.name);
          } else {
            auto config = ck::skinny::parse(c.name);
            ASSERT_TRUE(config.has_value()) << c.name;
            EXPECT_EQ(ck::skinny::name(*config), c.name);
          }
          ++checked;
        }
      }
  EXPECT_GT(checked, 200u);
}

TEST(CudaTemplateNames, MalformedOrImpossibleNamesAreNotParsed) {
  for (const char* bad : {"", "cuda_sm90_", "cuda_sm90_128x256_s4_c1", "cuda_sm90_128x256_s4_c1_k1_x",
                          "cuda_sm90_256x256_s4_c1_k1",  // 256 accumulators per thread
                          "cuda_sm90_128x256_s4_c3_k1", "cuda_sm90_128x256_s04_c1_k1", "cuda_sm90_128x256_s9_c1_k1",
                          "cuda_sm90_128x256_s4_c1_k2",  // split-K needs <= 64 accumulators
                          "cuda_sm90_128x-256_s4_c1_k1", "cuda_sm90_128x256_s4_c1_k99999999999",
                          "cuda_sm90_128x128_s6_c1_k1_p", "cuda_sm90_128x128_s6_c1_k1_pp_pp",
                          "cuda_sm90_128x256_s4_c1_k1_pp",  // 256 accumulators per thread
                          "cuda_sm90_256x128_s4_c1_k1_pp", "cuda_sm90_128x128_s6_c2_k1_pp",
                          "cuda_sm90_64x128_s4_c1_k2_pp", "cuda_sm90_128x128_s6_c1_k1_direct_pp",
                          "cuda_sm90_128x128_s6_c1_k1_direct_direct", "cuda_sm90_128x128_s6_c1_k1_direct_",
                          "cuda_sm90_128x128_s6_c1_k4i",   // interleaved split-K: measured no faster, removed
                          "cuda_sm90_128x128_s6_c1_ki", "cuda_sm90_128x128_s6_c1_k4_i"})
    EXPECT_FALSE(ck::hopper::parse(bad).has_value()) << bad;
  for (const char* bad : {"cuda_mma_128x128_w2x4", "cuda_mma_96x128_w2x4_s3", "cuda_mma_128x128_w4x2_s3",
                          "cuda_mma_128x128_w2x4_s5"})
    EXPECT_FALSE(ck::portable::parse(bad).has_value()) << bad;
  for (const char* bad : {"cuda_skinny_kmajor_bf16_m1_t1_w8_u2", "cuda_skinny_diag_bf16_m1_t1_w8_u2_s1",
                          "cuda_skinny_kmajor_bf16_m3_t1_w8_u2_s1", "cuda_skinny_kmajor_bf16_m1_t1_w8_u2_s3"})
    EXPECT_FALSE(ck::skinny::parse(bad).has_value()) << bad;
  EXPECT_EQ(ck::owner("cublas_default"), nullptr);
}

TEST(CudaTemplates, SourcesAreEmbeddedAndEveryHeaderIsThere) {
  for (const char* name : {"gt_common.cuh", "wgmma_ops.cuh", "hopper_gemm.cu", "portable_gemm.cu", "skinny_gemm.cu"})
    EXPECT_GT(ck::embedded(name).size(), 1000u) << name;
  EXPECT_TRUE(ck::embedded("nothing.cu").empty());
}

// Every kernel the backend offers (standard and exhaustive spaces) for the
// representative problems compiles: Hopper ones for sm_90a, the others for
// sm_90 and, on a described A100, for sm_80. NVRTC takes a few seconds per
// kernel, so they compile on every core, one test per family (ctest runs
// them side by side).
std::vector<ck::KernelSource> offered_kernels() {
  const auto problems = representative_problems();
  std::vector<ck::KernelSource> all = sources_for(problems, h100(), SearchSpace::standard);
  // The exhaustive spaces hold hundreds of configurations per problem; what
  // changes the code (tile, consumers, cluster, split-K, blocks per SM) is
  // compiled once each, on the first problem that offers it; the ring depth
  // and the layouts only change constants the standard space already covers.
  std::set<std::string> seen;
  for (const auto& s : all) seen.insert(code_path(s));
  for (const auto& s : sources_for(problems, h100(), SearchSpace::exhaustive))
    if (seen.insert(code_path(s)).second) all.push_back(s);
  for (const auto& s : sources_for(problems, a100(), SearchSpace::standard)) all.push_back(s);
  return all;
}

void compile_all(const std::vector<ck::KernelSource>& all, std::size_t at_least) {
  const std::string why = cuda::nvrtc_unavailable_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  std::cout << "[ compile  ] " << all.size() << " kernels on " << threads << " threads" << std::endl;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::optional<Expected<std::vector<char>>>> cubins(all.size());
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (std::size_t i; (i = next++) < all.size();) cubins[i] = ck::compile(all[i]);
    });
  for (auto& t : pool) t.join();
  std::map<std::string, int> per_arch;
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::string defines;
    for (const auto& [k, v] : all[i].defines) defines += k + "=" + v + " ";
    ASSERT_TRUE(cubins[i]->ok()) << all[i].file << " " << all[i].arch << " " << defines << ": "
                                 << cubins[i]->error().message;
    EXPECT_GT(cubins[i]->value().size(), 4000u);
    ++per_arch[all[i].file + " " + all[i].arch];
  }
  std::cout << "[ compiled ] " << all.size() << " kernels in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s:";
  for (const auto& [k, n] : per_arch) std::cout << " " << k << " x" << n << ";";
  std::cout << "\n";
  EXPECT_GE(all.size(), at_least);
}

std::vector<ck::KernelSource> of_file(const char* file) {
  std::vector<ck::KernelSource> out;
  for (auto& s : offered_kernels())
    if (s.file == file) out.push_back(std::move(s));
  return out;
}

TEST(CudaTemplates, EveryOfferedHopperKernelCompilesWithNvrtcForSm90a) { compile_all(of_file("hopper_gemm.cu"), 40); }

TEST(CudaTemplates, EveryOfferedPortableKernelCompilesWithNvrtcForSm90AndSm80) {
  compile_all(of_file("portable_gemm.cu"), 10);
}

TEST(CudaTemplates, EveryOfferedSkinnyKernelCompilesWithNvrtcForSm90AndSm80) {
  compile_all(of_file("skinny_gemm.cu"), 8);
}

TEST(CudaTemplates, CompileErrorsComeBackWithNvrtcsLog) {
  const std::string why = cuda::nvrtc_unavailable_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  ck::KernelSource s;
  s.file = "hopper_gemm.cu";
  s.entry = "gt_hopper_gemm";
  s.arch = "sm_90a";
  s.defines = {{"GT_BM", "96"}};  // not 64 * consumers * (1 or 2): the source's #error
  auto cubin = ck::compile(s);
  ASSERT_FALSE(cubin.ok());
  EXPECT_EQ(cubin.error().reason, Reason::compile_error);
  EXPECT_NE(cubin.error().message.find("GT_BM must be"), std::string::npos) << cubin.error().message;
}

// ---------------------------------------------------------------- disk cache

class KernelDiskCache : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gemmtune-kernels-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    folder_ = root_ + "/kernels";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string path(const std::string& digest) const { return folder_ + "/" + digest + ".cubin"; }
  std::string root_, folder_;
  const std::string digest_ = "0123456789abcdef0123456789abcdef";
  const std::vector<char> cubin_ = std::vector<char>(5000, 'x');
};

TEST_F(KernelDiskCache, WrittenKernelIsReadBackOnlyUnderItsIdentity) {
  ASSERT_TRUE(ck::disk::write(folder_, digest_, "identity A", cubin_));
  auto back = ck::disk::read(folder_, digest_, "identity A");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, cubin_);
  EXPECT_FALSE(ck::disk::read(folder_, digest_, "identity B").has_value());
  EXPECT_FALSE(ck::disk::read(folder_, "ffffffffffffffffffffffffffffffff", "identity A").has_value());
  struct stat st {};
  ASSERT_EQ(::stat(folder_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "the kernel folder is private";
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(folder_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

// The one way both kernel caches (templates, the runtime's own) get a cubin:
// compiled once, then read back by the next caller; a failed compile is not
// stored; without a folder every call compiles.
TEST_F(KernelDiskCache, ReadOrCompileCompilesOnceAndStoresOnlySuccess) {
  int compiles = 0;
  auto good = [&]() -> Expected<std::vector<char>> {
    ++compiles;
    return cubin_;
  };
  bool from_disk = true;
  auto first = ck::disk::read_or_compile(folder_, "id good", good, &from_disk);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(from_disk);
  auto second = ck::disk::read_or_compile(folder_, "id good", good, &from_disk);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(from_disk);
  EXPECT_EQ(second.value(), cubin_);
  EXPECT_EQ(compiles, 1);

  auto bad = [&]() -> Expected<std::vector<char>> {
    ++compiles;
    return reject(Reason::compile_error, "no");
  };
  EXPECT_FALSE(ck::disk::read_or_compile(folder_, "id bad", bad).ok());
  EXPECT_FALSE(ck::disk::read_or_compile(folder_, "id bad", bad).ok());
  EXPECT_EQ(compiles, 3) << "a failed compile was stored";

  EXPECT_TRUE(ck::disk::read_or_compile("", "id good", good, &from_disk).ok());
  EXPECT_FALSE(from_disk);
  EXPECT_EQ(compiles, 4);
}

// has() is what lets a rebuilt winner skip compiling its siblings: true only
// for a stored file, never for a planted link or another digest.
TEST_F(KernelDiskCache, HasSeesOnlyAStoredKernelFile) {
  EXPECT_FALSE(ck::disk::has(folder_, digest_));
  EXPECT_FALSE(ck::disk::has("", digest_));
  ASSERT_TRUE(ck::disk::write(folder_, digest_, "id", cubin_));
  EXPECT_TRUE(ck::disk::has(folder_, digest_));
  EXPECT_FALSE(ck::disk::has(folder_, std::string(digest_.size(), '0')));
  const std::string other(digest_.size(), '1');
  std::filesystem::create_symlink(folder_ + "/" + digest_ + ".cubin", folder_ + "/" + other + ".cubin");
  EXPECT_FALSE(ck::disk::has(folder_, other));
}

// The runtime's own kernels (reference, epilogue passes) go to the same
// folder: a second runtime (another process, in real use) loads them from
// there instead of running NVRTC again (~0.3 s per process).
TEST_F(KernelDiskCache, TheRuntimesOwnKernelsAreKeptForTheNextRuntime) {
  GEMMTUNE_REQUIRE_GPU();
  auto count = [&] {
    int files = 0;
    if (std::filesystem::exists(folder_))
      for (const auto& e : std::filesystem::directory_iterator(folder_)) files += e.is_regular_file();
    return files;
  };
  {
    cuda::CudaRuntime first(0);
    first.use_cache_dir(root_);
    auto fn = first.function(cuda::kReferenceKernel);
    ASSERT_TRUE(fn.ok()) << fn.error().to_string();
  }
  ASSERT_EQ(count(), 1) << "the compiled module was not stored";
  // A damaged copy is recompiled over, never loaded.
  const auto file = std::filesystem::directory_iterator(folder_)->path();
  std::filesystem::resize_file(file, 200);
  cuda::CudaRuntime second(0);
  second.use_cache_dir(root_);
  auto fn = second.function(cuda::kReferenceKernel);
  ASSERT_TRUE(fn.ok()) << fn.error().to_string();
  EXPECT_EQ(count(), 1);
  EXPECT_GT(std::filesystem::file_size(file), 1000u);
}

TEST_F(KernelDiskCache, TornOrDamagedFileIsAMissAndIsRemoved) {
  ASSERT_TRUE(ck::disk::write(folder_, digest_, "id", cubin_));
  std::filesystem::resize_file(path(digest_), 100);  // torn write
  EXPECT_FALSE(ck::disk::read(folder_, digest_, "id").has_value());
  EXPECT_FALSE(std::filesystem::exists(path(digest_)));
  ASSERT_TRUE(ck::disk::write(folder_, digest_, "id", cubin_));
  {
    std::fstream f(path(digest_), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-10, std::ios::end);
    f.write("yyyyyyyyyy", 10);  // flipped payload: the checksum catches it
  }
  EXPECT_FALSE(ck::disk::read(folder_, digest_, "id").has_value());
}

TEST_F(KernelDiskCache, SymlinkAtAKernelsNameIsNeitherFollowedNorItsTargetTouched) {
  std::filesystem::create_directories(folder_);
  const std::string victim = root_ + "/victim.txt";
  { std::ofstream(victim) << "user data"; }
  std::filesystem::create_symlink(victim, path(digest_));
  EXPECT_FALSE(ck::disk::read(folder_, digest_, "id").has_value());
  ASSERT_TRUE(ck::disk::write(folder_, digest_, "id", cubin_));  // replaces the link, not its target
  std::ifstream in(victim);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "user data");
  EXPECT_FALSE(std::filesystem::is_symlink(path(digest_)));
}

TEST_F(KernelDiskCache, ALinkedOrForeignFolderIsNotUsed) {
  const std::string elsewhere = root_ + "/elsewhere";
  std::filesystem::create_directories(elsewhere);
  std::filesystem::create_symlink(elsewhere, folder_);
  EXPECT_FALSE(ck::disk::write(folder_, digest_, "id", cubin_));
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
}

TEST_F(KernelDiskCache, TrimRemovesLeastRecentlyUsedKernelsAndNothingElse) {
  std::vector<std::string> digests;
  for (int i = 0; i < 6; ++i) {
    char d[33];
    std::snprintf(d, sizeof d, "%032x", i + 1);
    digests.push_back(d);
    ASSERT_TRUE(ck::disk::write(folder_, d, "id", cubin_));
    // Older files first: set their times apart explicitly.
    const auto t = std::filesystem::file_time_type::clock::now() - std::chrono::hours(10 - i);
    std::filesystem::last_write_time(path(d), t);
  }
  { std::ofstream(folder_ + "/notes.txt") << "not a kernel"; }
  // Reading the oldest makes it the most recently used.
  ASSERT_TRUE(ck::disk::read(folder_, digests[0], "id").has_value());
  const std::uint64_t file_bytes = std::filesystem::file_size(path(digests[0]));
  ck::disk::trim(folder_, 3 * file_bytes);
  EXPECT_TRUE(std::filesystem::exists(path(digests[0]))) << "recently read";
  EXPECT_FALSE(std::filesystem::exists(path(digests[1])));
  EXPECT_FALSE(std::filesystem::exists(path(digests[2])));
  EXPECT_FALSE(std::filesystem::exists(path(digests[3])));
  EXPECT_TRUE(std::filesystem::exists(path(digests[5])));
  EXPECT_TRUE(std::filesystem::exists(folder_ + "/notes.txt")) << "only kernel files are ever removed";
}

TEST_F(KernelDiskCache, ConcurrentWritersOfOneKernelLeaveOneValidFile) {
  std::vector<std::thread> writers;
  for (int i = 0; i < 8; ++i)
    writers.emplace_back([&] {
      for (int j = 0; j < 20; ++j) ck::disk::write(folder_, digest_, "id", cubin_);
    });
  std::atomic<int> bad{0};
  std::thread reader([&] {
    for (int j = 0; j < 200; ++j) {
      auto r = ck::disk::read(folder_, digest_, "id");
      if (r && *r != cubin_) ++bad;
    }
  });
  for (auto& w : writers) w.join();
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  ASSERT_TRUE(ck::disk::read(folder_, digest_, "id").has_value());
}

TEST(CudaTemplates, TheStandardSpaceOffersTheSplitKThatFillsTheSmsInOneWave) {
  // 128x4096x4096: 32 tiles of 128x128 on 132 SMs. k4 (128 units) fills one
  // wave; round 5 offered only k5 (160 units: a second wave) and k2.
  auto choices = ck::offer(gpu_problem(Op::mm, DType::bf16, {1, 128, 4096, 4096}, "nt"),
                           ck::FamilyContext{h100(), SearchSpace::standard});
  ASSERT_TRUE(choices.ok()) << choices.error().to_string();
  std::set<std::string> names;
  for (const Choice& c : choices.value()) names.insert(c.name);
  EXPECT_TRUE(names.count("cuda_sm90_128x128_s6_c1_k4"));
  // A long K: the same factor, each split still 56 K blocks.
  auto long_k = ck::offer(gpu_problem(Op::mm, DType::bf16, {1, 128, 4096, 14336}, "nt"),
                          ck::FamilyContext{h100(), SearchSpace::standard});
  ASSERT_TRUE(long_k.ok());
  bool k4 = false;
  for (const Choice& c : long_k.value()) k4 |= c.name == "cuda_sm90_128x128_s6_c1_k4";
  EXPECT_TRUE(k4);
  // Enough tiles for every SM: no split at all.
  auto big = ck::offer(gpu_problem(Op::mm, DType::bf16, {1, 4096, 4096, 4096}, "nt"),
                       ck::FamilyContext{h100(), SearchSpace::standard});
  ASSERT_TRUE(big.ok());
  for (const Choice& c : big.value()) EXPECT_TRUE(c.name.ends_with("_k1")) << c.name;
}

TEST(CudaTemplates, AtMost64RowsTheStandardSpaceTakesOnly64RowHopperTiles) {
  for (std::int64_t m : {1, 16, 33, 64})
    for (const char* layout : {"nt", "nn"}) {
      auto choices = ck::offer(gpu_problem(Op::mm, DType::bf16, {1, m, 4096, 4096}, layout),
                               ck::FamilyContext{h100(), SearchSpace::standard});
      ASSERT_TRUE(choices.ok()) << choices.error().to_string();
      std::size_t hopper = 0;
      for (const Choice& c : choices.value())
        if (auto config = ck::hopper::parse(c.name)) {
          ++hopper;
          EXPECT_EQ(config->bm, 64) << "M = " << m << ": " << c.name;
        }
      EXPECT_GT(hopper, 0u) << "M = " << m << " " << layout;
    }
}

}  // namespace
}  // namespace gemmtune
