// An embedder's program, built against an installed gemmtune only (through
// find_package or pkg-config): tunes a GEMM, runs the winner and checks the
// answer, uses the results database through the tuner and the catalogue,
// catches the public exceptions by type across the library boundary, and
// tunes a backend of its own. Prints one line per check; exits 1 on the
// first failure.
//   tune_cpp CACHE_DIR
#include <gemmtune/gemmtune.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  std::exit(1);
}

void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
  std::printf("ok: %s\n", what.c_str());
}

// C = A.B for row-major f32, in double.
std::vector<float> naive_mm(const std::vector<float>& a, const std::vector<float>& b, int m, int n, int k) {
  std::vector<float> c(static_cast<std::size_t>(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      for (int p = 0; p < k; ++p) sum += double(a[i * k + p]) * b[p * n + j];
      c[i * n + j] = static_cast<float>(sum);
    }
  return c;
}

double max_relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(double(got[i]) - want[i]) / std::max(1.0, std::abs(double(want[i]))));
  return worst;
}

std::vector<float> filled(std::size_t count, unsigned seed) {
  std::vector<float> v(count);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / static_cast<float>(1u << 24) - 0.5f;
  }
  return v;
}

// A backend of the embedder's own: one naive f32 mm kernel.
class NaiveKernel final : public gemmtune::Kernel {
 public:
  explicit NaiveKernel(gemmtune::Problem p) : p_(std::move(p)) {}
  gemmtune::Status run(const gemmtune::GemmArgs& args, const gemmtune::RunContext&) override {
    const auto* a = static_cast<const float*>(args.a);
    const auto* b = static_cast<const float*>(args.b);
    auto* c = static_cast<float*>(args.c);
    for (std::int64_t i = 0; i < p_.m; ++i)
      for (std::int64_t j = 0; j < p_.n; ++j) {
        double sum = 0;
        for (std::int64_t q = 0; q < p_.k; ++q)
          sum += double(a[i * p_.a.row_stride + q * p_.a.col_stride]) * b[q * p_.b.row_stride + j * p_.b.col_stride];
        c[i * p_.c.row_stride + j * p_.c.col_stride] = static_cast<float>(p_.alpha * sum);
      }
    return gemmtune::Status::success();
  }

 private:
  gemmtune::Problem p_;
};

class NaiveBackend final : public gemmtune::Backend {
 public:
  std::string_view name() const override { return "NAIVE"; }
  gemmtune::DeviceKind device_kind() const override { return gemmtune::DeviceKind::cpu; }
  std::string version() const override { return "naive-1"; }
  gemmtune::Availability availability() const override { return gemmtune::Availability::yes(); }
  std::string capabilities() const override { return "mm f32"; }
  bool may_be_inexact() const override { return false; }
  gemmtune::Expected<std::vector<gemmtune::Choice>> enumerate(const gemmtune::Problem& p,
                                                              const gemmtune::TuningContext&) const override {
    if (p.op != gemmtune::Op::mm || p.a.dtype != gemmtune::DType::f32)
      return gemmtune::reject(gemmtune::Reason::unsupported_op, "NAIVE only does f32 mm");
    return std::vector<gemmtune::Choice>{{"naive_f32", "one loop nest"}};
  }
  gemmtune::Expected<std::unique_ptr<gemmtune::Kernel>> build(const gemmtune::Problem& p, const gemmtune::Choice&,
                                                              const gemmtune::TuningContext&) const override {
    return std::unique_ptr<gemmtune::Kernel>(std::make_unique<NaiveKernel>(p));
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) fail("usage: tune_cpp CACHE_DIR");
  const std::string db = std::string(argv[1]) + "/tuning.db";
  std::printf("gemmtune %s\n", std::string(gemmtune::version()).c_str());

  const int m = 37, n = 29, k = 41;
  gemmtune::ProblemSpec spec;
  spec.op = gemmtune::Op::mm;
  spec.m = m;
  spec.n = n;
  spec.k = k;
  spec.alignment = 16;  // what std::vector's allocation guarantees here
  const gemmtune::Problem problem = gemmtune::make_problem(spec);
  const auto a = filled(std::size_t(m) * k, 1), b = filled(std::size_t(k) * n, 2);
  const auto want = naive_mm(a, b, m, n, k);

  gemmtune::TuneOptions options;
  options.backends = std::vector<std::string>{"BLAS"};
  options.db_path = db;
  options.measure.budget_ms = 2;
  {
    gemmtune::Tuner tuner(options);
    gemmtune::Selection selection = tuner.select(problem);
    check(selection.backend() == "BLAS" && !selection.cache_hit(), "tuned " + gemmtune::describe(problem) + ": " +
                                                                        selection.backend() + " " + selection.choice());
    std::vector<float> c(std::size_t(m) * n, 0.f);
    selection.run({a.data(), b.data(), c.data()});
    check(max_relative_error(c, want) < 1e-5, "the selected kernel computes A.B");
    check(tuner.select(problem).cache_hit(), "the second select is a cache hit");
  }

  auto catalogue = gemmtune::Catalogue::open(db);
  const auto rows = catalogue->list();
  check(rows.size() == 1 && rows[0].winner_backend == "BLAS", "the catalogue lists the one record");
  const auto record = catalogue->get(rows[0].key);
  check(record.has_value(), "the catalogue finds it by key");
  const std::string text = gemmtune::record_to_json(*record, 2);
  check(gemmtune::record_from_json(text).problem == problem, "record JSON reads back");

  try {
    gemmtune::record_from_json("{\"key\": 3}");
    fail("a malformed record was accepted");
  } catch (const gemmtune::StoreError& e) {
    check(std::string(e.what()).find("key") != std::string::npos, std::string("StoreError: ") + e.what());
  }

  try {
    gemmtune::ProblemSpec bad = spec;
    bad.m = -1;
    gemmtune::validate(gemmtune::make_problem(bad));
    fail("a negative size was accepted");
  } catch (const gemmtune::InvalidProblemError& e) {
    check(!e.field().empty(), "InvalidProblemError names " + e.field());
  }

  gemmtune::ProblemSpec int8 = spec;
  int8.op = gemmtune::Op::int_mm;
  int8.dtype = gemmtune::DType::i8;
  gemmtune::TuneOptions strict = options;
  strict.use_cache = false;
  try {
    gemmtune::Tuner(strict).tune(gemmtune::make_problem(int8));
    fail("BLAS served int_mm");
  } catch (const gemmtune::NoValidChoicesError& e) {
    check(!e.record().backends.empty() && e.record().backends[0].rejection.has_value(),
          "NoValidChoicesError carries BLAS's rejection: " + e.record().backends[0].rejection->to_string());
  }
  check(gemmtune::library_backend(gemmtune::DeviceKind::cpu) == "BLAS", "the CPU's library backend is BLAS");

  gemmtune::TuneOptions own = strict;
  own.backends.reset();
  gemmtune::Tuner naive_tuner(own, {std::make_shared<NaiveBackend>()});
  gemmtune::Selection naive = naive_tuner.select(problem);
  std::vector<float> c(std::size_t(m) * n, 0.f);
  naive.run({a.data(), b.data(), c.data()});
  check(naive.backend() == "NAIVE" && max_relative_error(c, want) < 1e-6, "a backend of the program's own is tuned and runs");
  std::printf("all checks passed\n");
  return 0;
}
