#include "cpp_test_support.h"

#include "testing/check_kernel.h"

namespace gemmtune::cpp_test {

const Backend& backend() {
  static const auto instance = backends::make_cpp_backend();
  return *instance;
}

bool cpu_has_avx512() { return backends::cpp::CpuFeatures::detect().avx512; }

TuningContext context(int threads, SearchSpace space) {
  TuningContext ctx;
  ctx.threads = threads;
  ctx.search_space = space;
  return ctx;
}


::testing::AssertionResult matches_reference(const Problem& p, const Choice& choice, const TuningContext& ctx,
                                             std::uint64_t seed) {
  auto kernel = backend().build(p, choice, ctx);
  if (!kernel)
    return ::testing::AssertionFailure() << describe(p) << " " << choice.name << ": build: " << kernel.error().to_string();
  auto result = testing::kernel_matches_reference(p, *kernel.value(), seed);
  if (!result) return ::testing::AssertionFailure() << choice.name << ": " << result.message();
  return result;
}

::testing::AssertionResult every_choice_matches(const Problem& p, const TuningContext& ctx, int stride) {
  auto choices = backend().enumerate(p, ctx);
  if (!choices) return ::testing::AssertionFailure() << describe(p) << ": enumerate: " << choices.error().to_string();
  if (choices.value().empty()) return ::testing::AssertionFailure() << describe(p) << ": no choices";
  for (std::size_t i = 0; i < choices.value().size(); i += static_cast<std::size_t>(stride)) {
    auto result = matches_reference(p, choices.value()[i], ctx);
    if (!result) return result;
  }
  return ::testing::AssertionSuccess();
}

Choice choice_named(const std::string& name) { return Choice{name, ""}; }

Problem problem_of(const ProblemSpec& spec) {
  Problem p = make_problem(spec);
  validate(p);
  return p;
}

Problem with_padded_strides(Problem p, bool general) {
  auto stretch = [&](MatrixDesc& d) {
    if (general) {
      // Neither stride is 1: element (i, j) at i * (2 * cols + 3) + j * 2.
      d.col_stride = 2;
      d.row_stride = 2 * std::max<std::int64_t>(d.cols, 1) + 3;
    } else if (d.is_row_major()) {
      d.row_stride = std::max<std::int64_t>(d.cols, 1) + 5;
    } else {
      d.col_stride = std::max<std::int64_t>(d.rows, 1) + 5;
    }
    if (d.batch_stride != 0) d.batch_stride = d.row_stride * std::max<std::int64_t>(d.rows, 1) + d.col_stride * d.cols + 7;
  };
  stretch(p.a);
  stretch(p.b);
  stretch(p.c);
  if (p.bias == BiasKind::full) stretch(p.bias_desc);
  validate(p);
  return p;
}

}  // namespace gemmtune::cpp_test
