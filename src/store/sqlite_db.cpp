#include "store/sqlite_db.h"

#include <utility>

#include "util/log.h"

namespace gemmtune::store::sqlite {
namespace {

std::string message(const std::string& path, std::string_view doing, std::string_view detail, int code) {
  std::string m = "results database " + path + ": ";
  if (!doing.empty()) m += std::string(doing) + ": ";
  m += detail;
  // sqlite's text for I/O errors is generic; the extended code says which.
  if ((code & 0xff) == SQLITE_IOERR || (code & 0xff) == SQLITE_CANTOPEN)
    m += " (sqlite error " + std::to_string(code) + ")";
  return m;
}

}  // namespace

Db::Db(std::string path) : path_(std::move(path)) {
  int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    // Even on failure sqlite usually hands back a handle holding the message.
    std::string detail = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(rc, message(path_, "cannot open", detail, rc), detail);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Db::~Db() {
  // close_v2 defers the close until every statement is finalized; all ours
  // are RAII, so this closes now.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

bool Db::read_only() const { return sqlite3_db_readonly(db_, "main") == 1; }

void Db::fail(int rc, std::string_view doing) const {
  // The connection's message may belong to an earlier call when rc did not
  // come from it (e.g. a bind); fall back to the code's generic text then.
  int current = sqlite3_extended_errcode(db_);
  std::string detail = current == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  throw SqliteError(rc, message(path_, doing, detail, rc), detail);
}

void Db::exec(const char* sql, std::string_view doing) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string detail = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    int code = sqlite3_extended_errcode(db_) != SQLITE_OK ? sqlite3_extended_errcode(db_) : rc;
    throw SqliteError(code, message(path_, doing, detail, code), detail);
  }
}

Statement::Statement(Db& db, std::string_view sql, std::string_view doing) : db_(db), doing_(doing) {
  int rc = sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, doing_);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::check_bind(int rc) {
  if (rc != SQLITE_OK) db_.fail(rc, doing_);
}

Statement& Statement::bind(int index, std::string_view text) {
  check_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check_bind(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::bind_null(int index) {
  check_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.fail(rc, doing_);
}

void Statement::run() {
  while (step()) {
  }
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::string Statement::text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

WriteTransaction::WriteTransaction(Db& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE", "cannot start a write transaction");
  open_ = true;
}

WriteTransaction::~WriteTransaction() {
  if (!open_) return;
  // Nothing was committed, so nothing is lost if this fails; sqlite rolls
  // back by itself when the connection closes.
  if (sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr) != SQLITE_OK)
    log::write(log::Level::warn, "results database " + db_.path() + ": rollback failed: " + sqlite3_errmsg(db_.handle()));
}

void WriteTransaction::commit() {
  db_.exec("COMMIT", "cannot commit");
  open_ = false;
}

ReadTransaction::ReadTransaction(Db& db) : db_(db) { db_.exec("BEGIN", "cannot start a read transaction"); }

ReadTransaction::~ReadTransaction() {
  // Ending a read transaction writes nothing; a failure only matters for
  // the next statement, which will report it.
  if (sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
    log::write(log::Level::warn, "results database " + db_.path() + ": ending a read failed: " + sqlite3_errmsg(db_.handle()));
}

}  // namespace gemmtune::store::sqlite
