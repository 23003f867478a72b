#include "store/store.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/option_table.h"
#include "gemmtune/errors.h"
#include "store/file_lock.h"
#include "store/record_json.h"
#include "store/record_validation.h"
#include "store/sqlite_db.h"
#include "store/tuning_cache.h"
#include "util/env.h"
#include "util/files.h"
#include "util/log.h"

#ifndef GEMMTUNE_VERSION
#define GEMMTUNE_VERSION "unknown"
#endif

namespace gemmtune::store {
namespace {

using nlohmann::json;
using sqlite::Db;
using sqlite::ReadTransaction;
using sqlite::SqliteError;
using sqlite::Statement;
using sqlite::WriteTransaction;

constexpr int kBusyTimeoutMs = 30000;

// How long open() waits for the file while another process makes it a
// database or sets it aside (both take milliseconds).
constexpr std::chrono::milliseconds kLockWait{30000};
// How long a damaged file waits for the other connections on it to close
// before it is left where it is: they found the damage too and are letting
// go, or one of them is a long-lived process that must not lose its file.
constexpr std::chrono::milliseconds kSetAsideWait{5000};

// Columns the records table must have; checked on open so that a foreign
// table that happens to be called `records` is not mistaken for ours.
constexpr const char* kRecordColumns[] = {"id",         "key",     "problem",    "winner_backend", "winner_choice",
                                          "winner_time_us", "fallback", "created_at", "json"};

constexpr const char* kCreateSchema = R"sql(
CREATE TABLE meta(
  name  TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);
CREATE TABLE records(
  id             INTEGER PRIMARY KEY,
  key            TEXT UNIQUE NOT NULL,
  problem        TEXT NOT NULL,
  winner_backend TEXT,
  winner_choice  TEXT,
  winner_time_us REAL,
  fallback       INTEGER NOT NULL DEFAULT 0,
  created_at     TEXT NOT NULL,
  json           TEXT NOT NULL
);
CREATE INDEX records_by_created_at ON records(created_at);
CREATE INDEX records_by_winner_backend ON records(winner_backend);
)sql";

// Written into the SQLite header (PRAGMA application_id, bytes 68-71) of
// every database gemmtune creates: "gmtu". It is what lets open() tell a
// damaged database of ours, which may be set aside, from a file of someone
// else's, which must never be touched.
constexpr std::uint32_t kApplicationId = 0x676d7475;

// Limit on import files: far above any real export (a record is a few
// kilobytes), far below what would exhaust memory while parsing.
constexpr std::uint64_t kMaxImportBytes = std::uint64_t{1} << 30;

// The file is not (or no longer) a usable gemmtune database; open() moves it
// aside. Internal: never escapes open().
struct Damaged {
  std::string why;
};

// What a file at the database path is, judged from its first bytes before
// SQLite opens it for writing (which could already change it).
enum class Origin {
  absent,    // missing or empty: gemmtune creates its database there
  ours,      // SQLite with gemmtune's application id
  legacy,    // SQLite without an application id, made by an older gemmtune
  foreign,   // anything else: never modified, renamed or moved
};

struct Inspection {
  Origin origin = Origin::absent;
  std::string why;  // for foreign: what the file is
};

// Percent-encodes a path for an SQLite URI ("file:...?immutable=1").
std::string uri_path(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Whether an SQLite file without an application id was made by a gemmtune
// from before the mark: its meta table says so. Read through an immutable,
// read-only connection, which creates no -wal or -shm beside the file.
bool made_by_older_gemmtune(const std::string& path) {
  sqlite3* db = nullptr;
  const std::string uri = "file:" + uri_path(path) + "?immutable=1";
  bool ours = false;
  if (sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name='created_by'", -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(s, 0);
      ours = text != nullptr && std::strncmp(reinterpret_cast<const char*>(text), "gemmtune ", 9) == 0;
    }
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(db);
  return ours;
}

// Judges the held file (which `path` names) through the hold's descriptor:
// opening and closing one of our own would drop the fcntl() locks of
// SQLite connections of this process on the file.
Inspection inspect(const FileHold& hold, const std::string& path) {
  struct stat st {};
  unsigned char header[100];
  ssize_t got = 0;
  if (::fstat(hold.fd(), &st) != 0) return {Origin::foreign, std::string("unreadable: ") + std::strerror(errno)};
  if (st.st_size == 0) return {};
  got = ::pread(hold.fd(), header, sizeof header, 0);
  if (got != static_cast<ssize_t>(sizeof header) || std::memcmp(header, "SQLite format 3", 16) != 0)
    return {Origin::foreign, "not an SQLite database"};
  const std::uint32_t id = (std::uint32_t{header[68]} << 24) | (std::uint32_t{header[69]} << 16) |
                           (std::uint32_t{header[70]} << 8) | header[71];
  if (id == kApplicationId) return {Origin::ours, {}};
  if (id != 0) return {Origin::foreign, "the SQLite database of another application (id " + std::to_string(id) + ")"};
  if (made_by_older_gemmtune(path)) return {Origin::legacy, {}};
  return {Origin::foreign, "an SQLite database that gemmtune did not create"};
}

std::string utc_time(const char* format) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[64];
  std::size_t n = std::strftime(buffer, sizeof buffer, format, &tm);
  return std::string(buffer, n);
}

std::string iso_now() { return utc_time("%Y-%m-%dT%H:%M:%SZ"); }

std::string json_text(const json& j, int indent = -1) {
  // Strings from compilers and drivers may hold invalid UTF-8; replace such
  // bytes rather than refuse to store the record.
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::int64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::int64_t>(st.st_size);
}

std::string parent_folder(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

void make_parent_folders(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec)
    throw StoreInputError("results database " + path + ": cannot create folder " + parent.string() + ": " +
                          ec.message());
  if (!std::filesystem::is_directory(parent, ec))
    throw StoreInputError("results database " + path + ": " + parent.string() + " is not a folder");
}

// Renames without ever replacing an existing file. Returns 0 or an errno.
int rename_no_replace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // A file system without RENAME_NOREPLACE: link() also refuses to replace.
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  if (::unlink(from.c_str()) != 0) return errno;
  return 0;
}

