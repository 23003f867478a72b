// The remote cache in one process: tuners with fake backends, each with its
// own local file (as on different machines), sharing a real redis-server
// that the test starts on a loopback port. Other processes of the fleet are
// played by writing to Redis directly, through hiredis's own client.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/tuner_impl.h"
#include "gemmtune/errors.h"
#include "store/record_json.h"
#include "store/remote_sync.h"
#include "store/store.h"
#include "store/tuning_cache.h"
#include "testing/fake_backend.h"
#include "testing/redis_server.h"
#include "../store/store_test_support.h"

namespace gemmtune {
namespace {

using Clock = std::chrono::steady_clock;
using testing::FakeBackend;
using testing::FakeBackendSpec;
using testing::FakeChoice;
using testing::FakeClock;
using testing::FakeRedis;
using testing::RedisAnswer;
using testing::RedisServer;

#define EXPECT_CONTAINS(text, needle) EXPECT_NE(std::string(text).find(needle), std::string::npos) << (text)

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

int count_containing(const std::vector<std::string>& lines, const std::string& needle) {
  int n = 0;
  for (const auto& line : lines) n += line.find(needle) != std::string::npos;
  return n;
}

std::string all(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

Problem problem(std::int64_t m = 5) {
  ProblemSpec s;
  s.m = m;
  s.n = 7;
  s.k = 9;
  return make_problem(s);
}

// One member of the fleet: its own backends (to count its tunings), its own
// local file, the shared Redis.
struct Member {
  std::shared_ptr<FakeBackend> backend;
  std::shared_ptr<std::vector<std::string>> log;  // its warnings
  Tuner tuner;
  const std::vector<std::string>& warnings() const { return *log; }
};

class RemoteCacheTest : public ::testing::Test {
 protected:
  // `url` empty: no remote cache.
  std::unique_ptr<Member> member(const std::string& name, const std::string& url,
                                 const std::function<void(TuneOptions&)>& adjust = {}) {
    FakeBackendSpec spec;
    spec.name = "FAKE";
    spec.choices = {FakeChoice{"fast", 10}, FakeChoice{"slow", 20}};
    auto backend = std::make_shared<FakeBackend>(spec, clock_);
    FakeBackendSpec lib_spec;
    lib_spec.name = "BLAS";
    lib_spec.choices = {FakeChoice{"blas", 30}};
    auto lib = std::make_shared<FakeBackend>(lib_spec, clock_);
    auto log = std::make_shared<std::vector<std::string>>();
    TuneOptions o;
    o.backends = std::vector<std::string>{"FAKE"};
    o.db_path = dir_.file(name + ".db");
    o.measure.budget_ms = 0.2;
    o.measure.min_repeats = 3;
    o.measure.warmup_runs = 1;
    o.threads = 1;
    if (!url.empty()) o.remote_cache = url;
    o.remote_cache_connect_timeout = 0.3;
    o.remote_cache_timeout = 0.3;
    o.on_warning = [log](const std::string& w) { log->push_back(w); };
    if (adjust) adjust(o);
    std::vector<std::shared_ptr<Backend>> list{backend, lib};
    return std::unique_ptr<Member>(new Member{
        backend, log,
        make_tuner(std::move(o), TunerServices{list, [this](Device) -> runtime::DeviceRuntime& { return *rt_; }, {}})});
  }

  // The record a member would store for problem(m), made without Redis.
  TuningRecord record_for(std::int64_t m = 5) {
    auto solo = member("solo-" + std::to_string(m) + "-" + std::to_string(solo_count_++), "");
    return solo->tuner.tune(problem(m)).record;
  }

  std::string record_key(const std::string& key) const { return "gemmtune:rec:" + key; }
  std::string lease_key(const std::string& key) const { return "gemmtune:lease:" + key; }
  // Another gemmtune process's lease: its form of holder, an expiry.
  void set_lease(const std::string& key, const std::string& host, int ttl_ms) {
    ASSERT_EQ(redis_.command({"SET", lease_key(key), host + " pid 1 0123456789abcdef", "PX", std::to_string(ttl_ms)}).type,
              RedisAnswer::Type::status);
  }

  RedisAnswer get(const std::string& redis_key) { return redis_.command({"GET", redis_key}); }
  void set(const std::string& redis_key, const std::string& value) {
    ASSERT_EQ(redis_.command({"SET", redis_key, value}).type, RedisAnswer::Type::status);
  }

  store::testing::TempDir dir_;
  RedisServer redis_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<runtime::CpuRuntime> rt_ = testing::make_fake_cpu_runtime(clock_);
  int solo_count_ = 0;
};

TEST_F(RemoteCacheTest, SecondMachineTakesTheRemoteResultAndKeepsALocalCopy) {
  auto a = member("a", redis_.url());
  auto b = member("b", redis_.url());
  TuneResult first = a->tuner.tune(problem());
  EXPECT_EQ(first.source, ResultSource::tuned);
  EXPECT_EQ(first.record.tuned_by, store::process_identity());
  RedisAnswer stored = get(record_key(first.record.key));
  ASSERT_EQ(stored.type, RedisAnswer::Type::string);

  const int runs_before = b->backend->runs();
  TuneResult second = b->tuner.tune(problem());
  EXPECT_EQ(second.source, ResultSource::remote_cache);
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(b->backend->runs(), runs_before) << "b measured although a's result was in Redis";
  EXPECT_EQ(second.record.winner->choice, first.record.winner->choice);
  EXPECT_TRUE(b->warnings().empty()) << all(b->warnings());

  // The copy is local now: found even with Redis gone.
  redis_.stop();
  TuneResult third = b->tuner.tune(problem());
  EXPECT_EQ(third.source, ResultSource::local_cache);
  EXPECT_TRUE(b->warnings().empty()) << "a local hit must not touch Redis: " << all(b->warnings());
}

TEST_F(RemoteCacheTest, EveryRemoteHitIsInTheLocalFileOnceTheTunerCloses) {
  auto a = member("a", redis_.url());
  constexpr int kProblems = 12;
  for (int m = 1; m <= kProblems; ++m) a->tuner.tune(problem(m));
  {
    auto b = member("b", redis_.url());
    for (int m = 1; m <= kProblems; ++m)
      EXPECT_EQ(b->tuner.tune(problem(m)).source, ResultSource::remote_cache) << "m=" << m;
    EXPECT_TRUE(b->warnings().empty()) << all(b->warnings());
  }  // the copies are written on their own thread; closing waits for them
  auto local = store::Store::open(dir_.file("b.db"), {});
  EXPECT_EQ(local->list().size(), static_cast<std::size_t>(kProblems));
}

TEST_F(RemoteCacheTest, RemoteRecordWhoseWinnerIsDisabledIsNotUsed) {
  TuningRecord record = record_for();
  record.winner->backend = "BLAS";  // in Redis under this key, but BLAS is not enabled here
  record.winner->choice = "blas";
  set(record_key(record.key), store::record_text(record));
  auto m = member("m", redis_.url());
  TuneResult result = m->tuner.tune(problem());
  EXPECT_EQ(result.source, ResultSource::tuned);
  EXPECT_EQ(result.record.winner->backend, "FAKE");
  EXPECT_EQ(count_containing(m->warnings(), "remote result for"), 1) << all(m->warnings());
  // The record's own check (store::validate_record) names the reason.
  EXPECT_CONTAINS(all(m->warnings()), "BLAS is not in the enabled set");
  // The tuned result replaced the unusable one.
  EXPECT_EQ(store::record_from_text(get(record_key(record.key)).text, record.key).winner->backend, "FAKE");
}

TEST_F(RemoteCacheTest, RemoteFallbackRecordIsNotUsedWhileFallbackIsOff) {
  TuningRecord record = record_for();
  record.fallback = true;
  record.winner->backend = "BLAS";
  record.winner->choice = "blas";
  record.backend_versions["BLAS"] = "fake-1";
  // A well-formed fallback record (its winner verified and timed), so that
  // only the policy can refuse it.
  ChoiceOutcome blas = record.choices.front();
  blas.backend = "BLAS";
  blas.name = "blas";
  record.choices.push_back(blas);
  set(record_key(record.key), store::record_text(record));
  auto strict = member("strict", redis_.url());
  EXPECT_EQ(strict->tuner.tune(problem()).source, ResultSource::tuned);
  EXPECT_CONTAINS(all(strict->warnings()), "library fallback, which is off now");
}

TEST_F(RemoteCacheTest, CorruptedRemoteRecordIsSkippedWithAWarningAndReplaced) {
  const std::string key = record_for().key;
  set(record_key(key), "{\"key\": \"" + key + "\", \"problem\": 12, truncated");
  auto m = member("m", redis_.url());
  TuneResult result = m->tuner.tune(problem());
  EXPECT_EQ(result.source, ResultSource::tuned);
  EXPECT_EQ(count_containing(m->warnings(), "skipped: invalid JSON"), 1) << all(m->warnings());
  EXPECT_NO_THROW(store::record_from_text(get(record_key(key)).text, key));
}

TEST_F(RemoteCacheTest, RemoteRecordWithAFieldOutOfRangeIsSkipped) {
  TuningRecord record = record_for();
  nlohmann::json j = store::to_json(record);
  j["problem"]["a"]["dtype"] = "f33";
  set(record_key(record.key), j.dump());
  auto m = member("m", redis_.url());
  EXPECT_EQ(m->tuner.tune(problem()).source, ResultSource::tuned);
  EXPECT_CONTAINS(all(m->warnings()), "problem.a.dtype");
}

TEST_F(RemoteCacheTest, OversizedRemoteValueIsSkippedUnread) {
  const std::string key = record_for().key;
  set(record_key(key), std::string(store::kMaxRemoteRecordBytes + 1, '{'));
  auto m = member("m", redis_.url());
  EXPECT_EQ(m->tuner.tune(problem()).source, ResultSource::tuned);
  EXPECT_EQ(count_containing(m->warnings(), "over the 4194304-byte limit"), 1) << all(m->warnings());
  EXPECT_EQ(count_containing(m->warnings(), "unavailable"), 0) << "an oversized value is not Redis trouble";
}

TEST_F(RemoteCacheTest, RemoteValueOfAnotherTypeIsSkipped) {
  const std::string key = record_for().key;
  ASSERT_EQ(redis_.command({"HSET", record_key(key), "field", "value"}).type, RedisAnswer::Type::integer);
  auto m = member("m", redis_.url());
  EXPECT_EQ(m->tuner.tune(problem()).source, ResultSource::tuned);
  EXPECT_CONTAINS(all(m->warnings()), "does not hold a string");
}

TEST_F(RemoteCacheTest, RemoteRecordStoredUnderAnotherKeyIsSkipped) {
  TuningRecord other = record_for(6);
  const std::string key = record_for(5).key;
  set(record_key(key), store::record_text(other));
  auto m = member("m", redis_.url());
  TuneResult result = m->tuner.tune(problem(5));
  EXPECT_EQ(result.source, ResultSource::tuned);
  EXPECT_EQ(result.record.problem.m, 5);
  EXPECT_CONTAINS(all(m->warnings()), "holds key");
}

TEST_F(RemoteCacheTest, AbsentRedisCostsOneWarningAndNothingElse) {
  auto m = member("m", "redis://127.0.0.1:" + std::to_string(testing::unused_loopback_port()));
  for (std::int64_t i = 1; i <= 3; ++i) EXPECT_EQ(m->tuner.tune(problem(i)).source, ResultSource::tuned);
  EXPECT_EQ(m->warnings().size(), 1u) << all(m->warnings());
  EXPECT_CONTAINS(all(m->warnings()), "is unavailable");
  auto local = store::Store::open(dir_.file("m.db"), {});
  EXPECT_EQ(local->list().size(), 3u) << "results must be kept locally while Redis is away";
}

TEST_F(RemoteCacheTest, StalledRedisCostsOneTimeLimitAndNoHang) {
  FakeRedis stalled(FakeRedis::Behaviour::stall);
  auto m = member("m", stalled.url(), [](TuneOptions& o) { o.remote_cache_timeout = 0.2; });
  const auto start = Clock::now();
  for (std::int64_t i = 1; i <= 3; ++i) EXPECT_EQ(m->tuner.tune(problem(i)).source, ResultSource::tuned);
  const double elapsed = seconds_since(start);
  EXPECT_GE(elapsed, 0.2) << "the first command should have waited its time limit";
  EXPECT_LT(elapsed, 2.0) << "later problems must not each wait for the stalled server";
  EXPECT_EQ(m->warnings().size(), 1u) << all(m->warnings());
  EXPECT_CONTAINS(all(m->warnings()), "command time limit");
}

TEST_F(RemoteCacheTest, AServerThatTakesConnectionsButAnswersNothingIsOneOutageAcrossReconnections) {
  // A paused or hung Redis accepts each reconnection: it is back only when
  // it answers, so the outage stays one warning however many attempts.
  FakeRedis stalled(FakeRedis::Behaviour::stall);
  auto m = member("m", stalled.url(), [](TuneOptions& o) { o.remote_cache_timeout = 0.1; });
  for (std::int64_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(m->tuner.tune(problem(i)).source, ResultSource::tuned);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the reconnection interval
  }
  EXPECT_EQ(m->warnings().size(), 1u) << all(m->warnings());
}

TEST_F(RemoteCacheTest, GarbageAnsweringServerIsTreatedAsAbsent) {
  FakeRedis http(FakeRedis::Behaviour::answer, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  auto m = member("m", http.url());
  EXPECT_EQ(m->tuner.tune(problem()).source, ResultSource::tuned);
  EXPECT_EQ(m->warnings().size(), 1u) << all(m->warnings());
  EXPECT_CONTAINS(all(m->warnings()), "not the Redis protocol");
}

TEST_F(RemoteCacheTest, WellFormedAnswersOfTheWrongKindAreTreatedAsAbsent) {
  FakeRedis yes_man(FakeRedis::Behaviour::answer, "+OK\r\n+OK\r\n");
  auto m = member("m", yes_man.url());
  EXPECT_EQ(m->tuner.tune(problem()).source, ResultSource::tuned);
  EXPECT_EQ(m->warnings().size(), 1u) << all(m->warnings());
  EXPECT_CONTAINS(all(m->warnings()), "unexpected answer to STRLEN");
}

TEST_F(RemoteCacheTest, AnswerLargerThanTheLimitIsCutOff) {
  const std::size_t huge = 3 * store::kMaxRemoteRecordBytes;
  FakeRedis flood(FakeRedis::Behaviour::answer, "$" + std::to_string(huge) + "\r\n" + std::string(huge, 'x'));
  auto m = member("m", flood.url(), [](TuneOptions& o) { o.remote_cache_timeout = 5; });
  EXPECT_EQ(m->tuner.tune(problem()).source, ResultSource::tuned);
  EXPECT_EQ(m->warnings().size(), 1u) << all(m->warnings());
  EXPECT_CONTAINS(all(m->warnings()), "the answer exceeds");
}

TEST_F(RemoteCacheTest, ArrayLengthBombIsRefusedBeforeAllocation) {
  FakeRedis bomb(FakeRedis::Behaviour::answer, "*2000000000\r\n");
  auto m = member("m", bomb.url());
  EXPECT_EQ(m->tuner.tune(problem()).source, ResultSource::tuned);
  EXPECT_EQ(m->warnings().size(), 1u) << all(m->warnings());
  EXPECT_CONTAINS(all(m->warnings()), "not the Redis protocol");
}

TEST_F(RemoteCacheTest, RestartedRedisIsUsedAgainAndReceivesWhatWasSavedMeanwhile) {
  auto m = member("m", redis_.url());
  TuneResult before = m->tuner.tune(problem(1));
  redis_.stop();
  TuneResult during = m->tuner.tune(problem(2));  // saved locally; Redis away
  redis_.start();                                 // empty: nothing is persisted
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the first reconnection interval
  TuneResult after = m->tuner.tune(problem(3));
  EXPECT_EQ(after.source, ResultSource::tuned);
  EXPECT_EQ(count_containing(m->warnings(), "is unavailable"), 1) << all(m->warnings());
  EXPECT_EQ(get(record_key(after.record.key)).type, RedisAnswer::Type::string);
  EXPECT_EQ(get(record_key(during.record.key)).type, RedisAnswer::Type::string)
      << "the result tuned while Redis was away should be sent once it is back";
  EXPECT_EQ(get(record_key(before.record.key)).type, RedisAnswer::Type::nil) << "(the restarted server is empty)";
}

TEST_F(RemoteCacheTest, TuneUnlessClaimedLeavesAProblemAnotherProcessIsTuning) {
  const std::string key = record_for().key;
  set_lease(key, "other-host", 60000);
  auto m = member("m", redis_.url());
  const auto start = Clock::now();
  EXPECT_FALSE(m->tuner.tune_unless_claimed(problem()).has_value());
  EXPECT_LT(seconds_since(start), 0.5) << "it must not wait";
  EXPECT_EQ(m->backend->runs(), 0);
  EXPECT_TRUE(m->tuner.tune_unless_claimed(problem(8)).has_value()) << "an unclaimed problem is tuned";
}

TEST_F(RemoteCacheTest, WaiterTakesTheResultOfTheProcessHoldingTheLease) {
  TuningRecord theirs = record_for();
  theirs.tuned_by = "other-host pid 1";
  set_lease(theirs.key, "other-host", 60000);
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    redis_.command({"SET", record_key(theirs.key), store::record_text(theirs)});
    redis_.command({"DEL", lease_key(theirs.key)});
  });
  auto m = member("m", redis_.url());
  TuneResult result = m->tuner.tune(problem());
  other.join();
  EXPECT_EQ(result.source, ResultSource::remote_cache);
  EXPECT_EQ(result.record.tuned_by, "other-host pid 1");
  EXPECT_GE(result.waited_seconds, 0.3);
  EXPECT_EQ(m->backend->runs(), 0) << "the waiter measured although the holder delivered";
  EXPECT_TRUE(m->warnings().empty()) << all(m->warnings());
}

TEST_F(RemoteCacheTest, WaiterTakesOverWhenTheHoldersLeaseExpires) {
  const std::string key = record_for().key;
  // A holder that died: its lease runs out and nobody writes the record.
  set_lease(key, "dead-host", 600);
  auto m = member("m", redis_.url());
  const auto start = Clock::now();
  TuneResult result = m->tuner.tune(problem());
  EXPECT_EQ(result.source, ResultSource::tuned);
  EXPECT_FALSE(result.waited_too_long);
  EXPECT_GE(seconds_since(start), 0.5);
  EXPECT_LT(seconds_since(start), 3.0);
  EXPECT_EQ(get(record_key(key)).type, RedisAnswer::Type::string);
  EXPECT_EQ(get(lease_key(key)).type, RedisAnswer::Type::nil) << "the new holder releases after saving";
}

TEST_F(RemoteCacheTest, WaiterTunesItselfAfterTheWaitBoundAndSaysSo) {
  const std::string key = record_for().key;
  set_lease(key, "stuck-host", 60000);
  auto m = member("m", redis_.url(), [](TuneOptions& o) { o.remote_cache_wait = 0.5; });
  TuneResult result = m->tuner.tune(problem());
  EXPECT_EQ(result.source, ResultSource::tuned);
  EXPECT_TRUE(result.waited_too_long);
  EXPECT_GE(result.waited_seconds, 0.5);
  EXPECT_EQ(count_containing(m->warnings(), "wait bound"), 1) << all(m->warnings());
  EXPECT_CONTAINS(all(m->warnings()), "stuck-host pid 1");
  EXPECT_EQ(get(lease_key(key)).text, "stuck-host pid 1 0123456789abcdef") << "someone else's lease is never touched";
}

TEST_F(RemoteCacheTest, ALeaseNoGemmtuneProcessWroteGetsNoWaitAndIsRemoved) {
  // Written by hand or by another program: no expiry, or a holder that is
  // not "host pid N id" (here with a line break to forge a message).
  auto m = member("m", redis_.url());
  const std::vector<std::pair<std::string, int>> forged = {
      {"garbage-holder", 0}, {"evil\nFAKE: gemmtune: error: injected", 60000}, {"host pid 1 0123456789abcdef", 0}};
  std::int64_t m_rows = 5;
  for (const auto& [holder, ttl_ms] : forged) {
    const std::string key = record_for(m_rows).key;
    if (ttl_ms > 0)
      ASSERT_EQ(redis_.command({"SET", lease_key(key), holder, "PX", std::to_string(ttl_ms)}).type,
                RedisAnswer::Type::status);
    else
      set(lease_key(key), holder);
    const auto start = Clock::now();
    TuneResult result = m->tuner.tune(problem(m_rows));
    EXPECT_EQ(result.source, ResultSource::tuned) << holder;
    EXPECT_FALSE(result.waited_too_long) << holder;
    EXPECT_LT(seconds_since(start), 1.0) << holder << ": waited for a forged lease";
    EXPECT_EQ(get(lease_key(key)).type, RedisAnswer::Type::nil) << holder;
    ++m_rows;
  }
  EXPECT_EQ(count_containing(m->warnings(), "is not one gemmtune writes"), 3) << all(m->warnings());
  EXPECT_EQ(all(m->warnings()).find("FAKE"), std::string::npos) << "a forged holder reached a message";
  // Not waited for by a process that only tunes unclaimed problems either.
  const std::string key = record_for(20).key;
  set(lease_key(key), "garbage-holder");
  EXPECT_TRUE(m->tuner.tune_unless_claimed(problem(20)).has_value());
}

// The cache itself, for what a fake-clock tuning is too quick to show.
class LeaseTest : public RemoteCacheTest {
 protected:
  std::unique_ptr<store::TuningCache> cache(double lease_s) {
    store::RemoteSettings remote;
    remote.url = redis_.url();
    remote.lease = std::chrono::milliseconds(static_cast<long long>(lease_s * 1000));
    return store::open_tuning_cache(dir_.file("lease.db"), remote, [this](const std::string& w) {
      warnings_.push_back(w);
    });
  }
  static std::optional<std::string> any(const TuningRecord&) { return std::nullopt; }
  std::vector<std::string> warnings_;
};

TEST_F(LeaseTest, LeaseIsRenewedWhileTuningTakesLongerThanTheLease) {
  auto c = cache(0.6);
  TuningRecord record = store::testing::sample_record("k-renewed");
  store::Lookup found = c->lookup(record.key, any, store::Waiting::wait);
  ASSERT_TRUE(found.lease);
  const std::string holder = get(lease_key(record.key)).text;
  EXPECT_NE(holder.find(store::process_identity()), std::string::npos) << holder;
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // three leases long
  EXPECT_EQ(get(lease_key(record.key)).text, holder) << "the lease expired while its holder was still tuning";
  c->save(record);
  found.lease.reset();
  EXPECT_EQ(get(lease_key(record.key)).type, RedisAnswer::Type::nil);
  EXPECT_EQ(get(record_key(record.key)).type, RedisAnswer::Type::string);
  EXPECT_TRUE(warnings_.empty()) << all(warnings_);
}

TEST_F(LeaseTest, LeaseIsReleasedOnlyByItsHolder) {
  auto c = cache(5);
  store::Lookup found = c->lookup("k-taken-over", any, store::Waiting::wait);
  ASSERT_TRUE(found.lease);
  set(lease_key("k-taken-over"), "successor pid 2 def");  // ours expired; another took over
  found.lease.reset();
  EXPECT_EQ(get(lease_key("k-taken-over")).text, "successor pid 2 def");
}

TEST_F(LeaseTest, RecordWrittenJustBeforeTheLeaseIsTakenIsUsed) {
  auto c = cache(5);
  TuningRecord record = store::testing::sample_record("k-raced");
  // The previous holder saved and released between our miss and our SET NX:
  // simulate by saving first; lookup must find it rather than tune again.
  set(record_key(record.key), store::record_text(record));
  store::Lookup found = c->lookup(record.key, any, store::Waiting::wait);
  ASSERT_TRUE(found.record);
  EXPECT_FALSE(found.lease);
  EXPECT_EQ(found.origin, store::RecordOrigin::remote);
}

TEST_F(RemoteCacheTest, PushAndPullCopyEveryRecordAndListTheBadOnes) {
  auto local = store::Store::open(dir_.file("from.db"), {});
  for (int i = 0; i < 40; ++i) local->save(store::testing::sample_record(store::testing::numbered_key("k", i), i));
  store::RemoteSettings remote;
  remote.url = redis_.url();
  remote.key_prefix = "team-a*:";  // a glob character must match literally
  SyncReport pushed = store::push_to_remote(*local, remote);
  EXPECT_EQ(pushed.copied, 40);
  EXPECT_TRUE(pushed.rejected.empty());
  set("team-a*:rec:broken", "not json");
  set("team-aX:rec:other-deployment", "{}");  // another prefix: not ours

  auto target = store::Store::open(dir_.file("to.db"), {});
  SyncReport pulled = store::pull_from_remote(*target, remote);
  EXPECT_EQ(pulled.copied, 40);
  ASSERT_EQ(pulled.rejected.size(), 1u) << all(pulled.rejected);
  EXPECT_CONTAINS(pulled.rejected[0], "broken");
  for (int i = 0; i < 40; ++i) {
    const std::string key = store::testing::numbered_key("k", i);
    auto copy = target->lookup(key);
    ASSERT_TRUE(copy) << key;
    EXPECT_TRUE(store::testing::same_record(*local->lookup(key), *copy));
  }
}

TEST_F(RemoteCacheTest, PushFailsLoudlyWhenRedisIsAbsent) {
  auto local = store::Store::open(dir_.file("from.db"), {});
  store::RemoteSettings remote;
  remote.url = "redis://127.0.0.1:" + std::to_string(testing::unused_loopback_port());
  EXPECT_THROW(store::push_to_remote(*local, remote), StoreError);
}

TEST_F(RemoteCacheTest, PullFromAServerWhoseScanNeverEndsStopsWithAnErrorNamingIt) {
  // Every SCAN answered promptly with cursor 1 and no keys: no time limit
  // fires, and before, the pull asked for the next page forever.
  FakeRedis endless(FakeRedis::Behaviour::answer, "*2\r\n$1\r\n1\r\n*0\r\n");
  auto local = store::Store::open(dir_.file("into.db"), {});
  store::RemoteSettings remote;
  remote.url = endless.url();
  const auto start = Clock::now();
  try {
    store::pull_from_remote(*local, remote);
    ADD_FAILURE() << "the pull ended without an error";
  } catch (const StoreError& e) {
    EXPECT_CONTAINS(std::string(e.what()), "SCAN does not end (cursor 1 came back)");
  }
  EXPECT_LT(seconds_since(start), 5.0);
}

}  // namespace
}  // namespace gemmtune
