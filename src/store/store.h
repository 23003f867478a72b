// The results database: one SQLite file of tuning records, safe to share
// between processes. It stores what the tuner decided; it never decides
// (whether a stored winner may be used is the policy's call, in core/).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gemmtune/record.h"

namespace gemmtune::store {

// Version of the database layout (meta.schema_version). A file with a larger
// one comes from a newer gemmtune and is never modified.
inline constexpr int kSchemaVersion = 1;

// A record's row without the per-choice detail, for `cache list`.
struct RecordSummary {
  std::int64_t id = 0;
  std::string key;
  std::string problem;      // describe(problem)
  std::string winner_backend;
  std::string winner_choice;
  double winner_time_us = 0;
  bool fallback = false;
  std::string created_at;
};

struct Stats {
  std::string path;
  std::int64_t file_bytes = 0;
  std::int64_t records = 0;
  std::int64_t fallback_records = 0;
  std::vector<std::pair<std::string, std::int64_t>> wins_by_backend;  // most wins first
};

struct ImportReport {
  std::int64_t imported = 0;  // new keys
  std::int64_t replaced = 0;  // existing keys overwritten by the file's record
  std::vector<std::string> rejected;  // "record 3: missing field problem.m"
};

// Thread safety: one Store per thread. Processes may share one file: every
// write is one transaction; readers never see half a record.
class Store {
 public:
  // Opens (creating folders and the file as needed). A file that is not a
  // gemmtune database or is damaged is renamed to `<path>.damaged-<time>`
  // with a warning and a fresh one is created; a database written by a newer
  // schema throws StoreError (never overwritten). Other failures (no
  // permission, disk full) throw StoreError naming the path.
  static std::unique_ptr<Store> open(const std::string& path,
                                     const std::function<void(const std::string&)>& warn);
  virtual ~Store() = default;

  virtual std::optional<TuningRecord> lookup(const std::string& key) = 0;
  // Inserts or replaces the record with the same key.
  virtual void save(const TuningRecord&) = 0;
  virtual std::vector<RecordSummary> list() = 0;
  // By id or by a unique key prefix.
  virtual std::optional<TuningRecord> get(const std::string& id_or_key_prefix) = 0;
  virtual std::int64_t clear() = 0;  // returns how many records were removed
  virtual Stats stats() = 0;
  // Portable JSON file of every record (see record_json.h for the format).
  virtual std::int64_t export_json(const std::string& file) = 0;
  virtual ImportReport import_json(const std::string& file) = 0;
  virtual const std::string& path() const = 0;
};

// $GEMMTUNE_CACHE_DIR/tuning.db, else ~/.cache/gemmtune/tuning.db.
std::string default_db_path();

}  // namespace gemmtune::store
