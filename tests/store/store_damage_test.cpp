// Damaged, foreign, newer and unwritable database files. Only a damaged
// database that gemmtune made (its SQLite header carries gemmtune's
// application id) is set aside with a warning; anything else (another
// program's SQLite file, a text file, random bytes, a device) is refused with
// a StoreInputError and left byte for byte as it was, with nothing created
// beside it.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

// gemmtune's mark in the SQLite header (PRAGMA application_id).
constexpr int kGemmtuneApplicationId = 1735226485;  // "gmtu"

class DamageTest : public ::testing::Test {
 protected:
  // A file that starts as a database of ours (its header, with the mark)
  // and continues as garbage: what a disk error leaves behind.
  std::string damaged_ours(unsigned seed) {
    if (header_.empty()) {
      const std::string fresh = dir.file("fresh.db");
      Store::open(fresh, {});
      header_ = read_bytes(fresh).substr(0, 100);
    }
    return header_ + random_bytes(8192, seed);
  }
  std::string header_;
  // Opens a file that is not ours and checks that it is refused and left
  // exactly as it was, with no companion file created. Returns the message.
  std::string expect_refused_untouched(const std::string& original_bytes) {
    std::string message = "(opened)";
    try {
      Store::open(db_path(), warnings.sink());
    } catch (const StoreInputError& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("results database " + db_path() + " is "), std::string::npos) << message;
    EXPECT_NE(message.find("gemmtune never modifies, renames or moves a file it did not create"), std::string::npos)
        << message;
    EXPECT_EQ(read_bytes(db_path()), original_bytes) << "the user's file must be left as it was";
    EXPECT_TRUE(moved_databases(dir.path()).empty());
    for (const char* suffix : {"-wal", "-shm", "-journal"}) EXPECT_FALSE(file_exists(db_path() + suffix)) << suffix;
    EXPECT_TRUE(warnings.messages.empty());
    return message;
  }
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

TEST_F(DamageTest, FileOfRandomBytesIsRefusedAndLeftUntouched) {
  std::string bytes = random_bytes(16384, 1);
  write_bytes(db_path(), bytes);
  std::string m = expect_refused_untouched(bytes);
  EXPECT_NE(m.find("not an SQLite database"), std::string::npos) << m;
}

TEST_F(DamageTest, TextFileIsRefusedAndLeftUntouched) {
  std::string bytes = "these are my notes, not a database\n";
  write_bytes(db_path(), bytes);
  expect_refused_untouched(bytes);
}

TEST_F(DamageTest, DamagedDatabaseOfOursIsMovedAsideWithAWarning) {
  std::string bytes = damaged_ours(1);
  write_bytes(db_path(), bytes);
  expect_set_aside(bytes);
}

TEST_F(DamageTest, DatabaseOfAnOlderGemmtuneWithoutTheMarkIsUsedAndMarked) {
  fill(3);
  sql(db_path(), "PRAGMA application_id=0");
  auto store = Store::open(db_path(), warnings.sink());
  EXPECT_EQ(store->list().size(), 3u);
  store.reset();
  EXPECT_EQ(sql(db_path(), "PRAGMA application_id"), std::vector<std::string>{std::to_string(kGemmtuneApplicationId)});
  EXPECT_TRUE(warnings.messages.empty());
}

TEST_F(DamageTest, SqliteFileOfAnotherApplicationIsRefusedAndLeftUntouched) {
  sql(db_path(), "PRAGMA application_id=1234; CREATE TABLE meta(name TEXT, value TEXT)");
  std::string m = expect_refused_untouched(read_bytes(db_path()));
  EXPECT_NE(m.find("another application (id 1234)"), std::string::npos) << m;
}

TEST_F(DamageTest, ForeignSqliteFileInWalModeGetsNoCompanionFiles) {
  // Reading a WAL database normally creates its -shm; judging whose it is
  // must not leave even that behind.
  sql(db_path(), "PRAGMA journal_mode=WAL; CREATE TABLE notes(x); INSERT INTO notes VALUES('mine')");
  expect_refused_untouched(read_bytes(db_path()));
}

TEST_F(DamageTest, NonRegularFilesAreRefusedUntouched) {
  ASSERT_EQ(::mkfifo(db_path().c_str(), 0600), 0);
  try {
    Store::open(db_path(), warnings.sink());
    ADD_FAILURE() << "opened a FIFO";
  } catch (const StoreInputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  struct stat st {};
  ASSERT_EQ(::lstat(db_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_TRUE(moved_databases(dir.path()).empty());
  // A device: checked on /dev/null, which must still be the device after.
  EXPECT_THROW(Store::open("/dev/null", warnings.sink()), StoreInputError);
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  // A folder.
  const std::string folder = dir.file("a-folder");
  ASSERT_EQ(::mkdir(folder.c_str(), 0755), 0);
  EXPECT_THROW(Store::open(folder, warnings.sink()), StoreInputError);
}

TEST_F(DamageTest, SymlinkPlantedAsTheWalIsRefusedAndItsTargetUntouched) {
  fill(1);
  const std::string victim = dir.file("victim.txt");
  write_bytes(victim, "precious");
  ASSERT_EQ(::symlink(victim.c_str(), (db_path() + "-wal").c_str()), 0);
  try {
    Store::open(db_path(), warnings.sink());
    ADD_FAILURE() << "opened a database whose -wal is a planted symlink";
  } catch (const StoreInputError& e) {
    EXPECT_NE(std::string(e.what()).find("-wal is a symbolic link"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_bytes(victim), "precious");
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

TEST_F(DamageTest, SqliteFileWithUnrelatedTablesIsRefusedAndLeftUntouched) {
  sql(db_path(), "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users(name) VALUES('ann')");
  std::string m = expect_refused_untouched(read_bytes(db_path()));
  EXPECT_NE(m.find("an SQLite database that gemmtune did not create"), std::string::npos) << m;
  EXPECT_EQ(sql(db_path(), "SELECT name FROM users"), std::vector<std::string>{"ann"});
}

TEST_F(DamageTest, MarkedDatabaseWithUnrelatedTablesIsMovedAside) {
  sql(db_path(), "PRAGMA application_id=" + std::to_string(kGemmtuneApplicationId) +
                     "; CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)");
  std::string w = expect_set_aside(read_bytes(db_path()));
  EXPECT_NE(w.find("not a gemmtune database: it holds tables users"), std::string::npos) << w;
}

TEST_F(DamageTest, RecordsTableWithoutOurColumnsIsMovedAside) {
  sql(db_path(),
      "PRAGMA application_id=" + std::to_string(kGemmtuneApplicationId) + ";"
      "CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT);"
      "INSERT INTO meta VALUES('schema_version', '1');"
      "CREATE TABLE records(id INTEGER PRIMARY KEY, key TEXT)");
  std::string w = expect_set_aside(read_bytes(db_path()));
  EXPECT_NE(w.find("lacks column"), std::string::npos) << w;
}

TEST_F(DamageTest, StaleWalFileMovesWithTheDamagedFile) {
  std::string bytes = damaged_ours(3);
  write_bytes(db_path(), bytes);
  write_bytes(db_path() + "-wal", "old wal");
  expect_set_aside(bytes);
  auto moved = moved_databases(dir.path());
  ASSERT_FALSE(moved.empty());
  EXPECT_TRUE(file_exists(moved[0] + "-wal"));
  EXPECT_EQ(read_bytes(moved[0] + "-wal"), "old wal");
}

TEST_F(DamageTest, SecondDamageInTheSameSecondNeverOverwritesTheFirst) {
  write_bytes(db_path(), damaged_ours(4));
  Store::open(db_path(), warnings.sink());
  write_bytes(db_path(), damaged_ours(5));
  Store::open(db_path(), warnings.sink());
  write_bytes(db_path(), damaged_ours(6));
  Store::open(db_path(), warnings.sink());
  EXPECT_EQ(warnings.messages.size(), 3u);
  auto moved = moved_databases(dir.path());
  ASSERT_EQ(moved.size(), 3u);  // distinct names even within one second
  std::vector<std::string> contents;
  for (const auto& m : moved) contents.push_back(read_bytes(m));
  std::sort(contents.begin(), contents.end());
  std::vector<std::string> expected{damaged_ours(4), damaged_ours(5), damaged_ours(6)};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(contents, expected);
}

TEST_F(DamageTest, ProcessesFindingOneDamagedFileAtOnceSetItAsideOnce) {
  // Each process finds the damage; only the first may move the file, and no
  // one may move aside the fresh database another has already started.
  std::string bytes = damaged_ours(8);
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

// Overwrites four pages in the middle of the database in place (same file,
// header intact): damage that only the integrity check finds, done under a
// connection that has the file open.
std::string damage_in_place(const std::string& path) {
  std::string bytes = read_bytes(path);
  const std::string garbage = random_bytes(4096 * 4, 9);
  const std::size_t at = (bytes.size() / 2) / 4096 * 4096;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::pwrite(fd, garbage.data(), garbage.size(), static_cast<off_t>(at)) !=
                    static_cast<ssize_t>(garbage.size()))
    throw std::runtime_error("cannot damage " + path);
  ::close(fd);
  bytes.replace(at, garbage.size(), garbage);
  return bytes;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Opens the damaged file expecting the set-aside to be refused because
// another connection holds it; returns the message and how long it waited.
std::pair<std::string, double> open_refused_as_in_use(const std::string& path, Warnings& warnings) {
  const auto start = std::chrono::steady_clock::now();
  std::string message = "(opened)";
  try {
    Store::open(path, warnings.sink());
  } catch (const StoreError& e) {
    message = e.what();
  }
  return {message, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

TEST_F(DamageTest, DamagedDatabaseHeldOpenByAnotherProcessIsNotMovedAsideAndTheErrorSaysWhy) {
  // A long-running process has the file open when it gets damaged: moving
  // the file from under it would send its writes (through the -wal and -shm
  // it reaches by name) into the fresh database, and hide its file.
  fill(300);
  int ready[2], go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    ::close(ready[0]);
    ::close(go[1]);
    int code = 0;
    try {
      auto store = Store::open(db_path(), {});
      const ino_t inode = inode_of(db_path());
      code = store->lookup("key-7") ? 0 : 2;
      char c = 'r';
      if (::write(ready[1], &c, 1) != 1) code = 3;
      if (::read(go[0], &c, 1) != 1) code = 4;
      // Its file is still the one at the path, with its companions.
      if (code == 0 && inode_of(db_path()) != inode) code = 5;
      if (code == 0 && (!file_exists(db_path() + "-wal") || !file_exists(db_path() + "-shm"))) code = 6;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "holder: %s\n", e.what());
      code = 1;
    }
    ::_exit(code);
  }
  ::close(ready[1]);
  ::close(go[0]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1) << "the holder did not open the database";
  const ino_t inode = inode_of(db_path());
  const std::string damaged = damage_in_place(db_path());
  const std::string wal = read_bytes(db_path() + "-wal");

  auto [message, seconds] = open_refused_as_in_use(db_path(), warnings);
  const std::string wal_after = file_exists(db_path() + "-wal") ? read_bytes(db_path() + "-wal") : "(gone)";

  ASSERT_EQ(::write(go[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, 0), holder);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "holder exit status " << status;
  EXPECT_EQ(wal_after, wal) << "the holder's -wal was moved or changed";
  EXPECT_NE(message.find("results database " + db_path() + " is damaged ("), std::string::npos) << message;
  EXPECT_NE(message.find("in use by another process"), std::string::npos) << message;
  EXPECT_NE(message.find("left where it is"), std::string::npos) << message;
  EXPECT_GE(seconds, 1.0) << "gave up without waiting for the holder";
  EXPECT_LT(seconds, 30.0) << "waited (almost) without bound";
  EXPECT_EQ(inode_of(db_path()), inode);
  EXPECT_EQ(read_bytes(db_path()), damaged) << "the held file must be left as it was";
  EXPECT_TRUE(moved_databases(dir.path()).empty());
  EXPECT_TRUE(warnings.messages.empty());
  // Once no one holds it, it is set aside as usual.
  expect_set_aside(damaged);
}

TEST_F(DamageTest, DamagedDatabaseHeldOpenByThisProcessIsNotMovedAsideAndOpenDoesNotHang) {
  // A second connection in one process (the remote cache's copier opens its
  // own): the set-aside must see the first one, and must not wait for it
  // forever (it is the same process; nothing would let go).
  fill(300);
  auto holder = Store::open(db_path(), {});
  ASSERT_TRUE(holder->lookup("key-7").has_value());
  const ino_t inode = inode_of(db_path());
  const std::string damaged = damage_in_place(db_path());

  auto [message, seconds] = open_refused_as_in_use(db_path(), warnings);

  EXPECT_NE(message.find("in use by another process (or another connection of this one)"), std::string::npos)
      << message;
  EXPECT_LT(seconds, 30.0);
  EXPECT_EQ(inode_of(db_path()), inode);
  EXPECT_EQ(read_bytes(db_path()), damaged);
  EXPECT_TRUE(moved_databases(dir.path()).empty());
  EXPECT_TRUE(file_exists(db_path() + "-wal")) << "the holder's -wal was moved or removed";
  holder.reset();
  expect_set_aside(damaged);
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
