// A device as the tuner sees it: memory, copies, cache eviction, timing, and
// an exact reference computed where the data lives. The CPU runtime is plain
// host memory; the CUDA runtime loads the driver at run time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gemmtune/backend.h"
#include "gemmtune/options.h"
#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "gemmtune/record.h"

namespace gemmtune::runtime {

class DeviceRuntime;

// Memory on one device, freed on destruction. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceRuntime* owner, void* ptr, std::size_t bytes) : owner_(owner), ptr_(ptr), bytes_(bytes) {}
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }
  void reset();
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

 private:
  DeviceRuntime* owner_ = nullptr;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

struct MemoryRange {
  const void* data = nullptr;
  std::size_t bytes = 0;
};

// One output element, by batch, row and column.
struct OutputIndex {
  std::int64_t batch = 0, row = 0, col = 0;
};

// The exact value of one output element, and the size of what was summed to
// get it (|alpha| * sum |a*b| * |scales| + |beta * bias|), which scales the
// tolerance so cancellation cannot cause false alarms.
struct ReferenceValue {
  double value = 0;      // after the activation, before output rounding
  double magnitude = 0;
};

// Thread safety: one runtime object is shared by all tuners in a process;
// methods may be called from one thread at a time per runtime.
class DeviceRuntime {
 public:
  virtual ~DeviceRuntime() = default;

  virtual DeviceKind kind() const = 0;
  virtual Availability availability() const = 0;
  // Part of the store key: what makes timings from another machine invalid
  // here ("cpu=AMD EPYC 9R14;isa=avx2,avx512f,avx512_bf16;cores=2").
  virtual std::string fingerprint() const = 0;
  virtual std::size_t last_level_cache_bytes() const = 0;

  virtual Expected<DeviceBuffer> allocate(std::size_t bytes) = 0;
  virtual Status copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) = 0;
  virtual Status copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) = 0;
  virtual Status copy_on_device(void* dst, const void* src, std::size_t bytes) = 0;
  virtual Status fill_bytes(void* device_dst, unsigned char value, std::size_t bytes) = 0;
  // Copies the `width`-byte elements at offsets[i] (in units of `width`
  // bytes from device_src) to host_dst, packed in order (element i at
  // host_dst + i * width). width is 1, 2, 4 or 8. A sampled check reads a
  // few thousand elements this way instead of copying the whole output back
  // (16 ms for a 4096x4096 bf16 output on an H100).
  virtual Status gather(void* host_dst, const void* device_src, std::size_t width,
                        const std::vector<std::int64_t>& offsets) = 0;
  virtual Status synchronize() = 0;
  // The stream kernels run on during tuning (a CUstream), null for the CPU.
  virtual void* stream() { return nullptr; }

  // Makes now what the first use would make (CUDA: the context, the stream
  // and the reference module), so that a caller can overlap it with host
  // work, such as filling the inputs, on another thread. A failure is not
  // reported here: the first real call meets it again and says so.
  virtual void prepare() {}

  // Evicts these ranges from the caches (CPU: cache-line flush; GPU: the
  // ranges are ignored and the whole L2 is scrubbed).
  virtual Status flush_caches(const std::vector<MemoryRange>& ranges) = 0;

  // Times `run` (one kernel call). Warm-up runs first; then, until the
  // budget or max_repeats, `prepare(rep)` outside the timed region followed
  // by one timed `run(rep)`. Failures of run() come back as the rejection.
  // `best_us` > 0: the best median of the problem so far, from which the
  // early stops are drawn (measure::early_end: a choice that cannot win is
  // not timed to the end); a runtime whose first runs can be slowed by what
  // ran before (the CPU) does not use it.
  virtual Expected<Timing> measure(const std::function<Status(int rep)>& run,
                                   const std::function<Status(int rep)>& prepare, const MeasureOptions& options,
                                   double best_us) = 0;

  // The cache folder (TuningContext::cache_dir, "" = none), where the
  // runtime may keep code it compiles for itself for other processes to
  // reuse. The CPU runtime compiles nothing.
  virtual void use_cache_dir(const std::string& cache_dir) { (void)cache_dir; }

  // Exact reference values of the given output elements for device data.
  virtual Expected<std::vector<ReferenceValue>> reference(const Problem&, const GemmArgs&,
                                                          const std::vector<OutputIndex>&) = 0;

 protected:
  friend class DeviceBuffer;
  virtual void release(void* ptr) noexcept = 0;
};

// The process-wide runtime of a device. The CUDA runtime of an index reports
// itself unavailable (with the reason) when there is no driver, no GPU or no
// GPU of that index.
DeviceRuntime& cpu_runtime();
DeviceRuntime& cuda_runtime(int index = 0);
DeviceRuntime& runtime_for(Device);

}  // namespace gemmtune::runtime
