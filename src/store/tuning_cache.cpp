// The two TuningCache implementations: the local file alone, and the local
// file layered over a Redis shared by a fleet.
#include "store/tuning_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "gemmtune/errors.h"
#include "store/record_json.h"
#include "store/redis_client.h"
#include "store/redis_records.h"
#include "store/store.h"
#include "util/log.h"

namespace gemmtune::store {
namespace {

using Clock = std::chrono::steady_clock;
using redis::RedisError;


std::string not_used_message(const TuningRecord& record, const std::string& where, const std::string& why) {
  return where + " result for " + describe(record.problem) + " not used: " + why;
}

// Waiters poll first after 10 ms, then back off to this.
constexpr std::chrono::milliseconds kMaxPollInterval{100};

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

class LocalCache final : public TuningCache {
 public:
  LocalCache(std::unique_ptr<Store> local, WarningSink warn) : local_(std::move(local)), warn_(std::move(warn)) {}

  Lookup lookup(const std::string& key, const RecordCheck& usable, Waiting) override {
    Lookup out;
    if (auto record = local_->lookup(key)) {
      if (auto why = usable(*record)) warn_(not_used_message(*record, "stored", *why) + "; tuning again");
      else out.record = std::move(record);
    }
    return out;
  }

  void save(const TuningRecord& record) override { local_->save(record); }

 private:
  std::unique_ptr<Store> local_;
  WarningSink warn_;
};

// ---------------------------------------------------------------- layered

// Whether Redis is usable now, shared by the tuner's thread and the lease
// renewal thread. Trouble starts an outage: one warning, then a reconnection
// attempt now and then (doubling intervals) until one succeeds.
class RemoteHealth {
 public:
  explicit RemoteHealth(std::string where) : where_(std::move(where)) {}

  bool may_try(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    return !outage_ || now >= next_attempt_;
  }

  // Returns the warning to give, or "" when this outage was already reported.
  std::string trouble(const std::string& why) {
    std::lock_guard lock(mutex_);
    next_attempt_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    if (outage_) return {};
    outage_ = true;
    return "remote cache " + where_ + " is unavailable (" + why +
           "); going on with the local cache only, nothing is lost (it is retried now and then)";
  }

  // True when this ends an outage.
  bool recovered() {
    std::lock_guard lock(mutex_);
    backoff_ = kFirstBackoff;
    bool was_out = outage_;
    outage_ = false;
    return was_out;
  }

 private:
  static constexpr std::chrono::milliseconds kFirstBackoff{1000};
  static constexpr std::chrono::milliseconds kMaxBackoff{30000};
  std::mutex mutex_;
  std::string where_;
  bool outage_ = false;
  Clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_ = kFirstBackoff;
};

// One connection with the reconnect policy above. Not thread-safe: the
// tuner's thread and the renewal thread each have their own.
class RemoteLink {
 public:
  RemoteLink(const redis::Endpoint& endpoint, const redis::Limits& limits, const std::string& prefix,
             RemoteHealth& health)
      : endpoint_(endpoint), limits_(limits), prefix_(prefix), health_(health) {}

  // Runs `operation` on the records; nullopt (and the outage recorded) on
  // trouble or while an outage waits for its next attempt. `warnings`
  // receives what to tell the user; `on_reconnect` runs after a connection
  // that ends an outage.
  template <typename Operation>
  auto run(Operation&& operation, std::vector<std::string>& warnings, bool* reconnected = nullptr)
      -> std::optional<decltype(operation(std::declval<RedisRecords&>()))> {
    const bool fresh = !connection_;
    if (fresh) {
      if (!health_.may_try(Clock::now())) return std::nullopt;
      try {
        connection_ = redis::Connection::open(endpoint_, limits_);
      } catch (const RedisError& e) {
        report(e.what(), warnings);
        return std::nullopt;
      }
    }
    try {
      RedisRecords records(*connection_, prefix_);
      auto result = operation(records);
      // Back only once Redis has answered a command: a server that takes
      // connections but answers nothing (paused, hung) is still out, and
      // its outage keeps one warning and the doubling interval between
      // attempts (declared back on the bare connection, it warned again and
      // restarted the interval at every attempt).
      if (fresh && health_.recovered()) {
        log::info("remote cache " + endpoint_.display() + " is reachable again");
        if (reconnected) *reconnected = true;
      }
      return result;
    } catch (const RedisError& e) {
      connection_.reset();
      report(e.what(), warnings);
      return std::nullopt;
    }
  }

