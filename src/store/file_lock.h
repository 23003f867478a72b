// Who holds a results database file: flock() on the file itself, so that a
// damaged database is set aside only when no connection (of any process, or
// of this one) has it open, and a fresh one is made while no one can look.
//
// Every open Store holds the file shared for its whole life; making an empty
// file a database and setting a damaged one aside need it exclusive. flock()
// locks and SQLite's fcntl() locks are independent on Linux local file
// systems. On file systems where flock() is emulated with fcntl() locks
// (NFS, SMB/CIFS) or refused, holds are not enforced (every request
// succeeds): there the store falls back to checking the file's identity
// before moving it.
//
// One descriptor per file and process carries the lock for every hold of
// that process, and it is closed only when the last hold goes: closing any
// descriptor of a file drops all of the process's fcntl() locks on it, which
// would break SQLite's locking under another connection of this process.
// Holds of the same process still exclude each other (counted here, not by
// the kernel). A process made by fork() starts with no holds; the ones it
// inherited are inert (releasing them leaves the parent's locks alone).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

namespace gemmtune::store {

struct FileId {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  friend bool operator==(const FileId&, const FileId&) = default;
};

// The regular file a path names now (following symbolic links); !exists
// when there is none.
FileId file_id(const std::string& path);

namespace file_lock_detail {
struct Entry;
}

struct HoldResult;

class FileHold {
 public:
  enum class Mode { none, shared, exclusive };

  FileHold() = default;
  ~FileHold() { release(); }
  FileHold(FileHold&& other) noexcept;
  FileHold& operator=(FileHold&& other) noexcept;
  FileHold(const FileHold&) = delete;
  FileHold& operator=(const FileHold&) = delete;

  Mode mode() const { return mode_; }
  explicit operator bool() const { return mode_ != Mode::none; }
  // A descriptor open on the held file (read-only), for fstat and pread.
  // Never close it.
  int fd() const;
  FileId id() const;
  // Whether `path` still names the held file.
  bool still_at(const std::string& path) const;
  // False where the file system does not support the lock (see above).
  bool enforced() const;

  // Gives up the shared hold and waits up to `wait` until no other hold of
  // any process is left, then holds the file exclusively. False when the
  // wait ran out: then nothing is held any more.
  bool make_exclusive(std::chrono::milliseconds wait);
  // From exclusive back to shared. False (nothing held) if the kernel does
  // not grant it within `wait`, which only another process's exclusive
  // request slipping in between could cause.
  bool make_shared(std::chrono::milliseconds wait);
  void release();

 private:
  friend HoldResult hold_shared(const std::string& path, std::chrono::milliseconds wait);
  FileHold(std::shared_ptr<file_lock_detail::Entry> entry, Mode mode) : entry_(std::move(entry)), mode_(mode) {}

  std::shared_ptr<file_lock_detail::Entry> entry_;
  Mode mode_ = Mode::none;
};

struct HoldResult {
  FileHold hold;            // held shared, and `path` names the held file
  int error = 0;            // errno of a failed open (the file could not be opened or created)
  bool not_regular = false; // a folder, device, FIFO...: nothing is held
  bool timed_out = false;   // another process kept it exclusive for all of `wait`
};

// Opens the file at `path` (creating an empty one, mode 0644 less the umask,
// when there is none) and holds it shared, waiting up to `wait` while it is
// held exclusively; starts again when the path comes to name another file
// meanwhile (it was set aside).
HoldResult hold_shared(const std::string& path, std::chrono::milliseconds wait);

}  // namespace gemmtune::store
