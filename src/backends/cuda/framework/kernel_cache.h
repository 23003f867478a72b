// Compiled kernels of the CUDA backend: NVRTC compilation of an embedded
// source with its configuration as -D constants, a cache on disk shared by
// processes, and the modules loaded in this process.
//
// A kernel is asked for by its KernelSource. Its identity (the digest) covers
// the main file and every header it can include, the defines, the target
// architecture and the NVRTC version: a change to any of them is a different
// kernel. Lookups go memory -> disk -> NVRTC. The disk cache lives under
// <cache dir>/kernels (TuningContext::cache_dir: the cache_dir option or
// GEMMTUNE_CACHE_DIR, else XDG, else HOME), one file per kernel named by its
// digest, written to a private temporary
// file and renamed into place (atomic; concurrent writers of one kernel write
// the same bytes), validated when read (magic, identity, length, checksum: a
// damaged or foreign file is a miss and is removed only if its name is one of
// ours), and bounded in size (least recently used files go first). Without
// a cache folder only the memory cache is used.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gemmtune/outcome.h"
#include "runtime/cuda/cubin_disk.h"
#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::backends::cuda_kernels {

struct KernelSource {
  std::string file;   // embedded main file, "hopper_gemm.cu"
  std::string entry;  // extern "C" kernel name in it
  std::string arch;   // NVRTC target: "sm_90a", "sm_80"
  std::vector<std::pair<std::string, std::string>> defines;  // -D name=value, in order

  // 32 hex digits identifying the compiled result (sources, defines,
  // architecture, NVRTC version).
  std::string digest() const;
  // NVRTC options for the defines.
  std::vector<std::string> options() const;
};

// Compiles to a cubin without a device (tests check every offered kernel on
// machines without a GPU this way). Not cached.
Expected<std::vector<char>> compile(const KernelSource&);

// Process-wide cache of loaded kernels. Thread-safe.
class KernelCache {
 public:
  static KernelCache& instance();

  // The kernel's function on `rt`'s device: loaded, else read from disk,
  // else compiled (and written to disk). A compile error or a module the
  // driver refuses comes back as a rejection and is remembered.
  // `folder` is the disk cache's folder ("" = none: disk::folder_for()).
  Expected<CUfunction> function(cuda::CudaRuntime& rt, const KernelSource&, const std::string& folder);

  // Brings every source not yet loaded on `rt`'s device in, compiling the
  // misses up to `threads` at a time. Failures are remembered for
  // function() to report; nothing here fails.
  void prepare(cuda::CudaRuntime& rt, const std::vector<KernelSource>&, int threads, const std::string& folder);

  // Whether function() can have this kernel without compiling it: loaded on
  // `rt`'s device, its cubin in memory, or a file for it in `folder` (not
  // read here: a damaged file is still compiled over by function()).
  bool ready(cuda::CudaRuntime& rt, const KernelSource&, const std::string& folder) const;

  // Counters, for tests and `--verbose` style reports.
  struct Stats {
    std::uint64_t compiled = 0;   // NVRTC runs
    std::uint64_t disk_hits = 0;  // cubins read from disk
    std::uint64_t memory_hits = 0;
  };
  Stats stats() const;

 private:
  KernelCache() = default;
  struct State;
  State& state() const;
};

// The disk cache (runtime/cuda/cubin_disk.h), by its old name here.
namespace disk = cuda::cubin_disk;

}  // namespace gemmtune::backends::cuda_kernels
