// Fleets of gemmtune processes sharing one redis-server, as a user runs
// them: the real executable, each process with its own local cache folder
// (as if on its own machine), Redis started, stopped and restarted by the
// test, tuners killed with SIGKILL. Small CPU problems on the REFERENCE and
// BLAS backends keep it fast; where a tuning must last, its time budget
// (--budget-ms, not part of the key) makes it last.
#include <gtest/gtest.h>

#include <filesystem>

#include <signal.h>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cli/cli_process.h"
#include "store/record_json.h"
#include "testing/redis_server.h"

namespace gemmtune::cli::testing {
namespace {

using Clock = std::chrono::steady_clock;
using gemmtune::testing::RedisAnswer;
using gemmtune::testing::RedisServer;
using nlohmann::json;

#define EXPECT_CONTAINS(text, needle) EXPECT_NE(std::string(text).find(needle), std::string::npos) << (text)

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// "m3": a member's name and cache folder.
std::string member_name(std::size_t i) { return std::string("m").append(std::to_string(i)); }

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

class Fleet : public CliTest {
 protected:
  // A member of the fleet: gemmtune ARGS with its own cache folder and the
  // shared Redis.
  std::unique_ptr<BackgroundProcess> start(const std::string& name, const std::vector<std::string>& args,
                                           std::map<std::string, std::string> env = {}) {
    env["GEMMTUNE_CACHE_DIR"] = path(name);
    if (!env.count("GEMMTUNE_REMOTE_CACHE")) env["GEMMTUNE_REMOTE_CACHE"] = redis_.url();
    return std::make_unique<BackgroundProcess>(GEMMTUNE_CLI_PATH, args, env, dir(), name);
  }

  ProcessResult finish(BackgroundProcess& p, std::chrono::seconds limit = std::chrono::seconds(300)) {
    ProcessResult r = p.wait(limit);
    EXPECT_FALSE(r.signaled) << "gemmtune was killed by a signal\nstderr:\n" << r.err;
    return r;
  }

  std::vector<std::string> redis_keys(const std::string& pattern) {
    return redis_.command({"KEYS", pattern}).strings;
  }

  // The store key gemmtune uses for these arguments (from a run that neither
  // reads nor writes any cache).
  std::string key_of(const std::vector<std::string>& problem_args) {
    std::vector<std::string> args{"tune"};
    args.insert(args.end(), problem_args.begin(), problem_args.end());
    args.insert(args.end(), {"--no-cache", "--json", "--budget-ms", "1"});
    ProcessResult r = gemmtune(args);
    json j = json_of(r);
    return j.is_null() ? std::string() : j["record"]["key"].get<std::string>();
  }

  // Records in a member's local file, by `gemmtune cache list --json`.
  std::size_t local_records(const std::string& name) {
    ProcessResult r = gemmtune({"cache", "list", "--json"}, {{"GEMMTUNE_CACHE_DIR", path(name)}});
    json j = json_of(r);
    return j.is_array() ? j.size() : 0;
  }