 private:
  void report(const std::string& why, std::vector<std::string>& warnings) {
    std::string message = health_.trouble(why);
    if (!message.empty()) warnings.push_back(std::move(message));
  }

  redis::Endpoint endpoint_;
  redis::Limits limits_;
  std::string prefix_;
  RemoteHealth& health_;
  std::unique_ptr<redis::Connection> connection_;
};

// Keeps the leases this process holds alive: every third of the lease time
// it extends each of them, on its own connection, so a tuning longer than
// the lease keeps its claim and a dead process loses it within one lease.
class LeaseRenewer {
 public:
  LeaseRenewer(const redis::Endpoint& endpoint, const redis::Limits& limits, const std::string& prefix,
               RemoteHealth& health, std::string holder, std::chrono::milliseconds lease)
      : link_(endpoint, limits, prefix, health), holder_(std::move(holder)), lease_(lease) {
    thread_ = std::thread([this] { loop(); });
  }

  ~LeaseRenewer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void add(const std::string& key) {
    std::lock_guard lock(mutex_);
    held_.insert(key);
  }
  // Stops renewing; true when a renewal found the lease lost meanwhile.
  bool remove(const std::string& key) {
    std::lock_guard lock(mutex_);
    held_.erase(key);
    return lost_.erase(key) > 0;
  }
  // Warnings from the renewal thread, given on the tuner's thread (the
  // user's warning callback need not be thread-safe).
  std::vector<std::string> take_warnings() {
    std::lock_guard lock(mutex_);
    return std::exchange(warnings_, {});
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, lease_ / 3);
      if (stopping_) break;
      std::vector<std::string> keys(held_.begin(), held_.end());
      lock.unlock();
      std::vector<std::string> warnings;
      std::vector<std::string> lost;
      for (const auto& key : keys) {
        auto kept = link_.run([&](RedisRecords& r) { return r.renew(key, holder_, lease_); }, warnings);
        if (!kept) break;  // Redis trouble: reported; the next round retries
        if (!*kept) lost.push_back(key);
      }
      lock.lock();
      for (auto& w : warnings) warnings_.push_back(std::move(w));
      for (const auto& key : lost)
        if (held_.count(key) && lost_.insert(key).second)
          warnings_.push_back("the lease on " + short_key(key) +
                              " expired before it could be renewed; another process may be tuning it too");
    }
  }

  RemoteLink link_;
  std::string holder_;
  std::chrono::milliseconds lease_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::set<std::string> held_;
  std::set<std::string> lost_;
  std::vector<std::string> warnings_;
  std::thread thread_;
};

// Copies records taken from Redis into the local file on a thread of its
// own, with a connection of its own: a remote hit returns as soon as it is
// validated, and the copy's write (and now and then a WAL checkpoint's
// fsync, milliseconds) stays off the lookup's path. WAL lets the tuner's
// connection read while this one writes. The queue is drained before the
// cache closes; a process killed first loses only copies of records that
// Redis still holds. One per local file and process (shared_copier), as the
// tuner's connection is one per file (open_shared): a workload of many
// tuners starts one thread and one more connection, not one each.
class LocalCopier {
 public:
  explicit LocalCopier(std::string path) : path_(std::move(path)), pid_(::getpid()) {
    thread_ = std::thread([this] { loop(); });
  }

