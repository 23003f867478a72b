#include "backends/cuda/framework/kernel_cache.h"

#include <algorithm>
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

using cuda::cubin_disk::fnv1a;
using cuda::cubin_disk::hex64;

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
  static const std::string compiler = cuda::cubin_disk::nvrtc_version();
  std::string text = "gemmtune-cuda-kernel/1 file=" + s.file + " entry=" + s.entry + " arch=" + s.arch +
                     " nvrtc=" + compiler + " sources=" + sources + " defines=";
  for (const auto& [name, value] : s.defines) text += name + "=" + value + ",";
  return text;
}

}  // namespace

std::string KernelSource::digest() const { return cuda::cubin_disk::digest_of(identity(*this)); }

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
        std::packaged_task<CubinResult()> task([this, s, folder]() -> CubinResult {
          bool from_disk = false;
          auto result = std::make_shared<const Expected<std::vector<char>>>(
              disk::read_or_compile(folder, identity(s), [&] { return compile(s); }, &from_disk));
          std::lock_guard<std::mutex> lock(state().mutex);
          ++(from_disk ? state().stats.disk_hits : state().stats.compiled);
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