  RedisServer redis_;
};

TEST_F(Fleet, EightProcessesOnOneProblemTuneItOnceAndAgree) {
  const std::vector<std::string> args = {"tune",      "mm",    "48x48x48", "--backends", "REFERENCE,BLAS",
                                         "--budget-ms", "800", "--json",   "--quiet"};
  std::vector<std::unique_ptr<BackgroundProcess>> members;
  for (int i = 0; i < 8; ++i) members.push_back(start(member_name(i), args));
  int tuned = 0, remote_hits = 0;
  std::set<std::string> selections, tuners;
  for (auto& m : members) {
    ProcessResult r = finish(*m);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json j = json_of(r);
    ASSERT_FALSE(j.is_null());
    const std::string source = j["source"];
    tuned += source == "tuned";
    remote_hits += source == "remote_cache";
    selections.insert(j["selected"]["backend"].get<std::string>() + "/" + j["selected"]["choice"].get<std::string>());
    tuners.insert(j["tuned_by"].get<std::string>());
    EXPECT_EQ(count_of(r.err, "warning"), 0) << r.err;
  }
  EXPECT_EQ(tuned, 1);
  EXPECT_EQ(remote_hits, 7);
  EXPECT_EQ(selections.size(), 1u) << "every process must select the same kernel";
  EXPECT_EQ(tuners.size(), 1u) << "every result must name the one process that tuned it";
  EXPECT_EQ(redis_keys("gemmtune:rec:*").size(), 1u);
  EXPECT_TRUE(redis_keys("gemmtune:lease:*").empty()) << "the lease must be released after the save";
}

TEST_F(Fleet, KilledLeaseHolderIsReplacedWithinTheLeaseTime) {
  const std::vector<std::string> problem = {"mm", "96x96x96", "--backends", "REFERENCE"};
  auto tune = [&](const char* budget_ms) {
    std::vector<std::string> args{"tune"};
    args.insert(args.end(), problem.begin(), problem.end());
    args.insert(args.end(), {"--budget-ms", budget_ms, "--json", "--quiet", "--remote-cache-lease", "1"});
    return args;
  };
  // The holder would tune for half a minute; its budget is not part of the key.
  auto holder = start("holder", tune("60000"));
  std::string lease;
  const auto limit = Clock::now() + std::chrono::seconds(30);
  while (lease.empty() && Clock::now() < limit && holder->running()) {
    for (const auto& k : redis_keys("gemmtune:lease:*")) lease = k;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(lease.empty()) << "the holder never took its lease\n" << holder->err_so_far();
  EXPECT_CONTAINS(redis_.command({"GET", lease}).text, "pid " + std::to_string(holder->pid()) + " ");

  auto waiter = start("waiter", tune("30"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // longer than a lease: renewals keep it
  ASSERT_TRUE(waiter->running()) << "the waiter did not wait for the live holder:\n" << waiter->out_so_far();
  holder->signal(SIGKILL);
  const auto killed = Clock::now();
  ProcessResult r = finish(*waiter);
  const double after_kill = seconds_since(killed);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json_of(r);
  EXPECT_EQ(j["source"], "tuned");
  EXPECT_EQ(j["waited_too_long"], false);
  EXPECT_NE(j["tuned_by"].get<std::string>().find("pid " + std::to_string(waiter->pid())), std::string::npos);
  // The takeover comes within one lease (1 s) of the kill; the rest is the
  // waiter's own short tuning.
  EXPECT_LT(after_kill, 1.0 + 2.0) << "took " << after_kill << " s after the kill";
  std::cout << "[ measured ] waiter finished " << after_kill << " s after the holder's SIGKILL (lease 1 s)\n";
  auto record = redis_.command({"GET", "gemmtune:rec:" + j["record"]["key"].get<std::string>()});
  ASSERT_EQ(record.type, RedisAnswer::Type::string);
  EXPECT_EQ(json::parse(record.text)["tuned_by"], j["tuned_by"]);
}

TEST_F(Fleet, RedisStoppedAndRestartedMidWorkloadLosesNothing) {
  // About 10 s of tuning in all: the outage falls in the middle of it.
  std::ostringstream workload;
  constexpr int kProblems = 24;
  for (int i = 0; i < kProblems; ++i) workload << "mm " << 8 + i << "x32x32\n";
  write("workload.txt", workload.str());
  const std::vector<std::string> args = {"tune",        "--workload", "workload.txt", "--backends", "REFERENCE",
                                         "--budget-ms", "400",        "--json",       "--quiet"};
  std::vector<std::unique_ptr<BackgroundProcess>> members;
  for (std::size_t i = 0; i < 4; ++i) members.push_back(start(member_name(i), args));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  for (auto& m : members) ASSERT_TRUE(m->running()) << "the workload ended before the outage; make it longer";
  redis_.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  redis_.start();
  int running_after_restart = 0;
  for (auto& m : members) running_after_restart += m->running();
  EXPECT_GT(running_after_restart, 0) << "the workload ended during the outage; make it longer";
  int warned = 0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    ProcessResult r = finish(*members[i], std::chrono::seconds(180));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json j = json_of(r);
    ASSERT_TRUE(j.is_array());
    EXPECT_EQ(j.size(), static_cast<std::size_t>(kProblems));
    for (const auto& result : j) EXPECT_FALSE(result["selected"].is_null()) << result.dump();
    EXPECT_LE(count_of(r.err, "is unavailable"), 1) << "one warning per outage\n" << r.err;
    warned += count_of(r.err, "is unavailable");
    EXPECT_EQ(local_records(member_name(i)), static_cast<std::size_t>(kProblems))
        << "member " << i << " must end with every record stored locally";
  }
  EXPECT_GT(warned, 0) << "no member noticed the outage";
  // Redis came back: what was tuned after the restart is shared again.
  EXPECT_FALSE(redis_keys("gemmtune:rec:*").empty());
}

TEST_F(Fleet, DistributedWorkloadTunesEachProblemOnceAndEveryMemberReportsAll) {
  constexpr int kProblems = 104;
  std::ostringstream workload;
  for (int i = 1; i <= kProblems; ++i) workload << "mm " << i << "x16x16\n";
  write("workload.txt", workload.str());
  const std::vector<std::string> base = {"tune", "--workload", "workload.txt", "--backends", "REFERENCE",
                                         "--budget-ms", "3", "--quiet"};
  // Two members print JSON, two the human table with its summary.
  std::vector<std::unique_ptr<BackgroundProcess>> members;
  for (int i = 0; i < 4; ++i) {
    auto args = base;
    if (i < 2) args.push_back("--json");
    members.push_back(start(member_name(i), args));
  }
  std::map<std::string, int> tuned_by_problem;
  std::map<std::string, std::set<std::string>> tuners_by_problem;
  std::vector<int> tuned_per_member;
  for (std::size_t i = 0; i < members.size(); ++i) {
    ProcessResult r = finish(*members[i]);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    int tuned_here = 0;
    if (i < 2) {
      json j = json_of(r);
      ASSERT_TRUE(j.is_array());
      ASSERT_EQ(j.size(), static_cast<std::size_t>(kProblems));
      for (const auto& result : j) {
        const std::string problem = result["problem"]["text"];
        ASSERT_FALSE(result["selected"].is_null());
        tuners_by_problem[problem].insert(result["tuned_by"].get<std::string>());
        if (result["source"] == "tuned") ++tuned_by_problem[problem], ++tuned_here;
        else EXPECT_EQ(result["source"], "remote_cache") << result["source"];
      }
    } else {
      // The summary: one row per problem of the workload, ending with its source.
      const std::size_t summary = r.out.find("SUMMARY: " + std::to_string(kProblems) + " problems");
      ASSERT_NE(summary, std::string::npos) << r.out;
      std::istringstream rows(r.out.substr(summary));
      std::string row;
      int listed = 0;
      while (std::getline(rows, row)) {
        if (row.rfind("  mm f32 ", 0) != 0) continue;
        ++listed;
        const std::string problem = row.substr(2, row.find("  ", 2) - 2);
        if (row.find("tuned here") != std::string::npos) ++tuned_by_problem[problem], ++tuned_here;
        else EXPECT_CONTAINS(row, "remote cache (tuned by ");
      }
      EXPECT_EQ(listed, kProblems) << r.out.substr(summary);
      EXPECT_CONTAINS(r.out, std::to_string(tuned_here) + " tuned here, 0 from the local cache, " +
                                 std::to_string(kProblems - tuned_here) + " from the remote cache");
    }
    tuned_per_member.push_back(tuned_here);
  }
  EXPECT_EQ(tuned_by_problem.size(), static_cast<std::size_t>(kProblems));
  for (const auto& [problem, times] : tuned_by_problem) EXPECT_EQ(times, 1) << problem << " was tuned " << times << " times";
  for (const auto& [problem, tuners] : tuners_by_problem) EXPECT_EQ(tuners.size(), 1u) << problem;
  std::cout << "[ measured ] problems tuned per member:";
  for (int n : tuned_per_member) std::cout << " " << n;
  std::cout << "\n";
  EXPECT_EQ(redis_keys("gemmtune:rec:*").size(), static_cast<std::size_t>(kProblems));
  EXPECT_TRUE(redis_keys("gemmtune:lease:*").empty());
}

TEST_F(Fleet, CorruptedAndOversizedRemoteValuesAreSkippedWithAWarning) {
  const std::string corrupted = key_of({"mm", "8x8x8", "--backends", "REFERENCE"});
  const std::string oversized = key_of({"mm", "9x8x8", "--backends", "REFERENCE"});
  ASSERT_FALSE(corrupted.empty());
  ASSERT_FALSE(oversized.empty());
  redis_.command({"SET", "gemmtune:rec:" + corrupted, "{\"key\": 1, \"garbage\""});
  redis_.command({"SET", "gemmtune:rec:" + oversized, std::string(5u << 20, 'x')});
  write("workload.txt", "mm 8x8x8\nmm 9x8x8\n");
  auto m = start("m", {"tune", "--workload", "workload.txt", "--backends", "REFERENCE", "--budget-ms", "2", "--json"});
  ProcessResult r = finish(*m);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_of(r.err, "skipped: invalid JSON"), 1) << r.err;
  EXPECT_EQ(count_of(r.err, "bytes, over the 4194304-byte limit"), 1) << r.err;
  EXPECT_EQ(count_of(r.err, "unavailable"), 0) << "bad values are not Redis trouble\n" << r.err;
  json j = json_of(r);
  ASSERT_TRUE(j.is_array());
  for (const auto& result : j) EXPECT_EQ(result["source"], "tuned");
  // The fresh results replaced the bad values.
  for (const auto& key : {corrupted, oversized}) {
    auto value = redis_.command({"GET", "gemmtune:rec:" + key});
    EXPECT_NO_THROW(store::record_from_text(value.text, key)) << key;
  }
}

TEST_F(Fleet, CachePushAndPullCopyBetweenLocalAndRemote) {
  write("workload.txt", "mm 4x4x4\nmm 5x4x4\nmm 6x4x4\n");
  ProcessResult tuned = gemmtune({"tune", "--workload", "workload.txt", "--backends", "REFERENCE", "--budget-ms", "2"},
                                 {{"GEMMTUNE_CACHE_DIR", path("a")}});
  ASSERT_EQ(tuned.exit_code, 0) << tuned.err;
  ProcessResult pushed = gemmtune({"cache", "push", "--remote-cache", redis_.url()}, {{"GEMMTUNE_CACHE_DIR", path("a")}});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  EXPECT_CONTAINS(pushed.out, "pushed 3 records");
  EXPECT_EQ(redis_keys("gemmtune:rec:*").size(), 3u);
  redis_.command({"SET", "gemmtune:rec:v1|bogus", "[]"});
  ProcessResult pulled = gemmtune({"cache", "pull"}, {{"GEMMTUNE_CACHE_DIR", path("b")},
                                                      {"GEMMTUNE_REMOTE_CACHE", redis_.url()}});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_CONTAINS(pulled.out, "pulled 3 records");
  EXPECT_CONTAINS(pulled.err, "not pulled: key v1|bogus");
  EXPECT_EQ(local_records("b"), 3u);
}

TEST_F(Fleet, PushWithoutARemoteCacheIsBadUsage) {
  ProcessResult r = gemmtune({"cache", "push"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "needs a remote cache");
}

TEST_F(Fleet, PushFromADatabaseThatIsNotThereIsBadUsageAndCreatesNothing) {
  ProcessResult r = gemmtune({"cache", "push", "--remote-cache", redis_.url(), "--db", path("typo.db")});
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "typo.db does not exist");
  EXPECT_FALSE(std::filesystem::exists(path("typo.db")));
}

TEST_F(Fleet, RemoteCacheFlagOnALocalCacheActionIsBadUsage) {
  ProcessResult r = gemmtune({"cache", "list", "--remote-cache", redis_.url()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--remote-cache applies to cache push and cache pull");
}

TEST_F(Fleet, BadRemoteCacheFlagValuesAreExit2NamingTheFlag) {
  ProcessResult wait = gemmtune({"tune", "mm", "4x4x4", "--remote-cache-wait", "soon"});
  EXPECT_EQ(wait.exit_code, 2);
  EXPECT_CONTAINS(wait.err, "--remote-cache-wait expects a positive number of seconds, got 'soon'");
  ProcessResult lease = gemmtune({"tune", "mm", "4x4x4", "--remote-cache", redis_.url(), "--remote-cache-lease", "0.1"});
  EXPECT_EQ(lease.exit_code, 2);
  EXPECT_CONTAINS(lease.err, "at least 0.3 s");
  ProcessResult url = gemmtune({"tune", "mm", "4x4x4", "--remote-cache", "redis://host:99999"});
  EXPECT_EQ(url.exit_code, 2);
  EXPECT_CONTAINS(url.err, "port '99999'");
}

TEST_F(Fleet, BadRemoteUrlIsExit2BeforeAnyWork) {
  ProcessResult r = gemmtune({"tune", "mm", "4x4x4", "--backends", "REFERENCE"},
                             {{"GEMMTUNE_REMOTE_CACHE", "rediss://127.0.0.1:" + std::to_string(redis_.port())}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "no TLS");
  EXPECT_EQ(r.out, "");
}

TEST_F(Fleet, AbsentRedisLeavesTuningWorkingWithOneWarning) {
  redis_.stop();
  write("workload.txt", "mm 4x4x4\nmm 5x4x4\nmm 6x4x4\n");
  auto m = start("m", {"tune", "--workload", "workload.txt", "--backends", "REFERENCE", "--budget-ms", "2"});
  ProcessResult r = finish(*m, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_of(r.err, "warning"), 1) << r.err;
  EXPECT_CONTAINS(r.err, "is unavailable");
  EXPECT_CONTAINS(r.out, "3 tuned here");
  EXPECT_EQ(local_records("m"), 3u);
}

}  // namespace
}  // namespace gemmtune::cli::testing
