#include "store_test_support.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/key.h"

namespace gemmtune::store::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/gemmtune-store-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Tests may leave folders without write permission behind.
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  for (auto& entry : std::filesystem::recursive_directory_iterator(path_, ec))
    if (entry.is_directory(ec))
      std::filesystem::permissions(entry.path(), std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path_, ec);
}

TuningRecord sample_record(const std::string& key, int variant) {
  TuningRecord r;
  r.key = key;

  Problem& p = r.problem;
  p.op = Op::baddbmm;
  p.batch = 3 + variant;
  p.m = 17;
  p.n = 33;
  p.k = 65 + variant;
  p.a = MatrixDesc{DType::bf16, 17, p.k, 1, 20, 20 * p.k};          // column-major, padded
  p.b = MatrixDesc{DType::bf16, p.k, 33, 40, 1, 0};                  // broadcast over the batch
  p.c = MatrixDesc{DType::f32, 17, 33, 35, 1, 17 * 35};
  p.bias = BiasKind::row;
  p.bias_desc = MatrixDesc{DType::f32, 1, 33, 33, 1, 7};
  p.alpha = 0.1 + 0.2;                                               // not a short decimal
  p.beta = -1.0 / 3.0;
  p.activation = Activation::gelu;
  p.scale_a = ScaleKind::per_tensor;
  p.scale_b = ScaleKind::per_channel;
  p.allow_tf32 = true;
  p.alignment = 16;
  p.device = Device{DeviceKind::cuda, 1};

  r.enabled = {"CPP", "ONEDNN", "BLAS"};
  r.search_space = SearchSpace::exhaustive;
  r.threads = 2 + variant;
  r.environment = "cpu=AMD EPYC 9R14;isa=avx512f,avx512bf16;variant=" + std::to_string(variant);
  r.backend_versions = {{"BLAS", "openblas 0.3.21 haswell"}, {"CPP", "kernels 3"}, {"ONEDNN", "2.6.0"}};

  BackendOutcome blas{"BLAS", "openblas 0.3.21 haswell", 1, std::nullopt};
  BackendOutcome onednn{"ONEDNN", "2.6.0", 0,
                        Rejection{Stage::enumerate, Reason::unsupported_epilogue, "gelu after a row bias \"quoted\""}};
  BackendOutcome cpp{"CPP", "kernels 3", 3, std::nullopt};
  r.backends = {blas, onednn, cpp};

  ChoiceOutcome fast;
  fast.backend = "CPP";
  fast.name = "cpp_avx512_bf16_mr6_nr32_kc256_v" + std::to_string(variant);
  fast.description = "6x32 micro-kernel, k-block 256";
  fast.timing = Timing{12.345678901234567 + variant, 11.0000000000001, 19.5, 0.0312, 41};
  fast.max_error = 1.2345e-7;

  ChoiceOutcome wrong;
  wrong.backend = "CPP";
  wrong.name = "cpp_avx512_bf16_mr8_nr16_kc128";
  wrong.description = "8x16 micro-kernel";
  wrong.rejection = Rejection{Stage::verify, Reason::wrong_result, "relative error 0.25 > 0.01 at (3, 7)"};
  wrong.max_error = 0.25;

  ChoiceOutcome lib;
  lib.backend = "BLAS";
  lib.name = "blas_sgemm";
  lib.description = "cblas_sgemm + epilogue; unicode \xc3\xa9\xe2\x9c\x93";
  lib.timing = Timing{25.5, 24.0, 1e300, 5e-324, 7};
  lib.max_error = 0;

  ChoiceOutcome crashed;
  crashed.backend = "CPP";
  crashed.name = "cpp_avx512_bf16_mr4_nr64_kc512";
  crashed.timing = Timing{1, 2, 3, 4, 5};  // both set: the form must not assume either excludes the other
  crashed.rejection = Rejection{Stage::timeout, Reason::timed_out, "ran 2.0 s > 1.0 s\nsecond line\ttab"};

  r.choices = {fast, wrong, lib, crashed};
  r.winner = Winner{"CPP", fast.name, fast.timing->median_us};
  r.fallback = true;
  r.fallback_reason = "no enabled backend served; library fallback switched on by GEMMTUNE_FALLBACK_TO_LIBRARY";
  r.tuning_seconds = 1.75 + variant;
  r.created_at = "2024-05-01T12:34:56Z";
  r.gemmtune_version = "0.1.0-test";
  r.tuned_by = "host-a pid " + std::to_string(40 + variant);
  return r;
}

