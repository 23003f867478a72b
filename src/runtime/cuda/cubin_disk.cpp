#include "runtime/cuda/cubin_disk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "runtime/cuda/cuda_api.h"

namespace gemmtune::cuda::cubin_disk {
namespace {

bool is_kernel_file_name(const char* name) {
  // 32 lowercase hex digits + ".cubin"
  if (std::strlen(name) != 38 || std::strcmp(name + 32, ".cubin") != 0) return false;
  for (int i = 0; i < 32; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i])) || std::isupper(static_cast<unsigned char>(name[i])))
      return false;
  return true;
}

constexpr char kMagic[8] = {'G', 'T', 'C', 'U', 'B', 'I', 'N', '1'};
constexpr std::size_t kMaxFileBytes = std::size_t{64} << 20;

bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// A folder we may use: a real directory (not a link) that we own.
bool usable_folder(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid();
}

}  // namespace

std::uint64_t fnv1a(std::string_view text, std::uint64_t h) {
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex64(std::uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::string nvrtc_version() {
  const NvrtcApi& api = nvrtc_api();
  int major = 0, minor = 0;
  if (!api.loaded || api.nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) return "none";
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string digest_of(std::string_view identity) {
  return hex64(fnv1a(identity)) + hex64(fnv1a(identity, 0x84222325cbf29ce4ull));
}

std::string folder_for(const std::string& cache_dir) { return cache_dir.empty() ? std::string() : cache_dir + "/kernels"; }

bool has(const std::string& folder, const std::string& digest) {
  if (folder.empty()) return false;
  struct stat st {};
  return ::lstat((folder + "/" + digest + ".cubin").c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::optional<std::vector<char>> read(const std::string& folder, const std::string& digest,
                                      const std::string& identity) {
  if (folder.empty()) return std::nullopt;
  const std::string path = folder + "/" + digest + ".cubin";
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<std::vector<char>> out;
  struct stat st {};
  bool damaged = false;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      static_cast<std::size_t>(st.st_size) <= kMaxFileBytes) {
    std::vector<char> bytes(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    // magic | u32 identity length | identity | u64 cubin length | u64 checksum | cubin
    std::size_t at = 0;
    auto take = [&](void* dst, std::size_t n) {
      if (at + n > got) return false;
      std::memcpy(dst, bytes.data() + at, n);
      at += n;
      return true;
    };
    char magic[8];
    std::uint32_t id_size = 0;
    std::uint64_t size = 0, sum = 0;
    damaged = true;
    if (take(magic, 8) && std::memcmp(magic, kMagic, 8) == 0 && take(&id_size, 4) && at + id_size <= got) {
      const bool same = id_size == identity.size() && std::memcmp(bytes.data() + at, identity.data(), id_size) == 0;
      at += id_size;
      if (take(&size, 8) && take(&sum, 8) && at + size == got &&
          fnv1a(std::string_view(bytes.data() + at, size)) == sum) {
        damaged = false;  // whole: another kernel's file is a miss, not damage
        if (same) out.emplace(bytes.begin() + static_cast<long>(at), bytes.end());
      }
    }
  }
  ::close(fd);
  if (out) {
    ::utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);  // recently used
  } else if (damaged) {
    // Ours by name and place but not readable as ours: a torn or stale file.
    ::unlink(path.c_str());
  }
  return out;
}

bool write(const std::string& folder, const std::string& digest, const std::string& identity,
           const std::vector<char>& cubin) {
  if (folder.empty()) return false;
  std::error_code ec;
  std::string parent = folder.substr(0, folder.rfind('/'));
  if (!usable_folder(folder)) {
    if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) return false;
    if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) return false;
    if (!usable_folder(folder)) return false;
  }
  std::string tmp = folder + "/.tmp-gt-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return false;
  const std::uint32_t id_size = static_cast<std::uint32_t>(identity.size());
  const std::uint64_t size = cubin.size();
  const std::uint64_t sum = fnv1a(std::string_view(cubin.data(), cubin.size()));
  const bool ok = write_all(fd, kMagic, 8) && write_all(fd, &id_size, 4) &&
                  write_all(fd, identity.data(), identity.size()) && write_all(fd, &size, 8) &&
                  write_all(fd, &sum, 8) && write_all(fd, cubin.data(), cubin.size());
  const bool closed = ::close(fd) == 0;
  const std::string path = folder + "/" + digest + ".cubin";
  if (!ok || !closed || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

void trim(const std::string& folder, std::uint64_t max_bytes) {
  if (folder.empty() || !usable_folder(folder)) return;
  DIR* dir = ::opendir(folder.c_str());
  if (!dir) return;
  struct File {
    std::string path;
    std::uint64_t bytes;
    std::int64_t used;  // mtime, ns
  };
  std::vector<File> files;
  std::uint64_t total = 0;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::int64_t hour_ago = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() - 3600'000'000'000;
  while (dirent* e = ::readdir(dir)) {
    const std::string path = folder + "/" + e->d_name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const std::int64_t used = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (std::strncmp(e->d_name, ".tmp-gt-", 8) == 0 && std::strlen(e->d_name) == 14) {
      if (used < hour_ago) ::unlink(path.c_str());  // left by a writer that died
      continue;
    }
    if (!is_kernel_file_name(e->d_name)) continue;
    files.push_back({path, static_cast<std::uint64_t>(st.st_size), used});
    total += static_cast<std::uint64_t>(st.st_size);
  }
  ::closedir(dir);
  if (total <= max_bytes) return;
  std::sort(files.begin(), files.end(), [](const File& a, const File& b) { return a.used < b.used; });
  const std::uint64_t goal = max_bytes / 10 * 9;
  for (const File& f : files) {
    if (total <= goal) break;
    if (::unlink(f.path.c_str()) == 0) total -= f.bytes;
  }
}


Expected<std::vector<char>> read_or_compile(const std::string& folder, const std::string& identity,
                                            const std::function<Expected<std::vector<char>>()>& compile,
                                            bool* from_disk) {
  const std::string digest = digest_of(identity);
  std::optional<std::vector<char>> stored = read(folder, digest, identity);
  if (from_disk) *from_disk = stored.has_value();
  if (stored) return std::move(*stored);
  Expected<std::vector<char>> compiled = compile();
  if (compiled.ok() && write(folder, digest, identity, compiled.value())) trim(folder, kDefaultMaxBytes);
  return compiled;
}

}  // namespace gemmtune::cuda::cubin_disk
