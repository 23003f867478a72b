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

#include "gemmtune/options.h"
#include "gemmtune/record.h"
#include "store/tuning_cache.h"  // db_path_for, default_db_path

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
  std::int64_t file_bytes = 0;  // the database file plus its -wal
  std::int64_t records = 0;
  std::int64_t fallback_records = 0;
  std::vector<std::pair<std::string, std::int64_t>> wins_by_backend;  // most wins first
};

struct ImportReport {
  std::int64_t imported = 0;  // new keys
  std::int64_t replaced = 0;  // existing keys overwritten by the file's record
  // One line per record left out, the rest being imported:
  // "records[3] (key 9f2c...): problem.m: missing field".
  std::vector<std::string> rejected;
};

// Thread safety: one Store per thread (each holds its own SQLite connection).
// Processes may share one file (WAL journal, 30 s busy timeout): every write
// is one BEGIN IMMEDIATE transaction; readers never see half a record. A
// process created by fork() must open its own Store, never use its parent's.
// Every method throws StoreError naming the path on an SQLite failure.
class Store {
 public:
  // Opens (creating folders and the file as needed). A file that is not a
  // gemmtune database or is damaged (not SQLite, failed quick_check, foreign
  // tables) is renamed, with its -wal/-shm, to `<path>.damaged-<UTC time>`
  // (never replacing an earlier one); `warn` is told and a fresh database is
  // created. A database written by a newer schema throws StoreError and is
  // left byte for byte as it was. Other failures (a read-only file or
  // folder, disk full) throw StoreError naming the path. `warn` may be
  // empty; it is kept and also receives damaged-row warnings later.
  static std::unique_ptr<Store> open(const std::string& path,
                                     const std::function<void(const std::string&)>& warn);
  virtual ~Store() = default;

  // The stored record for exactly this key, whatever it holds (whether it
  // may be used is the policy's call). A row whose JSON does not parse, or
  // holds another key, is reported through `warn` and is a miss.
  virtual std::optional<TuningRecord> lookup(const std::string& key) = 0;
  // Inserts or replaces the record with the same key (keeping the row id).
  // A record without created_at is stamped with the current UTC time.
  // Throws StoreError for an empty key.
  virtual void save(const TuningRecord&) = 0;
  // Newest first (created_at, then id).
  virtual std::vector<RecordSummary> list() = 0;
  // A string of digits is tried as a row id first. Otherwise, or when no row
  // has that id: the record whose key equals it, else the one record whose
  // key starts with it (case-sensitive, literal). Several matches throw
  // StoreError saying how many; none is nullopt. Damaged rows as lookup().
  virtual std::optional<TuningRecord> get(const std::string& id_or_key_prefix) = 0;
  virtual std::int64_t clear() = 0;  // returns how many records were removed
  virtual Stats stats() = 0;
  // Portable JSON file of every record (see record_json.h for the format),
  // written to a temporary file and renamed into place. Damaged rows are
  // left out with a warning. Returns how many records were written.
  virtual std::int64_t export_json(const std::string& file) = 0;
  // Reads an export file. A file that is not JSON, not an export file or of
  // a newer format version throws StoreError and changes nothing. Each
  // record is parsed and checked by validate_record() on its own; the good
  // ones are upserted in one transaction, the bad ones listed in
  // ImportReport::rejected.
  virtual ImportReport import_json(const std::string& file) = 0;
  virtual const std::string& path() const = 0;
};

// Store::open() for the tuner: one SQLite connection per database file in a
// process, shared by every handle open on it, so that a workload of many
// differently-configured lines (one Tuner each) cannot run out of file
// descriptors. Each handle sends the warnings of its own calls to its own
// `warn`. Handles may be used from several threads: calls on one file are
// serialised. A process created by fork() gets a connection of its own.
std::unique_ptr<Store> open_shared(const std::string& path, const std::function<void(const std::string&)>& warn);

}  // namespace gemmtune::store
