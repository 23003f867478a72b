// Several processes tuning into one file at once: nothing lost, nothing
// corrupted, no reader ever sees half a record.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

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

constexpr int kWriters = 4;
constexpr int kDistinctPerWriter = 200;
constexpr int kSharedKeys = 10;

std::string distinct_key(int writer, int i) { return testing::numbered_key("w", writer, i); }
std::string shared_key(int i) { return "shared-" + std::to_string(i); }

// The writer's loop: its own records interleaved with the keys every writer
// also writes. Opens the store itself, after fork, as the file may not exist
// yet: creating it is part of the race.
int writer_main(const std::string& path, int writer, int start_fd) {
  char go = 0;
  if (::read(start_fd, &go, 1) < 0) return 3;  // wait until every writer is ready
  try {
    auto store = Store::open(path, [](const std::string& w) { std::fprintf(stderr, "warning: %s\n", w.c_str()); });
    for (int i = 0; i < kDistinctPerWriter; ++i) {
      store->save(sample_record(distinct_key(writer, i), writer));
      if (i % 10 == 0) store->save(sample_record(shared_key((i / 10) % kSharedKeys), writer));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "writer %d: %s\n", writer, e.what());
    return 1;
  }
  return 0;
}

// Reaps writers still running when the test body ends early, so that the
// scratch folder is not removed under them.
struct Reaper {
  std::set<pid_t>* running;
  ~Reaper() {
    for (pid_t pid : *running) ::waitpid(pid, nullptr, 0);
  }
};

TEST(StoreConcurrency, ProcessesWritingOneFileAtOnceLoseNothing) {
  TempDir dir;
  std::set<pid_t> running;
  Reaper reaper{&running};
  const std::string path = dir.file("shared/tuning.db");  // does not exist yet
  int start[2];
  ASSERT_EQ(::pipe(start), 0);
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(start[1]);
      ::_exit(writer_main(path, w, start[0]));  // _exit: no gtest teardown in the child
    }
    children.push_back(pid);
    running.insert(pid);
  }
  ::close(start[0]);
  auto began = std::chrono::steady_clock::now();
  ::close(start[1]);  // EOF releases every writer at once

  // Read while they write: every hit must be a whole, valid record.
  Warnings warnings;
  auto reader = Store::open(path, warnings.sink());
  std::mt19937 rng(7);
  std::vector<int> exit_codes;
  int reads = 0, hits = 0;
  while (!running.empty()) {
    int writer = static_cast<int>(rng() % kWriters);
    int i = static_cast<int>(rng() % kDistinctPerWriter);
    std::string key = distinct_key(writer, i);
    if (auto found = reader->lookup(key)) {
      ++hits;
      EXPECT_TRUE(same_record(sample_record(key, writer), *found));
    }
    if (++reads % 50 == 0) {
      for (const auto& summary : reader->list()) ASSERT_FALSE(summary.key.empty());
    }
    for (auto it = running.begin(); it != running.end();) {
      int status = 0;
      if (::waitpid(*it, &status, WNOHANG) == *it) {
        exit_codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        it = running.erase(it);
      } else {
        ++it;
      }
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  for (int code : exit_codes) EXPECT_EQ(code, 0) << "a writer failed (see its stderr)";
  RecordProperty("seconds", std::to_string(seconds));
  std::printf("[ info     ] %d writers x %d records + shared keys in %.2f s; reader did %d lookups, %d hits\n",
              kWriters, kDistinctPerWriter, seconds, reads, hits);

  auto store = Store::open(path, warnings.sink());
  for (int w = 0; w < kWriters; ++w)
    for (int i = 0; i < kDistinctPerWriter; ++i) {
      std::string key = distinct_key(w, i);
      auto found = store->lookup(key);
      ASSERT_TRUE(found.has_value()) << "lost " << key;
      EXPECT_TRUE(same_record(sample_record(key, w), *found)) << key;
    }
  // A shared key holds one writer's whole record, never a mixture.
  for (int s = 0; s < kSharedKeys; ++s) {
    auto found = store->lookup(shared_key(s));
    ASSERT_TRUE(found.has_value()) << shared_key(s);
    int writer = found->threads - 2;  // sample_record sets threads = 2 + variant
    ASSERT_TRUE(writer >= 0 && writer < kWriters) << found->threads;
    EXPECT_TRUE(same_record(sample_record(shared_key(s), writer), *found));
  }
  EXPECT_EQ(store->list().size(), static_cast<std::size_t>(kWriters * kDistinctPerWriter + kSharedKeys));
  EXPECT_EQ(store->stats().records, kWriters * kDistinctPerWriter + kSharedKeys);
  store.reset();
  reader.reset();
  EXPECT_EQ(sql(path, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_TRUE(warnings.messages.empty());
}

// Whether another process sees a read lock of process `holder` on SQLite's
// SHARED byte range of the file (PENDING_BYTE + 2, 510 bytes), which a
// connection in WAL mode keeps while open: it is how the last connection
// to close knows it is the last (and may delete the -wal).
bool sqlite_shared_lock_held_by(const std::string& path, pid_t holder) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    struct flock probe {};
    probe.l_type = F_WRLCK;
    probe.l_whence = SEEK_SET;
    probe.l_start = 0x40000000 + 2;
    probe.l_len = 510;
    if (fd < 0 || ::fcntl(fd, F_GETLK, &probe) != 0) ::_exit(2);
    ::_exit(probe.l_type == F_RDLCK && probe.l_pid == holder ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(StoreConcurrency, OpeningAndClosingASecondConnectionKeepsTheFirstOnesSqliteLocks) {
  // fcntl() locks belong to the process: closing any descriptor of the file
  // drops all of them, the ones SQLite holds for another connection
  // included. Store::open must not open and close descriptors of its own on
  // a file this process has open (the remote cache's copier opens a second
  // connection next to the tuner's).
  TempDir dir;
  const std::string path = dir.file("tuning.db");
  auto first = Store::open(path, {});
  first->save(sample_record("k"));
  ASSERT_TRUE(first->lookup("k").has_value());
  ASSERT_TRUE(sqlite_shared_lock_held_by(path, ::getpid())) << "the probe does not see SQLite's lock at all";
  for (int i = 0; i < 3; ++i) {
    auto second = Store::open(path, {});
    EXPECT_TRUE(second->lookup("k").has_value());
  }
  EXPECT_TRUE(sqlite_shared_lock_held_by(path, ::getpid())) << "a second connection's open or close dropped them";
  first->save(sample_record("k2"));
  first.reset();
  EXPECT_EQ(sql(path, "SELECT COUNT(*) FROM records"), std::vector<std::string>{"2"});
}

}  // namespace
}  // namespace gemmtune::store
