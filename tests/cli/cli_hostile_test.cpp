// The gemmtune executable fed hostile input, as a careless or malicious user
// would: paths that are inputs, databases, devices, FIFOs and planted
// symlinks; .npy files whose headers lie; forged records; numbers that
// overflow; malformed environment values. Each test states the rule: no
// crash, no hang, no file lost or displaced, no silent wrong answer; exit 2
// and a message naming what is wrong, found before any work.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "cli_process.h"
#include "npy.h"

namespace gemmtune::cli::testing {
namespace {

#define EXPECT_CONTAINS(text, needle) EXPECT_NE(std::string(text).find(needle), std::string::npos) << (text)

using nlohmann::json;

class Hostile : public CliTest {
 protected:
  // A float32 C-order .npy file with the given values (row-major).
  void put_npy(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& values) {
    write(name, format_npy(NpyType::f32, shape, false, values.data()));
  }
  // The values of a float32 .npy file written by gemmtune.
  std::vector<float> get_npy(const std::string& name) {
    NpyArray a = parse_npy(read(name), name);
    std::vector<float> out(static_cast<std::size_t>(a.element_count()));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(a.load(static_cast<std::int64_t>(i)));
    return out;
  }
  // A, B (and a row bias) with small exact values: C = A.B is exact in f32.
  void put_operands() {
    put_npy("A.npy", {2, 3}, {1, 2, 3, 4, 5, 6});
    put_npy("B.npy", {3, 2}, {1, 0, 0, 1, 1, 1});
    put_npy("bias.npy", {2}, {10, 20});
  }
  const std::vector<float> kProduct = {4, 5, 10, 11};  // A.B
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), "run");
    for (const char* extra : {"--budget-ms", "1", "--backends", "BLAS"}) args.push_back(extra);
    return gemmtune(args);
  }
  // gemmtune under a shell with resource limits (`ulimit -f 8`, `ulimit -n
  // 48`) and a wall-clock limit, so a hang fails the test instead of the
  // suite.
  ProcessResult limited(const std::string& limits, const std::vector<std::string>& args, int seconds = 120) {
    std::vector<std::string> sh{"-c", limits + "; exec /usr/bin/timeout " + std::to_string(seconds) + " \"$@\"", "sh",
                                GEMMTUNE_CLI_PATH};
    sh.insert(sh.end(), args.begin(), args.end());
    return run_process("/bin/sh", sh, {{"GEMMTUNE_CACHE_DIR", path("cache")}}, dir());
  }
  // Names in the test folder other than the process's captured output.
  std::vector<std::string> leftovers(std::initializer_list<std::string> expected) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir())) {
      const std::string name = e.path().filename().string();
      // The harness's own capture files (run_process) and the cache folder.
      if (name == ".stdout" || name == ".stderr" || name == ".process.stdout" || name == ".process.stderr" ||
          name == "cache")
        continue;
      if (std::find(expected.begin(), expected.end(), name) == expected.end()) out.push_back(name);
    }
    return out;
  }
  static std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  }
};

// ---- files never lost or displaced -------------------------------------

TEST_F(Hostile, RunOutputOntoAnInputIsRefusedBeforeAnyWork) {
  put_operands();
  const std::string before = read("A.npy");
  ProcessResult r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "A.npy"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "--out A.npy is the same file as --a A.npy");
  EXPECT_EQ(read("A.npy"), before);
  // A hard link is the same file under another name.
  ASSERT_EQ(::link(path("B.npy").c_str(), path("B-link.npy").c_str()), 0);
  r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "B-link.npy"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "is the same file as --b");
}

