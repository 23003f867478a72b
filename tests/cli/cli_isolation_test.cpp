// Fault isolation from the outside, as a user sees it: failpoints
// (GEMMTUNE_FAILPOINTS) make chosen choices of real backends crash, abort,
// hang, throw, compute wrong values or NaN, or run slowly; measured in worker
// processes (the default), each is rejected at its stage, tuning goes on and
// the fastest remaining choice is selected. Workers are reused and replaced,
// never outlive gemmtune, and a hang costs only the choice timeout.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <set>
#include <thread>

#include "cli_process.h"

namespace gemmtune::cli::testing {
namespace {

#define EXPECT_CONTAINS(text, needle) EXPECT_NE(std::string(text).find(needle), std::string::npos) << (text)

using nlohmann::json;

// CPP and BLAS serve this on every x86 machine the project supports; a few
// CPP choices, each timed briefly.
const std::vector<std::string> kTune = {"tune", "mm", "64x64x64", "--backends", "CPP,BLAS", "--no-cache",
                                        "--budget-ms", "1", "--json"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The parent of a live process, from /proc/PID/stat; nullopt when it is gone.
std::optional<pid_t> parent_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  char state = 0;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

// The processes whose parent is `parent` (zombies included).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (parent_of(pid) == parent) out.push_back(pid);
  }
  return out;
}

// With this process a subreaper, a worker orphaned by gemmtune lands here.
std::vector<pid_t> children_of_this_process() { return children_of(::getpid()); }

class CliIsolation : public CliTest {
 protected:
  // The CPP choices offered for the problem, from explain.
  std::vector<std::string> cpp_choices() {
    ProcessResult r = gemmtune({"explain", "mm", "64x64x64", "--backends", "CPP", "--json"});
    json j = json_of(r);
    std::vector<std::string> out;
    if (j.is_null()) return out;
    for (const auto& c : j["choices"]) out.push_back(c["name"]);
    return out;
  }

  ProcessResult tune(const std::string& failpoints, std::vector<std::string> extra = {},
                     std::map<std::string, std::string> env = {}) {
    if (!failpoints.empty()) env["GEMMTUNE_FAILPOINTS"] = failpoints;
    return gemmtune(with(kTune, extra), env);
  }