// Holds an exclusive flock() on a folder: two set-asides in one folder
// never pick the same name. Held only for a few renames, and taken after the
// file's own lock (never the other way round), so it cannot deadlock.
class FolderLock {
 public:
  explicit FolderLock(const std::string& folder) : fd_(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ >= 0)
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
  }
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_;
};

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

constexpr const char* kSidecars[] = {"-wal", "-shm", "-journal"};

// Moves a damaged database (and its -wal/-shm/-journal) to
// `<path>.damaged-<UTC time>`. `hold` is the caller's shared hold on the
// file found damaged, whose own connection is closed already. The file is
// moved only while held exclusively, that is while no connection of any
// process (this one included) has it open: one that had would reach the
// fresh database's -wal and -shm by name. Throws StoreError, moving nothing,
// when the others do not let go in time. Returns the new path, or "" when
// `path` no longer names the file found damaged (another process set it
// aside first and may already have started a fresh one, which must be left
// alone).
std::string set_aside(const std::string& path, FileHold& hold, const std::string& why) {
  if (!hold.make_exclusive(kSetAsideWait))
    throw StoreError("results database " + path + " is damaged (" + why +
                     ") but is in use by another process (or another connection of this one), so it was left where "
                     "it is: stop the other gemmtune processes using it, then try again");
  if (!hold.still_at(path)) return {};
  FolderLock lock(parent_folder(path));
  const std::string base = path + ".damaged-" + utc_time("%Y%m%d-%H%M%S");
  std::string target;
  for (int n = 0;; ++n) {
    target = n == 0 ? base : base + "-" + std::to_string(n);
    bool free = !path_exists(target);
    for (const char* suffix : kSidecars) free = free && !path_exists(target + suffix);
    if (free) break;
    if (n >= 1000)
      throw StoreError("results database " + path + " is damaged (" + why + ") and could not be moved aside: " + base +
                       " and 1000 more names are taken");
  }
  // The sidecar files go first: they belong to the damaged file (a stale
  // -wal next to a new database would be replayed into it), and once the
  // database is gone from the path another process may start a fresh one,
  // whose own -wal and -shm would then be at these names.
  std::string moved;
  for (const char* suffix : kSidecars) {
    const std::string from = path + suffix;
    if (!path_exists(from)) continue;
    int err = rename_no_replace(from, target + suffix);
    if (err == ENOENT) continue;
    if (err != 0)
      throw StoreError("results database " + path + " is damaged (" + why + ") and its " + suffix +
                       " file could not be moved aside to " + target + suffix + ": " + std::strerror(err) +
                       (moved.empty() ? "; nothing was moved" : "; already moved: " + moved));
    moved += (moved.empty() ? "" : ", ") + target + suffix;
  }
  int err = rename_no_replace(path, target);
  if (err != 0)
    throw StoreError("results database " + path + " is damaged (" + why + ") and could not be moved aside to " +
                     target + ": " + std::strerror(err) +
                     (moved.empty() ? "" : "; its companion files were: " + moved));
  return target;
}

