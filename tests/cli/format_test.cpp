// The formatters, on hand-made records: the AUTOTUNE block's rows, order,
// percentages and rejections; the JSON fields of the contract; CSV quoting;
// the library baseline of the summary.
#include <gtest/gtest.h>

#include "format.h"
#include "testing/problem_specs.h"

namespace gemmtune::cli {
namespace {

#define EXPECT_CONTAINS(text, needle) EXPECT_NE(std::string(text).find(needle), std::string::npos) << (text)

ChoiceOutcome timed(std::string backend, std::string name, double us, std::string description = "") {
  ChoiceOutcome c;
  c.backend = std::move(backend);
  c.name = std::move(name);
  c.description = std::move(description);
  c.timing = Timing{us, us * 0.9, us * 1.2, 0.02, 17};
  return c;
}

ChoiceOutcome rejected(std::string backend, std::string name, Stage stage, Reason reason, std::string message) {
  ChoiceOutcome c;
  c.backend = std::move(backend);
  c.name = std::move(name);
  c.rejection = Rejection{stage, reason, std::move(message)};
  return c;
}

TuningRecord sample_record() {
  TuningRecord r;
  r.key = "k1";
  r.problem = make_problem(testing::spec(Op::mm, 128, 4096, 4096, DType::bf16, "nt"));
  r.enabled = {"BLAS", "ONEDNN", "CPP"};
  r.backends = {BackendOutcome{"BLAS", "openblas-0.3", 1, std::nullopt},
                BackendOutcome{"ONEDNN", "2.6", 1, std::nullopt},
                BackendOutcome{"CPP", "cpp-1", 2, std::nullopt}};
  r.choices = {timed("BLAS", "blas_sbgemm", 1000.0, "cblas_sbgemm"),
               timed("ONEDNN", "onednn_plain", 902.1, "brg:avx512_core_bf16"),
               timed("CPP", "cpp_avx512_bf16_mr14_nr32", 812.3, "mr=14 nr=32 kc=384"),
               rejected("CPP", "cpp_avx512_bf16_mr6_nr64", Stage::verify, Reason::wrong_result, "C[3,7] off by 2")};
  r.winner = Winner{"CPP", "cpp_avx512_bf16_mr14_nr32", 812.3};
  r.created_at = "2026-01-02T03:04:05Z";
  r.tuning_seconds = 1.23;
  return r;
}

TEST(Format, AutotuneTitleNamesInputShapesDtypeAndLayout) {
  EXPECT_EQ(autotune_title(sample_record().problem), "mm(128x4096, 4096x4096) bf16 nt");
  ProblemSpec spec = testing::spec(Op::addmm, 8, 16, 32);
  spec.activation = Activation::gelu;
  EXPECT_EQ(autotune_title(make_problem(spec)), "addmm(16, 8x32, 32x16) f32 nn bias=row act=gelu");
  spec.op = Op::bmm;
  spec.batch = 4;
  spec.activation = Activation::none;
  spec.broadcast_b = true;
  EXPECT_EQ(autotune_title(make_problem(spec)), "bmm(4x8x32, 32x16) f32 nn");
}

TEST(Format, AutotuneBlockListsChoicesFastestFirstWithPercentOfBest) {
  ResultView v;
  v.record = sample_record();
  v.seconds = 1.234;
  std::string text = format_autotune(v);
  EXPECT_EQ(text.rfind("AUTOTUNE mm(128x4096, 4096x4096) bf16 nt\n", 0), 0u) << text;
  const auto cpp = text.find("cpp_avx512_bf16_mr14_nr32"), onednn = text.find("onednn_plain"),
             blas = text.find("blas_sbgemm"), bad = text.find("cpp_avx512_bf16_mr6_nr64");
  EXPECT_LT(cpp, onednn);
  EXPECT_LT(onednn, blas);
  EXPECT_LT(blas, bad);  // rejections after every timed choice
  EXPECT_CONTAINS(text, "812.3 us  100.0%  mr=14 nr=32 kc=384");
  EXPECT_CONTAINS(text, "902.1 us   90.0%");
  EXPECT_CONTAINS(text, "rejected  verify/wrong_result: C[3,7] off by 2");
  EXPECT_CONTAINS(text, "SingleProcess AUTOTUNE benchmarking takes 1.23 seconds (cache miss)");
  EXPECT_CONTAINS(text, "selected: CPP cpp_avx512_bf16_mr14_nr32 (812.3 us), 1.23x vs BLAS blas_sbgemm");
  EXPECT_EQ(text.find("FALLBACK"), std::string::npos);
}

TEST(Format, AutotuneBlockShowsBackendRejectionsCacheHitsAndFallbackLoudly) {
  ResultView v;
  v.record = sample_record();
  v.record.backends.push_back(
      BackendOutcome{"CUBLAS", "12", 0, Rejection{Stage::enumerate, Reason::wrong_device, "serves cuda problems"}});
  v.cache_hit = true;
  std::string hit = format_autotune(v);
  EXPECT_CONTAINS(hit, "CUBLAS");
  EXPECT_CONTAINS(hit, "rejected  enumerate/wrong_device: serves cuda problems");
  EXPECT_CONTAINS(hit, "(cache hit; tuned 2026-01-02T03:04:05Z in 1.23 s)");

  v.record.fallback = true;
  v.record.enabled = {"CUBLAS"};
  v.record.winner = Winner{"BLAS", "blas_sbgemm", 1000.0};
  v.record.fallback_reason = "no enabled backend produced a valid choice";
  std::string fb = format_autotune(v);
  EXPECT_CONTAINS(fb, "FALLBACK: the enabled backends (CUBLAS) produced no valid choice");
  EXPECT_CONTAINS(fb, "using the library backend BLAS");
}

TEST(Format, JsonHasTheContractFields) {
  ResultView v;
  v.record = sample_record();
  v.seconds = 0.5;
  nlohmann::json j = result_to_json(v);
  EXPECT_EQ(j["problem"]["op"], "mm");
  EXPECT_EQ(j["problem"]["text"], describe(v.record.problem));
  EXPECT_EQ(j["problem"]["layout"], "nt");
  EXPECT_EQ(j["selected"]["backend"], "CPP");
  EXPECT_EQ(j["selected"]["choice"], "cpp_avx512_bf16_mr14_nr32");
  EXPECT_DOUBLE_EQ(j["selected"]["time_us"].get<double>(), 812.3);
  ASSERT_EQ(j["choices"].size(), 4u);
  int selected = 0, ok = 0, rejected_count = 0;
  for (const auto& c : j["choices"]) {
    for (const char* key : {"backend", "name", "status", "time_us", "stage", "reason", "message"})
      EXPECT_TRUE(c.contains(key)) << key << " missing in " << c.dump();
    const std::string status = c["status"];
    if (status == "selected") ++selected;
    if (status == "ok") ++ok;
    if (status == "rejected") {
      ++rejected_count;
      EXPECT_EQ(c["stage"], "verify");
      EXPECT_EQ(c["reason"], "wrong_result");
      EXPECT_TRUE(c["time_us"].is_null());
    }
  }
  EXPECT_EQ(selected, 1);
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(rejected_count, 1);
  EXPECT_EQ(j["cache_hit"], false);
  EXPECT_EQ(j["fallback"], false);
  EXPECT_DOUBLE_EQ(j["tuning_seconds"].get<double>(), 0.5);
  EXPECT_EQ(j["library"]["backend"], "BLAS");
  EXPECT_DOUBLE_EQ(j["library"]["time_us"].get<double>(), 1000.0);
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_EQ(j["record"]["created_at"], "2026-01-02T03:04:05Z");
}

TEST(Format, LibraryBaselineSaysWhyThereIsNone) {
  TuningRecord r = sample_record();
  r.choices.erase(r.choices.begin());  // BLAS's choice
  r.enabled = {"ONEDNN", "CPP"};
  r.backends.erase(r.backends.begin());
  EXPECT_EQ(library_baseline(r).note, "n/a (BLAS disabled)");
  r.enabled.push_back("BLAS");
  r.backends.push_back(BackendOutcome{"BLAS", "x", 0, Rejection{Stage::enumerate, Reason::unsupported_dtype, "int8"}});
  EXPECT_EQ(library_baseline(r).note, "n/a (BLAS: unsupported_dtype)");
  EXPECT_FALSE(library_baseline(r).time_us);
}

TEST(Format, CsvQuotesFieldsWithCommas) {
  ResultView v;
  v.record = sample_record();
  v.record.choices[3].rejection->message = "bad, \"very\" bad";
  std::string rows = csv_rows(v);
  EXPECT_CONTAINS(rows, "\"bad, \"\"very\"\" bad\"");
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 4);
  EXPECT_EQ(csv_header().rfind("problem,backend,choice,status,time_us", 0), 0u);
}

TEST(Format, SummaryShowsWinnerSpeedupAndFailures) {
  ResultView good;
  good.record = sample_record();
  good.seconds = 2;
  ResultView failed;
  failed.record = sample_record();
  failed.record.winner.reset();
  failed.record.choices.clear();
  failed.record.enabled = {"CPP"};
  failed.error = "no valid choices";
  ResultView hit = good;
  hit.cache_hit = true;
  std::string text = format_summary({good, failed, hit}, 5.0);
  EXPECT_CONTAINS(text, "CPP/cpp_avx512_bf16_mr14_nr32");
  EXPECT_CONTAINS(text, "1.23x");
  EXPECT_CONTAINS(text, "NO VALID CHOICES (exit 3)");
  EXPECT_CONTAINS(text, "n/a (BLAS disabled)");
  EXPECT_CONTAINS(text, "speedup vs BLAS");
  EXPECT_CONTAINS(text, "1/3 cache hits, 1 without valid choices");
}

TEST(Format, RecordShowsEveryChoiceWithStatistics) {
  std::string text = format_record(sample_record(), 7);
  EXPECT_CONTAINS(text, "record 7");
  EXPECT_CONTAINS(text, "winner:       CPP cpp_avx512_bf16_mr14_nr32");
  EXPECT_CONTAINS(text, "17 runs");
  EXPECT_CONTAINS(text, "verify/wrong_result");
  EXPECT_CONTAINS(text, "speedup over BLAS: 1.23x");
}

}  // namespace
}  // namespace gemmtune::cli