  ~LocalCopier() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void add(const TuningRecord& record) {
    {
      std::lock_guard lock(mutex_);
      queued_[record.key] = record;
    }
    wake_.notify_all();
  }

  // A record taken from Redis whose copy has not been written yet.
  std::optional<TuningRecord> queued(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = queued_.find(key);
    if (it != queued_.end()) return it->second;
    return std::nullopt;
  }

  // Drops a queued copy of `key` and waits out its write if under way, so
  // a result saved afterwards is not overwritten by an older remote one.
  void cancel(const std::string& key) {
    std::unique_lock lock(mutex_);
    queued_.erase(key);
    idle_.wait(lock, [&] { return writing_ != key; });
  }

  // Returns once every record queued so far is written (or failed to be).
  void drain() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return queued_.empty() && writing_.empty(); });
  }

  pid_t pid() const { return pid_; }

  // Warnings from the copying thread, given on a tuner's thread (whichever
  // cache on this file asks next).
  std::vector<std::string> take_warnings() {
    std::lock_guard lock(mutex_);
    return std::exchange(warnings_, {});
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
      if (queued_.empty()) break;  // stopping, and everything is written
      auto node = queued_.extract(queued_.begin());
      writing_ = node.key();
      lock.unlock();
      std::vector<std::string> warnings;
      try {
        if (!store_)
          store_ = Store::open(path_, [&](const std::string& m) { warnings.push_back(m); });
        store_->save(node.mapped());
      } catch (const std::exception& e) {
        warnings.push_back("could not copy the remote result " + short_key(node.key()) + " into " + path_ + ": " +
                           e.what() + " (it stays in the remote cache)");
      }
      lock.lock();
      writing_.clear();
      for (auto& w : warnings) warnings_.push_back(std::move(w));
      idle_.notify_all();
    }
    idle_.notify_all();
  }

  std::string path_;
  pid_t pid_;
  std::unique_ptr<Store> store_;  // used by the copying thread alone
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  bool stopping_ = false;
  std::string writing_;  // the key being written, empty when idle
  std::map<std::string, TuningRecord> queued_;
  std::vector<std::string> warnings_;
  std::thread thread_;
};

// The copier of the local file at `path` in this process, started on first use.
std::shared_ptr<LocalCopier> shared_copier(const std::string& path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<LocalCopier>> registry;
  std::lock_guard lock(registry_mutex);
  std::shared_ptr<LocalCopier> copier = registry[path].lock();
  if (!copier || copier->pid() != ::getpid()) {
    copier = std::make_shared<LocalCopier>(path);
    registry[path] = copier;
  }
  return copier;
}

std::string random_hex() {
  std::random_device device;
  std::uint64_t value = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) out[static_cast<std::size_t>(i)] = digits[value & 15];
  return out;
}

class LayeredCache final : public TuningCache {
 public:
  LayeredCache(std::unique_ptr<Store> local, const RemoteSettings& settings, WarningSink warn)
      : local_(std::move(local)),
        settings_(settings),
        endpoint_(redis::parse_url(settings.url)),
        limits_{settings.connect_timeout, settings.command_timeout, kMaxRemoteRecordBytes + (64u << 10)},
        warn_(std::move(warn)),
        holder_(lease_holder()),
        health_(endpoint_.display()),
        link_(endpoint_, limits_, settings.key_prefix, health_) {}

  ~LayeredCache() override {
    renewer_.reset();
    if (copier_) {
      copier_->drain();
      flush_warnings();
      copier_.reset();
    }
    // A last chance for results saved while Redis was away.
    if (!pending_.empty()) {
      try_flush_pending();
      flush_warnings();
    }
  }

  Lookup lookup(const std::string& key, const RecordCheck& usable, Waiting waiting) override;
  void save(const TuningRecord& record) override;

  // The lease's end: the renewal stops and the lease is deleted, if this
  // process still holds it.
  void release(const std::string& key);