std::optional<std::int64_t> parse_int(const std::string& text) {
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A FileError as the store's error: the caller's path (exit 2) or the
// machine's trouble.
[[noreturn]] void rethrow(const files::FileError& e) {
  if (e.fault() == files::FileError::Fault::usage) throw StoreInputError(e.what());
  throw StoreError(e.what());
}

std::string read_import_file(const std::string& file) {
  try {
    return files::InputFile(file, "import file " + file).read_all(kMaxImportBytes);
  } catch (const files::FileError& e) {
    rethrow(e);
  }
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, std::function<void(const std::string&)> warn, FileHold hold)
      : path_(std::move(path)), warn_(std::move(warn)), hold_(std::move(hold)) {}

  // Closes the connection and hands over the hold on the file.
  FileHold close_keeping_hold() {
    db_.reset();
    return std::move(hold_);
  }
  FileHold& hold() { return hold_; }

  // Connects, checks and (for a new file) creates the schema. Throws Damaged
  // for a file to be moved aside, StoreError for everything else. `origin`
  // is never foreign (open() refuses those first).
  void connect(Origin origin);

  std::optional<TuningRecord> lookup(const std::string& key) override;
  void save(const TuningRecord& record) override;
  std::vector<RecordSummary> list() override;
  std::optional<TuningRecord> get(const std::string& id_or_key_prefix) override;
  std::int64_t clear() override;
  CatalogueStats stats() override;
  std::int64_t export_json(const std::string& file) override;
  ImportReport import_json(const std::string& file) override;
  const std::string& path() const override { return path_; }

 private:
  enum class Schema { empty, current };
  Schema check_schema();
  void quick_check();
  void use_wal();
  void mark_as_ours();
  void create_schema();
  void set_checkpoint_on_close(bool on);
  void checkpoint_on_close_if_wal_empty();
  // Parses a stored row; a damaged one is reported through warn and skipped.
  std::optional<TuningRecord> parse_row(std::int64_t id, const std::string& key, const std::string& text);
  // Inserts or replaces inside the caller's write transaction; returns
  // whether the key was already there.
  bool upsert(const TuningRecord& record);
  void warn(const std::string& message) const {
    if (warn_) warn_(message);
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw StoreError("results database " + path_ + ": " + what);
  }
  // The path the caller gave cannot be used (exit code 2 in the CLI).
  [[noreturn]] void refuse(const std::string& what) const {
    throw StoreInputError("results database " + path_ + ": " + what);
  }

  std::string path_;
  std::function<void(const std::string&)> warn_;
  // Declared before db_: the connection closes before the hold goes.
  FileHold hold_;
  std::unique_ptr<Db> db_;
};

void SqliteStore::connect(Origin origin) {
  // Say plainly what is wrong instead of sqlite's "unable to open database
  // file" or "attempt to write a readonly database" later. WAL also needs to
  // create -wal and -shm files beside the database, hence the folder check.
  // (ENOENT: the file went away meanwhile -- another process set it aside --
  // which is not a read-only file.)
  if (::access(path_.c_str(), W_OK) != 0 && errno != ENOENT)
    refuse("the file is read-only (" + std::string(std::strerror(errno)) + "); gemmtune needs to write to it");
  std::string folder = parent_folder(path_);
  if (::access(folder.c_str(), W_OK) != 0)
    refuse("folder " + folder + " is not writable (" + std::strerror(errno) + ")");

  try {
    db_ = std::make_unique<Db>(path_);
  } catch (const SqliteError& e) {
    if (e.primary() == SQLITE_CANTOPEN)
      refuse("cannot open or create the file (" + e.detail() + "); check that it and its folder are writable");
    throw;
  }
  int rc = sqlite3_busy_timeout(db_->handle(), kBusyTimeoutMs);
  if (rc != SQLITE_OK) db_->fail(rc, "cannot set the busy timeout");
  if (db_->read_only()) refuse("the file is read-only; gemmtune needs to write to it");

  // Until the file is known to be ours, closing must not checkpoint: that
  // would write into a file we are about to move aside (or refuse) and
  // delete its -wal, which belongs to the user's file.
  set_checkpoint_on_close(false);
  try {
    // Everything up to use_wal() only reads, so a database from a newer
    // gemmtune is refused without a byte of it changed.
    Schema schema = check_schema();
    if (schema == Schema::current) quick_check();
    // The mark goes first into a new file, so that no crash can leave a
    // non-empty file of ours without it (and then be taken for foreign).
    if (origin != Origin::ours) mark_as_ours();
    use_wal();
    db_->exec("PRAGMA synchronous=NORMAL", "cannot set synchronous mode");
    if (schema == Schema::empty) create_schema();
  } catch (const Damaged&) {
    throw;
  } catch (const SqliteError& e) {
    if (e.is_damage()) throw Damaged{e.detail()};
    checkpoint_on_close_if_wal_empty();
    throw;
  } catch (...) {
    checkpoint_on_close_if_wal_empty();
    throw;
  }
  set_checkpoint_on_close(true);
}

void SqliteStore::checkpoint_on_close_if_wal_empty() {
  // A refused file (newer schema) must stay as it is: committed frames in
  // its -wal belong to whoever wrote them and must not be copied into the
  // file by our close. An empty -wal is one we created just now; letting
  // the close "checkpoint" it writes nothing and removes it again.
  if (file_size(path_ + "-wal") == 0) {
    try {
      set_checkpoint_on_close(true);
    } catch (const StoreError&) {
      // Keeping the -wal is harmless; the error being thrown matters more.
    }
  }
}

