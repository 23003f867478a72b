// The results database: schema, lookup/save, list/get/clear/stats, damaged
// rows and the default location.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "gemmtune/errors.h"
#include "store/store.h"
#include "store_test_support.h"

namespace gemmtune::store {
namespace {

using testing::same_record;
using testing::sample_record;
using testing::sql;
using testing::TempDir;
using testing::Warnings;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const StoreError& e) {
    return e.what();
  }
  return "(no StoreError)";
}

class StoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open() { return Store::open(db_path(), warnings.sink()); }
  std::string db_path() const { return dir.file("cache/tuning.db"); }
  TempDir dir;
  Warnings warnings;
};

TEST_F(StoreTest, OpenCreatesFoldersAndSchema) {
  std::string path = dir.file("a/b/c/tuning.db");
  auto store = Store::open(path, warnings.sink());
  EXPECT_EQ(store->path(), path);
  EXPECT_TRUE(testing::file_exists(path));
  EXPECT_EQ(sql(path, "SELECT value FROM meta WHERE name='schema_version'"), std::vector<std::string>{"1"});
  auto created_by = sql(path, "SELECT value FROM meta WHERE name='created_by'");
  ASSERT_EQ(created_by.size(), 1u);
  EXPECT_EQ(created_by[0].rfind("gemmtune ", 0), 0u) << created_by[0];
  EXPECT_EQ(sql(path, "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  auto indexes = sql(path, "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='records' AND sql IS NOT NULL");
  EXPECT_EQ(indexes.size(), 2u);
  EXPECT_TRUE(warnings.messages.empty());
}

TEST_F(StoreTest, LookupOfUnknownKeyIsAMiss) {
  auto store = open();
  EXPECT_FALSE(store->lookup("nothing-here").has_value());
}

TEST_F(StoreTest, SavedRecordComesBackIdenticalAfterReopen) {
  TuningRecord record = sample_record("key-a");
  open()->save(record);
  auto again = open();
  auto found = again->lookup("key-a");
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(same_record(record, *found));
  EXPECT_TRUE(warnings.messages.empty());
}

TEST_F(StoreTest, SavingTheSameKeyReplacesTheRecordAndKeepsItsId) {
  auto store = open();
  store->save(sample_record("key-a", 0));
  store->save(sample_record("key-b", 0));
  auto before = store->list();
  store->save(sample_record("key-a", 5));
  auto after = store->list();
  ASSERT_EQ(after.size(), 2u);
  auto id_of = [](const std::vector<RecordSummary>& list, const std::string& key) {
    for (const auto& r : list)
      if (r.key == key) return r.id;
    return std::int64_t{-1};
  };
  EXPECT_EQ(id_of(before, "key-a"), id_of(after, "key-a"));
  EXPECT_TRUE(same_record(sample_record("key-a", 5), *store->lookup("key-a")));
}

TEST_F(StoreTest, RecordWithoutWinnerIsStoredWithEmptySummary) {
  auto store = open();
  TuningRecord record = sample_record("no-winner");
  record.winner.reset();
  record.fallback = false;
  store->save(record);
  auto list = store->list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].winner_backend, "");
  EXPECT_EQ(list[0].winner_time_us, 0);
  EXPECT_FALSE(store->lookup("no-winner")->winner.has_value());
}

TEST_F(StoreTest, RecordWithoutCreationTimeIsStamped) {
  auto store = open();
  TuningRecord record = sample_record("no-time");
  record.created_at.clear();
  store->save(record);
  std::string stamped = store->lookup("no-time")->created_at;
  ASSERT_EQ(stamped.size(), 20u) << stamped;  // 2024-05-01T12:34:56Z
  EXPECT_EQ(stamped.back(), 'Z');
  EXPECT_EQ(store->list()[0].created_at, stamped);
}

TEST_F(StoreTest, SaveRefusesARecordWithoutKey) {
  auto store = open();
  std::string message = error_of([&] { store->save(sample_record("")); });
  EXPECT_NE(message.find("without a key"), std::string::npos) << message;
  EXPECT_NE(message.find(db_path()), std::string::npos) << message;
}