 private:
  class Lease final : public TuningLease {
   public:
    Lease(LayeredCache& cache, std::string key) : cache_(cache), key_(std::move(key)) {}
    ~Lease() override { cache_.release(key_); }

   private:
    LayeredCache& cache_;
    std::string key_;
  };

  // A remote record that validates and the policy accepts, copied locally.
  std::optional<TuningRecord> take_remote(const RemoteText& text, const std::string& key, const RecordCheck& usable,
                                          bool& refused);
  template <typename Operation>
  auto remote(Operation&& operation) {
    bool reconnected = false;
    auto result = link_.run(std::forward<Operation>(operation), warnings_, &reconnected);
    if (reconnected) try_flush_pending();
    return result;
  }
  void try_flush_pending();
  void flush_warnings() {
    if (renewer_)
      for (auto& w : renewer_->take_warnings()) warnings_.push_back(std::move(w));
    if (copier_)
      for (auto& w : copier_->take_warnings()) warnings_.push_back(std::move(w));
    for (const auto& w : std::exchange(warnings_, {})) warn_(w);
  }
  // A lease no gemmtune process wrote (by hand, another program: no expiry,
  // another form of holder) gets no wait: removed, if it still holds the
  // value seen, with a warning (`why`: implausible_lease's answer); true
  // when so. Once per key and process, so that a writer that keeps putting
  // it back cannot hold a tuning in a loop (the second time it is waited for
  // like any lease, to the wait bound).
  bool drop_forged_lease(const std::string& key, const WaitView& view, const std::string& why) {
    if (why.empty() || !dropped_leases_.insert(key).second) return false;
    warnings_.push_back("the lease on " + short_key(key) + " in the remote cache is not one gemmtune writes (" + why +
                        "); removed, tuning here");
    remote([&](RedisRecords& r) { r.release(key, *view.holder); return true; });
    return true;
  }

  void warn_once(const std::string& key, const std::string& message) {
    if (warned_keys_.insert(key + "\n" + message).second) warnings_.push_back(message);
  }
  std::unique_ptr<TuningLease> make_lease(const std::string& key) {
    if (!renewer_)
      renewer_ = std::make_unique<LeaseRenewer>(endpoint_, limits_, settings_.key_prefix, health_, holder_,
                                                settings_.lease);
    renewer_->add(key);
    return std::make_unique<Lease>(*this, key);
  }

  std::unique_ptr<Store> local_;
  RemoteSettings settings_;
  redis::Endpoint endpoint_;
  redis::Limits limits_;
  WarningSink warn_;
  std::string holder_;
  RemoteHealth health_;
  RemoteLink link_;
  std::unique_ptr<LeaseRenewer> renewer_;
  std::shared_ptr<LocalCopier> copier_;  // taken at the first remote hit
  std::vector<std::string> warnings_;
  std::set<std::string> warned_keys_;
  std::set<std::string> dropped_leases_;  // drop_forged_lease
  // Results saved while Redis was away, sent when it is back.
  std::vector<std::pair<std::string, std::string>> pending_;
};

std::optional<TuningRecord> LayeredCache::take_remote(const RemoteText& text, const std::string& key,
                                                      const RecordCheck& usable, bool& refused) {
  refused = false;
  switch (text.kind) {
    case RemoteText::Kind::absent: return std::nullopt;
    case RemoteText::Kind::oversized:
      warn_once(key, "remote record " + short_key(key) + " skipped: it is " + std::to_string(text.bytes) +
                         " bytes, over the " + std::to_string(kMaxRemoteRecordBytes) + "-byte limit");
      return std::nullopt;
    case RemoteText::Kind::wrong_type:
      warn_once(key, "remote record " + short_key(key) + " skipped: the Redis key does not hold a string");
      return std::nullopt;
    case RemoteText::Kind::text: break;
  }
  TuningRecord record;
  try {
    record = record_from_text(text.text, key);
  } catch (const StoreError& e) {
    warn_once(key, "remote record " + short_key(key) + " skipped: " + e.what());
    return std::nullopt;
  }
  if (auto why = usable(record)) {
    refused = true;
    warn_once(key, not_used_message(record, "remote", *why));
    return std::nullopt;
  }
  if (!copier_) copier_ = shared_copier(local_->path());
  copier_->add(record);
  return record;
}