TuningRecord valid_record(const std::string& label, int variant) {
  ProblemSpec spec;
  spec.op = Op::addmm;
  spec.m = 17 + variant;
  spec.n = 33;
  spec.k = 65;
  spec.alpha = 0.5;
  spec.beta = 2;
  spec.activation = Activation::relu;
  TuningRecord r;
  r.problem = make_problem(spec);
  r.enabled = {"BLAS", "CPP"};
  r.search_space = SearchSpace::standard;
  r.threads = 4;
  r.environment = "cpu=test;label=" + label;
  r.backend_versions = {{"BLAS", "openblas 0.3.21"}, {"CPP", "kernels 3"}};
  r.backends = {BackendOutcome{"BLAS", "openblas 0.3.21", 1, std::nullopt},
                BackendOutcome{"CPP", "kernels 3", 2, std::nullopt}};
  ChoiceOutcome fast{"CPP", "cpp_avx2_f32_mr6_nr16_kc256", "6x16 micro-kernel", Timing{10.0 + variant, 9.5, 12.0 + variant, 0.02, 40},
                     std::nullopt, 1e-7};
  ChoiceOutcome wrong{"CPP", "cpp_avx2_f32_mr4_nr8_kc128", "4x8 micro-kernel", std::nullopt,
                      Rejection{Stage::verify, Reason::wrong_result, "relative error 0.5"}, 0.5};
  ChoiceOutcome lib{"BLAS", "blas_sgemm", "cblas_sgemm + epilogue", Timing{20, 19, 25, 0.05, 30}, std::nullopt, 0};
  r.choices = {fast, wrong, lib};
  r.winner = Winner{"CPP", fast.name, fast.timing->median_us};
  r.tuning_seconds = 0.25;
  r.created_at = "2024-05-01T12:34:56Z";
  r.gemmtune_version = "0.1.0-test";
  r.key = core::make_key(r.problem, core::KeyContext{r.environment, r.threads, r.enabled, r.backend_versions,
                                                     r.search_space});
  return r;
}

