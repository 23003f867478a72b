// Reading and writing the user's files without ever losing, displacing or
// following something planted: every file gemmtune writes for a user (an
// export, a `run` output) goes through AtomicFile, and every file it reads
// from a path the user gave (a .npy, a workload, an import file) through
// InputFile. Paths name files the user chose, so every refusal says which
// path and why.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gemmtune::files {

// A path that cannot be used as asked. `usage` faults are the caller's path
// (a folder, a device, a missing folder, a file too large): found before any
// work, exit code 2 in the CLI. `io` faults are the machine's (disk full, a
// read error): the operation stops and nothing is left half-written.
class FileError : public std::runtime_error {
 public:
  enum class Fault { usage, io };
  FileError(Fault fault, const std::string& message) : std::runtime_error(message), fault_(fault) {}
  Fault fault() const { return fault_; }

 private:
  Fault fault_;
};

// Whether two paths name the same file (device and inode, symlinks
// followed). False when either does not exist.
bool same_file(const std::string& a, const std::string& b);

// Where a new version of `path` will be written: the file a symlink points
// to (so that replacing it keeps the link), else `path` itself. Throws a
// usage FileError, naming `what` ("--out C.npy") when the folder is missing
// or not writable, the symlink dangles or loops, or an existing file there
// is not a regular file (a folder, a device, a FIFO, a socket): gemmtune
// never replaces those.
std::string writable_target(const std::string& path, const std::string& what);

// A new version of a file, made visible all at once. The temporary file is
// created exclusively (O_EXCL: never through a planted symlink, never
// reusing a file) under an unpredictable name in the target's folder, with
// the permissions of the file it replaces (0666 minus the umask for a new
// one). commit() flushes it to disk and renames it over the target; until
// then, and whenever anything fails, the old file is untouched and the
// temporary file is removed. Not thread safe.
class AtomicFile {
 public:
  // Checks the target with writable_target() and creates the temporary
  // file. Throws FileError.
  AtomicFile(const std::string& path, const std::string& what);
  ~AtomicFile();  // removes the temporary file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Throws an io FileError (ENOSPC, EIO, ...) naming the target.
  void write(const void* data, std::size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // fsync, rename over the target, fsync the folder. Throws FileError.
  void commit();
  // The file that commit() replaces (a symlink resolved).
  const std::string& target() const { return target_; }

 private:
  [[noreturn]] void fail(int err, const std::string& doing);
  std::string what_;
  std::string target_;
  std::string temp_;
  int fd_ = -1;
};

// Writes `bytes` as the new content of `path` through an AtomicFile.
void write_atomically(const std::string& path, std::string_view bytes, const std::string& what);

// A regular file opened for reading. Opening never blocks (a FIFO would
// wait for a writer forever) and the kind of file is checked on the opened
// descriptor, so a swap after the check cannot slip a device in. Throws a
// usage FileError naming `what` for a missing or unreadable path or one that
// is not a regular file (a folder, /dev/zero, a FIFO, a socket).
class InputFile {
 public:
  InputFile(const std::string& path, const std::string& what);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // The size when opened; reads never go past it.
  std::uint64_t size() const { return size_; }
  // Reads exactly `bytes` bytes from offset `at`, or throws an io FileError
  // (the file shrank, a read error).
  void read_at(std::uint64_t at, void* out, std::size_t bytes) const;
  // The whole file. A usage FileError when it is larger than `max_bytes`.
  std::string read_all(std::uint64_t max_bytes) const;
  const std::string& what() const { return what_; }

 private:
  std::string what_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace gemmtune::files
