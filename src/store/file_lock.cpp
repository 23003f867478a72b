#include "store/file_lock.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace gemmtune::store {

FileId file_id(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return {true, st.st_dev, st.st_ino};
}

namespace file_lock_detail {

// One file held by this process. Guarded by the registry's mutex.
struct Entry {
  FileId id;
  pid_t pid = 0;
  int fd = -1;
  std::vector<int> spare;  // other descriptors on the file, closed with fd
  int refs = 0;            // holds, and acquirers under way
  int shared = 0;          // shared holds; the descriptor has LOCK_SH while > 0
  bool exclusive = false;  // the descriptor has LOCK_EX for one hold
  bool busy = false;       // a thread is changing the descriptor's lock
  bool enforced = true;
  std::condition_variable changed;
};

}  // namespace file_lock_detail

namespace {

using file_lock_detail::Entry;
using Clock = std::chrono::steady_clock;

struct Registry {
  std::mutex mutex;
  std::map<std::pair<dev_t, ino_t>, std::shared_ptr<Entry>> entries;
};

Registry* g_registry = nullptr;

// A child of fork() gets a registry of its own: the inherited one may have
// been locked by another thread at the fork, and its descriptors share their
// locks with the parent. The old one is left as it is (leaked).
Registry& registry() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_registry = new Registry;
    ::pthread_atfork(nullptr, nullptr, [] { g_registry = new Registry; });
  });
  return *g_registry;
}

// flock() that means what it says: not on network file systems, where Linux
// emulates it with fcntl() locks, which would conflict with SQLite's.
bool flock_usable(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return true;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x6969UL:      // NFS
    case 0x517BUL:      // SMB
    case 0xFF534D42UL:  // CIFS
    case 0xFE534D42UL:  // SMB2
      return false;
    default:
      return true;
  }
}

enum class Poll { ok, timed_out, unsupported };