Lookup LayeredCache::lookup(const std::string& key, const RecordCheck& usable, Waiting waiting) {
  struct Flush {
    LayeredCache& cache;
    ~Flush() { cache.flush_warnings(); }
  } flush{*this};
  Lookup out;
  if (auto record = local_->lookup(key)) {
    if (auto why = usable(*record)) {
      warn_once(key, not_used_message(*record, "stored", *why));
    } else {
      out.record = std::move(record);
      return out;
    }
  }
  // Taken from Redis a moment ago, its local copy not written yet: as good
  // as a local hit (Redis is not asked again).
  if (copier_)
    if (auto record = copier_->queued(key); record && !usable(*record)) {
      out.record = std::move(record);
      return out;
    }
  out.origin = RecordOrigin::remote;
  bool refused = false;
  auto fetched = remote([&](RedisRecords& r) { return r.fetch(key); });
  if (!fetched) return out;
  if ((out.record = take_remote(*fetched, key, usable, refused)) || refused) return out;

  const auto wait_start = Clock::now();
  const auto deadline = wait_start + settings_.wait;
  auto pause = std::chrono::milliseconds(10);
  bool waited = false;
  for (;;) {
    auto acquired = remote([&](RedisRecords& r) { return r.acquire(key, holder_, settings_.lease); });
    if (!acquired) return out;
    if (*acquired) {
      // The holder before us writes its record before releasing, so a
      // record written between our first look and our lease is there now.
      auto again = remote([&](RedisRecords& r) { return r.fetch(key); });
      if (!again) return out;  // Redis trouble: tune here; the lease expires by itself
      if ((out.record = take_remote(*again, key, usable, refused))) {
        remote([&](RedisRecords& r) { r.release(key, holder_); return true; });
      } else {
        out.lease = make_lease(key);
      }
      if (waited) out.waited_seconds = seconds_between(wait_start, Clock::now());
      return out;
    }
    if (waiting == Waiting::dont_wait) {
      auto view = remote([&](RedisRecords& r) { return r.look(key); });
      if (!view) return out;
      if (!view->holder || drop_forged_lease(key, *view, implausible_lease(*view->holder, view->lease_ttl_ms)))
        continue;  // gone meanwhile, or removed: claim it
      out.claimed_elsewhere = true;
      return out;
    }
    // Another process is tuning it: wait for its record, or for its lease to
    // go (it failed, or died and the lease expired), then try again.
    waited = true;
    for (;;) {
      const auto now = Clock::now();
      if (now >= deadline) {
        out.waited_seconds = seconds_between(wait_start, now);
        out.waited_too_long = true;
        return out;
      }
      std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
      // A poll is one small round trip; capping the backoff at 100 ms keeps
      // the delay between a result and its waiters short (a hundred waiting
      // processes cost Redis a thousand cheap reads a second).
      pause = std::min(pause * 3 / 2, kMaxPollInterval);
      auto view = remote([&](RedisRecords& r) { return r.look(key); });
      if (!view) return out;
      out.waited_seconds = seconds_between(wait_start, Clock::now());
      if ((out.record = take_remote(view->record, key, usable, refused)) || refused) return out;
      if (!view->holder) break;
      const std::string forged = implausible_lease(*view->holder, view->lease_ttl_ms);
      if (drop_forged_lease(key, *view, forged)) break;
      // Shown to the user: only a holder of gemmtune's own form (bounded,
      // printable), never a forged value.
      out.waited_for = forged.empty() ? *view->holder : "a lease no gemmtune process wrote";
    }
  }
}