  // Each choice's JSON row, by name.
  std::map<std::string, json> rows(const ProcessResult& r) {
    std::map<std::string, json> out;
    json j = json_of(r);
    if (j.is_null()) return out;
    for (const auto& c : j["choices"]) out[c["name"]] = c;
    return out;
  }
};

TEST_F(CliIsolation, CrashingChoicesAreRejectedAtCrashAndTheFastestRemainingWins) {
  ProcessResult r = tune("CPP/*=crash");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto choices = rows(r);
  for (const auto& [name, row] : choices) {
    if (row["backend"] != "CPP") continue;
    EXPECT_EQ(row["status"], "rejected") << name;
    EXPECT_EQ(row["stage"], "crash") << name;
    EXPECT_CONTAINS(row["message"].get<std::string>(), "SIGSEGV");
  }
  EXPECT_EQ(json_of(r)["selected"]["backend"], "BLAS");
}

TEST_F(CliIsolation, AbortingChoiceIsRejectedAtCrashNamingSigabrt) {
  ProcessResult r = tune("BLAS/*=abort");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto blas = rows(r).at("blas_sgemm");
  EXPECT_EQ(blas["stage"], "crash");
  EXPECT_CONTAINS(blas["message"].get<std::string>(), "SIGABRT");
  EXPECT_EQ(json_of(r)["selected"]["backend"], "CPP");
}

TEST_F(CliIsolation, AHangIsRejectedAtTimeoutAndCostsOnlyTheChoiceTimeout) {
  const auto names = cpp_choices();
  ASSERT_FALSE(names.empty());
  const auto start = std::chrono::steady_clock::now();
  ProcessResult r = tune("CPP/" + names.front() + "=hang", {"--choice-timeout", "1"});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto hung = rows(r).at(names.front());
  EXPECT_EQ(hung["stage"], "timeout");
  EXPECT_EQ(hung["reason"], "timed_out");
  EXPECT_CONTAINS(hung["message"].get<std::string>(), "within 1 s");
  // One hang: the limit, the parent's 1 s slack and a few short choices.
  EXPECT_LT(seconds, 20.0);
}

TEST_F(CliIsolation, ThrowIsRejectedAtRunWrongAndNanAtVerify) {
  const auto names = cpp_choices();
  ASSERT_GE(names.size(), 2u);
  ProcessResult r =
      tune("BLAS/*=throw;CPP/" + names[0] + "=wrong;CPP/" + names[1] + "=nan");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto choices = rows(r);
  EXPECT_EQ(choices.at("blas_sgemm")["stage"], "run");
  EXPECT_EQ(choices.at(names[0])["stage"], "verify");
  EXPECT_EQ(choices.at(names[0])["reason"], "wrong_result");
  EXPECT_EQ(choices.at(names[1])["stage"], "verify");
  EXPECT_EQ(choices.at(names[1])["reason"], "non_finite_result");
  const std::string winner = json_of(r)["selected"]["choice"];
  EXPECT_NE(winner, names[0]);
  EXPECT_NE(winner, names[1]);
}

TEST_F(CliIsolation, ASlowChoiceIsTimedSlowAndLoses) {
  ProcessResult r = tune("CPP/*=slow:20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& [name, row] : rows(r)) {
    if (row["backend"] != "CPP") continue;
    ASSERT_NE(row["status"], "rejected") << name;
    EXPECT_GE(row["time_us"].get<double>(), 20000.0) << name;
  }
  EXPECT_EQ(json_of(r)["selected"]["backend"], "BLAS");
}

TEST_F(CliIsolation, EveryChoiceFailingExits3ListingEachStage) {
  const auto names = cpp_choices();
  ASSERT_FALSE(names.empty());
  // The readable report (stderr) of the table output.
  ProcessResult r = gemmtune({"tune", "mm", "64x64x64", "--backends", "CPP,BLAS", "--no-cache", "--budget-ms", "1",
                              "--choice-timeout", "1"},
                             {{"GEMMTUNE_FAILPOINTS", "BLAS/*=crash;CPP/" + names[0] + "=hang;CPP/*=wrong"}});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  for (const char* stage : {"crash/crashed", "timeout/timed_out", "verify/wrong_result"}) EXPECT_CONTAINS(r.err, stage);
}

TEST_F(CliIsolation, ATuningWithFailpointsNeitherReadsNorWritesTheResultsCache) {
  // Injected faults are a test: their outcome must not become the stored
  // result a later, fault-free tuning reuses.
  const std::vector<std::string> cached = {"tune", "mm", "48x48x48", "--budget-ms", "1", "--json",
                                           "--cache-dir", path("faults")};
  ProcessResult faulty = gemmtune(cached, {{"GEMMTUNE_FAILPOINTS", "CPP/*=crash"}});
  ASSERT_EQ(faulty.exit_code, 0) << faulty.err;
  ProcessResult clean = gemmtune(cached);
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_EQ(json_of(clean)["cache_hit"], false);
  for (const auto& [name, row] : rows(clean)) EXPECT_NE(row["stage"], "crash") << name;
}

TEST_F(CliIsolation, AGemmtuneWorkerThatIsNotGemmtunesWorkerIsTheUsersSettingExit2) {
  ProcessResult r = gemmtune(kTune, {{"GEMMTUNE_WORKER", "/bin/true"}});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "/bin/true (GEMMTUNE_WORKER) is not usable");
}

TEST_F(CliIsolation, MalformedSettingsExit2BeforeAnyWork) {
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"GEMMTUNE_FAILPOINTS", "CPP/*=explode"},
           {"GEMMTUNE_FAILPOINTS", "CPP=crash"},
           {"GEMMTUNE_FAILPOINTS", "NOSUCH/*=crash"},
           {"GEMMTUNE_FAILPOINTS", "CPP/*=slow:0"},
           {"GEMMTUNE_FAILPOINTS", "BLAS/[=crash"},
           {"GEMMTUNE_FAILPOINTS", "BLAS/blas_[!s=crash"},
           {"GEMMTUNE_ISOLATION", "maybe"},
           {"GEMMTUNE_CHOICE_TIMEOUT", "-1"},
           {"GEMMTUNE_WORKER", "/nonexistent/gemmtune-worker"}}) {
    ProcessResult r = gemmtune(kTune, {{name, value}});
    EXPECT_EQ(r.exit_code, 2) << name << "=" << value << "\n" << r.err;
    EXPECT_CONTAINS(r.err, name);
    EXPECT_TRUE(r.out.empty()) << name << ": " << r.out;
    EXPECT_EQ(count_of(r.err, "started measuring worker"), 0);
  }
  for (const auto& flags : std::vector<std::vector<std::string>>{{"--isolation", "sometimes"},
                                                                  {"--choice-timeout", "0"},
                                                                  {"--choice-timeout", "x"}}) {
    ProcessResult r = gemmtune(with(kTune, flags));
    EXPECT_EQ(r.exit_code, 2) << flags[0] << " " << flags[1] << "\n" << r.err;
    EXPECT_CONTAINS(r.err, flags[0]);
  }
}