// Asks for the lock without blocking, again and again until the deadline:
// never blocks forever, whatever another process (or thread) does.
Poll poll_flock(int fd, int operation, Clock::time_point deadline) {
  auto pause = std::chrono::microseconds(500);
  for (;;) {
    if (::flock(fd, operation | LOCK_NB) == 0) return Poll::ok;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return Poll::unsupported;  // ENOLCK, EINVAL, EOPNOTSUPP
    const auto now = Clock::now();
    if (now >= deadline) return Poll::timed_out;
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

// Waits until `ready`; false when the deadline passes first.
template <typename Ready>
bool wait_for_state(std::unique_lock<std::mutex>& lock, Entry& e, Clock::time_point deadline, Ready ready) {
  while (!ready()) {
    if (e.changed.wait_until(lock, deadline) == std::cv_status::timeout && !ready()) return false;
  }
  return true;
}

void drop_ref(Registry& r, const std::shared_ptr<Entry>& e) {
  // Called with r.mutex held.
  if (--e->refs > 0) return;
  r.entries.erase({e->id.dev, e->id.ino});
  ::close(e->fd);
  for (int fd : e->spare) ::close(fd);
  e->fd = -1;
  e->spare.clear();
}

// Takes a shared hold on `e` (the caller holds a ref).
bool take_shared(Registry& r, Entry& e, Clock::time_point deadline) {
  std::unique_lock lock(r.mutex);
  if (!wait_for_state(lock, e, deadline, [&] { return !e.busy && !e.exclusive; })) return false;
  if (e.shared > 0 || !e.enforced) {
    ++e.shared;
    return true;
  }
  e.busy = true;
  lock.unlock();
  const Poll p = poll_flock(e.fd, LOCK_SH, deadline);
  lock.lock();
  e.busy = false;
  if (p == Poll::unsupported) e.enforced = false;
  if (p != Poll::timed_out) ++e.shared;
  e.changed.notify_all();
  return p != Poll::timed_out;
}

}  // namespace

FileHold::FileHold(FileHold&& other) noexcept
    : entry_(std::move(other.entry_)), mode_(std::exchange(other.mode_, Mode::none)) {}

FileHold& FileHold::operator=(FileHold&& other) noexcept {
  if (this != &other) {
    release();
    entry_ = std::move(other.entry_);
    mode_ = std::exchange(other.mode_, Mode::none);
  }
  return *this;
}

int FileHold::fd() const { return entry_ ? entry_->fd : -1; }
FileId FileHold::id() const { return entry_ ? entry_->id : FileId{}; }
bool FileHold::enforced() const { return entry_ && entry_->enforced; }

bool FileHold::still_at(const std::string& path) const {
  return entry_ && mode_ != Mode::none && file_id(path) == entry_->id;
}

void FileHold::release() {
  if (!entry_) return;
  std::shared_ptr<Entry> e = std::move(entry_);
  const Mode mode = std::exchange(mode_, Mode::none);
  // Inherited through fork(): the descriptor and its lock are the parent's.
  if (e->pid != ::getpid()) return;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (mode == Mode::shared) {
    --e->shared;
    if (e->shared == 0 && !e->busy && e->enforced) ::flock(e->fd, LOCK_UN);
  } else if (mode == Mode::exclusive) {
    e->exclusive = false;
    if (e->enforced) ::flock(e->fd, LOCK_UN);
  }
  e->changed.notify_all();
  drop_ref(r, e);
}

bool FileHold::make_exclusive(std::chrono::milliseconds wait) {
  if (!entry_) return false;
  if (mode_ == Mode::exclusive) return true;
  const auto deadline = Clock::now() + wait;
  Entry& e = *entry_;
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  if (mode_ == Mode::shared) {
    // Let go first, so that other processes waiting for the same thing can
    // get it (flock's conversions are not atomic anyway).
    --e.shared;
    if (e.shared == 0 && !e.busy && e.enforced) ::flock(e.fd, LOCK_UN);
    mode_ = Mode::none;
    e.changed.notify_all();
  }
  // Other holds of this process first, then (the kernel) other processes'.
  if (!wait_for_state(lock, e, deadline, [&] { return !e.busy && !e.exclusive && e.shared == 0; })) {
    lock.unlock();
    release();
    return false;
  }
  e.busy = true;
  lock.unlock();
  const Poll p = e.enforced ? poll_flock(e.fd, LOCK_EX, deadline) : Poll::ok;
  lock.lock();
  e.busy = false;
  if (p == Poll::unsupported) e.enforced = false;
  if (p != Poll::timed_out) {
    e.exclusive = true;
    mode_ = Mode::exclusive;
  }
  e.changed.notify_all();
  lock.unlock();
  if (mode_ == Mode::none) release();
  return mode_ == Mode::exclusive;
}

bool FileHold::make_shared(std::chrono::milliseconds wait) {
  if (!entry_) return false;
  if (mode_ == Mode::shared) return true;
  if (mode_ != Mode::exclusive) return false;
  const auto deadline = Clock::now() + wait;
  Entry& e = *entry_;
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  e.busy = true;  // keeps this process's other holds out while converting
  lock.unlock();
  const Poll p = e.enforced ? poll_flock(e.fd, LOCK_SH, deadline) : Poll::ok;
  lock.lock();
  e.busy = false;
  e.exclusive = false;
  if (p == Poll::unsupported) e.enforced = false;
  if (p != Poll::timed_out) {
    ++e.shared;
    mode_ = Mode::shared;
  } else {
    mode_ = Mode::none;
  }
  e.changed.notify_all();
  lock.unlock();
  if (mode_ == Mode::none) release();
  return mode_ == Mode::shared;
}

HoldResult hold_shared(const std::string& path, std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  Registry& r = registry();
  for (;;) {
    std::shared_ptr<Entry> e;
    {
      // A file this process holds already: use its descriptor. Opening and
      // closing another would drop SQLite's fcntl() locks on it.
      const FileId id = file_id(path);
      std::lock_guard lock(r.mutex);
      if (id.exists)
        if (auto it = r.entries.find({id.dev, id.ino}); it != r.entries.end()) {
          e = it->second;
          ++e->refs;
        }
    }
    if (!e) {
      int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
      if (fd < 0 && errno == ENOENT)
        fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
      if (fd < 0) {
        HoldResult out;
        out.error = errno;
        return out;
      }
      struct stat st {};
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        const int error = errno;
        const bool regular = S_ISREG(st.st_mode);
        ::close(fd);  // not a regular file: no SQLite connection has locks on it
        HoldResult out;
        if (regular)
          out.error = error;
        else
          out.not_regular = true;
        return out;
      }
      const FileId id{true, st.st_dev, st.st_ino};
      std::lock_guard lock(r.mutex);
      auto& slot = r.entries[{id.dev, id.ino}];
      if (slot) {
        // The path came to name a file this process holds since we looked.
        slot->spare.push_back(fd);
      } else {
        slot = std::make_shared<Entry>();
        slot->id = id;
        slot->pid = ::getpid();
        slot->fd = fd;
        slot->enforced = flock_usable(fd);
      }
      e = slot;
      ++e->refs;
    }
    if (!take_shared(r, *e, deadline)) {
      std::lock_guard lock(r.mutex);
      drop_ref(r, e);
      HoldResult out;
      out.timed_out = true;
      return out;
    }
    HoldResult out;
    out.hold = FileHold(std::move(e), FileHold::Mode::shared);
    if (out.hold.still_at(path)) return out;
    // Set aside (or replaced) between the open and the lock: start again
    // on whatever the path names now.
    out.hold.release();
    if (Clock::now() >= deadline) {
      out.timed_out = true;
      return out;
    }
  }
}

}  // namespace gemmtune::store