void SqliteStore::set_checkpoint_on_close(bool on) {
  int rc = sqlite3_db_config(db_->handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, on ? 0 : 1, nullptr);
  if (rc != SQLITE_OK) db_->fail(rc, "cannot configure checkpointing");
}

SqliteStore::Schema SqliteStore::check_schema() {
  std::vector<std::string> tables;
  {
    Statement s(*db_, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                "cannot read the schema");
    while (s.step()) tables.push_back(s.text(0));
  }
  if (tables.empty()) return Schema::empty;

  auto has_table = [&](const char* name) { return std::find(tables.begin(), tables.end(), name) != tables.end(); };
  auto columns_of = [&](const char* table) {
    std::vector<std::string> columns;
    Statement s(*db_, std::string("PRAGMA table_info(") + table + ")", "cannot read the schema");
    while (s.step()) columns.push_back(s.text(1));
    return columns;
  };
  auto lacks_column = [](const std::vector<std::string>& columns, const char* name) {
    return std::find(columns.begin(), columns.end(), name) == columns.end();
  };

  if (!has_table("meta")) {
    std::string names;
    for (const auto& t : tables) names += (names.empty() ? "" : ", ") + t;
    throw Damaged{"not a gemmtune database: it holds tables " + names};
  }
  auto meta_columns = columns_of("meta");
  if (lacks_column(meta_columns, "name") || lacks_column(meta_columns, "value"))
    throw Damaged{"not a gemmtune database: its meta table has other columns"};

  std::optional<std::string> version_text;
  {
    Statement s(*db_, "SELECT value FROM meta WHERE name='schema_version'", "cannot read the schema version");
    if (s.step()) version_text = s.text(0);
  }
  if (!version_text) throw Damaged{"no schema_version in its meta table"};
  std::optional<std::int64_t> version = parse_int(*version_text);
  if (!version) throw Damaged{"schema_version '" + *version_text + "' is not a number"};
  if (*version > kSchemaVersion)
    fail("written by a newer gemmtune (schema " + std::to_string(*version) + " > " + std::to_string(kSchemaVersion) +
         "); not touched");
  if (*version < 1) throw Damaged{"unknown schema_version " + std::to_string(*version)};

  if (!has_table("records")) throw Damaged{"its records table is missing"};
  auto record_columns = columns_of("records");
  for (const char* column : kRecordColumns)
    if (lacks_column(record_columns, column)) throw Damaged{std::string("its records table lacks column ") + column};
  return Schema::current;
}

void SqliteStore::quick_check() {
  Statement s(*db_, "PRAGMA quick_check(5)", "cannot check the database");
  std::string problems;
  while (s.step()) {
    std::string line = s.text(0);
    if (line == "ok") continue;
    problems += (problems.empty() ? "" : "; ") + line;
  }
  if (!problems.empty()) throw Damaged{"integrity check failed: " + problems};
}

