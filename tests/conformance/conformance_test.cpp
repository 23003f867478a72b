// Every registered backend against the exact reference, over the whole
// conformance table. A backend either serves a problem correctly (every
// sampled choice builds, runs twice on fresh inputs and verifies) or
// rejects it with a catalogued "unsupported" reason; where the must-serve
// table says it serves that class of problem, a rejection is a failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "conformance/problem_table.h"
#include "gemmtune/tuner.h"
#include "measure/inputs.h"
#include "measure/verify.h"
#include "runtime/device_runtime.h"
#include "testing/problem_specs.h"

namespace gemmtune::conformance {
namespace {

// Choices tried per problem; more are sampled evenly (first and last kept).
constexpr std::size_t kMaxChoicesPerProblem = 4;

struct Param {
  std::string backend;
  std::size_t case_index;
  SearchSpace search_space = SearchSpace::standard;
};

// gtest prints parameters of failed tests; the default is a byte dump.
void PrintTo(const Param& param, std::ostream* out) {
  *out << param.backend << " on " << cases()[param.case_index].name << " (" << to_string(param.search_space)
       << " search space)";
}

const std::vector<std::shared_ptr<Backend>>& registered() {
  static const std::vector<std::shared_ptr<Backend>> list = builtin_backends();
  return list;
}

std::shared_ptr<Backend> find_backend(const std::string& name) {
  for (const auto& backend : registered())
    if (backend->name() == name) return backend;
  return nullptr;
}

bool usable(const Backend& backend) { return backend.availability().available; }

// Registered backends that are available here, in registration order: each
// gets one test per case. The others get one test each (BackendPresence)
// that skips and says why, rather than a skip per case.
std::vector<Param> all_params() {
  std::vector<Param> out;
  for (const auto& backend : registered()) {
    if (!usable(*backend)) continue;
    for (std::size_t i = 0; i < cases().size(); ++i) {
      out.push_back(Param{std::string(backend->name()), i, SearchSpace::standard});
      if (cases()[i].exhaustive_too) out.push_back(Param{std::string(backend->name()), i, SearchSpace::exhaustive});
    }
  }
  return out;
}

// Must-serve backends and registered ones, whether usable or not.
std::vector<std::string> presence_params() {
  std::vector<std::string> names;
  for (const auto& backend : registered()) names.emplace_back(backend->name());
  for (const auto& name : must_serve_backends())
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  return names;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return info.param.backend + "_" + cases()[info.param.case_index].name +
         (info.param.search_space == SearchSpace::exhaustive ? "_exhaustive" : "");
}

std::vector<Choice> sample(const std::vector<Choice>& choices) {
  if (choices.size() <= kMaxChoicesPerProblem) return choices;
  std::vector<Choice> out;
  for (std::size_t s = 0; s < kMaxChoicesPerProblem; ++s)
    out.push_back(choices[s * (choices.size() - 1) / (kMaxChoicesPerProblem - 1)]);
  return out;
}

std::uint64_t fresh_seed() {
  static std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

// GEMMTUNE_CONFORMANCE_VERBOSE=1 prints what each backend did with each
// problem (choices with their descriptions, or the rejection).
bool verbose() {
  static const bool on = [] {
    const char* v = std::getenv("GEMMTUNE_CONFORMANCE_VERBOSE");
    return v != nullptr && std::string(v) == "1";
  }();
  return on;
}

int test_threads() { return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 2u)); }

class Conformance : public ::testing::TestWithParam<Param> {};

TEST_P(Conformance, ServesOrRejectsAsUnsupportedAndMatchesReference) {
  const Param& param = GetParam();
  const Case& c = cases()[param.case_index];
  const std::optional<std::string> must = must_serve(param.backend, c.problem);

  std::shared_ptr<Backend> backend = find_backend(param.backend);
  ASSERT_TRUE(backend);

  Problem p = c.problem;
  p.device = Device{backend->device_kind(), 0};
  ASSERT_NO_THROW(validate(p)) << "the conformance table holds an invalid problem: " << c.name;
  SCOPED_TRACE(param.backend + " on " + describe(p));

  runtime::DeviceRuntime& rt = runtime::runtime_for(p.device);
  const TuningContext ctx{param.search_space, test_threads(), 1, &rt};
  auto enumerated = backend->enumerate(p, ctx);
  if (!enumerated) {
    const Rejection& r = enumerated.error();
    if (verbose()) std::printf("%-10s %-60s rejected %s\n", param.backend.c_str(), c.name.c_str(), r.to_string().c_str());
    if (must) FAIL() << param.backend << " rejected a problem it must serve (" << *must << "): " << r.to_string();
    EXPECT_TRUE(is_unsupported(r.reason)) << "a rejection at enumerate must be a \"not for me\" reason, got "
                                          << r.to_string();
    EXPECT_EQ(r.stage, Stage::enumerate) << r.to_string();
    EXPECT_FALSE(r.message.empty()) << "a rejection must say specifically why: " << r.to_string();
    return;
  }
  const std::vector<Choice>& choices = enumerated.value();
  ASSERT_FALSE(choices.empty()) << "enumerate() must never return an empty list";
  std::set<std::string> names;
  for (const auto& choice : choices) {
    if (verbose())
      std::printf("%-10s %-60s %s: %s\n", param.backend.c_str(), c.name.c_str(), choice.name.c_str(),
                  choice.description.c_str());
    EXPECT_FALSE(choice.name.empty());
    EXPECT_TRUE(names.insert(choice.name).second) << "duplicate choice name " << choice.name;
  }

  ASSERT_TRUE(rt.availability().available) << rt.availability().why;
  const std::uint64_t seed = fresh_seed();
  SCOPED_TRACE("input seed " + std::to_string(seed));

  // Two input sets: the second run of each kernel sees different data (a
  // kernel that caches packed operands across calls would fail it).
  struct Inputs {
    measure::HostData host;
    measure::DeviceInputSet set;
    measure::ReferenceSample reference;
  };
  std::vector<Inputs> inputs(2);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    inputs[i].host = measure::make_host_data(p, seed + i);
    auto set = measure::upload(rt, inputs[i].host);
    ASSERT_TRUE(set) << set.error().to_string();
    inputs[i].set = std::move(set.value());
    auto reference = measure::make_reference(rt, p, inputs[i].set.args(), VerifyMode::full, seed + i);
    ASSERT_TRUE(reference) << reference.error().to_string();
    inputs[i].reference = std::move(reference.value());
  }