TEST_F(StoreTest, ListShowsNewestFirstWithSummaryColumns) {
  auto store = open();
  TuningRecord old_one = sample_record("old");
  old_one.created_at = "2023-01-01T00:00:00Z";
  TuningRecord new_one = sample_record("new");
  new_one.created_at = "2025-01-01T00:00:00Z";
  new_one.winner = Winner{"BLAS", "blas_sgemm", 25.5};
  new_one.fallback = false;
  TuningRecord mid = sample_record("mid");
  mid.created_at = "2024-01-01T00:00:00Z";
  store->save(new_one);
  store->save(old_one);
  store->save(mid);
  auto list = store->list();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].key, "new");
  EXPECT_EQ(list[1].key, "mid");
  EXPECT_EQ(list[2].key, "old");
  EXPECT_EQ(list[0].winner_backend, "BLAS");
  EXPECT_EQ(list[0].winner_choice, "blas_sgemm");
  EXPECT_EQ(list[0].winner_time_us, 25.5);
  EXPECT_FALSE(list[0].fallback);
  EXPECT_TRUE(list[1].fallback);
  EXPECT_EQ(list[0].problem, describe(new_one.problem));
  EXPECT_EQ(list[0].created_at, "2025-01-01T00:00:00Z");
}

TEST_F(StoreTest, GetFindsByIdAndByUniqueKeyPrefix) {
  auto store = open();
  store->save(sample_record("abc123"));
  store->save(sample_record("abd456"));
  auto list = store->list();
  std::int64_t id = list[0].id;
  auto by_id = store->get(std::to_string(id));
  ASSERT_TRUE(by_id.has_value());
  EXPECT_EQ(by_id->key, list[0].key);
  auto by_prefix = store->get("abd");
  ASSERT_TRUE(by_prefix.has_value());
  EXPECT_EQ(by_prefix->key, "abd456");
  EXPECT_FALSE(store->get("zzz").has_value());
  EXPECT_FALSE(store->get("999").has_value());
}

TEST_F(StoreTest, GetWithAmbiguousPrefixSaysHowManyMatch) {
  auto store = open();
  store->save(sample_record("abc123"));
  store->save(sample_record("abd456"));
  store->save(sample_record("abe789"));
  std::string message = error_of([&] { store->get("ab"); });
  EXPECT_NE(message.find("ambiguous"), std::string::npos) << message;
  EXPECT_NE(message.find("3 records match"), std::string::npos) << message;
}

TEST_F(StoreTest, GetPrefersAnExactKeyOverLongerKeysItPrefixes) {
  auto store = open();
  store->save(sample_record("abc"));
  store->save(sample_record("abcdef"));
  auto found = store->get("abc");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->key, "abc");
}

TEST_F(StoreTest, GetTreatsDigitsThatAreNoIdAsAKeyPrefix) {
  auto store = open();
  store->save(sample_record("7f00aa"));  // id 1
  auto found = store->get("7");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->key, "7f00aa");
  EXPECT_NE(error_of([&] { store->get(""); }), "(no StoreError)");
}

TEST_F(StoreTest, GetPrefixIsLiteralNotAPattern) {
  auto store = open();
  store->save(sample_record("a_c"));
  store->save(sample_record("abc"));
  EXPECT_EQ(store->get("a_")->key, "a_c");
  EXPECT_FALSE(store->get("A").has_value());  // case matters
  EXPECT_FALSE(store->get("a%").has_value());
}

TEST_F(StoreTest, ClearRemovesEverythingAndSaysHowMany) {
  auto store = open();
  for (int i = 0; i < 5; ++i) store->save(sample_record(testing::numbered_key("k", i)));
  EXPECT_EQ(store->clear(), 5);
  EXPECT_TRUE(store->list().empty());
  EXPECT_FALSE(store->lookup("k1").has_value());
  EXPECT_EQ(store->clear(), 0);
}

TEST_F(StoreTest, StatsCountRecordsFallbacksAndWinsByBackend) {
  auto store = open();
  auto with_winner = [](const std::string& key, const std::string& backend, bool fallback) {
    TuningRecord r = sample_record(key);
    r.winner = Winner{backend, "x", 1.0};
    r.fallback = fallback;
    return r;
  };
  store->save(with_winner("1", "CPP", false));
  store->save(with_winner("2", "CPP", false));
  store->save(with_winner("3", "BLAS", true));
  store->save(with_winner("4", "ONEDNN", false));
  store->save(with_winner("5", "CPP", false));
  store->save(with_winner("6", "ONEDNN", false));
  TuningRecord none = sample_record("7");
  none.winner.reset();
  none.fallback = false;
  store->save(none);
  CatalogueStats s = store->stats();
  EXPECT_EQ(s.path, db_path());
  EXPECT_EQ(s.records, 7);
  EXPECT_EQ(s.fallback_records, 1);
  EXPECT_GT(s.file_bytes, 0);
  std::vector<std::pair<std::string, std::int64_t>> expected{{"CPP", 3}, {"ONEDNN", 2}, {"BLAS", 1}};
  EXPECT_EQ(s.wins_by_backend, expected);
}

