// A thin RAII layer over the sqlite3 C API for the store: every return code
// is checked and a failure becomes a SqliteError whose message names the
// database path, what was being done and sqlite3_errmsg. Not thread safe:
// one Db and its statements belong to one thread (as Store does).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "gemmtune/errors.h"

namespace gemmtune::store::sqlite {

// A StoreError that remembers sqlite's result code, so that open() can tell
// a damaged file (SQLITE_NOTADB, SQLITE_CORRUPT) from other failures.
class SqliteError : public StoreError {
 public:
  SqliteError(int code, const std::string& message, std::string detail)
      : StoreError(message), code_(code), detail_(std::move(detail)) {}
  int code() const { return code_; }            // extended result code
  const std::string& detail() const { return detail_; }  // sqlite's own words
  int primary() const { return code_ & 0xff; }  // SQLITE_BUSY, SQLITE_CORRUPT, ...
  bool is_damage() const { return primary() == SQLITE_NOTADB || primary() == SQLITE_CORRUPT; }

 private:
  int code_;
  std::string detail_;
};

class Db {
 public:
  // Opens read-write, creating the file when missing. Throws SqliteError.
  // SQLite silently falls back to read-only when the file's permissions
  // forbid writing; read_only() tells.
  explicit Db(std::string path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  bool read_only() const;
  // Runs statements that return no rows we need. Throws SqliteError.
  void exec(const char* sql, std::string_view doing);
  std::int64_t changes() const { return sqlite3_changes64(db_); }
  // Throws SqliteError for `rc` with the connection's current message.
  [[noreturn]] void fail(int rc, std::string_view doing) const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

// A prepared statement. Bind indices start at 1, column indices at 0.
class Statement {
 public:
  Statement(Db& db, std::string_view sql, std::string_view doing);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind_null(int index);
  // True when a row is ready, false when done. Throws SqliteError.
  bool step();
  // Runs a statement that returns no rows.
  void run();

  bool is_null(int column) const;
  std::string text(int column) const;  // "" for NULL
  std::int64_t integer(int column) const;
  double real(int column) const;

 private:
  void check_bind(int rc);
  Db& db_;
  std::string doing_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction: the write lock is taken up front (waiting
// up to the busy timeout), so a writer never fails half-way with
// SQLITE_BUSY_SNAPSHOT. Rolls back unless commit() was called.
class WriteTransaction {
 public:
  explicit WriteTransaction(Db& db);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit();

 private:
  Db& db_;
  bool open_ = false;
};

// A read transaction, so several statements see one snapshot.
class ReadTransaction {
 public:
  explicit ReadTransaction(Db& db);
  ~ReadTransaction();
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  Db& db_;
};

}  // namespace gemmtune::store::sqlite