TEST_F(Hostile, RunOutputOntoTheResultsDatabaseIsRefused) {
  put_operands();
  ASSERT_EQ(run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy"}).exit_code, 0);
  const std::string db = path("cache/tuning.db");
  const std::string before = read("cache/tuning.db");
  ProcessResult r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", db});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "is the results database");
  EXPECT_EQ(read("cache/tuning.db"), before);
  EXPECT_EQ(gemmtune({"cache", "list"}).exit_code, 0);
}

TEST_F(Hostile, RunOutputOntoAFifoAFolderOrASymlinkToAFifoIsRefused) {
  put_operands();
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  ASSERT_EQ(::mkdir(path("folder").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(path("fifo").c_str(), path("link").c_str()), 0);
  for (const char* out : {"fifo", "folder", "link", "folder/"}) {
    ProcessResult r = limited("true", {"run", "mm", "--a", "A.npy", "--b", "B.npy", "--out", out, "--backends", "BLAS"}, 30);
    EXPECT_EQ(r.exit_code, 2) << out << ": " << r.both();
    EXPECT_CONTAINS(r.err, std::string("--out ") + out);
  }
  struct stat st {};
  ASSERT_EQ(::lstat(path("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(::lstat(path("link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(Hostile, RunOutputOnAFullDiskKeepsTheOldFileWhole) {
  // 64x64 f32 is 16 KiB; `ulimit -f 8` allows 8 KiB, failing the write as a
  // full disk does. The previous C.npy must survive intact.
  std::vector<float> ones(64 * 64, 1.0f);
  put_npy("A.npy", {64, 64}, ones);
  put_npy("B.npy", {64, 64}, ones);
  write("C.npy", "the previous result");
  ProcessResult r = limited("ulimit -f 8", {"run", "mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy",
                                            "--backends", "BLAS", "--budget-ms", "1", "--no-cache"});
  EXPECT_EQ(r.exit_code, 1) << r.both();
  EXPECT_CONTAINS(r.err, "C.npy");
  EXPECT_CONTAINS(r.err, "was left as it was");
  EXPECT_EQ(read("C.npy"), "the previous result");
  EXPECT_EQ(joined(leftovers({"A.npy", "B.npy", "C.npy"})), "") << "a temporary file was left behind";
}

TEST_F(Hostile, CacheExportOntoTheLiveDatabaseIsRefusedAndTheDatabaseKept) {
  put_operands();
  ASSERT_EQ(run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy"}).exit_code, 0);
  const std::string db = path("cache/tuning.db");
  for (const std::string& target : {db, db + "-wal"}) {
    ProcessResult r = gemmtune({"cache", "export", target});
    EXPECT_EQ(r.exit_code, 2) << r.both();
    EXPECT_CONTAINS(r.err, "is the results database");
  }
  ProcessResult list = gemmtune({"cache", "list", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.both();
  EXPECT_EQ(json_of(list).size(), 1u);
}

TEST_F(Hostile, CacheExportOnAFullDiskKeepsTheOldExport) {
  // Enough records for an export well over the limit; the limit itself
  // leaves room for SQLite's 32 KiB shared-memory file.
  std::string text;
  for (int m = 1; m <= 40; ++m) text += "mm " + std::to_string(m) + "x4x4\n";
  write("w.txt", text);
  ASSERT_EQ(gemmtune({"tune", "--workload", "w.txt", "--backends", "BLAS", "--budget-ms", "0.1", "--quiet"}).exit_code, 0);
  write("export.json", "the old export");
  ProcessResult r = limited("ulimit -f 96", {"cache", "export", "export.json"});  // 48 KiB in 512-byte blocks
  EXPECT_EQ(r.exit_code, 1) << r.both();
  EXPECT_CONTAINS(r.err, "export file export.json: cannot write");
  EXPECT_CONTAINS(r.err, "was left as it was");
  EXPECT_EQ(read("export.json"), "the old export");
  EXPECT_EQ(joined(leftovers({"w.txt", "export.json"})), "");
}

TEST_F(Hostile, DbThatIsAnotherProgramsSqliteFileIsRefusedUntouchedByEveryCommand) {
  put_operands();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path("app.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE users(name TEXT); INSERT INTO users VALUES('ann')", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const std::string before = read("app.db");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"tune", "mm", "4x4x4", "--db", "app.db", "--backends", "BLAS", "--budget-ms", "1"},
        std::vector<std::string>{"run", "mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--db", "app.db"},
        std::vector<std::string>{"cache", "list", "--db", "app.db"},
        std::vector<std::string>{"cache", "clear", "--db", "app.db"},
        std::vector<std::string>{"cache", "import", "A.npy", "--db", "app.db"}}) {
    ProcessResult r = gemmtune(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << ": " << r.both();
    EXPECT_CONTAINS(r.err, "is an SQLite database that gemmtune did not create");
    EXPECT_FALSE(std::filesystem::exists(path("C.npy"))) << "run did the work before refusing the database";
  }
  EXPECT_EQ(read("app.db"), before);
  EXPECT_EQ(joined(leftovers({"A.npy", "B.npy", "bias.npy", "app.db"})), "") << "something was created or moved";
}

TEST_F(Hostile, DbThatIsAnInputNpyIsRefusedAndTheInputKept) {
  put_operands();
  const std::string before = read("A.npy");
  ProcessResult r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--db", "A.npy"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "not an SQLite database");
  EXPECT_EQ(read("A.npy"), before);
  EXPECT_EQ(joined(leftovers({"A.npy", "B.npy", "bias.npy"})), "");
}

TEST_F(Hostile, ReadingOrEmptyingADatabaseThatIsNotThereIsAUsageErrorThatCreatesNothing) {
  // A mistyped --db or cache folder: nothing made, and an export target
  // keeps what it held (it was overwritten with an empty export before).
  write("keep.json", "precious");
  const std::vector<std::vector<std::string>> commands = {
      {"cache", "list", "--db", path("typo.db")},         {"cache", "stats", "--db", path("typo.db")},
      {"cache", "show", "1", "--db", path("typo.db")},    {"cache", "clear", "--db", path("typo.db")},
      {"cache", "export", path("keep.json"), "--db", path("typo.db")},
      {"cache", "list", "--cache-dir", path("no/such/folder")}};
  for (const auto& command : commands) {
    ProcessResult r = gemmtune(command);
    EXPECT_EQ(r.exit_code, 2) << command[1] << ": " << r.both();
    EXPECT_CONTAINS(r.err, "does not exist");
  }
  EXPECT_FALSE(std::filesystem::exists(path("typo.db")));
  EXPECT_FALSE(std::filesystem::exists(path("no")));
  EXPECT_EQ(read("keep.json"), "precious");
  // A link to nothing is no database either; its target is not created.
  std::filesystem::create_symlink("target.db", path("dangling.db"));
  ProcessResult r = gemmtune({"cache", "list", "--db", path("dangling.db")});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_FALSE(std::filesystem::exists(path("target.db")));
}

TEST_F(Hostile, WorkloadDefaultBesideAFileNamedDefaultIsAmbiguousAndRefused) {
  write("default", "mm 3x3x3\n");
  ProcessResult r = gemmtune({"tune", "--workload", "default", "--backends", "BLAS", "--budget-ms", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "write ./default for the file");
  ProcessResult file = gemmtune({"tune", "--workload", "./default", "--backends", "BLAS", "--budget-ms", "1"});
  EXPECT_EQ(file.exit_code, 0) << file.both();
  EXPECT_CONTAINS(file.out, "0/1 cache hits");
}

TEST_F(Hostile, ALibraryPrintingToStdoutInProcessCannotCorruptJsonOrCsv) {
  // oneDNN's verbose mode prints to stdout; `run` and --isolation none run
  // kernels in the CLI's own process, so those lines went before the JSON.
  for (const char* format : {"--json", "--csv"}) {
    ProcessResult r = gemmtune({"tune", "mm", "16x16x16", "--backends", "ONEDNN", "--budget-ms", "1", "--no-cache",
                                "--isolation", "none", format},
                               {{"ONEDNN_VERBOSE", "1"}});
    ASSERT_EQ(r.exit_code, 0) << r.both();
    EXPECT_CONTAINS(r.err, "onednn_verbose");
    EXPECT_EQ(r.out.find("onednn_verbose"), std::string::npos) << format << ": " << r.out.substr(0, 200);
    if (std::string(format) == "--json") EXPECT_FALSE(json_of(r).is_null()) << r.out.substr(0, 200);
    else EXPECT_EQ(r.out.rfind("problem,backend,choice", 0), 0u) << r.out.substr(0, 200);
  }
}

TEST_F(Hostile, CacheDirThatIsAFileIsAUsageError) {
  write("not-a-folder", "x");
  ProcessResult r = gemmtune({"cache", "list"}, {{"GEMMTUNE_CACHE_DIR", path("not-a-folder")}});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "not-a-folder");
  EXPECT_EQ(read("not-a-folder"), "x");
}

// ---- records -----------------------------------------------------------

// The owners' attack: a record whose key is that of the user's problem but
// whose problem (and so kernel) is another one. `run` must never compute
// with it: the import refuses it, and a row forged straight into the
// database is ignored on lookup.
TEST_F(Hostile, ForgedRecordNeverMakesRunComputeAnotherProblem) {
  put_operands();
  ASSERT_EQ(run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy"}).exit_code, 0);
  ASSERT_EQ(gemmtune({"cache", "export", "export.json"}).exit_code, 0);
  json doc = json::parse(read("export.json"));
  ASSERT_EQ(doc["records"].size(), 1u);
  json& problem = doc["records"][0]["problem"];
  // Read B as column-major: same shapes, different numbers.
  problem["b"]["row_stride"] = 1;
  problem["b"]["col_stride"] = 3;
  write("forged.json", doc.dump());
  ASSERT_EQ(gemmtune({"cache", "clear"}).exit_code, 0);

  ProcessResult r = gemmtune({"cache", "import", "forged.json"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "not imported: records[0] (key v1|op=mm");
  EXPECT_CONTAINS(r.err, "key: does not match its problem");

  // Straight into the database, past the importer.
  ASSERT_EQ(gemmtune({"cache", "import", "export.json"}).exit_code, 0);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path("cache/tuning.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE records SET json=?1", -1, &s, nullptr), SQLITE_OK);
  const std::string forged_record = doc["records"][0].dump();
  sqlite3_bind_text(s, 1, forged_record.c_str(), -1, SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);

  r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy"});
  EXPECT_EQ(r.exit_code, 0) << r.both();
  EXPECT_CONTAINS(r.err, "not used: it is invalid");
  EXPECT_EQ(get_npy("C.npy"), kProduct);
}

// ---- bounded reading ---------------------------------------------------

TEST_F(Hostile, NpyHeaderClaimingGigabytesIsRefusedWithoutReadingThem) {
  std::string bytes = std::string("\x93NUMPY", 6) + std::string("\x02\x00", 2) + std::string("\xff\xff\xff\xff", 4);
  write("huge-header.npy", bytes + "{'descr': '<f4'");
  put_npy("B.npy", {3, 2}, {1, 2, 3, 4, 5, 6});
  ProcessResult r = run({"mm", "--a", "huge-header.npy", "--b", "B.npy", "--out", "C.npy"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "huge-header.npy: the .npy header claims 4294967295 bytes");
}

TEST_F(Hostile, NpyShapePromisingMoreThanTheFileHoldsIsRefused) {
  std::string image = format_npy(NpyType::f32, {2, 3}, false, std::vector<float>(6).data());
  const std::string small = "(2, 3)", big = "(400000, 300000)";
  image.replace(image.find(small), small.size(), big);
  // Keep the header length: trim padding to match.
  image.erase(image.find("}") + 1, big.size() - small.size());
  write("liar.npy", image);
  put_npy("B.npy", {3, 2}, {1, 2, 3, 4, 5, 6});
  ProcessResult r = run({"mm", "--a", "liar.npy", "--b", "B.npy", "--out", "C.npy"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "truncated data: shape 400000x300000 of float32 needs 480000000000 bytes");
}

TEST_F(Hostile, EmptyOutputWithAHugeKFinishesAtOnce) {
  // A is 0 x 2^40, B is 2^40 x 0: no data at all, and an empty C. The work
  // is none; nothing may loop over K.
  const std::int64_t k = std::int64_t{1} << 40;
  write("A.npy", format_npy(NpyType::f32, {0, k}, false, nullptr));
  write("B.npy", format_npy(NpyType::f32, {k, 0}, false, nullptr));
  const auto start = std::chrono::steady_clock::now();
  ProcessResult r = limited("true", {"run", "mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends",
                                     "BLAS,CPP,REFERENCE", "--budget-ms", "1"}, 60);
  EXPECT_EQ(r.exit_code, 0) << r.both();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  NpyArray c = parse_npy(read("C.npy"), "C.npy");
  EXPECT_EQ(c.shape, (std::vector<std::int64_t>{0, 0}));
}

TEST_F(Hostile, ProblemThatCannotFitInMemoryIsRefusedBeforeAllocating) {
  // A is 2^28 x 0 and B 0 x 2^28: no data in the files, but C would be 2^56
  // floats. K = 0 makes it C = 0, which would still take 256 PiB (and
  // years) to write.
  const std::int64_t n = std::int64_t{1} << 28;
  write("A.npy", format_npy(NpyType::f32, {n, 0}, false, nullptr));
  write("B.npy", format_npy(NpyType::f32, {0, n}, false, nullptr));
  ProcessResult r = limited("true", {"run", "mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends",
                                     "BLAS", "--budget-ms", "1"}, 60);
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "this process may use");
  EXPECT_FALSE(std::filesystem::exists(path("C.npy")));
  ProcessResult t = limited("true", {"tune", "mm", "1000000000x1000000000x8", "--backends", "BLAS"}, 60);
  EXPECT_EQ(t.exit_code, 2) << t.both();
  EXPECT_CONTAINS(t.err, "this process may use");
}

TEST_F(Hostile, InputsThatAreNotRegularFilesAreRefusedWithoutBlocking) {
  put_operands();
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  for (const char* bad : {"fifo", "/dev/zero", "."}) {
    ProcessResult r = limited("true", {"run", "mm", "--a", bad, "--b", "B.npy", "--out", "C.npy"}, 30);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.both();
    EXPECT_CONTAINS(r.err, "not a regular file");
    r = limited("true", {"tune", "--workload", bad}, 30);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.both();
    EXPECT_CONTAINS(r.err, "not a regular file");
    r = limited("true", {"cache", "import", bad}, 30);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.both();
    EXPECT_CONTAINS(r.err, "not a regular file");
  }
}

TEST_F(Hostile, OversizedImportAndWorkloadFilesAreRefusedUnread) {
  // Sparse files: gigabytes on paper, nothing on disk.
  for (const char* name : {"big.json", "big.txt"}) {
    write(name, "");
    ASSERT_EQ(::truncate(path(name).c_str(), std::int64_t{2} << 30), 0);
  }
  ProcessResult r = limited("true", {"cache", "import", "big.json"}, 30);
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "more than the 1073741824 accepted");
  r = limited("true", {"tune", "--workload", "big.txt"}, 30);
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "more than the 16777216 accepted");
}

TEST_F(Hostile, MalformedImportFilesAreUsageErrorsAndChangeNothing) {
  put_operands();
  ASSERT_EQ(run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy"}).exit_code, 0);
  write("array.json", "[1, 2, 3]");
  write("newer.json", R"({"format": "gemmtune-tuning-records", "version": 99, "records": []})");
  write("deep.json", std::string(100000, '[') + std::string(100000, ']'));
  for (const std::string& file : {path("cache/tuning.db"), path("A.npy"), path("array.json"), path("newer.json"),
                                  path("deep.json")}) {
    ProcessResult r = gemmtune({"cache", "import", file});
    EXPECT_EQ(r.exit_code, 2) << file << ": " << r.both();
    EXPECT_CONTAINS(r.err, "import file " + file);
  }
  ProcessResult list = gemmtune({"cache", "list", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.both();
  EXPECT_EQ(json_of(list).size(), 1u);
}

TEST_F(Hostile, ControlBytesInPathsNeverReachTheTerminalRaw) {
  ProcessResult r = gemmtune({"run", "mm", "--a", "\x1b[2J\x1b]0;pwned\x07.npy", "--b", "B.npy", "--out", "C.npy"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  EXPECT_CONTAINS(r.err, "\\x1b[2J");
}

TEST_F(Hostile, BinaryWorkloadIsRefusedNamingTheLineAndByte) {
  write("w.txt", std::string("mm 8x8x8\nmm\0 8x8x8\n", 20));
  ProcessResult r = gemmtune({"tune", "--workload", "w.txt"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "w.txt:2: holds the control byte 0x00");
}

TEST_F(Hostile, ManyDifferentlyOptionedWorkloadLinesDoNotRunOutOfFileDescriptors) {
  // One tuner per distinct set of tuning flags; every one of them used to
  // open its own database connection (three descriptors each).
  std::string text;
  for (int i = 1; i <= 60; ++i) text += "mm 2x2x2 --budget-ms 0.0" + std::to_string(1000 + i) + "\n";
  write("w.txt", text);
  ProcessResult r = limited("ulimit -n 48", {"tune", "--workload", "w.txt", "--backends", "REFERENCE", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.both();
  EXPECT_EQ(r.err.find("Too many open files"), std::string::npos) << r.err;
}

// ---- exit codes and messages -------------------------------------------

TEST_F(Hostile, RepeatedWorkloadAndFileFlagsAreUsageErrors) {
  write("w.txt", "mm 4x4x4\n");
  ProcessResult r = gemmtune({"tune", "--workload", "w.txt", "--workload", "w.txt"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "--workload given twice");
  r = gemmtune({"run", "mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--out", "D.npy"});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "--out given twice ('C.npy' and 'D.npy')");
}

TEST_F(Hostile, MalformedGemmtuneLogIsAUsageErrorBeforeAnyWork) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"tune", "mm", "4x4x4"},
                                               std::vector<std::string>{"cache", "list"},
                                               std::vector<std::string>{"backends"}}) {
    ProcessResult r = gemmtune(args, {{"GEMMTUNE_LOG", "verbose"}});
    EXPECT_EQ(r.exit_code, 2) << r.both();
    EXPECT_CONTAINS(r.err, "GEMMTUNE_LOG");
    EXPECT_CONTAINS(r.err, "'verbose'");
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(path("cache/tuning.db"))) << "work was done before the error";
  EXPECT_EQ(gemmtune({"backends"}, {{"GEMMTUNE_LOG", "WARNING"}}).exit_code, 0);
}

TEST_F(Hostile, QuietHidesOnlyProgress) {
  put_operands();
  ProcessResult r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.both();
  EXPECT_CONTAINS(r.out, "wrote C.npy");
  ProcessResult t = gemmtune({"tune", "mm", "4x4x4", "--backends", "BLAS", "--budget-ms", "1", "--quiet"});
  EXPECT_EQ(t.exit_code, 0) << t.both();
  EXPECT_CONTAINS(t.out, "AUTOTUNE");
  EXPECT_TRUE(t.err.empty()) << t.err;
}

TEST_F(Hostile, NoValidChoicesWithJsonAlsoSaysSoOnStderr) {
  ProcessResult r = gemmtune({"tune", "mm", "4x4x4", "--dtype", "f64", "--backends", "CPP", "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.both();
  EXPECT_FALSE(json_of(r).is_null());
  EXPECT_CONTAINS(r.err, "gemmtune: error:");
}

TEST_F(Hostile, JsonStaysValidForPathsThatAreNotUtf8) {
  const std::string db = path("cache-\xff\xfe/tuning.db");
  ProcessResult r = gemmtune({"tune", "mm", "4x4x4", "--backends", "BLAS", "--budget-ms", "1", "--json", "--db", db});
  EXPECT_EQ(r.exit_code, 0) << r.both();
  json j = json_of(r);
  ASSERT_TRUE(j.is_object());
  EXPECT_CONTAINS(j["db"].get<std::string>(), "cache-\xef\xbf\xbd");
  ProcessResult stats = gemmtune({"cache", "stats", "--json", "--db", db});
  EXPECT_EQ(stats.exit_code, 0) << stats.both();
  EXPECT_FALSE(json_of(stats).is_null());
}

// ---- numbers -----------------------------------------------------------

TEST_F(Hostile, AlphaOrBetaOverflowingTheOutputDtypeIsAnInvalidProblem) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--alpha", "1e300"}, std::vector<std::string>{"--beta", "1e39"},
        std::vector<std::string>{"--alpha", "70000", "--dtype", "f16"},
        std::vector<std::string>{"--alpha", "1e-50"}}) {
    std::vector<std::string> args{"tune", "addmm", "4x4x4", "--backends", "BLAS,CPP"};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult r = gemmtune(args);
    EXPECT_EQ(r.exit_code, 2) << extra[1] << ": " << r.both();
    EXPECT_CONTAINS(r.err, extra[0].substr(2) + " = ");
    EXPECT_TRUE(r.err.find("overflows the output dtype") != std::string::npos ||
                r.err.find("underflows to 0") != std::string::npos)
        << r.err;
  }
  EXPECT_EQ(gemmtune({"tune", "addmm", "4x4x4", "--alpha", "1e300", "--dtype", "f64", "--backends", "BLAS",
                      "--budget-ms", "1"})
                .exit_code,
            0);
}

TEST_F(Hostile, NumbersThatOverflowOrAreNotNumbersAreUsageErrors) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"tune", "mm", "99999999999999999999x1x1"},
        std::vector<std::string>{"tune", "mm", "4294967296x4294967296x4294967296"},
        std::vector<std::string>{"tune", "mm", "4x4x4", "--alpha", "nan"},
        std::vector<std::string>{"tune", "mm", "4x4x4", "--beta", "-inf"},
        std::vector<std::string>{"tune", "mm", "4x4x4", "--budget-ms", "1e999"},
        std::vector<std::string>{"tune", "mm", "4x4x4", "--budget-ms", "-1"},
        std::vector<std::string>{"tune", "mm", "4x4x4", "--threads", "-1"},
        std::vector<std::string>{"tune", "mm", "4x4x4", "--threads", "99999999999"},
        std::vector<std::string>{"tune", "bmm", "0x4x4x4x4"}}) {
    ProcessResult r = gemmtune(args);
    EXPECT_EQ(r.exit_code, 2) << args[2] << " " << (args.size() > 3 ? args[4] : "") << ": " << r.both();
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

// ---- special values, end to end ----------------------------------------

TEST_F(Hostile, SpecialValuesFollowOneSemanticsInEveryCpuBackend) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  put_npy("A.npy", {2, 3}, {1, 2, 3, 4, 5, 6});
  put_npy("B.npy", {3, 2}, {1, 0, 0, 1, 1, 1});
  put_npy("A-nan.npy", {2, 3}, {nan, 2, 3, 4, 5, inf});
  put_npy("bias-nan.npy", {2}, {nan, -inf});
  put_npy("bias.npy", {2}, {10, -20});
  for (const char* backend : {"BLAS", "CPP", "ONEDNN", "REFERENCE"}) {
    SCOPED_TRACE(backend);
    auto go = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "run");
      for (const char* extra : {"--out", "C.npy", "--budget-ms", "1", "--no-cache", "--backends"}) args.push_back(extra);
      args.push_back(backend);
      ProcessResult r = gemmtune(args);
      EXPECT_EQ(r.exit_code, 0) << r.both();
      return r.exit_code == 0 ? get_npy("C.npy") : std::vector<float>{};
    };
    // beta = 0: the bias is not read, its NaN and -Inf go nowhere.
    EXPECT_EQ(go({"addmm", "--a", "A.npy", "--b", "B.npy", "--bias", "bias-nan.npy", "--beta", "0"}), kProduct);
    // alpha = 0: A.B is not evaluated: C = relu(beta * bias).
    EXPECT_EQ(go({"addmm", "--a", "A-nan.npy", "--b", "B.npy", "--bias", "bias.npy", "--alpha", "0", "--activation",
                  "relu"}),
              (std::vector<float>{10, 0, 10, 0}));
    // relu keeps NaN: row 0 of A holds a NaN.
    std::vector<float> c = go({"mm", "--a", "A-nan.npy", "--b", "B.npy", "--activation", "relu"});
    ASSERT_EQ(c.size(), 4u);
    EXPECT_TRUE(std::isnan(c[0]) && std::isnan(c[1])) << c[0] << " " << c[1];
    EXPECT_EQ(c[2], inf);
    EXPECT_EQ(c[3], inf);
  }
}

}  // namespace
}  // namespace gemmtune::cli::testing