void LayeredCache::release(const std::string& key) {
  bool lost = renewer_ && renewer_->remove(key);
  if (!lost) remote([&](RedisRecords& r) { r.release(key, holder_); return true; });
  flush_warnings();
}

void LayeredCache::save(const TuningRecord& record) {
  if (copier_) copier_->cancel(record.key);
  local_->save(record);
  std::string text = record_text(record);
  if (text.size() > kMaxRemoteRecordBytes) {
    warnings_.push_back("the result for " + describe(record.problem) + " is " + std::to_string(text.size()) +
                        " bytes, over the remote cache's " + std::to_string(kMaxRemoteRecordBytes) +
                        "-byte limit; it is kept in the local cache only");
  } else if (!remote([&](RedisRecords& r) { r.put(record.key, text); return true; })) {
    constexpr std::size_t kMaxPending = 10000;
    if (pending_.size() < kMaxPending) pending_.emplace_back(record.key, std::move(text));
  }
  flush_warnings();
}

void LayeredCache::try_flush_pending() {
  if (pending_.empty()) return;
  auto batch = std::exchange(pending_, {});
  constexpr std::size_t kBatch = 64;
  for (std::size_t i = 0; i < batch.size(); i += kBatch) {
    std::vector<std::pair<std::string, std::string>> part(batch.begin() + static_cast<long>(i),
                                                          batch.begin() + static_cast<long>(std::min(batch.size(), i + kBatch)));
    if (!link_.run([&](RedisRecords& r) { r.put_many(part); return true; }, warnings_)) {
      pending_.insert(pending_.end(), batch.begin() + static_cast<long>(i), batch.end());
      return;
    }
  }
}

}  // namespace

std::unique_ptr<TuningCache> open_tuning_cache(const std::string& db_path, const std::optional<RemoteSettings>& remote,
                                               WarningSink warn) {
  // One connection per file, shared by every tuner of the process: a
  // workload of many differently-optioned lines must not run out of fds.
  auto local = open_shared(db_path, warn);
  if (remote) return std::make_unique<LayeredCache>(std::move(local), *remote, std::move(warn));
  return std::make_unique<LocalCache>(std::move(local), std::move(warn));
}

std::string process_identity() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "unknown-host");
  return std::string(host) + " pid " + std::to_string(::getpid());
}

std::string lease_holder() { return process_identity() + " " + random_hex(); }

std::string implausible_lease(const std::string& holder, std::int64_t ttl_ms) {
  if (ttl_ms == -1) return "it never expires";
  if (ttl_ms > static_cast<std::int64_t>(kMaxLeaseSeconds * 1000))
    return "it expires in " + std::to_string(ttl_ms / 1000) + " s, over the " +
           std::to_string(static_cast<int>(kMaxLeaseSeconds)) + " s any lease may have";
  // "<host> pid <digits> <16 hex digits>", the host a name without spaces.
  const std::size_t pid_at = holder.find(" pid ");
  const std::size_t hex_at = holder.rfind(' ');
  auto all = [&](std::size_t from, std::size_t to, auto&& ok) {
    if (from >= to) return false;
    for (std::size_t i = from; i < to; ++i)
      if (!ok(static_cast<unsigned char>(holder[i]))) return false;
    return true;
  };
  const bool ok = holder.size() <= 300 && pid_at != std::string::npos && hex_at > pid_at + 4 &&
                  all(0, pid_at, [](unsigned char c) { return c > 0x20 && c < 0x7f; }) &&
                  all(pid_at + 5, hex_at, [](unsigned char c) { return std::isdigit(c) != 0; }) &&
                  holder.size() - hex_at - 1 == 16 &&
                  all(hex_at + 1, holder.size(), [](unsigned char c) { return std::isxdigit(c) != 0; });
  return ok ? "" : "its holder is not a gemmtune process's \"host pid N id\"";
}


}  // namespace gemmtune::store
