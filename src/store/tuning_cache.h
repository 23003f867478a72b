// The tuner's narrow view of the results cache: look a key up (taking the
// right to tune it when nobody has a result), save a result. Everything else
// the store can do (list, show, clear, stats, export, import) is the `cache`
// command's business, through Store.
//
// Two implementations: the local SQLite file alone, and the layered cache
// (local file first, then a Redis shared by a fleet, with single-flight
// leases so that one process tunes a key while the others wait for it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "gemmtune/options.h"
#include "gemmtune/record.h"

namespace gemmtune::store {

// The policy's verdict on a stored record: why it may not be used now, or
// nullopt when it may. The cache asks it of every record it finds; it never
// decides itself.
using RecordCheck = std::function<std::optional<std::string>(const TuningRecord&)>;

enum class RecordOrigin : std::uint8_t { local, remote };

// Whether lookup() may wait for another process that is tuning the key.
enum class Waiting : std::uint8_t { wait, dont_wait };

// The right to tune one key while the rest of the fleet waits for the result.
// Renewed in the background while held; released when destroyed, which the
// tuner does after save(), so a waiter that sees the lease go finds the
// record. Destroyed without a save (tuning failed), the waiters take over.
class TuningLease {
 public:
  virtual ~TuningLease() = default;
};

struct Lookup {
  // A stored record that passed validation and the policy's check.
  std::optional<TuningRecord> record;
  RecordOrigin origin = RecordOrigin::local;
  // No record: held while this process tunes the key. Null when there is no
  // single-flight (no remote, Redis unreachable, waited past the bound).
  std::unique_ptr<TuningLease> lease;
  // Waiting::dont_wait and another process holds the key's lease: nothing
  // was returned; ask again later (with Waiting::wait to take its result).
  bool claimed_elsewhere = false;
  // Time spent waiting for another process's result.
  double waited_seconds = 0;
  // Waited past the wait bound: tune here (the caller says so).
  bool waited_too_long = false;
  // The id of the process waited for ("host pid 12 9f3c..."), when known.
  std::string waited_for;
};

class TuningCache {
 public:
  virtual ~TuningCache() = default;
  // The usable stored record for `key`, or the right to tune it. A record
  // that `usable` refuses is reported through the warning sink and passed
  // over. Never throws for trouble with the remote (it degrades to local,
  // with one warning); throws StoreError when the local file fails. A
  // remote hit is copied into the local file on a thread of the cache's own
  // (off the lookup's path), all copies written before the cache closes.
  virtual Lookup lookup(const std::string& key, const RecordCheck& usable, Waiting waiting) = 0;
  // Stores a new result: locally first (never lost), then remotely.
  virtual void save(const TuningRecord& record) = 0;
};

// Where a fleet shares its results (resolved options).
struct RemoteSettings {
  std::string url;                         // redis://[[user]:password@]host[:port][/db]
  std::string key_prefix = "gemmtune:";    // namespaces one deployment's keys
  std::chrono::milliseconds connect_timeout{500};
  std::chrono::milliseconds command_timeout{500};
  std::chrono::milliseconds lease{10000};  // takeover time when a tuning process dies
  std::chrono::milliseconds wait{300000};  // single-flight wait bound, then tune here
};

// The remote cache the options ask for (each field, else its
// GEMMTUNE_REMOTE_CACHE* variable, else the default), or nullopt for none. Throws
// ConfigError naming the field or variable for a URL that does not parse
// (rediss:// included: no TLS in Debian's hiredis), a time that is not a
// positive number of seconds, or an unusable key prefix.
std::optional<RemoteSettings> resolve_remote(const TuneOptions&);

// The largest record text read from or written to Redis; anything larger is
// skipped with a warning and never parsed.
inline constexpr std::size_t kMaxRemoteRecordBytes = 4u << 20;

using WarningSink = std::function<void(const std::string&)>;

// The cache folder of options already filled from the environment
// (option_table::with_environment): the cache_dir option, else
// $XDG_CACHE_HOME/gemmtune, else ~/.cache/gemmtune; nullopt when none.
// The results database and the compiled GPU kernels live under it.
std::optional<std::string> cache_dir_for(const TuneOptions& resolved);

// The SQLite file at `db_path` (opened as Store::open does; StoreError when
// it cannot be), layered over `remote` when given. Nothing is connected to
// Redis before the first lookup. `warn` receives every warning, always on
// the caller's thread.
std::unique_ptr<TuningCache> open_tuning_cache(const std::string& db_path, const std::optional<RemoteSettings>& remote,
                                               WarningSink warn);

// "host pid 123", the identity written into a record's tuned_by.
std::string process_identity();

// A lease on a problem in Redis: its value is the holder, "host pid N" and
// 16 hex digits (one per process and cache), and it expires after at most
// kMaxLeaseSeconds unless renewed. lease_holder() makes one;
// implausible_lease() says why a value seen in Redis is not one a gemmtune
// process wrote (by hand, another program), or "": such a lease gets no
// wait, it is removed and the problem tuned.
constexpr double kMaxLeaseSeconds = 3600;
std::string lease_holder();
std::string implausible_lease(const std::string& holder, std::int64_t ttl_ms);

}  // namespace gemmtune::store
