// files::AtomicFile and files::InputFile: a user's file is replaced all at
// once or not at all, never through a planted symlink, never when it is not
// a regular file; reading never blocks on a FIFO nor runs away on a device.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "util/files.h"

namespace gemmtune::files {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "gemmtune-files-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  static void put(const std::string& file, const std::string& text) { std::ofstream(file, std::ios::binary) << text; }
  static std::string get(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  // Files in the folder other than `keep`: temporary leftovers.
  std::vector<std::string> others(std::initializer_list<std::string> keep) const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (std::find(keep.begin(), keep.end(), name) == keep.end()) out.push_back(name);
    }
    return out;
  }
  // The fault of the FileError `f` throws, with its message.
  static std::string fault_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const FileError& e) {
      return std::string(e.fault() == FileError::Fault::usage ? "usage: " : "io: ") + e.what();
    }
    return "(no error)";
  }
  std::string dir_;
};

TEST_F(FilesTest, WriteAtomicallyReplacesTheContentAndKeepsThePermissions) {
  const std::string file = path("out.json");
  put(file, "old");
  ASSERT_EQ(::chmod(file.c_str(), 0640), 0);
  write_atomically(file, "new content", "export file");
  EXPECT_EQ(get(file), "new content");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_TRUE(others({"out.json"}).empty());
}

TEST_F(FilesTest, TemporaryFileNeverFollowsAPlantedSymlink) {
  // The old scheme wrote to "<file>.tmp-<pid>": an attacker who plants that
  // name as a symlink redirects the write into any file the user can write.
  const std::string victim = path("victim.txt");
  put(victim, "precious");
  const std::string file = path("C.npy");
  for (const std::string& planted : {file + ".tmp-" + std::to_string(::getpid()), path(".C.npy.tmp-"), file + ".tmp"})
    ASSERT_EQ(::symlink(victim.c_str(), planted.c_str()), 0);
  write_atomically(file, "result", "--out C.npy");
  EXPECT_EQ(get(victim), "precious");
  EXPECT_EQ(get(file), "result");
}

TEST_F(FilesTest, SymlinkedTargetIsWrittenThroughAndTheLinkKept) {
  const std::string real = path("real.npy"), link = path("link.npy");
  put(real, "old");
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  write_atomically(link, "new", "--out link.npy");
  struct stat st {};
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the user's symlink was displaced";
  EXPECT_EQ(get(real), "new");
}

TEST_F(FilesTest, AnythingButARegularFileIsRefusedAsUsageAndLeftInPlace) {
  const std::string fifo = path("fifo"), folder = path("folder"), dangling = path("dangling");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::mkdir(folder.c_str(), 0755), 0);
  ASSERT_EQ(::symlink(path("nowhere").c_str(), dangling.c_str()), 0);
  EXPECT_EQ(fault_of([&] { write_atomically(fifo, "x", "--out fifo"); }).rfind("usage: --out fifo: is a FIFO", 0), 0u);
  EXPECT_EQ(fault_of([&] { write_atomically(folder, "x", "--out folder"); }).rfind("usage: --out folder: is a folder", 0), 0u);
  EXPECT_EQ(fault_of([&] { write_atomically(dangling, "x", "--out d"); }).rfind("usage: --out d: is a symbolic link to a missing file", 0), 0u);
  EXPECT_EQ(fault_of([&] { write_atomically(folder + "/", "x", "--out f/"); }).rfind("usage: --out f/: names a folder", 0), 0u);
  EXPECT_EQ(fault_of([&] { write_atomically(path("no/such/C.npy"), "x", "--out x"); }).rfind("usage: --out x: folder ", 0), 0u);
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(::lstat(dangling.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_TRUE(others({"fifo", "folder", "dangling"}).empty());
}

TEST_F(FilesTest, ReadOnlyFileIsNotReplaced) {
  // Root may write any file, so the check runs as nobody in a child.
  const std::string file = path("ro.npy");
  put(file, "keep");
  ASSERT_EQ(::chmod(file.c_str(), 0444), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(77);
    const std::string f = fault_of([&] { write_atomically(file, "x", "--out ro.npy"); });
    ::_exit(f.rfind("usage: --out ro.npy: the existing file is read-only", 0) == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot drop root privileges here";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(get(file), "keep");
}

TEST_F(FilesTest, FailedWriteKeepsTheOldFileWholeAndLeavesNoTemporaryFile) {
  // A file size limit makes write() fail as a full disk does.
  const std::string file = path("export.json");
  put(file, "the old export");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      write_atomically(file, std::string(1 << 20, 'x'), "export file");
    } catch (const FileError& e) {
      ::_exit(e.fault() == FileError::Fault::io && std::string(e.what()).find("was left as it was") != std::string::npos ? 0 : 2);
    }
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the oversized write succeeded; 2: wrong error";
  EXPECT_EQ(get(file), "the old export");
  EXPECT_TRUE(others({"export.json"}).empty());
}

TEST_F(FilesTest, InputFileRefusesFifosDevicesAndFoldersWithoutBlocking) {
  const std::string fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(fault_of([&] { InputFile f(fifo, "--a fifo"); }), "usage: --a fifo: is a FIFO, not a regular file");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << "opening waited for a writer";
  EXPECT_EQ(fault_of([&] { InputFile f("/dev/zero", "--a /dev/zero"); }),
            "usage: --a /dev/zero: is a character device, not a regular file");
  EXPECT_EQ(fault_of([&] { InputFile f(dir_, "--workload d"); }), "usage: --workload d: is a folder, not a regular file");
  EXPECT_EQ(fault_of([&] { InputFile f(path("absent"), "--a absent"); }).rfind("usage: --a absent: cannot open: ", 0), 0u);
}

TEST_F(FilesTest, ReadingIsBoundedByTheLimitAndBySizeSeenAtOpen) {
  const std::string file = path("big.json");
  put(file, std::string(1000, 'x'));
  InputFile f(file, "import file big.json");
  EXPECT_EQ(fault_of([&] { f.read_all(999); }), "usage: import file big.json: 1000 bytes, more than the 999 accepted");
  EXPECT_EQ(f.read_all(1000).size(), 1000u);
  char byte = 0;
  EXPECT_EQ(fault_of([&] { f.read_at(1000, &byte, 1); }).rfind("usage: import file big.json: reading 1 bytes at offset 1000", 0), 0u);
  // A file that shrinks after it was opened is an I/O fault, not garbage.
  ASSERT_EQ(::truncate(file.c_str(), 10), 0);
  EXPECT_EQ(fault_of([&] { f.read_all(1000); }), "io: import file big.json: the file shrank while it was read");
}

}  // namespace
}  // namespace gemmtune::files
