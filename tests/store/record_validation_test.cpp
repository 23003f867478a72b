// validate_record(): a record from outside (an export file, a database row,
// a remote cache) is trusted only when its key matches its problem and every
// value is in range; import skips an invalid record with a warning naming it.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "core/key.h"
#include "gemmtune/errors.h"
#include "store/record_json.h"
#include "store/record_validation.h"
#include "store/store.h"
#include "store_test_support.h"

namespace gemmtune::store {
namespace {

using nlohmann::json;
using testing::TempDir;
using testing::valid_record;
using testing::Warnings;
using testing::write_bytes;

// The message of the StoreError validate_record throws, or "(valid)".
std::string defect(const TuningRecord& r) {
  try {
    validate_record(r);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "(valid)";
}

// The defect of a valid record after `edit`.
std::string defect_after(const std::function<void(TuningRecord&)>& edit) {
  TuningRecord r = valid_record("x");
  edit(r);
  return defect(r);
}

#define EXPECT_STARTS_WITH(text, prefix) EXPECT_EQ(std::string(text).rfind(prefix, 0), 0u) << (text)

TEST(RecordValidation, RecordAsTheTunerWritesItIsValid) { EXPECT_EQ(defect(valid_record("x")), "(valid)"); }

TEST(RecordValidation, KeyOfAnotherProblemIsRejected) {
  // The forged record of the owners' report: the key of one problem, the
  // problem (and so the kernel) of another.
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.problem = valid_record("x", 1).problem; }),
                     "key: does not match its problem");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.problem.c.row_stride += 1; }), "key: does not match");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.problem.activation = Activation::gelu; }),
                     "key: does not match");
}

TEST(RecordValidation, KeyOfAnotherContextIsRejected) {
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.threads = 5; }), "key: does not match");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.environment += "!"; }), "key: does not match");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.backend_versions["CPP"] = "kernels 4"; }),
                     "key: does not match");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.search_space = SearchSpace::exhaustive; }),
                     "key: does not match");
}

TEST(RecordValidation, InvalidProblemIsRejectedNamingTheField) {
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.problem.a.row_stride = -1; }), "problem.a.row_stride: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.problem.m = -3; }), "problem.m: ");
}

TEST(RecordValidation, TimesOutOfRangeAreRejected) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices[0].timing->median_us = -1; }),
                     "choices[0].timing.median_us: -1 is out of range");
  EXPECT_STARTS_WITH(defect_after([&](TuningRecord& r) { r.choices[2].timing->max_us = nan; }),
                     "choices[2].timing.max_us: nan is out of range");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices[0].timing->max_us = 1e300; }),
                     "choices[0].timing.max_us: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices[0].timing->repeats = -2; }),
                     "choices[0].timing.repeats: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices[0].timing->min_us = 11; }),
                     "choices[0].timing: min_us <= median_us <= max_us");
  EXPECT_STARTS_WITH(defect_after([&](TuningRecord& r) { r.winner->time_us = nan; }), "winner.time_us: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.tuning_seconds = -0.5; }), "tuning_seconds: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices[0].max_error = INFINITY; }),
                     "choices[0].max_error: ");
}

TEST(RecordValidation, WinnerMustBeAVerifiedTimedChoiceOfAnEnabledBackend) {
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.winner->choice = "cpp_avx2_f32_mr4_nr8_kc128"; }),
                     "winner: choice CPP/cpp_avx2_f32_mr4_nr8_kc128 is not among the verified choices");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.winner->choice = "cpp_never_measured"; }), "winner: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices[0].timing.reset(); }), "winner: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) {
                       r.winner->backend = "ONEDNN";
                       r.choices.push_back(r.choices[0]);
                       r.choices.back().backend = "ONEDNN";
                     }),
                     "choices[3].backend: ONEDNN is not in the enabled set");
}

