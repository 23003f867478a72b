#include "util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <random>

namespace gemmtune::files {
namespace {

[[noreturn]] void usage(const std::string& what, const std::string& problem) {
  throw FileError(FileError::Fault::usage, what + ": " + problem);
}

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

std::string error_text(int err) { return std::strerror(err); }

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string writable_target(const std::string& path, const std::string& what) {
  if (path.empty()) usage(what, "the path is empty");
  if (path.back() == '/') usage(what, "names a folder (ends with '/'); give a file name");
  std::string target = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      // Replacing the link itself would displace it; write where it points.
      char resolved[PATH_MAX];
      if (::realpath(path.c_str(), resolved) == nullptr) {
        const int err = errno;
        usage(what, err == ENOENT ? "is a symbolic link to a missing file" : "is a symbolic link that cannot be followed (" + error_text(err) + ")");
      }
      target = resolved;
      if (::stat(target.c_str(), &st) != 0) usage(what, "cannot inspect " + target + ": " + error_text(errno));
    }
    if (!S_ISREG(st.st_mode))
      usage(what, std::string("is ") + kind_of(st.st_mode) + "; gemmtune writes only regular files and never replaces anything else");
    if (::access(target.c_str(), W_OK) != 0)
      usage(what, "the existing file is read-only (" + error_text(errno) + "); gemmtune will not replace it");
  } else if (errno != ENOENT) {
    usage(what, "cannot inspect the path: " + error_text(errno));
  }
  const std::string folder = folder_of(target);
  struct stat fs {};
  if (::stat(folder.c_str(), &fs) != 0) usage(what, "folder " + folder + " does not exist (" + error_text(errno) + ")");
  if (!S_ISDIR(fs.st_mode)) usage(what, folder + " is not a folder");
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    usage(what, "cannot write into folder " + folder + " (" + error_text(errno) + ")");
  return target;
}

AtomicFile::AtomicFile(const std::string& path, const std::string& what)
    : what_(what), target_(writable_target(path, what)) {
  struct stat old {};
  const bool replacing = ::stat(target_.c_str(), &old) == 0;
  // A fixed name (C.npy.tmp-PID) can be planted in advance as a symlink to a
  // victim; O_EXCL refuses any existing name, links included, and the random
  // part makes the name unguessable.
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[17];
    std::snprintf(suffix, sizeof suffix, "%08x%08x", random(), random());
    std::string name = folder_of(target_) + "/." + base_of(target_) + ".tmp-" + suffix;
    // 0666: the umask then gives a new file the user's usual permissions.
    int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) {
      fd_ = fd;
      temp_ = name;
      break;
    }
    if (errno != EEXIST) {
      const int err = errno;
      throw FileError(err == EACCES || err == EROFS ? FileError::Fault::usage : FileError::Fault::io,
                      what_ + ": cannot create a temporary file in " + folder_of(target_) + ": " + error_text(err));
    }
  }
  if (fd_ < 0) throw FileError(FileError::Fault::io, what_ + ": cannot find a free temporary file name");
  if (replacing) {
    // Keep what the user set on the file being replaced. Ownership can only
    // be kept where permitted (by root); permissions always.
    if (::fchown(fd_, old.st_uid, old.st_gid) != 0) {
      // Not permitted for an ordinary user replacing another's file in a
      // shared folder: the new file is theirs, as with any editor.
    }
    if (::fchmod(fd_, old.st_mode & 0777) != 0) fail(errno, "cannot set the permissions");
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::fail(int err, const std::string& doing) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
  throw FileError(FileError::Fault::io, what_ + ": " + doing + ": " + error_text(err) + "; " + target_ +
                                            " was left as it was");
}

void AtomicFile::write(const void* data, std::size_t bytes) {
  if (fd_ < 0) throw FileError(FileError::Fault::io, what_ + ": written after commit or failure");
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    // Large single writes are split by the kernel anyway; chunking keeps a
    // signal from losing the progress of one huge call.
    const std::size_t chunk = bytes < (1u << 30) ? bytes : (1u << 30);
    const ssize_t n = ::write(fd_, p, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(n < 0 ? errno : ENOSPC, "cannot write");
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw FileError(FileError::Fault::io, what_ + ": committed twice or after a failure");
  // Flush before the rename: otherwise a crash could leave the new name
  // pointing at a file whose data never reached the disk.
  if (::fsync(fd_) != 0) fail(errno, "cannot flush to disk");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    fd_ = -1;
    fail(err, "cannot close");
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0) fail(errno, "cannot rename the finished file into place");
  temp_.clear();
  // The rename itself lives in the folder; flush it too (best effort: some
  // file systems refuse fsync on a folder, and the data is already safe).
  const int dir = ::open(folder_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
}

void write_atomically(const std::string& path, std::string_view bytes, const std::string& what) {
  AtomicFile file(path, what);
  file.write(bytes);
  file.commit();
}

InputFile::InputFile(const std::string& path, const std::string& what) : what_(what) {
  if (path.empty()) usage(what, "the path is empty");
  struct stat st {};
  // Check before opening: opening some devices has effects of its own.
  if (::stat(path.c_str(), &st) != 0) usage(what, "cannot open: " + error_text(errno));
  if (!S_ISREG(st.st_mode)) usage(what, std::string("is ") + kind_of(st.st_mode) + ", not a regular file");
  // O_NONBLOCK: if a FIFO was swapped in since the check, open must not wait
  // for a writer that never comes; fstat below then refuses it.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd_ < 0) usage(what, "cannot open: " + error_text(errno));
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    usage(what, "is not a regular file");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read_at(std::uint64_t at, void* out, std::size_t bytes) const {
  if (at > size_ || bytes > size_ - at)
    throw FileError(FileError::Fault::usage, what_ + ": reading " + std::to_string(bytes) + " bytes at offset " +
                                                 std::to_string(at) + " goes past the end of the file (" +
                                                 std::to_string(size_) + " bytes)");
  char* p = static_cast<char*>(out);
  while (bytes > 0) {
    const std::size_t chunk = bytes < (1u << 30) ? bytes : (1u << 30);
    const ssize_t n = ::pread(fd_, p, chunk, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileError(FileError::Fault::io, what_ + ": read error: " + error_text(errno));
    if (n == 0) throw FileError(FileError::Fault::io, what_ + ": the file shrank while it was read");
    p += n;
    at += static_cast<std::uint64_t>(n);
    bytes -= static_cast<std::size_t>(n);
  }
}

std::string InputFile::read_all(std::uint64_t max_bytes) const {
  if (size_ > max_bytes)
    usage(what_, std::to_string(size_) + " bytes, more than the " + std::to_string(max_bytes) + " accepted");
  std::string out(static_cast<std::size_t>(size_), '\0');
  read_at(0, out.data(), out.size());
  return out;
}

}  // namespace gemmtune::files
