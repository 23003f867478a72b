// The portable export file: export -> clear -> import restores the same
// records; bad records are reported one by one; bad files are refused.
#include <gtest/gtest.h>

#include <string>

#include "gemmtune/errors.h"
#include "store/record_json.h"
#include "store/store.h"
#include "store_test_support.h"

namespace gemmtune::store {
namespace {

using nlohmann::json;
using testing::files_starting_with;
using testing::read_bytes;
using testing::same_record;
using testing::sample_record;
using testing::TempDir;
using testing::valid_record;
using testing::Warnings;
using testing::write_bytes;

class ImportExportTest : public ::testing::Test {
 protected:
  void SetUp() override { store = Store::open(dir.file("tuning.db"), warnings.sink()); }
  std::vector<TuningRecord> sample_records(int n) {
    std::vector<TuningRecord> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(valid_record("key-" + std::to_string(i), i));
      if (i == 1) out.back().winner.reset();
      if (i == 2) {
        out.back().winner.reset();
        out.back().choices.clear();
      }
    }
    return out;
  }
  std::string import_error(const std::string& file) {
    try {
      store->import_json(file);
    } catch (const StoreError& e) {
      return e.what();
    }
    return "(no StoreError)";
  }
  TempDir dir;
  Warnings warnings;
  std::unique_ptr<Store> store;
};

TEST_F(ImportExportTest, ExportClearImportRestoresIdenticalRecords) {
  auto records = sample_records(5);
  for (const auto& r : records) store->save(r);
  std::string file = dir.file("export.json");
  EXPECT_EQ(store->export_json(file), 5);
  EXPECT_EQ(store->clear(), 5);
  ImportReport report = store->import_json(file);
  EXPECT_EQ(report.imported, 5);
  EXPECT_EQ(report.replaced, 0);
  EXPECT_TRUE(report.rejected.empty());
  for (const auto& r : records) {
    auto found = store->lookup(r.key);
    ASSERT_TRUE(found.has_value()) << r.key;
    EXPECT_TRUE(same_record(r, *found));
  }
  EXPECT_TRUE(warnings.messages.empty());
}

TEST_F(ImportExportTest, ExportFileHasTheDocumentedHeader) {
  store->save(sample_record("k"));
  std::string file = dir.file("export.json");
  store->export_json(file);
  json doc = json::parse(read_bytes(file));
  EXPECT_EQ(doc["format"], "gemmtune-tuning-records");
  EXPECT_EQ(doc["version"], 1);
  ASSERT_TRUE(doc["exported_at"].is_string());
  EXPECT_EQ(doc["exported_at"].get<std::string>().size(), 20u);
  ASSERT_EQ(doc["records"].size(), 1u);
  EXPECT_TRUE(same_record(sample_record("k"), record_from_json(doc["records"][0])));
  EXPECT_TRUE(files_starting_with(dir.path(), "export.json.tmp").empty()) << "temporary file left behind";
}

TEST_F(ImportExportTest, RecordsMoveBetweenDatabases) {
  // Tuned on one machine, shipped with a deployment, imported on another.
  for (const auto& r : sample_records(3)) store->save(r);
  std::string file = dir.file("ship.json");
  store->export_json(file);
  auto other = Store::open(dir.file("elsewhere/tuning.db"), warnings.sink());
  ImportReport report = other->import_json(file);
  EXPECT_EQ(report.imported, 3);
  for (const auto& r : sample_records(3)) EXPECT_TRUE(same_record(r, *other->lookup(r.key)));
}

TEST_F(ImportExportTest, ImportReplacesRecordsWithTheSameKey) {
  const auto records = sample_records(3);
  for (const auto& r : records) store->save(r);
  std::string file = dir.file("export.json");
  store->export_json(file);
  TuningRecord changed = records[0];  // changed locally since
  changed.tuning_seconds = 99;
  store->save(changed);
  const TuningRecord local_only = valid_record("local-only");
  store->save(local_only);
  ImportReport report = store->import_json(file);
  EXPECT_EQ(report.imported, 0);
  EXPECT_EQ(report.replaced, 3);
  EXPECT_TRUE(same_record(records[0], *store->lookup(records[0].key)));
  EXPECT_TRUE(store->lookup(local_only.key).has_value()) << "import must not drop records absent from the file";
  EXPECT_EQ(store->list().size(), 4u);
}

TEST_F(ImportExportTest, BadRecordIsReportedAndTheOthersImported) {
  json doc = {{"format", "gemmtune-tuning-records"}, {"version", 1}, {"exported_at", "2024-01-01T00:00:00Z"}};
  doc["records"] = json::array();
  const TuningRecord good0 = valid_record("good-0"), bad1 = valid_record("bad-1"), good2 = valid_record("good-2");
  doc["records"].push_back(to_json(good0));
  json bad = to_json(bad1);
  bad["choices"][0]["timing"]["median_us"] = "quick";
  doc["records"].push_back(bad);
  doc["records"].push_back(to_json(good2));
  doc["records"].push_back(42);
  json no_key = to_json(valid_record(""));
  no_key["key"] = "";
  doc["records"].push_back(no_key);
  std::string file = dir.file("mixed.json");
  write_bytes(file, doc.dump());

  ImportReport report = store->import_json(file);
  EXPECT_EQ(report.imported, 2);
  ASSERT_EQ(report.rejected.size(), 3u);
  EXPECT_NE(report.rejected[0].find("records[1] (key v1|op=addmm"), std::string::npos) << report.rejected[0];
  EXPECT_NE(report.rejected[0].find("...): choices[0].timing.median_us: expected a number"), std::string::npos)
      << report.rejected[0];
  EXPECT_NE(report.rejected[1].find("records[3]: top level: expected an object, got number"), std::string::npos)
      << report.rejected[1];
  EXPECT_NE(report.rejected[2].find("records[4]"), std::string::npos) << report.rejected[2];
  EXPECT_NE(report.rejected[2].find("key: empty"), std::string::npos) << report.rejected[2];
  EXPECT_TRUE(store->lookup(good0.key).has_value());
  EXPECT_TRUE(store->lookup(good2.key).has_value());
  EXPECT_FALSE(store->lookup(bad1.key).has_value());
}

TEST_F(ImportExportTest, FileThatIsNotJsonIsRefused) {
  std::string file = dir.file("junk.json");
  write_bytes(file, "{ this is not json");
  std::string m = import_error(file);
  EXPECT_NE(m.find(file), std::string::npos) << m;
  EXPECT_NE(m.find("not valid JSON"), std::string::npos) << m;
  EXPECT_TRUE(store->list().empty());
}

TEST_F(ImportExportTest, FileOfAnotherFormatIsRefused) {
  std::string file = dir.file("other.json");
  write_bytes(file, R"({"format": "something-else", "version": 1, "records": []})");
  EXPECT_NE(import_error(file).find("not a gemmtune export file"), std::string::npos);
  write_bytes(file, R"([1, 2, 3])");
  EXPECT_NE(import_error(file).find("not a gemmtune export file"), std::string::npos);
  write_bytes(file, R"({"format": "gemmtune-tuning-records", "version": 1, "records": {}})");
  EXPECT_NE(import_error(file).find("\"records\" must be an array"), std::string::npos);
  write_bytes(file, R"({"format": "gemmtune-tuning-records", "version": "1", "records": []})");
  EXPECT_NE(import_error(file).find("\"version\" must be an integer"), std::string::npos);
}

TEST_F(ImportExportTest, FileFromANewerFormatIsRefused) {
  std::string file = dir.file("newer.json");
  write_bytes(file, R"({"format": "gemmtune-tuning-records", "version": 2, "records": []})");
  EXPECT_NE(import_error(file).find("newer gemmtune (format version 2 > 1)"), std::string::npos);
}

TEST_F(ImportExportTest, MissingFileIsAnErrorNamingIt) {
  std::string file = dir.file("absent.json");
  std::string m = import_error(file);
  EXPECT_NE(m.find("import file " + file + ": cannot open"), std::string::npos) << m;
}

TEST_F(ImportExportTest, ExportIntoAMissingFolderIsAnError) {
  store->save(sample_record("k"));
  std::string file = dir.file("no/such/folder/export.json");
  try {
    store->export_json(file);
    FAIL() << "exported into a missing folder";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
}

TEST_F(ImportExportTest, ExportSkipsDamagedRowsWithAWarning) {
  store->save(sample_record("good"));
  store->save(sample_record("bad"));
  testing::sql(dir.file("tuning.db"), "UPDATE records SET json='not json' WHERE key='bad'");
  std::string file = dir.file("export.json");
  EXPECT_EQ(store->export_json(file), 1);
  EXPECT_EQ(warnings.messages.size(), 1u);
  json doc = json::parse(read_bytes(file));
  ASSERT_EQ(doc["records"].size(), 1u);
  EXPECT_EQ(doc["records"][0]["key"], "good");
}

}  // namespace
}  // namespace gemmtune::store