TEST_F(CliIsolation, OneWorkerServesAWholeWorkloadAndEachCrashedOneIsReplaced) {
  write("work.txt", "mm 16x32x64\nmm 16x16x16\nmm 32x16x16\n");
  const std::vector<std::string> args{"tune", "--workload", "work.txt", "--backends", "CPP,BLAS", "--no-cache",
                                      "--budget-ms", "1", "--quiet", "--json"};
  ProcessResult calm = gemmtune(args, {{"GEMMTUNE_LOG", "info"}});
  ASSERT_EQ(calm.exit_code, 0) << calm.err;
  EXPECT_EQ(count_of(calm.err, "started measuring worker"), 1) << calm.err;
  // Crashes only in the first problem (K = 64): one new worker per crash,
  // each started when the next choice needs it.
  ProcessResult crash = gemmtune(args, {{"GEMMTUNE_LOG", "info"}, {"GEMMTUNE_FAILPOINTS", "CPP/*_kc64_*=crash"}});
  ASSERT_EQ(crash.exit_code, 0) << crash.err;
  int crashes = 0;
  for (const auto& result : json_of(crash))
    for (const auto& c : result["choices"]) crashes += c["stage"] == "crash";
  EXPECT_GE(crashes, 1);
  EXPECT_EQ(count_of(crash.err, "started measuring worker"), 1 + crashes) << crash.err;
}

TEST_F(CliIsolation, NoWorkerOutlivesGemmtune) {
  // As a subreaper, this process inherits any worker gemmtune leaves behind.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const auto names = cpp_choices();
  ASSERT_FALSE(names.empty());
  ProcessResult r = tune("CPP/" + names.front() + "=hang;BLAS/*=crash", {"--choice-timeout", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // gemmtune kills its last worker without waiting for it to end (the GPU
  // teardown then overlaps its own exit; worker_process.h), so the dead
  // worker may land here to be reaped, as it would land on init. What must
  // not land here is a live one: after reaping, nothing is left.
  std::vector<pid_t> left;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int status = 0;
    while (::waitpid(-1, &status, WNOHANG) > 0) {
      EXPECT_TRUE(WIFSIGNALED(status) || WIFEXITED(status));
    }
    left = children_of_this_process();
    if (left.empty()) break;
  }
  EXPECT_TRUE(left.empty()) << "a worker outlived gemmtune (pid " << (left.empty() ? 0 : left[0]) << ")";
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(CliIsolation, KillingGemmtuneMidTuneTakesItsWorkerDownToo) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  // gemmtune in the background, its worker stuck in a hang for a minute.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("GEMMTUNE_FAILPOINTS", "BLAS/*=hang", 1);
    ::setenv("GEMMTUNE_CACHE_DIR", path("cache").c_str(), 1);
    ::execl(GEMMTUNE_CLI_PATH, GEMMTUNE_CLI_PATH, "tune", "mm", "8x8x8", "--backends", "BLAS", "--no-cache",
            "--quiet", "--choice-timeout", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait for its worker to appear (a grandchild: its parent is gemmtune).
  std::vector<pid_t> grandchildren;
  for (int i = 0; i < 200 && grandchildren.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    grandchildren = children_of(pid);
  }
  ASSERT_FALSE(grandchildren.empty()) << "gemmtune started no worker";
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // PR_SET_PDEATHSIG: the orphaned worker is killed at once; reap it here.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    while (::waitpid(-1, &status, WNOHANG) > 0) {
    }
    gone = children_of_this_process().empty() && !std::filesystem::exists("/proc/" + std::to_string(grandchildren[0]));
  }
  EXPECT_TRUE(gone) << "the worker survived its parent";
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(CliIsolation, InProcessAndIsolatedMeasuringSelectTheSameWay) {
  // Every CPP choice slowed far beyond BLAS: the selection cannot depend on
  // noise, only on where measuring happens, which must not matter.
  for (const char* isolation : {"process", "none"}) {
    ProcessResult r = tune("CPP/*=slow:5", {"--isolation", isolation});
    ASSERT_EQ(r.exit_code, 0) << isolation << ": " << r.err;
    json j = json_of(r);
    EXPECT_EQ(j["selected"]["choice"], "blas_sgemm") << isolation;
    for (const auto& [name, row] : rows(r)) EXPECT_NE(row["status"], "rejected") << isolation << " " << name;
  }
}

TEST_F(CliIsolation, WithoutIsolationACrashTakesGemmtuneDown) {
  // Documented: --isolation none is for debugging; nothing can catch a crash.
  ProcessResult r = run_process(GEMMTUNE_CLI_PATH, with(kTune, {"--isolation", "none"}),
                                {{"GEMMTUNE_FAILPOINTS", "BLAS/*=crash"}, {"GEMMTUNE_CACHE_DIR", path("cache")}}, dir());
  EXPECT_TRUE(r.signaled);
  EXPECT_EQ(r.exit_code, 128 + SIGSEGV);
}

// --devices (issue 12) as far as a machine without GPUs allows: every
// refusal comes before any work (no worker started). The spreading itself is
// tested on fake GPUs (tests/core/multi_device_test.cpp) and on real ones by
// scripts/device/multi_gpu.sh.
TEST_F(CliIsolation, BadDeviceListsExit2BeforeAnyWork) {
  write("work.txt", "mm 16x16x16\nmm 32x16x16\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cuda:57", "cuda:57 is not available"},
      {"cuda:0,cuda:0", "cuda:0 is listed twice"},
      {"cuda:0,banana", "'banana' is not a GPU"},
      {"cuda:0,,cuda:1", "'' is not a GPU"},
      {"cpu", "cpu is not a GPU"},
      {"all,cuda:0", "'all' is not a GPU"},
  };
  for (const auto& [devices, needle] : cases) {
    ProcessResult r = gemmtune({"tune", "--workload", "work.txt", "--devices", devices, "--no-cache"},
                               {{"GEMMTUNE_LOG", "info"}});
    EXPECT_EQ(r.exit_code, 2) << devices << "\n" << r.err;
    EXPECT_CONTAINS(r.err, needle);
    EXPECT_EQ(count_of(r.err, "started measuring worker"), 0) << devices;
  }
}