void SqliteStore::use_wal() {
  // Switching a new file to WAL needs a moment of exclusive access; when
  // several processes create the file at once the loser may get SQLITE_BUSY
  // without the busy handler being consulted, so retry up to the timeout.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    try {
      Statement s(*db_, "PRAGMA journal_mode=WAL", "cannot switch to WAL journaling");
      std::string mode = s.step() ? s.text(0) : std::string();
      if (mode != "wal")
        log::write(log::Level::info, "results database " + path_ + " runs in journal mode '" + mode +
                                         "' (WAL not supported here); concurrent use is slower");
      return;
    } catch (const SqliteError& e) {
      if ((e.primary() != SQLITE_BUSY && e.primary() != SQLITE_LOCKED) || std::chrono::steady_clock::now() > deadline)
        throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void SqliteStore::mark_as_ours() {
  db_->exec(("PRAGMA application_id=" + std::to_string(static_cast<std::int32_t>(kApplicationId))).c_str(),
            "cannot mark the database as gemmtune's");
}

void SqliteStore::create_schema() {
  WriteTransaction tx(*db_);
  // Another process may have created it between our check and our lock.
  if (check_schema() == Schema::empty) {
    db_->exec(kCreateSchema, "cannot create the tables");
    const std::pair<std::string, std::string> rows[] = {
        {"schema_version", std::to_string(kSchemaVersion)},
        {"created_by", std::string("gemmtune ") + GEMMTUNE_VERSION},
        {"created_at", iso_now()},
    };
    for (const auto& [name, value] : rows) {
      Statement row(*db_, "INSERT INTO meta(name, value) VALUES(?1, ?2)", "cannot write the meta table");
      row.bind(1, name).bind(2, value).run();
    }
  }
  tx.commit();
}

std::optional<TuningRecord> SqliteStore::parse_row(std::int64_t id, const std::string& key, const std::string& text) {
  try {
    return record_from_text(text, key);
  } catch (const StoreError& e) {
    warn("results database " + path_ + ": record " + std::to_string(id) + " (key " + short_key(key) +
         ") is damaged and was ignored: " + e.what());
    return std::nullopt;
  }
}

bool SqliteStore::upsert(const TuningRecord& input) {
  if (input.key.empty()) fail("cannot save a record without a key");
  try {
    (void)json(input.key).dump();
  } catch (const json::exception&) {
    fail("cannot save a record whose key is not valid UTF-8");
  }
  // created_at orders `cache list`; stamp a record that lacks one.
  const TuningRecord* record = &input;
  TuningRecord stamped;
  if (input.created_at.empty()) {
    stamped = input;
    stamped.created_at = iso_now();
    record = &stamped;
  }

  bool existed = false;
  {
    Statement s(*db_, "SELECT 1 FROM records WHERE key=?1", "cannot look up a record");
    s.bind(1, record->key);
    existed = s.step();
  }
  // ON CONFLICT ... DO UPDATE keeps the row's id, so ids shown by `cache
  // list` stay valid when a record is re-tuned.
  Statement s(*db_,
              "INSERT INTO records(key, problem, winner_backend, winner_choice, winner_time_us, fallback, created_at, "
              "json) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
              "ON CONFLICT(key) DO UPDATE SET problem=excluded.problem, winner_backend=excluded.winner_backend, "
              "winner_choice=excluded.winner_choice, winner_time_us=excluded.winner_time_us, "
              "fallback=excluded.fallback, created_at=excluded.created_at, json=excluded.json",
              "cannot save a record");
  s.bind(1, record->key).bind(2, describe(record->problem));
  if (record->winner) {
    s.bind(3, record->winner->backend).bind(4, record->winner->choice).bind(5, record->winner->time_us);
  } else {
    s.bind_null(3).bind_null(4).bind_null(5);
  }
  s.bind(6, static_cast<std::int64_t>(record->fallback ? 1 : 0))
      .bind(7, record->created_at)
      .bind(8, record_text(*record));
  s.run();
  return existed;
}

std::optional<TuningRecord> SqliteStore::lookup(const std::string& key) {
  Statement s(*db_, "SELECT id, json FROM records WHERE key=?1", "cannot look up a record");
  s.bind(1, key);
  if (!s.step()) return std::nullopt;
  return parse_row(s.integer(0), key, s.text(1));
}

void SqliteStore::save(const TuningRecord& record) {
  WriteTransaction tx(*db_);
  upsert(record);
  tx.commit();
}

std::vector<RecordSummary> SqliteStore::list() {
  Statement s(*db_,
              "SELECT id, key, problem, winner_backend, winner_choice, winner_time_us, fallback, created_at "
              "FROM records ORDER BY created_at DESC, id DESC",
              "cannot list records");
  std::vector<RecordSummary> out;
  while (s.step()) {
    RecordSummary r;
    r.id = s.integer(0);
    r.key = s.text(1);
    r.problem = s.text(2);
    r.winner_backend = s.text(3);
    r.winner_choice = s.text(4);
    r.winner_time_us = s.is_null(5) ? 0.0 : s.real(5);
    r.fallback = s.integer(6) != 0;
    r.created_at = s.text(7);
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<TuningRecord> SqliteStore::get(const std::string& id_or_key_prefix) {
  const std::string& wanted = id_or_key_prefix;
  if (wanted.empty()) throw StoreInputError("results database " + path_ + ": give a record id or a key prefix");
  ReadTransaction snapshot(*db_);
  if (all_digits(wanted)) {
    Statement s(*db_, "SELECT id, key, json FROM records WHERE id=?1", "cannot read a record");
    s.bind(1, static_cast<std::int64_t>(std::stoll(wanted)));
    if (s.step()) return parse_row(s.integer(0), s.text(1), s.text(2));
    // Not an id: keys are opaque and may start with digits, so try them too.
  }
  {
    Statement s(*db_, "SELECT id, json FROM records WHERE key=?1", "cannot read a record");
    s.bind(1, wanted);
    if (s.step()) return parse_row(s.integer(0), wanted, s.text(1));
  }
  std::vector<std::pair<std::int64_t, std::string>> matches;
  {
    // substr() and length() both count characters, so this is a prefix test
    // that LIKE's case folding and wildcards cannot disturb.
    Statement s(*db_, "SELECT id, key FROM records WHERE substr(key, 1, length(?1)) = ?1 ORDER BY id",
                "cannot search records");
    s.bind(1, wanted);
    while (s.step()) matches.emplace_back(s.integer(0), s.text(1));
  }
  if (matches.empty()) return std::nullopt;
  if (matches.size() > 1) {
    std::string examples;
    for (std::size_t i = 0; i < matches.size() && i < 3; ++i)
      examples += (i ? ", " : "") + std::string("id ") + std::to_string(matches[i].first);
    throw StoreInputError("results database " + path_ + ": '" + wanted + "' is ambiguous: " +
                          std::to_string(matches.size()) + " records match (" + examples +
                          (matches.size() > 3 ? ", ..." : "") + "); give the id or more of the key");
  }
  Statement s(*db_, "SELECT json FROM records WHERE id=?1", "cannot read a record");
  s.bind(1, matches[0].first);
  if (!s.step()) return std::nullopt;
  return parse_row(matches[0].first, matches[0].second, s.text(0));
}

std::int64_t SqliteStore::clear() {
  WriteTransaction tx(*db_);
  Statement s(*db_, "DELETE FROM records", "cannot clear records");
  s.run();
  std::int64_t removed = db_->changes();
  tx.commit();
  return removed;
}

CatalogueStats SqliteStore::stats() {
  CatalogueStats out;
  out.path = path_;
  out.file_bytes = file_size(path_) + file_size(path_ + "-wal");
  ReadTransaction snapshot(*db_);
  {
    Statement s(*db_, "SELECT COUNT(*), COALESCE(SUM(fallback != 0), 0) FROM records", "cannot count records");
    if (s.step()) {
      out.records = s.integer(0);
      out.fallback_records = s.integer(1);
    }
  }
  Statement s(*db_,
              "SELECT winner_backend, COUNT(*) AS wins FROM records WHERE winner_backend IS NOT NULL "
              "GROUP BY winner_backend ORDER BY wins DESC, winner_backend ASC",
              "cannot count wins");
  while (s.step()) out.wins_by_backend.emplace_back(s.text(0), s.integer(1));
  return out;
}

std::int64_t SqliteStore::export_json(const std::string& file) {
  // Refuse a bad target before reading a single record.
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    if (files::same_file(file, path_ + suffix))
      throw StoreInputError("export file " + file + " is the results database " + path_ + suffix +
                            " itself; export to another file");
  try {
    files::writable_target(file, "export file " + file);
  } catch (const files::FileError& e) {
    rethrow(e);
  }
  json records = json::array();
  {
    ReadTransaction snapshot(*db_);
    Statement s(*db_, "SELECT id, key, json FROM records ORDER BY id", "cannot read records");
    while (s.step())
      if (auto record = parse_row(s.integer(0), s.text(1), s.text(2))) records.push_back(to_json(*record));
  }
  std::int64_t count = static_cast<std::int64_t>(records.size());
  json document = {{"format", std::string(kExportFormatName)},
                   {"version", kExportFormatVersion},
                   {"exported_at", iso_now()},
                   {"gemmtune_version", GEMMTUNE_VERSION},
                   {"records", std::move(records)}};
  try {
    files::write_atomically(file, json_text(document, 1) + "\n", "export file " + file);
  } catch (const files::FileError& e) {
    rethrow(e);
  }
  return count;
}

ImportReport SqliteStore::import_json(const std::string& file) {
  json document;
  try {
    document = json::parse(read_import_file(file));
  } catch (const json::exception& e) {
    // parse_error, and also out_of_range for a number beyond double (1e309).
    throw StoreInputError("import file " + file + " is not valid JSON: " + e.what());
  }
  auto bad_file = [&](const std::string& why) -> StoreInputError {
    return StoreInputError("import file " + file + " is not a gemmtune export file: " + why);
  };
  if (!document.is_object()) throw bad_file("expected an object, got " + std::string(document.type_name()));
  auto format = document.find("format");
  if (format == document.end() || !format->is_string() || format->get<std::string>() != kExportFormatName)
    throw bad_file("\"format\" must be \"" + std::string(kExportFormatName) + "\"");
  auto version = document.find("version");
  if (version == document.end() || !version->is_number_integer()) throw bad_file("\"version\" must be an integer");
  if (version->get<std::int64_t>() > kExportFormatVersion)
    throw StoreInputError("import file " + file + " was written by a newer gemmtune (format version " +
                     std::to_string(version->get<std::int64_t>()) + " > " + std::to_string(kExportFormatVersion) +
                     ")");
  if (version->get<std::int64_t>() < 1) throw bad_file("unknown format version " + version->dump());
  auto entries = document.find("records");
  if (entries == document.end() || !entries->is_array()) throw bad_file("\"records\" must be an array");

  // Each record stands alone: a bad one is reported and the rest imported.
  ImportReport report;
  std::vector<TuningRecord> good;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const json& entry = (*entries)[i];
    std::string label = "records[" + std::to_string(i) + "]";
    if (entry.is_object())
      if (auto key = entry.find("key"); key != entry.end() && key->is_string())
        label += " (key " + short_key(key->get<std::string>()) + ")";
    try {
      TuningRecord record = record_from_json(entry);
      validate_record(record);
      good.push_back(std::move(record));
    } catch (const StoreError& e) {
      report.rejected.push_back(label + ": " + e.what());
    }
  }

  WriteTransaction tx(*db_);
  for (const auto& record : good) {
    if (upsert(record))
      ++report.replaced;
    else
      ++report.imported;
  }
  tx.commit();
  return report;
}

}  // namespace

namespace {

// SQLite writes <db>-wal, -shm and -journal beside the database without
// O_NOFOLLOW: a symlink planted there would aim its writes at another file.
void refuse_unsafe_companions(const std::string& path) {
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    struct stat st {};
    const std::string companion = path + suffix;
    if (::lstat(companion.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw StoreInputError("results database " + path + ": " + companion + " is " +
                            (S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file") +
                            "; SQLite would write through it, so gemmtune refuses to open the database");
  }
}

// Opens and holds shared the file at `path` (see file_lock.h), creating an
// empty one when there is none; an empty hold for what is not a regular file.
FileHold hold_database(const std::string& path) {
  HoldResult held = hold_shared(path, kLockWait);
  if (held.hold || held.not_regular) return std::move(held.hold);
  if (held.timed_out)
    throw StoreError("results database " + path + ": another process kept it locked for " +
                     std::to_string(kLockWait.count() / 1000) +
                     " s while creating it or setting it aside; try again");
  const int error = held.error;
  const std::string folder = parent_folder(path);
  if ((error == EACCES || error == EPERM || error == EROFS) && ::access(folder.c_str(), W_OK) != 0)
    throw StoreInputError("results database " + path + ": folder " + folder + " is not writable (" +
                          std::strerror(errno) + ")");
  throw StoreInputError("results database " + path + ": cannot open or create the file (" + std::strerror(error) +
                        "); check that it and its folder are writable");
}

[[noreturn]] void refuse_foreign(const std::string& path, const std::string& what) {
  throw StoreInputError("results database " + path + " is " + what +
                        ", so not a gemmtune database; gemmtune never modifies, renames or moves a file it did "
                        "not create. Pass another --db (or GEMMTUNE_CACHE_DIR), or move the file away yourself");
}

// An empty file becomes a database while no one else can look at it: held
// exclusively. Everyone who found it empty asks for that; the one who gets
// it creates the database, and the others, holding it shared again (which
// they get only once the creator is done), find it made. Returns with
// `hold` exclusive on a file still empty, or shared (or exclusive) on one
// now made, and `inspection` updated; false to start again (`path` names
// another file now).
bool make_or_wait(const std::string& path, FileHold& hold, Inspection& inspection) {
  constexpr std::chrono::milliseconds kTurn{50};
  const auto deadline = std::chrono::steady_clock::now() + kLockWait;
  for (;;) {
    if (hold.make_exclusive(kTurn)) {
      if (!hold.still_at(path)) return false;
      inspection = inspect(hold, path);
      return true;
    }
    // Others hold it: ones who found it empty too, or the one who made it
    // meanwhile and now uses it (then it is made).
    if (std::chrono::steady_clock::now() > deadline)
      throw StoreError("results database " + path + " is empty and another connection keeps it open, so it "
                       "cannot be set up now; try again");
    hold = hold_database(path);
    if (!hold) refuse_foreign(path, "not a regular file");
    inspection = inspect(hold, path);
    if (inspection.origin != Origin::absent) return true;
  }
}

}  // namespace

// The protocol (file_lock.h): every step below runs with the file held --
// shared while judging and using it, exclusive while making an empty file a
// database and while setting a damaged one aside -- so no process ever sees
// a database half made, and none is moved while a connection has it open.
std::unique_ptr<Store> Store::open(const std::string& path, const Warn& warn) {
  if (path.empty()) throw StoreInputError("results database path is empty");
  make_parent_folders(path);
  constexpr int kAttempts = 4;
  std::string last_why;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    refuse_unsafe_companions(path);
    FileHold hold = hold_database(path);
    if (!hold) refuse_foreign(path, "not a regular file");
    Inspection inspection = inspect(hold, path);
    if (inspection.origin == Origin::absent && !make_or_wait(path, hold, inspection)) continue;
    if (inspection.origin == Origin::foreign) refuse_foreign(path, inspection.why);
    const FileId checked = hold.id();
    auto store = std::make_unique<SqliteStore>(path, warn, std::move(hold));
    try {
      store->connect(inspection.origin);
      if (store->hold().mode() == FileHold::Mode::exclusive && !store->hold().make_shared(kLockWait))
        throw StoreError("results database " + path + ": lost the lock on the new database to another process");
      return store;
    } catch (const Damaged& damaged) {
      if (inspection.origin == Origin::legacy)
        throw StoreInputError("results database " + path + " looks like one of an older gemmtune but is damaged (" +
                              damaged.why + "); it carries no mark that proves it is gemmtune's, so it is left as "
                              "it is: move it away yourself");
      last_why = damaged.why;
      FileHold damaged_hold = store->close_keeping_hold();  // close before renaming
      store.reset();
      std::string moved = set_aside(path, damaged_hold, damaged.why);
      if (!moved.empty() && warn)
        warn("results database " + path + " was damaged (" + damaged.why + "); moved aside to " + moved +
             "; starting a new one");
    } catch (const StoreError& e) {
      // Where the lock is not enforced (file_lock.h), another process may
      // set the damaged file aside while this one is opening it: the file
      // moved (SQLite fails reading it, e.g. IOERR_FSTAT), or, on the fresh
      // file that took its place, the set-aside moved this process's
      // -journal (IOERR_DELETE_NOENT). Start again on whatever is at the
      // path now. A failure that persists (or any other, with the file in
      // place) is the caller's to see.
      const auto* sqlite = dynamic_cast<const SqliteError*>(&e);
      const bool io_error = sqlite && sqlite->primary() == SQLITE_IOERR;
      if (attempt + 1 >= kAttempts || (file_id(path) == checked && !io_error)) throw;
      store.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + attempt * 5));
    }
  }
  throw StoreError("results database " + path + " is damaged (" + last_why +
                   ") and stays damaged after being moved aside; giving up");
}

