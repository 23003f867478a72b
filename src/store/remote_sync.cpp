#include "store/remote_sync.h"

#include <set>
#include <utility>

#include "gemmtune/errors.h"
#include "store/record_json.h"
#include "store/redis_client.h"
#include "store/redis_records.h"

namespace gemmtune::store {
namespace {

// Records per round trip: large enough to hide the latency, small enough to
// keep one pipeline's answer bounded.
constexpr std::size_t kBatch = 32;
// SCAN pages a pull may take (256 keys asked per page).
constexpr std::size_t kMaxScanPages = 16u << 20;


struct Session {
  redis::Endpoint endpoint;
  std::unique_ptr<redis::Connection> connection;
  std::unique_ptr<RedisRecords> records;

  explicit Session(const RemoteSettings& remote) : endpoint(redis::parse_url(remote.url)) {
    try {
      connection = redis::Connection::open(
          endpoint, {remote.connect_timeout, remote.command_timeout, kMaxRemoteRecordBytes + (64u << 10)});
    } catch (const redis::RedisError& e) {
      throw StoreError(std::string("remote cache: ") + e.what());
    }
    records = std::make_unique<RedisRecords>(*connection, remote.key_prefix);
  }

  template <typename Operation>
  auto run(Operation&& operation) {
    try {
      return operation(*records);
    } catch (const redis::RedisError& e) {
      throw StoreError("remote cache " + endpoint.display() + ": " + e.what());
    }
  }
};

}  // namespace

SyncReport push_to_remote(Store& local, const RemoteSettings& remote) {
  Session session(remote);
  SyncReport report;
  std::vector<std::pair<std::string, std::string>> batch;
  auto send = [&] {
    if (batch.empty()) return;
    session.run([&](RedisRecords& r) { r.put_many(batch); return 0; });
    report.copied += static_cast<std::int64_t>(batch.size());
    batch.clear();
  };
  for (const RecordSummary& summary : local.list()) {
    auto record = local.lookup(summary.key);  // a damaged row was reported by the store
    if (!record) continue;
    std::string text = record_text(*record);
    if (text.size() > kMaxRemoteRecordBytes) {
      report.rejected.push_back("key " + short_key(summary.key) + ": " + std::to_string(text.size()) +
                                " bytes, over the remote cache's " + std::to_string(kMaxRemoteRecordBytes) +
                                "-byte limit");
      continue;
    }
    batch.emplace_back(summary.key, std::move(text));
    if (batch.size() == kBatch) send();
  }
  send();
  return report;
}

SyncReport pull_from_remote(Store& local, const RemoteSettings& remote) {
  Session session(remote);
  SyncReport report;
  std::string cursor = "0";
  // A full SCAN visits each cursor once and ends at "0"; a server whose
  // cursor comes back, or that never ends (more pages than a database of
  // billions of keys needs), would keep this command going forever.
  std::set<std::string> visited;
  do {
    ScanPage page = session.run([&](RedisRecords& r) { return r.scan(cursor); });
    if (page.cursor != "0" && (!visited.insert(page.cursor).second || visited.size() > kMaxScanPages))
      throw StoreError("remote cache " + session.endpoint.display() + ": its SCAN does not end (cursor " +
                       page.cursor.substr(0, 32) +
                       (visited.size() > kMaxScanPages ? " after " + std::to_string(kMaxScanPages) + " pages"
                                                       : " came back") +
                       "); " + std::to_string(report.copied) + " records were pulled before that");
    cursor = page.cursor;
    for (std::size_t start = 0; start < page.keys.size(); start += kBatch) {
      std::vector<std::string> keys(page.keys.begin() + static_cast<long>(start),
                                    page.keys.begin() + static_cast<long>(std::min(page.keys.size(), start + kBatch)));
      std::vector<RemoteText> texts = session.run([&](RedisRecords& r) { return r.fetch_many(keys); });
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const RemoteText& text = texts[i];
        const std::string label = "key " + short_key(keys[i]);
        switch (text.kind) {
          case RemoteText::Kind::absent: continue;  // deleted since the scan
          case RemoteText::Kind::oversized:
            report.rejected.push_back(label + ": " + std::to_string(text.bytes) + " bytes, over the " +
                                      std::to_string(kMaxRemoteRecordBytes) + "-byte limit");
            continue;
          case RemoteText::Kind::wrong_type:
            report.rejected.push_back(label + ": the Redis key does not hold a string");
            continue;
          case RemoteText::Kind::text: break;
        }
        if (keys[i].empty()) {
          report.rejected.push_back("a record under the bare prefix: no key");
          continue;
        }
        TuningRecord record;
        try {
          record = record_from_text(text.text, keys[i]);
        } catch (const StoreError& e) {
          report.rejected.push_back(label + ": " + e.what());
          continue;
        }
        local.save(record);  // a local failure fails the command
        ++report.copied;
      }
    }
  } while (cursor != "0");
  return report;
}

}  // namespace gemmtune::store

namespace gemmtune {
namespace {

store::RemoteSettings remote_of(const TuneOptions& options, const char* action) {
  std::optional<store::RemoteSettings> remote = store::resolve_remote(options);
  if (!remote)
    throw ConfigError(std::string(action) +
                      " needs a remote cache: --remote-cache redis://host:port, GEMMTUNE_REMOTE_CACHE or "
                      "TuneOptions::remote_cache");
  return *remote;
}

SyncReport described(SyncReport report, const store::RemoteSettings& remote) {
  report.remote = store::redis::parse_url(remote.url).display() + " (prefix '" + remote.key_prefix + "')";
  return report;
}

}  // namespace

SyncReport push_to_remote_cache(const std::string& db_path, const TuneOptions& options,
                                const Catalogue::Warn& warn) {
  const store::RemoteSettings remote = remote_of(options, "cache push");
  require_database(db_path);
  auto local = store::Store::open(db_path, warn);
  return described(store::push_to_remote(*local, remote), remote);
}

SyncReport pull_from_remote_cache(const std::string& db_path, const TuneOptions& options,
                                  const Catalogue::Warn& warn) {
  const store::RemoteSettings remote = remote_of(options, "cache pull");
  auto local = store::Store::open(db_path, warn);
  return described(store::pull_from_remote(*local, remote), remote);
}

}  // namespace gemmtune