TEST_F(CliIsolation, DevicesRefuseAProblemThatNamesTheCpuOrASingleProblem) {
  write("work.txt", "mm 16x16x16\nmm 32x16x16 --device cpu\n");
  ProcessResult line = gemmtune({"tune", "--workload", "work.txt", "--devices", "cuda:0", "--no-cache"});
  EXPECT_EQ(line.exit_code, 2) << line.err;
  EXPECT_CONTAINS(line.err, "work.txt:2: --device cpu");
  EXPECT_CONTAINS(line.err, "--device cpu contradicts --devices cuda:0");

  write("plain.txt", "mm 16x16x16\n");
  ProcessResult everywhere =
      gemmtune({"tune", "--workload", "plain.txt", "--device", "cpu", "--devices", "all", "--no-cache"});
  EXPECT_EQ(everywhere.exit_code, 2) << everywhere.err;
  EXPECT_CONTAINS(everywhere.err, "--device cpu on the command line contradicts --devices all");
  EXPECT_EQ(everywhere.err.find("plain.txt:1"), std::string::npos) << "blamed on a line that names no device";

  ProcessResult one = gemmtune({"tune", "mm", "8x8x8", "--devices", "cuda:0"});
  EXPECT_EQ(one.exit_code, 2);
  EXPECT_CONTAINS(one.err, "--devices spreads the problems of a workload");

  ProcessResult empty = gemmtune({"tune", "--workload", "plain.txt", "--devices", ""});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_CONTAINS(empty.err, "--devices expects");

  // Not a flag a line may set: the spreading is the whole run's.
  write("bad_line.txt", "mm 16x16x16 --devices cuda:0\n");
  ProcessResult on_line = gemmtune({"tune", "--workload", "bad_line.txt", "--no-cache"});
  EXPECT_EQ(on_line.exit_code, 2) << on_line.err;
  EXPECT_CONTAINS(on_line.err, "--devices");
}

}  // namespace
}  // namespace gemmtune::cli::testing
