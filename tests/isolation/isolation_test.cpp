// Measuring in worker processes, end to end through the tuner with the fake
// world on both sides: a crashing, aborting, hanging, throwing or wrong
// choice is rejected at its stage and tuning goes on; workers are reused
// across choices, problems and tuners, replaced after a crash, and never
// outlive their pool; a broken or silent worker never hangs the parent.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <utility>
#include <thread>

#include "core/tuner_impl.h"
#include "gemmtune/errors.h"
#include "isolation/fake_world.h"
#include "isolation/protocol.h"
#include "isolation/worker_measurer.h"
#include "isolation/worker_pool.h"
#include "testing/problem_specs.h"
#include "testing/scoped_env.h"

namespace gemmtune {
namespace {

using isolation::WorkerCommand;
using isolation::WorkerPool;

WorkerCommand test_worker() { return WorkerCommand{GEMMTUNE_TEST_WORKER, {"--gemmtune-worker"}, "the test"}; }

Problem problem(std::int64_t m = 8) { return make_problem(testing::spec(Op::mm, m, 8, 8)); }

TuneOptions options(std::optional<std::string> failpoints = std::nullopt, double timeout_ms = 10000) {
  TuneOptions o;
  o.use_cache = false;
  o.measure.budget_ms = 0.2;
  o.measure.min_repeats = 3;
  o.measure.warmup_runs = 1;
  o.measure.choice_timeout_ms = timeout_ms;
  o.threads = 1;
  o.failpoints = std::move(failpoints);
  o.on_warning = [](const std::string&) {};
  return o;
}

runtime::DeviceRuntime& world_runtime(Device) { return isolation_testing::fake_runtime(); }

Tuner isolated_tuner(TuneOptions o, std::shared_ptr<WorkerPool> pool) {
  return make_tuner(std::move(o), TunerServices{isolation_testing::world_backends(), world_runtime, {},
                                                isolation::make_worker_measurer(std::move(pool))});
}

Tuner in_process_tuner(TuneOptions o) {
  return make_tuner(std::move(o), TunerServices{isolation_testing::world_backends(), world_runtime, {}});
}

const ChoiceOutcome& outcome_of(const TuningRecord& r, const std::string& name) {
  for (const auto& c : r.choices)
    if (c.name == name) return c;
  throw std::runtime_error("no choice " + name);
}

bool process_exists(pid_t pid) { return std::filesystem::exists("/proc/" + std::to_string(pid)); }

TEST(WorkerIsolation, MeasuresExactlyAsInProcessAndSelectsTheSame) {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  TuneResult isolated = isolated_tuner(options(), pool).tune(problem());
  TuneResult local = in_process_tuner(options()).tune(problem());
  ASSERT_TRUE(isolated.record.winner && local.record.winner);
  EXPECT_EQ(isolated.record.winner->choice, "fast");
  EXPECT_EQ(isolated.record.winner->choice, local.record.winner->choice);
  ASSERT_EQ(isolated.record.choices.size(), local.record.choices.size());
  for (std::size_t i = 0; i < local.record.choices.size(); ++i) {
    const auto& a = isolated.record.choices[i];
    const auto& b = local.record.choices[i];
    EXPECT_EQ(a.name, b.name);
    ASSERT_TRUE(a.timing && b.timing) << a.name;
    EXPECT_DOUBLE_EQ(a.timing->median_us, b.timing->median_us) << a.name;  // the fake clock is exact
  }
}

TEST(WorkerIsolation, CrashingChoiceIsRejectedAtCrashNamingTheSignalAndTheFastestRemainingWins) {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  TuneResult r = isolated_tuner(options("FAKE/fast=crash"), pool).tune(problem());
  const ChoiceOutcome& fast = outcome_of(r.record, "fast");
  ASSERT_TRUE(fast.rejection);
  EXPECT_EQ(fast.rejection->stage, Stage::crash);
  EXPECT_EQ(fast.rejection->reason, Reason::crashed);
  EXPECT_NE(fast.rejection->message.find("SIGSEGV"), std::string::npos) << fast.rejection->message;
  EXPECT_NE(fast.rejection->message.find("while running it"), std::string::npos) << fast.rejection->message;
  EXPECT_EQ(r.record.winner->choice, "medium");
  EXPECT_EQ(pool->started(Device{}), 2) << "the crashed worker is replaced once";
}

TEST(WorkerIsolation, AbortingChoiceIsRejectedAtCrashNamingSigabrt) {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  TuneResult r = isolated_tuner(options("FAKE/medium=abort"), pool).tune(problem());
  const ChoiceOutcome& medium = outcome_of(r.record, "medium");
  ASSERT_TRUE(medium.rejection);
  EXPECT_EQ(medium.rejection->stage, Stage::crash);
  EXPECT_NE(medium.rejection->message.find("SIGABRT"), std::string::npos) << medium.rejection->message;
  EXPECT_EQ(r.record.winner->choice, "fast");
}

TEST(WorkerIsolation, HangingChoiceIsRejectedAtTimeoutWithinItsLimit) {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  const auto start = std::chrono::steady_clock::now();
  TuneResult r = isolated_tuner(options("FAKE/fast=hang", 500), pool).tune(problem());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const ChoiceOutcome& fast = outcome_of(r.record, "fast");
  ASSERT_TRUE(fast.rejection);
  EXPECT_EQ(fast.rejection->stage, Stage::timeout);
  EXPECT_EQ(fast.rejection->reason, Reason::timed_out);
  EXPECT_NE(fast.rejection->message.find("0.5 s"), std::string::npos) << fast.rejection->message;
  EXPECT_EQ(r.record.winner->choice, "medium");
  // The limit plus the parent's slack, plus starting two workers: far below
  // what an unbounded hang would take.
  EXPECT_LT(seconds, 0.5 + isolation::kDeadlineSlackSeconds + 5.0);
}

TEST(WorkerIsolation, ThrowingChoiceIsRejectedAtRunAndTheWorkerIsKept) {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  TuneResult r = isolated_tuner(options("FAKE/fast=throw"), pool).tune(problem());
  const ChoiceOutcome& fast = outcome_of(r.record, "fast");
  ASSERT_TRUE(fast.rejection);
  EXPECT_EQ(fast.rejection->stage, Stage::run);
  EXPECT_EQ(fast.rejection->reason, Reason::internal_error);
  EXPECT_EQ(pool->started(Device{}), 1);
}

TEST(WorkerIsolation, WrongAndNanChoicesAreRejectedAtVerify) {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  TuneResult r = isolated_tuner(options("FAKE/fast=wrong;FAKE/medium=nan"), pool).tune(problem());
  EXPECT_EQ(outcome_of(r.record, "fast").rejection->stage, Stage::verify);
  EXPECT_EQ(outcome_of(r.record, "fast").rejection->reason, Reason::wrong_result);
  EXPECT_EQ(outcome_of(r.record, "medium").rejection->stage, Stage::verify);
  EXPECT_EQ(outcome_of(r.record, "medium").rejection->reason, Reason::non_finite_result);
  EXPECT_EQ(r.record.winner->choice, "slow");
}

TEST(WorkerIsolation, EveryChoiceFailingIsNoValidChoicesListingEachStage) {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  Tuner tuner = isolated_tuner(options("FAKE/fast=crash;FAKE/medium=hang;FAKE/slow=wrong;OTHER/*=throw", 300), pool);
  try {
    tuner.tune(problem());
    FAIL() << "expected NoValidChoicesError";
  } catch (const NoValidChoicesError& e) {
    std::set<Stage> stages;
    for (const auto& c : e.record().choices) {
      ASSERT_TRUE(c.rejection) << c.name;
      stages.insert(c.rejection->stage);
    }
    EXPECT_EQ(stages, (std::set<Stage>{Stage::crash, Stage::timeout, Stage::verify, Stage::run}));
    const std::string report = e.what();
    for (const char* word : {"crash", "timeout", "verify", "run"}) EXPECT_NE(report.find(word), std::string::npos) << word;
  }
}

TEST(WorkerIsolation, OneWorkerServesEveryProblemAndEveryTunerOfThePool) {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  {
    Tuner first = isolated_tuner(options(), pool);
    for (std::int64_t m : {4, 8, 16}) first.tune(problem(m));
  }
  Tuner second = isolated_tuner(options(), pool);
  second.tune(problem(32));
  EXPECT_EQ(pool->started(Device{}), 1);
}

// A pool whose worker a tuning has started, and that worker's pid (-1 if
// none runs).
std::pair<std::shared_ptr<WorkerPool>, pid_t> pool_with_a_worker() {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  isolated_tuner(options(), pool).tune(problem());
  auto lease = pool->acquire_if_running(Device{});
  return {pool, lease ? lease->worker().pid() : -1};
}

TEST(WorkerIsolation, NoWorkerOutlivesItsPool) {
  auto [pool, pid] = pool_with_a_worker();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(process_exists(pid));
  pool.reset();
  // Killed and reaped: not even a zombie is left in /proc.
  EXPECT_FALSE(process_exists(pid));
}

TEST(WorkerIsolation, AProgramAboutToEndKillsItsWorkersWithoutWaitingAndReapsTheDeadOnesLater) {
  isolation::stop_workers_without_waiting(true);
  auto [pool, pid] = pool_with_a_worker();
  ASSERT_GT(pid, 0);
  pool.reset();
  // Killed, not waited for: it ends unreaped. Waitable (WNOWAIT: asked, not
  // reaped) only once all its threads are gone, which a zombie leader's
  // 'Z' in /proc does not yet say.
  bool ended = false;
  for (int i = 0; i < 400 && !ended; ++i) {
    siginfo_t info{};
    ended = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(ended) << "the worker still runs after its pool stopped it";
  EXPECT_TRUE(process_exists(pid)) << "reaped: the destructor waited";
  // The next worker's start reaps the dead one.
  auto next = std::make_shared<WorkerPool>(test_worker());
  isolated_tuner(options(), next).tune(problem(8));
  EXPECT_FALSE(process_exists(pid)) << "the dead worker was not reaped when the next one started";
  isolation::stop_workers_without_waiting(false);
}

TEST(WorkerIsolation, AWorkerThatDiedWhileIdleIsReplacedWithoutBlamingAChoice) {
  auto pool = std::make_shared<WorkerPool>(test_worker());
  Tuner tuner = isolated_tuner(options(), pool);
  tuner.tune(problem(4));
  {
    auto lease = pool->acquire_if_running(Device{});
    ASSERT_TRUE(lease);
    ::kill(lease->worker().pid(), SIGKILL);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  TuneResult r = tuner.tune(problem(8));
  for (const auto& c : r.record.choices) EXPECT_TRUE(c.ok()) << c.name << ": " << c.rejection->to_string();
  EXPECT_EQ(pool->started(Device{}), 2);
}

using testing::ScopedEnv;

TEST(WorkerIsolation, ASilentWorkerIsAStartErrorWithinItsDeadline) {
  ScopedEnv silent(isolation_testing::kMisbehaveVariable, "silent");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(isolation::WorkerProcess::start(test_worker(), Device{}, 0.5), isolation::WorkerStartError);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

TEST(WorkerIsolation, AMissingWorkerExecutableIsAStartErrorThatSaysWhatToDo) {
  WorkerCommand missing{"/nonexistent/gemmtune-worker", {"--gemmtune-worker"}, "the test"};
  try {
    isolation::WorkerProcess::start(missing, Device{}, 5);
    FAIL() << "expected WorkerStartError";
  } catch (const isolation::WorkerStartError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/gemmtune-worker"), std::string::npos) << e.what();
  }
}

TEST(WorkerIsolation, AnOversizedOrGarbledAnswerIsACrashRejectionNotAHang) {
  for (const char* how : {"oversized", "garbage"}) {
    ScopedEnv misbehave(isolation_testing::kMisbehaveVariable, how);
    auto pool = std::make_shared<WorkerPool>(test_worker());
    Tuner tuner = isolated_tuner(options(std::nullopt, 2000), pool);
    try {
      tuner.tune(problem());
      FAIL() << how << ": expected NoValidChoicesError";
    } catch (const NoValidChoicesError& e) {
      const ChoiceOutcome& first = e.record().choices.front();
      ASSERT_TRUE(first.rejection) << how;
      EXPECT_EQ(first.rejection->stage, Stage::crash) << how;
      EXPECT_EQ(first.rejection->reason, Reason::internal_error) << how << ": " << first.rejection->message;
    }
  }
}

TEST(WorkerIsolation, AWorkerLostTwiceBeforeMeasuringIsADeviceFailureNotAChoiceRejection) {
  ScopedEnv die(isolation_testing::kMisbehaveVariable, "die_on_request");
  auto pool = std::make_shared<WorkerPool>(test_worker());
  Tuner tuner = isolated_tuner(options(), pool);
  try {
    tuner.tune(problem());
    FAIL() << "expected DeviceFailedError";
  } catch (const DeviceFailedError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cpu failed"), std::string::npos) << what;
    EXPECT_NE(what.find("lost twice"), std::string::npos) << what;
    EXPECT_NE(what.find("SIGKILL"), std::string::npos) << what;
  }
  EXPECT_EQ(pool->started(Device{}), 2) << "one fresh worker tries again before the device is blamed";
}

// ---- the protocol on its own ----

TEST(WorkerProtocol, FramesRoundTripAndAnOversizedLengthIsRefusedBeforeReading) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  const std::string text(100000, 'x');
  ASSERT_EQ(isolation::write_frame(pair[0], text, isolation::Deadline::after(5)), isolation::Io::ok);
  std::string got;
  ASSERT_EQ(isolation::read_frame(pair[1], got, isolation::Deadline::after(5)), isolation::Io::ok);
  EXPECT_EQ(got, text);
  const unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
  ASSERT_EQ(::write(pair[0], huge, 4), 4);
  EXPECT_EQ(isolation::read_frame(pair[1], got, isolation::Deadline::after(5)), isolation::Io::too_large);
  EXPECT_EQ(isolation::read_frame(pair[1], got, isolation::Deadline::after(0.05)), isolation::Io::timeout);
  ::close(pair[0]);
  EXPECT_EQ(isolation::read_frame(pair[1], got, isolation::Deadline::after(5)), isolation::Io::closed);
  ::close(pair[1]);
}

TEST(WorkerProtocol, WritingToAClosedPeerIsAnErrorNotSigpipe) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  ::close(pair[1]);
  EXPECT_EQ(isolation::write_frame(pair[0], "hello", isolation::Deadline::after(1)), isolation::Io::closed);
  ::close(pair[0]);
}

TEST(WorkerProtocol, ARequestRoundTripsWithFull64BitSeedsAndTheEarlyStop) {
  isolation::MeasureRequest r;
  r.id = 7;
  r.problem = problem();
  r.backend = "FAKE";
  r.backend_version = "fake-1";
  r.choice = "fast";
  r.best_us = 123.5;
  r.settings.input_seed = 0xfedcba9876543210ull;
  r.settings.sample_seed = 0x0123456789abcdefull;
  r.settings.verify = VerifyMode::sampled;
  r.settings.options.choice_timeout_ms = 1234;
  r.settings.options.early_stop = 0.35;  // the worker's runtime draws the early stop from it
  r.settings.context.threads = 3;
  r.failpoints_text = "FAKE/*=slow:5";
  const isolation::MeasureRequest back = isolation::request_from_json(nlohmann::json::parse(to_json(r).dump()));
  EXPECT_EQ(back.id, 7u);
  EXPECT_EQ(back.settings.input_seed, r.settings.input_seed);
  EXPECT_EQ(back.settings.sample_seed, r.settings.sample_seed);
  EXPECT_EQ(back.settings.verify, VerifyMode::sampled);
  EXPECT_EQ(back.settings.options.choice_timeout_ms, 1234);
  EXPECT_EQ(back.settings.options.early_stop, 0.35);
  EXPECT_EQ(back.settings.context.threads, 3);
  EXPECT_EQ(back.choice, "fast");
  EXPECT_EQ(back.best_us, 123.5);
  EXPECT_EQ(back.failpoints_text, r.failpoints_text);
  EXPECT_EQ(describe(back.problem), describe(r.problem));
}

}  // namespace
}  // namespace gemmtune