  for (const Choice& choice : sample(choices)) {
    SCOPED_TRACE("choice " + choice.name + " (" + choice.description + ")");
    // From the name alone, as a measuring worker or a later process builds it.
    auto kernel = backend->build(p, Choice{choice.name, {}}, ctx);
    ASSERT_TRUE(kernel) << "an offered choice failed to build from its name: " << kernel.error().to_string();
    for (Inputs& in : inputs) {
      ASSERT_TRUE(measure::poison_output(rt, in.set));
      Status status = kernel.value()->run(in.set.args(), RunContext{rt.stream()});
      ASSERT_TRUE(status) << "run failed: " << status.error().to_string();
      ASSERT_TRUE(rt.synchronize());
      auto verdict = measure::verify_output(rt, p, in.set, in.reference);
      EXPECT_TRUE(verdict) << verdict.error().to_string();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Conformance, ::testing::ValuesIn(all_params()), param_name);

// A name a backend never made (a damaged record, another version's name) is
// a rejection at build, never a crash or another choice's kernel.
class ForeignChoiceName : public ::testing::TestWithParam<std::string> {};

TEST_P(ForeignChoiceName, IsRejectedAtBuild) {
  std::shared_ptr<Backend> backend = find_backend(GetParam());
  if (!backend) GTEST_SKIP() << GetParam() << " is not registered in this build";
  if (!backend->availability().available) GTEST_SKIP() << GetParam() << ": " << backend->availability().why;
  Problem p = make_problem(::gemmtune::testing::spec(Op::mm, 8, 8, 8, DType::f32, "nn"));
  p.device = Device{backend->device_kind(), 0};
  runtime::DeviceRuntime& rt = runtime::runtime_for(p.device);
  const TuningContext ctx{SearchSpace::standard, 1, 1, &rt};
  for (const std::string name : {"", "no_such_choice", "cpp_avx2_f32_mr6_nr16_kc256_mc96_nc2048_t1x1_extra",
                                 "cuda_skinny_kmajor_bf16_m1_t1_w8_u2_s0", "onednn_plainx"}) {
    auto kernel = backend->build(p, Choice{name, {}}, ctx);
    EXPECT_FALSE(kernel.ok()) << GetParam() << " built a kernel from the foreign name '" << name << "'";
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, ForeignChoiceName, ::testing::ValuesIn(presence_params()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// Backends whose per-case tests did not run here, and why: a must-serve
// backend that is missing or unavailable is skipped, never silently absent.
class BackendPresence : public ::testing::TestWithParam<std::string> {};

TEST_P(BackendPresence, IsRegisteredAndAvailableOrSaysWhy) {
  const std::string& name = GetParam();
  std::shared_ptr<Backend> backend = find_backend(name);
  if (!backend) GTEST_SKIP() << name << " is not registered in builtin_backends() in this build";
  const Availability availability = backend->availability();
  if (!availability.available) {
    EXPECT_FALSE(availability.why.empty()) << name << " is unavailable and does not say why";
    GTEST_SKIP() << name << " is not available here: " << availability.why;
  }
  EXPECT_FALSE(backend->version().empty());
  EXPECT_FALSE(backend->capabilities().empty());
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendPresence, ::testing::ValuesIn(presence_params()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(ConformanceTable, NamesAreUniqueAndEveryProblemIsValid) {
  std::set<std::string> names;
  for (const Case& c : cases()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate case name " << c.name;
    EXPECT_NO_THROW(validate(c.problem)) << c.name;
  }
}

TEST(ConformanceTable, CoversEveryOpAndDtype) {
  std::set<Op> ops;
  std::set<DType> a_dtypes, c_dtypes;
  bool k0 = false, m0 = false, n0 = false, broadcast = false, general = false, strided_c = false;
  std::set<Activation> activations;
  for (const Case& c : cases()) {
    const Problem& p = c.problem;
    ops.insert(p.op);
    a_dtypes.insert(p.a.dtype);
    c_dtypes.insert(p.c.dtype);
    activations.insert(p.activation);
    k0 |= p.k == 0 && p.m > 0 && p.n > 0;
    m0 |= p.m == 0;
    n0 |= p.n == 0;
    broadcast |= p.batch > 1 && p.b.batch_stride == 0;
    general |= !is_blas_layout(p.a);
    strided_c |= p.c.col_stride == 1 && p.c.row_stride > p.c.cols;
  }
  EXPECT_EQ(ops.size(), 7u);
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i8, DType::u8, DType::f8e4m3,
                  DType::f8e5m2})
    EXPECT_TRUE(a_dtypes.count(t)) << to_string(t);
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32}) EXPECT_TRUE(c_dtypes.count(t));
  EXPECT_EQ(activations.size(), 5u);
  EXPECT_TRUE(k0 && m0 && n0 && broadcast && general && strided_c);
}

TEST(ConformanceTable, MustServeTableNamesKnownBackends) {
  // A must-serve entry for a name that is neither registered nor planned
  // would silently never run.
  const std::set<std::string> planned{"REFERENCE", "BLAS", "ONEDNN", "CPP", "CUBLAS", "CUBLASLT", "CUDA"};
  for (const auto& name : must_serve_backends()) EXPECT_TRUE(planned.count(name)) << name;
  ASSERT_TRUE(find_backend("REFERENCE")) << "REFERENCE must always be registered";
}

}  // namespace
}  // namespace gemmtune::conformance