TEST_F(StoreTest, StatsOfAnEmptyDatabase) {
  CatalogueStats s = open()->stats();
  EXPECT_EQ(s.records, 0);
  EXPECT_EQ(s.fallback_records, 0);
  EXPECT_TRUE(s.wins_by_backend.empty());
}

TEST_F(StoreTest, DamagedJsonRowIsWarnedAboutAndTreatedAsAMiss) {
  {
    auto store = open();
    store->save(sample_record("good"));
    store->save(sample_record("bad"));
  }
  sql(db_path(), "UPDATE records SET json='{' WHERE key='bad'");
  auto store = open();
  EXPECT_FALSE(store->lookup("bad").has_value());
  ASSERT_EQ(warnings.messages.size(), 1u);
  EXPECT_NE(warnings.messages[0].find("damaged"), std::string::npos) << warnings.messages[0];
  EXPECT_NE(warnings.messages[0].find("bad"), std::string::npos) << warnings.messages[0];
  EXPECT_NE(warnings.messages[0].find(db_path()), std::string::npos) << warnings.messages[0];
  EXPECT_FALSE(store->get("bad").has_value());
  EXPECT_TRUE(store->lookup("good").has_value());
  // The tuner's next save for that key repairs it.
  store->save(sample_record("bad", 2));
  ASSERT_TRUE(store->lookup("bad").has_value());
  EXPECT_TRUE(same_record(sample_record("bad", 2), *store->lookup("bad")));
}

TEST_F(StoreTest, RowWithValidJsonButBadFieldIsAMiss) {
  open()->save(sample_record("k"));
  sql(db_path(), "UPDATE records SET json=json_set(json, '$.choices[0].timing.median_us', 'slow') WHERE key='k'");
  auto store = open();
  EXPECT_FALSE(store->lookup("k").has_value());
  ASSERT_EQ(warnings.messages.size(), 1u);
  EXPECT_NE(warnings.messages[0].find("choices[0].timing.median_us"), std::string::npos) << warnings.messages[0];
}

TEST_F(StoreTest, RowWhoseJsonHoldsAnotherKeyIsAMiss) {
  open()->save(sample_record("k"));
  sql(db_path(), "UPDATE records SET json=json_set(json, '$.key', 'other') WHERE key='k'");
  auto store = open();
  EXPECT_FALSE(store->lookup("k").has_value());
  EXPECT_EQ(warnings.messages.size(), 1u);
}

TEST_F(StoreTest, TwoThreadsWithTheirOwnStoresLoseNothing) {
  open();  // create first so both threads find it
  constexpr int kPerThread = 100;
  auto writer = [&](int t) {
    auto store = Store::open(db_path(), {});
    for (int i = 0; i < kPerThread; ++i) store->save(sample_record(testing::numbered_key("t", t, i), t));
  };
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  auto store = open();
  EXPECT_EQ(store->list().size(), 2u * kPerThread);
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < kPerThread; ++i) {
      std::string key = testing::numbered_key("t", t, i);
      auto found = store->lookup(key);
      ASSERT_TRUE(found.has_value()) << key;
      EXPECT_TRUE(same_record(sample_record(key, t), *found));
    }
}

class DefaultPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"GEMMTUNE_CACHE_DIR", "XDG_CACHE_HOME", "HOME"}) {
      const char* v = std::getenv(name);
      saved_.emplace_back(name, v != nullptr ? std::optional<std::string>(v) : std::nullopt);
      ::unsetenv(name);
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(DefaultPathTest, CacheDirVariableWins) {
  ::setenv("GEMMTUNE_CACHE_DIR", "/srv/tunings", 1);
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_db_path(), "/srv/tunings/tuning.db");
}

TEST_F(DefaultPathTest, XdgCacheHomeComesNext) {
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_db_path(), "/xdg/gemmtune/tuning.db");
}

TEST_F(DefaultPathTest, RelativeXdgCacheHomeIsIgnored) {
  ::setenv("XDG_CACHE_HOME", "relative", 1);
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_db_path(), "/home/u/.cache/gemmtune/tuning.db");
}

TEST_F(DefaultPathTest, HomeCacheIsTheDefault) {
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_db_path(), "/home/u/.cache/gemmtune/tuning.db");
}

TEST_F(DefaultPathTest, NoHomeIsAnError) {
  std::string message = error_of([] { default_db_path(); });
  EXPECT_NE(message.find("GEMMTUNE_CACHE_DIR"), std::string::npos) << message;
}

}  // namespace
}  // namespace gemmtune::store
