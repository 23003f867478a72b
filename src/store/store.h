// The results database: one SQLite file of tuning records, safe to share
// between processes. It stores what the tuner decided; it never decides
// (whether a stored winner may be used is the policy's call, in core/).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "gemmtune/catalogue.h"
#include "gemmtune/record.h"

namespace gemmtune::store {

// Version of the database layout (meta.schema_version). A file with a larger
// one comes from a newer gemmtune and is never modified.
inline constexpr int kSchemaVersion = 1;

// The catalogue (gemmtune/catalogue.h) plus what the tuner needs: lookup
// and save by key. Thread safety, sharing between processes and failures as
// for Catalogue; every write is one BEGIN IMMEDIATE transaction (WAL
// journal, 30 s busy timeout).
class Store : public Catalogue {
 public:
  // As Catalogue::open. A file that is not a gemmtune database or is damaged
  // (not SQLite, failed quick_check, foreign tables) is set aside (never
  // replacing an earlier one), but only once no other connection, of any
  // process or of this one, has it open: while one does (for more than a
  // few seconds), it is left where it is and StoreError says so. Other
  // failures (a read-only file or folder, disk full) throw StoreError naming
  // the path. The returned Store holds the file shared (flock, see
  // file_lock.h) until it is destroyed.
  static std::unique_ptr<Store> open(const std::string& path, const Warn& warn);

  // The stored record for exactly this key, whatever it holds (whether it
  // may be used is the policy's call). A row whose JSON does not parse, or
  // holds another key, is reported through `warn` and is a miss.
  virtual std::optional<TuningRecord> lookup(const std::string& key) = 0;
  // Inserts or replaces the record with the same key (keeping the row id).
  // A record without created_at is stamped with the current UTC time.
  // Throws StoreError for an empty key.
  virtual void save(const TuningRecord&) = 0;
};

// Store::open() for the tuner: one SQLite connection per database file in a
// process, shared by every handle open on it, so that a workload of many
// differently-configured lines (one Tuner each) cannot run out of file
// descriptors. Each handle sends the warnings of its own calls to its own
// `warn`. Handles may be used from several threads: calls on one file are
// serialised. A process created by fork() gets a connection of its own.
std::unique_ptr<Store> open_shared(const std::string& path, const std::function<void(const std::string&)>& warn);

}  // namespace gemmtune::store
