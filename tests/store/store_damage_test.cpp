// Damaged, foreign, newer and unwritable database files: set aside with a
// warning, or refused with a clear error; never deleted, never modified when
// refused.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include "gemmtune/errors.h"
#include "store/store.h"
#include "store_test_support.h"

namespace gemmtune::store {
namespace {

using testing::file_exists;
using testing::files_starting_with;
using testing::read_bytes;
using testing::same_record;
using testing::sample_record;
using testing::sql;
using testing::TempDir;
using testing::Warnings;
using testing::write_bytes;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// The moved-aside databases, without their -wal/-shm companions.
std::vector<std::string> moved_databases(const std::string& folder) {
  std::vector<std::string> out;
  for (const auto& f : files_starting_with(folder, "tuning.db.damaged-")) {
    auto ends_with = [&](const std::string& suffix) {
      return f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (!ends_with("-wal") && !ends_with("-shm") && !ends_with("-journal")) out.push_back(f);
  }
  return out;
}

class DamageTest : public ::testing::Test {
 protected:
  std::string db_path() const { return dir.file("tuning.db"); }
  void fill(int records) {
    auto store = Store::open(db_path(), {});
    for (int i = 0; i < records; ++i) store->save(sample_record("key-" + std::to_string(i), i));
  }
  // Opens a damaged file and checks the warning, the moved copy and the
  // fresh database that replaced it. Returns the warning.
  std::string expect_set_aside(const std::string& original_bytes) {
    auto store = Store::open(db_path(), warnings.sink());
    EXPECT_EQ(warnings.messages.size(), 1u);
    if (warnings.messages.empty()) return {};
    const std::string& w = warnings.messages[0];
    EXPECT_NE(w.find("results database " + db_path() + " was damaged ("), std::string::npos) << w;
    EXPECT_NE(w.find("moved aside to " + db_path() + ".damaged-"), std::string::npos) << w;
    EXPECT_NE(w.find("starting a new one"), std::string::npos) << w;
    auto moved = moved_databases(dir.path());
    EXPECT_EQ(moved.size(), 1u);
    if (!moved.empty()) {
      EXPECT_EQ(read_bytes(moved[0]), original_bytes) << "the user's file must be kept as it was";
      EXPECT_NE(w.find(moved[0]), std::string::npos) << w;
    }
    // The new database works.
    store->save(sample_record("after"));
    EXPECT_TRUE(store->lookup("after").has_value());
    EXPECT_EQ(store->list().size(), 1u);
    return w;
  }
  TempDir dir;
  Warnings warnings;
};

TEST_F(DamageTest, FileOfRandomBytesIsMovedAsideWithAWarning) {
  std::string bytes = random_bytes(16384, 1);
  write_bytes(db_path(), bytes);
  std::string w = expect_set_aside(bytes);
  EXPECT_NE(w.find("not a database"), std::string::npos) << w;
}

TEST_F(DamageTest, TextFileIsMovedAside) {
  std::string bytes = "these are my notes, not a database\n";
  write_bytes(db_path(), bytes);
  expect_set_aside(bytes);
}

TEST_F(DamageTest, TruncatedDatabaseIsMovedAside) {
  fill(300);
  std::string bytes = read_bytes(db_path());
  ASSERT_GT(bytes.size(), 100000u) << "the test needs a multi-page database";
  ASSERT_FALSE(file_exists(db_path() + "-wal")) << "closing should have checkpointed the WAL";
  std::string chopped = bytes.substr(0, bytes.size() / 2);
  write_bytes(db_path(), chopped);
  expect_set_aside(chopped);
}

TEST_F(DamageTest, DatabaseWithGarbagePagesIsMovedAside) {
  fill(300);
  std::string bytes = read_bytes(db_path());
  // Overwrite a run of pages in the middle (page size 4096), leaving the
  // header intact so that only the integrity check can tell.
  std::string garbage = random_bytes(4096 * 4, 2);
  std::size_t at = (bytes.size() / 2) / 4096 * 4096;
  bytes.replace(at, garbage.size(), garbage);
  write_bytes(db_path(), bytes);
  std::string w = expect_set_aside(bytes);
  EXPECT_TRUE(w.find("integrity check failed") != std::string::npos || w.find("malformed") != std::string::npos) << w;
}

TEST_F(DamageTest, SqliteFileWithUnrelatedTablesIsMovedAside) {
  sql(db_path(), "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users(name) VALUES('ann')");
  std::string bytes = read_bytes(db_path());
  std::string w = expect_set_aside(bytes);
  EXPECT_NE(w.find("not a gemmtune database"), std::string::npos) << w;
  EXPECT_NE(w.find("users"), std::string::npos) << w;
  auto moved = moved_databases(dir.path());
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(sql(moved[0], "SELECT name FROM users"), std::vector<std::string>{"ann"});
}

TEST_F(DamageTest, RecordsTableWithoutOurColumnsIsMovedAside) {
  sql(db_path(),
      "CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT);"
      "INSERT INTO meta VALUES('schema_version', '1');"
      "CREATE TABLE records(id INTEGER PRIMARY KEY, key TEXT)");
  std::string w = expect_set_aside(read_bytes(db_path()));
  EXPECT_NE(w.find("lacks column"), std::string::npos) << w;
}

TEST_F(DamageTest, StaleWalFileMovesWithTheDamagedFile) {
  std::string bytes = random_bytes(8192, 3);
  write_bytes(db_path(), bytes);
  write_bytes(db_path() + "-wal", "old wal");
  expect_set_aside(bytes);
  auto moved = moved_databases(dir.path());
  ASSERT_FALSE(moved.empty());
  EXPECT_TRUE(file_exists(moved[0] + "-wal"));
  EXPECT_EQ(read_bytes(moved[0] + "-wal"), "old wal");
}

TEST_F(DamageTest, SecondDamageInTheSameSecondNeverOverwritesTheFirst) {
  write_bytes(db_path(), random_bytes(8192, 4));
  Store::open(db_path(), warnings.sink());
  write_bytes(db_path(), random_bytes(8192, 5));
  Store::open(db_path(), warnings.sink());
  write_bytes(db_path(), random_bytes(8192, 6));
  Store::open(db_path(), warnings.sink());
  EXPECT_EQ(warnings.messages.size(), 3u);
  auto moved = moved_databases(dir.path());
  ASSERT_EQ(moved.size(), 3u);  // distinct names even within one second
  std::vector<std::string> contents;
  for (const auto& m : moved) contents.push_back(read_bytes(m));
  std::sort(contents.begin(), contents.end());
  std::vector<std::string> expected{random_bytes(8192, 4), random_bytes(8192, 5), random_bytes(8192, 6)};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(contents, expected);
}

TEST_F(DamageTest, ProcessesFindingOneDamagedFileAtOnceSetItAsideOnce) {
  // Each process finds the damage; only the first may move the file, and no
  // one may move aside the fresh database another has already started.
  std::string bytes = random_bytes(65536, 8);
  write_bytes(db_path(), bytes);
  constexpr int kProcesses = 4, kRecords = 50;
  int start[2];
  ASSERT_EQ(::pipe(start), 0);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(start[1]);
      char go;
      if (::read(start[0], &go, 1) < 0) ::_exit(3);
      int code = 0;
      try {
        int warned = 0;
        auto store = Store::open(db_path(), [&](const std::string&) { ++warned; });
        for (int i = 0; i < kRecords; ++i) store->save(sample_record(testing::numbered_key("p", p, i), p));
        code = 10 + warned;  // the parent adds up the warnings
      } catch (const std::exception& e) {
        std::fprintf(stderr, "process %d: %s\n", p, e.what());
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  ::close(start[0]);
  ::close(start[1]);
  int warnings_seen = 0;
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_GE(WEXITSTATUS(status), 10) << "a process failed (see its stderr)";
    warnings_seen += WEXITSTATUS(status) - 10;
  }
  EXPECT_EQ(warnings_seen, 1);
  auto moved = moved_databases(dir.path());
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(read_bytes(moved[0]), bytes);
  auto store = Store::open(db_path(), warnings.sink());
  EXPECT_EQ(store->list().size(), static_cast<std::size_t>(kProcesses * kRecords)) << "records written into a file "
                                                                                      "that was then moved aside";
  for (int p = 0; p < kProcesses; ++p)
    for (int i = 0; i < kRecords; ++i) EXPECT_TRUE(store->lookup(testing::numbered_key("p", p, i)).has_value());
  EXPECT_TRUE(warnings.messages.empty());
}

TEST_F(DamageTest, NewerSchemaIsRefusedAndLeftByteForByteUntouched) {
  fill(3);
  sql(db_path(), "UPDATE meta SET value='2' WHERE name='schema_version'");
  ASSERT_FALSE(file_exists(db_path() + "-wal"));
  std::string before = read_bytes(db_path());
  try {
    Store::open(db_path(), warnings.sink());
    FAIL() << "opened a database from a newer gemmtune";
  } catch (const StoreError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(db_path()), std::string::npos) << m;
    EXPECT_NE(m.find("newer gemmtune (schema 2 > 1); not touched"), std::string::npos) << m;
  }
  EXPECT_EQ(read_bytes(db_path()), before);
  EXPECT_TRUE(warnings.messages.empty());
  EXPECT_TRUE(moved_databases(dir.path()).empty());
  EXPECT_FALSE(file_exists(db_path() + "-wal"));
}

TEST_F(DamageTest, NewerSchemaWithUncheckpointedWalKeepsBothFilesUntouched) {
  fill(3);
  // A newer gemmtune committed its change and died before checkpointing.
  sql(db_path(), "UPDATE meta SET value='2' WHERE name='schema_version'", /*keep_wal=*/true);
  ASSERT_TRUE(file_exists(db_path() + "-wal"));
  std::string db_before = read_bytes(db_path());
  std::string wal_before = read_bytes(db_path() + "-wal");
  ASSERT_FALSE(wal_before.empty());
  try {
    Store::open(db_path(), warnings.sink());
    FAIL() << "opened a database from a newer gemmtune";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema 2 > 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_bytes(db_path()), db_before);
  EXPECT_EQ(read_bytes(db_path() + "-wal"), wal_before);
}

TEST_F(DamageTest, NewerSchemaWithOtherTablesIsStillRefusedNotMovedAside) {
  sql(db_path(),
      "CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT);"
      "INSERT INTO meta VALUES('schema_version', '7');"
      "CREATE TABLE tunings_v7(x)");
  std::string before = read_bytes(db_path());
  EXPECT_THROW(Store::open(db_path(), warnings.sink()), StoreError);
  EXPECT_EQ(read_bytes(db_path()), before);
  EXPECT_TRUE(moved_databases(dir.path()).empty());
}

TEST_F(DamageTest, EmptyFileBecomesAFreshDatabase) {
  write_bytes(db_path(), "");
  auto store = Store::open(db_path(), warnings.sink());
  store->save(sample_record("k"));
  EXPECT_TRUE(store->lookup("k").has_value());
  EXPECT_TRUE(warnings.messages.empty());
}

TEST_F(DamageTest, PathBelowARegularFileIsAnErrorNamingThePath) {
  write_bytes(dir.file("plain"), "x");
  std::string path = dir.file("plain/tuning.db");
  try {
    Store::open(path, warnings.sink());
    FAIL() << "opened below a regular file";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_F(DamageTest, UnwritableSystemFolderIsAnErrorNamingThePath) {
  // /sys refuses new files even to root, so this runs in any container.
  for (std::string path : {"/sys/gemmtune-test/tuning.db", "/sys/gemmtune-test-tuning.db"}) {
    try {
      Store::open(path, warnings.sink());
      ADD_FAILURE() << "opened " << path;
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

// Runs `body` in a child process that has dropped root to nobody (root
// ignores file permissions); returns the child's exit code, or skips when
// the privileges cannot be dropped.
int run_as_nobody(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(77);
    int code = 99;
    try {
      code = body();
    } catch (...) {
      code = 98;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 97;
}

// 0: StoreError naming the path (what we want); 1: opened; 2: wrong message.
int open_expecting_error(const std::string& path, const std::string& needle) {
  try {
    Store::open(path, {});
    return 1;
  } catch (const StoreError& e) {
    std::string m = e.what();
    if (m.find(path) == std::string::npos || m.find(needle) == std::string::npos) {
      std::fprintf(stderr, "unexpected message: %s\n", m.c_str());
      return 2;
    }
    return 0;
  }
}

TEST_F(DamageTest, ReadOnlyFolderIsAnErrorNamingThePath) {
  std::string folder = dir.file("locked");
  ASSERT_EQ(::mkdir(folder.c_str(), 0555), 0);
  ::chmod(dir.path().c_str(), 0755);
  std::string path = folder + "/tuning.db";
  int code = run_as_nobody([&] { return open_expecting_error(path, "not writable"); });
  if (code == 77) GTEST_SKIP() << "cannot drop privileges here";
  EXPECT_EQ(code, 0);
  EXPECT_FALSE(file_exists(path));
}

TEST_F(DamageTest, ReadOnlyDatabaseFileIsAnErrorAndStaysIntact) {
  fill(2);
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(db_path().c_str(), 0444);
  std::string before = read_bytes(db_path());
  int code = run_as_nobody([&] { return open_expecting_error(db_path(), "read-only"); });
  if (code == 77) GTEST_SKIP() << "cannot drop privileges here";
  EXPECT_EQ(code, 0);
  EXPECT_EQ(read_bytes(db_path()), before);
}

}  // namespace
}  // namespace gemmtune::store