namespace {

// One open database and whose warnings its current call produces.
struct SharedConnection {
  std::mutex mutex;
  std::function<void(const std::string&)> warn;  // of the handle calling now
  std::unique_ptr<Store> store;
  pid_t pid = 0;
};

class SharedStore final : public Store {
 public:
  SharedStore(std::shared_ptr<SharedConnection> connection, std::function<void(const std::string&)> warn)
      : connection_(std::move(connection)), warn_(std::move(warn)) {}

  // Every call runs alone on the connection, its warnings sent to this
  // handle's callback.
  template <typename F>
  auto call(F&& f) {
    std::lock_guard<std::mutex> lock(connection_->mutex);
    connection_->warn = warn_;
    return f(*connection_->store);
  }

  std::optional<TuningRecord> lookup(const std::string& key) override {
    return call([&](Store& s) { return s.lookup(key); });
  }
  void save(const TuningRecord& record) override {
    call([&](Store& s) { s.save(record); });
  }
  std::vector<RecordSummary> list() override {
    return call([&](Store& s) { return s.list(); });
  }
  std::optional<TuningRecord> get(const std::string& id) override {
    return call([&](Store& s) { return s.get(id); });
  }
  std::int64_t clear() override {
    return call([&](Store& s) { return s.clear(); });
  }
  CatalogueStats stats() override {
    return call([&](Store& s) { return s.stats(); });
  }
  std::int64_t export_json(const std::string& file) override {
    return call([&](Store& s) { return s.export_json(file); });
  }
  ImportReport import_json(const std::string& file) override {
    return call([&](Store& s) { return s.import_json(file); });
  }
  const std::string& path() const override { return connection_->store->path(); }

