// The results database as a catalogue of tuning records: what `gemmtune
// cache` does (list, show, stats, clear, export, import), for programs that
// manage their tuning results, e.g. ship an export file with a deployment
// and import it on first start. The tuner reads and writes the same file on
// its own (TuneOptions::db_path); a catalogue never decides whether a
// stored record may be used, the tuner's policy does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gemmtune/options.h"
#include "gemmtune/record.h"

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

// A record's row without the per-choice detail, for listings.
struct RecordSummary {
  std::int64_t id = 0;
  std::string key;
  std::string problem;  // describe(problem)
  std::string winner_backend;
  std::string winner_choice;
  double winner_time_us = 0;
  bool fallback = false;
  std::string created_at;
};

struct CatalogueStats {
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

// Thread safety: one Catalogue per thread (each holds its own SQLite
// connection). Processes may share one file with each other and with tuners:
// every write is one transaction; readers never see half a record. A process
// created by fork() must open its own, never use its parent's. Every method
// throws StoreError naming the path on a database failure.
class Catalogue {
 public:
  using Warn = std::function<void(const std::string&)>;

  // Opens (creating folders and the file as needed). A damaged gemmtune
  // database is renamed, with its -wal/-shm, to `<path>.damaged-<UTC time>`,
  // `warn` is told and a fresh one is created — only once no other
  // connection (of any process) holds it: a damaged database still in use
  // elsewhere throws StoreError saying so and is left where it is (up to 5 s
  // are waited for the others to let go); a database of a newer schema
  // throws StoreError and is left as it was. `warn` may be empty; it is kept
  // and also receives damaged-row warnings later.
  static std::unique_ptr<Catalogue> open(const std::string& path, const Warn& warn = {});
  virtual ~Catalogue();

  // Newest first (created_at, then id).
  virtual std::vector<RecordSummary> list() = 0;
  // A string of digits is tried as a row id first. Otherwise, or when no row
  // has that id: the record whose key equals it, else the one record whose
  // key starts with it (case-sensitive, literal). Several matches throw
  // StoreError saying how many; none is nullopt. A damaged row is reported
  // through `warn` and is a miss.
  virtual std::optional<TuningRecord> get(const std::string& id_or_key_prefix) = 0;
  virtual std::int64_t clear() = 0;  // returns how many records were removed
  virtual CatalogueStats stats() = 0;
  // The export file, {"format": "gemmtune-tuning-records", "version": N,
  // "exported_at": ..., "records": [record_to_json(r), ...]}, written to a
  // temporary file and renamed into place. Damaged rows are left out with a
  // warning. Returns how many records were written.
  virtual std::int64_t export_json(const std::string& file) = 0;
  // Reads an export file. A file that is not JSON, not an export file or of
  // a newer format version throws StoreError and changes nothing. Each
  // record is validated on its own; the good ones are upserted in one
  // transaction, the bad ones listed in ImportReport::rejected.
  virtual ImportReport import_json(const std::string& file) = 0;
  virtual const std::string& path() const = 0;
};

// What a push to or pull from the remote cache copied.
struct SyncReport {
  std::int64_t copied = 0;
  // One line per record left out, the rest being copied: "key v1|op=mm...:
  // problem.m: missing field", "key ...: 5242880 bytes, over the limit".
  std::vector<std::string> rejected;
  std::string remote;  // "redis://127.0.0.1:6379/0 (prefix 'gemmtune:')"
};

// `gemmtune cache push` / `pull`: every record of the results database at
// `db_path` to the remote cache that `options` name (remote_cache and
// remote_cache_*, else the GEMMTUNE_REMOTE_CACHE* variables), same keys
// replaced; or every record there into the database, each validated as an
// imported one is. The options are resolved before anything is opened:
// ConfigError when they name no remote cache or a malformed one. Trouble
// with Redis is a StoreError naming the server (copying is all these do).
// `warn` as for Catalogue::open.
SyncReport push_to_remote_cache(const std::string& db_path, const TuneOptions& options,
                                const Catalogue::Warn& warn = {});
SyncReport pull_from_remote_cache(const std::string& db_path, const TuneOptions& options,
                                  const Catalogue::Warn& warn = {});

// The results database a tuner with these options uses: the db_path
// option, else CACHE_DIR/tuning.db (the cache_dir option, else
// GEMMTUNE_CACHE_DIR), else $XDG_CACHE_HOME/gemmtune/tuning.db (when
// absolute), else $HOME/.cache/gemmtune/tuning.db. StoreError when none of
// them is set; ConfigError for a malformed GEMMTUNE_* variable.
std::string db_path_for(const TuneOptions&);
// db_path_for(TuneOptions{}): where a tuner without options keeps its results.
std::string default_db_path();

// For what reads or empties a results database (listing, export, clear,
// push): StoreInputError when nothing at all is at `path` — a mistyped path
// or cache folder, refused before anything is created there. Whatever is
// there is checked when it is opened.
void require_database(const std::string& path);

}  // namespace gemmtune

#pragma GCC visibility pop
