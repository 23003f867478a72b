// The remote cache's keys in Redis, and the commands on them:
//
//   <prefix>rec:<store key>    the record's JSON (record_json.h), no expiry
//   <prefix>lease:<store key>  the id of the process tuning that key, PX lease
//
// Keys are the store's own keys, readable with redis-cli. Reads are bounded
// (STRLEN first, then at most kMaxRemoteRecordBytes through GETRANGE), and
// nothing read is ever executed or used as a path: texts go to the store's
// record validation, holder ids only into messages.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "store/redis_client.h"

namespace gemmtune::store {

// A record's text as found in Redis, not yet parsed.
struct RemoteText {
  enum class Kind { absent, text, oversized, wrong_type };
  Kind kind = Kind::absent;
  std::string text;     // Kind::text
  long long bytes = 0;  // the stored size (oversized)
};

// What a waiter sees: the record (if any) and who holds the lease (if anyone).
struct WaitView {
  RemoteText record;
  std::optional<std::string> holder;
  std::int64_t lease_ttl_ms = 0;  // the lease's PTTL: -1 none, -2 gone
};


struct ScanPage {
  std::string cursor;  // "0": the scan is complete
  std::vector<std::string> keys;  // store keys (the prefix and "rec:" removed)
};

// Commands on one connection. Every method throws redis::RedisError on
// trouble, including answers of the wrong shape; Redis error replies other
// than WRONGTYPE on a record key count as trouble too.
class RedisRecords {
 public:
  RedisRecords(redis::Connection& connection, std::string prefix);

  std::string record_key(const std::string& key) const { return prefix_ + "rec:" + key; }
  std::string lease_key(const std::string& key) const { return prefix_ + "lease:" + key; }

  RemoteText fetch(const std::string& key);
  // Several keys in one round trip.
  std::vector<RemoteText> fetch_many(const std::vector<std::string>& keys);
  void put(const std::string& key, const std::string& text);
  // Several records in one round trip.
  void put_many(const std::vector<std::pair<std::string, std::string>>& records);

  // SET NX PX: true when this holder now has the lease.
  bool acquire(const std::string& key, const std::string& holder, std::chrono::milliseconds ttl);
  // Extends the lease if `holder` still has it (false: it was lost).
  bool renew(const std::string& key, const std::string& holder, std::chrono::milliseconds ttl);
  // Deletes the lease if `holder` still has it.
  void release(const std::string& key, const std::string& holder);
  WaitView look(const std::string& key);

  // One SCAN page of record keys under the prefix.
  ScanPage scan(const std::string& cursor);

 private:
  RemoteText read_text(const redis::Reply& length, const redis::Reply& text, const char* what) const;
  redis::Connection& connection_;
  std::string prefix_;
};

}  // namespace gemmtune::store