TEST(RecordValidation, FallbackWinnerMustBeTheLibraryBackendFromOutsideTheEnabledSet) {
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.fallback = true; }), "winner.backend: a fallback winner");
  // As the tuner writes one: CPP enabled, BLAS (the CPU library) won.
  TuningRecord fallback = valid_record("x");
  fallback.enabled = {"CPP"};
  fallback.backends.erase(fallback.backends.begin());
  fallback.choices[0].rejection = Rejection{Stage::verify, Reason::wrong_result, "wrong"};
  fallback.choices[0].timing.reset();
  fallback.backends.push_back(BackendOutcome{"BLAS", "openblas 0.3.21", 1, std::nullopt});
  fallback.winner = Winner{"BLAS", "blas_sgemm", 20};
  fallback.fallback = true;
  fallback.backend_versions = {{"CPP", "kernels 3"}};
  fallback.key = core::make_key(fallback.problem, core::KeyContext{fallback.environment, fallback.threads,
                                                                   fallback.enabled, fallback.backend_versions,
                                                                   fallback.search_space});
  fallback.backend_versions["BLAS"] = "openblas 0.3.21";  // added after keying, as the tuner does
  EXPECT_EQ(defect(fallback), "(valid)");
}

TEST(RecordValidation, NamesAndTextsAreBounded) {
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices[1].name = std::string(kMaxNameBytes + 1, 'n'); }),
                     "choices[1].name: 257 bytes");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices[1].name = "cpp\x1b[31mred"; }),
                     "choices[1].name: holds a byte that is not printable ASCII");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices[1].name.clear(); }), "choices[1].name: empty");
  EXPECT_STARTS_WITH(
      defect_after([](TuningRecord& r) { r.choices[1].description = std::string(kMaxTextBytes + 1, 'd'); }),
      "choices[1].description: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) {
                       r.choices[1].rejection->message = std::string(kMaxMessageBytes + 1, 'm');
                     }),
                     "choices[1].rejection.message: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.key = std::string(kMaxKeyBytes + 1, 'k'); }), "key: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.threads = 0; }), "threads: ");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.enabled.clear(); }), "enabled: empty");
}

TEST(RecordValidation, CountsAreBounded) {
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.choices.resize(kMaxChoices + 1, r.choices[1]); }),
                     "choices: more than");
  EXPECT_STARTS_WITH(defect_after([](TuningRecord& r) { r.backends.resize(kMaxBackends + 1, r.backends[0]); }),
                     "backends: more than");
}

class RecordImport : public ::testing::Test {
 protected:
  void SetUp() override { store = Store::open(dir.file("tuning.db"), warnings.sink()); }
  std::string export_file(const std::vector<json>& records) {
    json doc = {{"format", std::string(kExportFormatName)}, {"version", kExportFormatVersion}, {"records", records}};
    std::string file = dir.file("import.json");
    write_bytes(file, doc.dump());
    return file;
  }
  TempDir dir;
  Warnings warnings;
  std::unique_ptr<Store> store;
};

TEST_F(RecordImport, RecordWhoseProblemDiffersFromItsKeyIsSkippedAndNamedTheOthersImported) {
  TuningRecord good = valid_record("good");
  TuningRecord forged = valid_record("forged");
  forged.problem = valid_record("forged", 3).problem;  // another M under the same key
  ImportReport report = store->import_json(export_file({to_json(good), to_json(forged)}));
  EXPECT_EQ(report.imported, 1);
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_STARTS_WITH(report.rejected[0], "records[1] (key v1|op=addmm");
  EXPECT_NE(report.rejected[0].find("key: does not match its problem"), std::string::npos) << report.rejected[0];
  EXPECT_TRUE(store->lookup(good.key).has_value());
  EXPECT_FALSE(store->lookup(forged.key).has_value());
}

TEST_F(RecordImport, RecordWithAnUnverifiedWinnerIsSkipped) {
  TuningRecord r = valid_record("x");
  r.winner->choice = r.choices[1].name;  // the one rejected at verify
  ImportReport report = store->import_json(export_file({to_json(r)}));
  EXPECT_EQ(report.imported, 0);
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_NE(report.rejected[0].find("is not among the verified choices"), std::string::npos) << report.rejected[0];
}

}  // namespace
}  // namespace gemmtune::store