 private:
  std::shared_ptr<SharedConnection> connection_;
  std::function<void(const std::string&)> warn_;
};

}  // namespace

std::unique_ptr<Store> open_shared(const std::string& path, const std::function<void(const std::string&)>& warn) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<SharedConnection>> registry;
  std::error_code ec;
  std::string name = std::filesystem::weakly_canonical(path, ec).string();
  if (ec || name.empty()) name = path;
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::shared_ptr<SharedConnection> connection = registry[name].lock();
  if (!connection || connection->pid != ::getpid()) {
    connection = std::make_shared<SharedConnection>();
    connection->pid = ::getpid();
    SharedConnection* raw = connection.get();
    // Warnings of open() itself (a damaged file set aside) go to this caller.
    raw->warn = warn;
    connection->store = Store::open(path, [raw](const std::string& m) {
      if (raw->warn) raw->warn(m);
    });
    registry[name] = connection;
  }
  return std::make_unique<SharedStore>(std::move(connection), warn);
}

}  // namespace gemmtune::store

namespace gemmtune {

Catalogue::~Catalogue() = default;

std::unique_ptr<Catalogue> Catalogue::open(const std::string& path, const Warn& warn) {
  return store::Store::open(path, warn);
}

std::string db_path_for(const TuneOptions& given) {
  const TuneOptions options = option_table::with_environment(given);
  if (options.db_path) return *options.db_path;
  if (auto dir = store::cache_dir_for(options)) return (std::filesystem::path(*dir) / "tuning.db").string();
  throw StoreInputError(
      "cannot place the results database: HOME is not set; set GEMMTUNE_CACHE_DIR to a folder (or pass --db)");
}

std::string default_db_path() { return db_path_for(TuneOptions{}); }

void require_database(const std::string& path) {
  std::error_code ec;
  // Followed: a link to nothing holds no database either (opening it would
  // create its target).
  if (std::filesystem::status(path, ec).type() != std::filesystem::file_type::not_found) return;
  throw StoreInputError("results database " + path +
                        " does not exist: nothing has been tuned with this database or cache folder "
                        "(--db, --cache-dir, GEMMTUNE_CACHE_DIR); check the path");
}

namespace store {

std::optional<std::string> cache_dir_for(const TuneOptions& resolved) {
  if (resolved.cache_dir) return *resolved.cache_dir;
  return env::default_cache_dir();
}

}  // namespace store

}  // namespace gemmtune
