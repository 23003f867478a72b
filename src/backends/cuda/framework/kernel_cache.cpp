#include "backends/cuda/framework/kernel_cache.h"

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
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "backends/cuda/framework/embedded.h"

namespace gemmtune::backends::cuda_kernels {

std::string_view embedded(std::string_view name) {
  for (const EmbeddedFile& f : embedded_files())
    if (f.name == name) return f.text;
  return {};
}

namespace {

std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex64(std::uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::string nvrtc_version() {
  const cuda::NvrtcApi& api = cuda::nvrtc_api();
  int major = 0, minor = 0;
  if (!api.loaded || api.nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) return "none";
  return std::to_string(major) + "." + std::to_string(minor);
}

// Every embedded header a kernel may include, for NVRTC.
const std::vector<cuda::NvrtcHeader>& headers() {
  static const std::vector<cuda::NvrtcHeader> list = [] {
    std::vector<cuda::NvrtcHeader> out;
    for (const EmbeddedFile& f : embedded_files())
      if (f.name.size() > 4 && f.name.substr(f.name.size() - 4) == ".cuh")
        out.push_back({std::string(f.name), std::string(f.text)});
    return out;
  }();
  return list;
}

// The identity of a compiled kernel as text: what the digest hashes, and
// what a disk file must repeat exactly to be taken.
std::string identity(const KernelSource& s) {
  static const std::string sources = [] {
    std::string all;
    for (const EmbeddedFile& f : embedded_files()) all += std::string(f.name) + ":" + hex64(fnv1a(f.text)) + ";";
    return all;
  }();
  static const std::string compiler = nvrtc_version();
  std::string text = "gemmtune-cuda-kernel/1 file=" + s.file + " entry=" + s.entry + " arch=" + s.arch +
                     " nvrtc=" + compiler + " sources=" + sources + " defines=";
  for (const auto& [name, value] : s.defines) text += name + "=" + value + ",";
  return text;
}

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

std::string KernelSource::digest() const {
  const std::string text = identity(*this);
  return hex64(fnv1a(text)) + hex64(fnv1a(text, 0x84222325cbf29ce4ull));
}

std::vector<std::string> KernelSource::options() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : defines) out.push_back("-D" + name + "=" + value);
  return out;
}

Expected<std::vector<char>> compile(const KernelSource& s) {
  const std::string_view text = embedded(s.file);
  if (text.empty()) return reject(Reason::internal_error, "no embedded kernel source " + s.file);
  return cuda::nvrtc_compile(std::string(text), s.arch, s.options(), headers(), s.file);
}

// ---------------------------------------------------------------- disk

namespace disk {

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

}  // namespace disk

// ---------------------------------------------------------------- cache

namespace {
using CubinResult = std::shared_ptr<const Expected<std::vector<char>>>;
}

struct KernelCache::State {
  std::mutex mutex;
  // Cubins by digest (the architecture is part of it), produced once.
  std::map<std::string, std::shared_future<CubinResult>> cubins;
  // Loaded functions by (device, digest); failures stay remembered.
  std::map<std::pair<int, std::string>, Expected<CUfunction>> loaded;
  Stats stats;
};

KernelCache& KernelCache::instance() {
  static auto* cache = new KernelCache();  // never destroyed: modules live as long as the process
  return *cache;
}

KernelCache::State& KernelCache::state() const {
  static auto* s = new State();
  return *s;
}

KernelCache::Stats KernelCache::stats() const {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().stats;
}

void KernelCache::prepare(cuda::CudaRuntime& rt, const std::vector<KernelSource>& sources, int threads,
                          const std::string& folder) {
  State& st = state();
  struct Need {
    const KernelSource* source;
    std::string digest;
    std::shared_future<CubinResult> cubin;
  };
  std::vector<Need> needs;
  std::vector<std::packaged_task<CubinResult()>> tasks;
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    for (const KernelSource& s : sources) {
      std::string digest = s.digest();
      if (st.loaded.count({rt.index(), digest})) continue;
      if (std::any_of(needs.begin(), needs.end(), [&](const Need& n) { return n.digest == digest; })) continue;
      auto it = st.cubins.find(digest);
      if (it == st.cubins.end()) {
        // Produced by the tasks below: from disk, else NVRTC (then stored).
        std::packaged_task<CubinResult()> task([this, s, digest, folder]() -> CubinResult {
          const std::string id = identity(s);
          if (auto cubin = disk::read(folder, digest, id)) {
            std::lock_guard<std::mutex> lock(state().mutex);
            ++state().stats.disk_hits;
            return std::make_shared<const Expected<std::vector<char>>>(std::move(*cubin));
          }
          auto result = std::make_shared<Expected<std::vector<char>>>(compile(s));
          {
            std::lock_guard<std::mutex> lock(state().mutex);
            ++state().stats.compiled;
          }
          if (result->ok() && disk::write(folder, digest, id, result->value())) disk::trim(folder, disk::kDefaultMaxBytes);
          return result;
        });
        it = st.cubins.emplace(digest, task.get_future().share()).first;
        tasks.push_back(std::move(task));
      }
      needs.push_back({&s, digest, it->second});
    }
  }
  if (needs.empty()) {
    std::lock_guard<std::mutex> lock(st.mutex);
    st.stats.memory_hits += sources.size();
    return;
  }
  // Run this call's tasks on up to `threads` threads (this one included).
  const std::size_t workers = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), 1, tasks.size() ? tasks.size() : 1);
  std::mutex next_mutex;
  std::size_t next = 0;
  auto drain = [&] {
    for (;;) {
      std::size_t i;
      {
        std::lock_guard<std::mutex> lock(next_mutex);
        if (next == tasks.size()) return;
        i = next++;
      }
      tasks[i]();
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < workers; ++i) pool.emplace_back(drain);
  drain();
  for (auto& t : pool) t.join();

  // Load the modules on this device (its context current on this thread).
  const Status current = rt.make_current();
  std::lock_guard<std::mutex> lock(st.mutex);
  for (Need& n : needs) {
    const auto key = std::make_pair(rt.index(), n.digest);
    if (st.loaded.count(key)) continue;
    const CubinResult cubin = n.cubin.get();  // tasks of other callers may still run: wait for them
    if (!current) {
      st.loaded.emplace(key, current.error());
      continue;
    }
    if (!cubin->ok()) {
      st.loaded.emplace(key, cubin->error());
      continue;
    }
    CUmodule module = nullptr;
    Expected<CUfunction> fn = reject(Reason::internal_error, "not loaded");
    if (Status s = cuda::check(rt.driver().cuModuleLoadData(&module, cubin->value().data()),
                               ("cuModuleLoadData(" + n.source->file + ")").c_str());
        !s) {
      fn = s.error();
    } else {
      CUfunction f = nullptr;
      if (Status g = cuda::check(rt.driver().cuModuleGetFunction(&f, module, n.source->entry.c_str()),
                                 ("cuModuleGetFunction(" + n.source->entry + ")").c_str());
          !g)
        fn = g.error();
      else
        fn = f;
    }
    st.loaded.emplace(key, std::move(fn));
    st.cubins.erase(n.digest);  // loaded: the bytes are no longer needed here
  }
}

bool KernelCache::ready(cuda::CudaRuntime& rt, const KernelSource& source, const std::string& folder) const {
  const std::string digest = source.digest();
  {
    std::lock_guard<std::mutex> lock(state().mutex);
    if (state().loaded.count({rt.index(), digest}) || state().cubins.count(digest)) return true;
  }
  return disk::has(folder, digest);
}

Expected<CUfunction> KernelCache::function(cuda::CudaRuntime& rt, const KernelSource& source,
                                          const std::string& folder) {
  const std::string digest = source.digest();
  {
    std::lock_guard<std::mutex> lock(state().mutex);
    auto it = state().loaded.find({rt.index(), digest});
    if (it != state().loaded.end()) {
      ++state().stats.memory_hits;
      return it->second;
    }
  }
  prepare(rt, {source}, 1, folder);
  std::lock_guard<std::mutex> lock(state().mutex);
  auto it = state().loaded.find({rt.index(), digest});
  if (it == state().loaded.end()) return reject(Reason::internal_error, "kernel " + source.entry + " was not loaded");
  return it->second;
}

}  // namespace gemmtune::backends::cuda_kernels