namespace {

::testing::AssertionResult differ(const std::string& field, const std::string& expected, const std::string& actual) {
  return ::testing::AssertionFailure() << field << " differs: expected '" << expected << "', got '" << actual << "'";
}

std::string text(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

std::string text(const std::optional<Rejection>& r) { return r ? r->to_string() : std::string("(none)"); }

}  // namespace

::testing::AssertionResult same_record(const TuningRecord& e, const TuningRecord& a) {
#define SAME(field, show)                                                        \
  if (!(e.field == a.field)) return differ(#field, show(e.field), show(a.field));
  auto str = [](const auto& v) { return std::string(v); };
  auto num = [](auto v) { return text(static_cast<double>(v)); };
  SAME(key, str);
  if (!(e.problem == a.problem)) return differ("problem", describe(e.problem), describe(a.problem));
  if (e.enabled != a.enabled) return ::testing::AssertionFailure() << "enabled differs";
  if (e.search_space != a.search_space) return ::testing::AssertionFailure() << "search_space differs";
  SAME(threads, num);
  SAME(environment, str);
  if (e.backend_versions != a.backend_versions) return ::testing::AssertionFailure() << "backend_versions differ";
  if (e.backends.size() != a.backends.size()) return ::testing::AssertionFailure() << "backends: count differs";
  for (std::size_t i = 0; i < e.backends.size(); ++i) {
    const auto& x = e.backends[i];
    const auto& y = a.backends[i];
    std::string at = "backends[" + std::to_string(i) + "].";
    if (x.backend != y.backend) return differ(at + "backend", x.backend, y.backend);
    if (x.version != y.version) return differ(at + "version", x.version, y.version);
    if (x.choices_offered != y.choices_offered) return differ(at + "choices_offered", num(x.choices_offered), num(y.choices_offered));
    if (x.rejection != y.rejection) return differ(at + "rejection", text(x.rejection), text(y.rejection));
  }
  if (e.choices.size() != a.choices.size()) return ::testing::AssertionFailure() << "choices: count differs";
  for (std::size_t i = 0; i < e.choices.size(); ++i) {
    const auto& x = e.choices[i];
    const auto& y = a.choices[i];
    std::string at = "choices[" + std::to_string(i) + "].";
    if (x.backend != y.backend) return differ(at + "backend", x.backend, y.backend);
    if (x.name != y.name) return differ(at + "name", x.name, y.name);
    if (x.description != y.description) return differ(at + "description", x.description, y.description);
    if (x.rejection != y.rejection) return differ(at + "rejection", text(x.rejection), text(y.rejection));
    if (x.max_error != y.max_error) return differ(at + "max_error", num(x.max_error), num(y.max_error));
    if (x.timing.has_value() != y.timing.has_value()) return ::testing::AssertionFailure() << at << "timing presence differs";
    if (x.timing) {
      const Timing& s = *x.timing;
      const Timing& t = *y.timing;
      if (s.median_us != t.median_us) return differ(at + "timing.median_us", num(s.median_us), num(t.median_us));
      if (s.min_us != t.min_us) return differ(at + "timing.min_us", num(s.min_us), num(t.min_us));
      if (s.max_us != t.max_us) return differ(at + "timing.max_us", num(s.max_us), num(t.max_us));
      if (s.spread != t.spread) return differ(at + "timing.spread", num(s.spread), num(t.spread));
      if (s.repeats != t.repeats) return differ(at + "timing.repeats", num(s.repeats), num(t.repeats));
    }
  }
  if (e.winner.has_value() != a.winner.has_value()) return ::testing::AssertionFailure() << "winner presence differs";
  if (e.winner) {
    if (e.winner->backend != a.winner->backend) return differ("winner.backend", e.winner->backend, a.winner->backend);
    if (e.winner->choice != a.winner->choice) return differ("winner.choice", e.winner->choice, a.winner->choice);
    if (e.winner->time_us != a.winner->time_us) return differ("winner.time_us", num(e.winner->time_us), num(a.winner->time_us));
  }
  SAME(fallback, num);
  SAME(fallback_reason, str);
  SAME(tuning_seconds, num);
  SAME(created_at, str);
  SAME(gemmtune_version, str);
  SAME(tuned_by, str);
  SAME(verified, num);
#undef SAME
  return ::testing::AssertionSuccess();
}

std::string numbered_key(const char* prefix, int a, int b) {
  // Appending (rather than "literal" + std::string) also avoids a GCC 12
  // -Wrestrict false positive at -O3.
  std::string key(prefix);
  key += std::to_string(a);
  if (b >= 0) {
    key += '-';
    key += std::to_string(b);
  }
  return key;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path);
}

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::vector<std::string> files_starting_with(const std::string& folder, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sql(const std::string& db_path, const std::string& statement, bool keep_wal) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::string m = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("sqlite open " + db_path + ": " + m);
  }
  sqlite3_busy_timeout(db, 30000);
  if (keep_wal) sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  std::vector<std::string> rows;
  const char* tail = statement.c_str();
  while (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, tail, -1, &stmt, &tail) != SQLITE_OK) {
      std::string m = sqlite3_errmsg(db);
      sqlite3_close(db);
      throw std::runtime_error("sqlite prepare: " + m);
    }
    if (stmt == nullptr) break;  // trailing whitespace
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(stmt, 0);
      rows.emplace_back(t != nullptr ? reinterpret_cast<const char*>(t) : "NULL");
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
      std::string m = sqlite3_errmsg(db);
      sqlite3_close(db);
      throw std::runtime_error("sqlite step: " + m);
    }
  }
  sqlite3_close(db);
  return rows;
}

}  // namespace gemmtune::store::testing
