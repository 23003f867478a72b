// One CUDA device as the tuner and the GPU backends see it: the device's
// primary context (shared with every other user of the runtime API in the
// process, e.g. PyTorch), one non-blocking stream, device memory, copies,
// L2 scrubbing, event timing (optionally of CUDA-graph replays), and the
// exact reference computed on the device by a kernel compiled with NVRTC.
//
// Everything is loaded at run time (runtime/cuda/cuda_api.h). Without a
// driver or a GPU the runtime still exists and reports itself unavailable
// with the reason; every other call then returns that reason as a rejection.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/cuda/cuda_api.h"
#include "runtime/cuda/device_kernels.h"
#include "runtime/device_runtime.h"

namespace gemmtune::cuda {

struct DeviceInfo {
  std::string name;         // "NVIDIA H100 80GB HBM3"
  int sm_major = 0, sm_minor = 0;
  int sm_count = 0;
  std::size_t l2_bytes = 0;
  std::size_t memory_bytes = 0;
  int clock_khz = 0;         // peak SM clock; 0 when the driver does not say
  int memory_clock_khz = 0;  // peak memory clock; 0 when the driver does not say
  int driver_version = 0;   // 13000 for CUDA 13.0
  int sm() const { return sm_major * 10 + sm_minor; }
};

class CudaRuntime final : public runtime::DeviceRuntime {
 public:
  // Opens device `index` (loads the driver, cuInit, reads the device's
  // attributes). Failures make the runtime unavailable. The primary context,
  // the stream and the events are made on first use (make_current(),
  // stream()): a process that only looks up a stored result or hands the
  // measuring to a worker never creates a context (~0.1-0.2 s on an H100,
  // and as much again to release it).
  explicit CudaRuntime(int index);
  ~CudaRuntime() override;
  CudaRuntime(const CudaRuntime&) = delete;
  CudaRuntime& operator=(const CudaRuntime&) = delete;

  DeviceKind kind() const override { return DeviceKind::cuda; }
  Availability availability() const override { return availability_; }
  // "gpu=<name>;sm=<major><minor>;sms=<count>;l2=<bytes>;mem=<bytes>;clock=<kHz>;memclock=<kHz>;
  //  driver=<version>": the model and what makes its timings differ, never
  // the index, so identical GPUs share records. The libraries' versions are
  // the backends' (CUBLAS "cublas-13.1.0", CUBLASLT "cublasLt-…", CUDA
  // "cuda-templates-…;nvrtc-13.0"), keyed only where those backends are
  // enabled: a CUDA-only process then never loads cuBLAS (~0.05 s).
  std::string fingerprint() const override;
  std::size_t last_level_cache_bytes() const override { return info_.l2_bytes; }

  Expected<runtime::DeviceBuffer> allocate(std::size_t bytes) override;
  // Copies are ordered after everything already queued on stream() and have
  // completed when they return.
  Status copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) override;
  Status copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) override;
  Status copy_on_device(void* dst, const void* src, std::size_t bytes) override;
  // Queued on stream(); does not wait.
  Status fill_bytes(void* device_dst, unsigned char value, std::size_t bytes) override;
  // A kernel (kGatherKernel) on stream() packs the elements on the device;
  // one copy brings them back. Completed when it returns.
  Status gather(void* host_dst, const void* device_src, std::size_t width,
                const std::vector<std::int64_t>& offsets) override;
  Status synchronize() override;
  // The CUstream tuning runs on (non-blocking: it does not synchronize with
  // the legacy default stream, so kernels must be given this stream).
  // Null when the context cannot be created (make_current() says why).
  void* stream() override {
    (void)ensure_context();
    return stream_;
  }

  // Makes the context, the stream, the events and the reference module
  // (function(kReferenceKernel)) now, for a caller that overlaps them with
  // host work on another thread (DeviceRuntime::prepare).
  void prepare() override;

  // Queues, on stream(), writes over a buffer of twice the L2 size, which
  // evicts whatever the timed kernel would otherwise find in L2.
  Status flush_caches(const std::vector<runtime::MemoryRange>& ranges) override;

  // Device events around each run on stream(); with options.cuda_graph the
  // run is captured once into a CUDA graph and each timed run is one replay
  // (the graph always replays the capture's arguments).
  Expected<Timing> measure(const std::function<Status(int rep)>& run, const std::function<Status(int rep)>& prepare,
                           const MeasureOptions& options, double best_us) override;

  // The reference kernel on device data (args point to device memory).
  Expected<std::vector<runtime::ReferenceValue>> reference(const Problem&, const GemmArgs&,
                                                           const std::vector<runtime::OutputIndex>&) override;

  // ---- for the GPU backends ----
  int index() const { return index_; }
  const DeviceInfo& info() const { return info_; }
  const DriverApi& driver() const { return driver_api(); }
  // Makes this device's primary context current on the calling thread
  // (driver API calls act on the current context); the first call retains
  // it and creates the stream and the timing events.
  Status make_current() const;
  // One of the kernels in device_kernels.h, compiled on first use and
  // looked up once (later calls only take a lock and read a map).
  Expected<CUfunction> function(const char* name);
  // Compiles source with NVRTC for this device (cubin, sm_XY), through the
  // disk cache of use_cache_dir: the runtime's own kernels (the reference,
  // the library epilogue passes) are compiled once per machine, not in every
  // process (~0.3 s of NVRTC each).
  Expected<std::vector<char>> compile(const std::string& source, const std::vector<std::string>& options) const;

  // <cache_dir>/kernels (runtime/cuda/cubin_disk.h) for compile().
  void use_cache_dir(const std::string& cache_dir) override;

 protected:
  void release(void* ptr) noexcept override;

 private:
  std::string open();  // empty on success, else why the device is unusable
  std::string open_context() const;  // the same for the context, the stream and the events
  Status ensure_context() const;     // open_context() once; its failure every time after
  Status unavailable() const;
  Status ensure_module();
  Status ensure_scrub();

  int index_;
  Availability availability_;
  DeviceInfo info_;
  CUdevice device_ = 0;
  // Made once by make_current() (const: it is how every const caller gets
  // the context current), hence mutable.
  mutable std::once_flag context_once_;
  mutable std::string context_error_;
  mutable CUcontext context_ = nullptr;
  mutable CUstream stream_ = nullptr;
  mutable CUevent start_ = nullptr, stop_ = nullptr;
  std::mutex module_mutex_;
  CUmodule module_ = nullptr;
  std::string module_error_;
  mutable std::mutex folder_mutex_;  // compile() runs under module_mutex_ and outside it
  std::string code_folder_;          // guarded by folder_mutex_
  std::map<std::string, CUfunction, std::less<>> functions_;  // guarded by module_mutex_
  runtime::DeviceBuffer scrub_;
};

// The process-wide runtime of device `index` (cuda:N). An index the machine
// does not have gives a runtime that is unavailable and says so. Backends do
// not call this: they take their device from the TuningContext
// (runtime_of), which the tuner fills from here.
CudaRuntime& cuda_device(int index);

// The CUDA device a backend was given for a problem on cuda:N, or why it
// cannot use it: no runtime in the context, a runtime of another kind (a
// CPU runtime, a test fake), another index, or an unavailable device.
Expected<CudaRuntime*> runtime_of(const TuningContext&, const Problem&);

// Why NVRTC cannot compile for this machine, or empty when it can.
std::string nvrtc_unavailable_reason();

// A header a source may #include "name" (NVRTC reads no files).
struct NvrtcHeader {
  std::string name;
  std::string text;
};
// NVRTC to a cubin for `arch` ("sm_90", "sm_90a"); options after the
// architecture and -std=c++17. A compile error comes back as a rejection
// (compile_error) that carries NVRTC's log.
Expected<std::vector<char>> nvrtc_compile(const std::string& source, const std::string& arch,
                                          const std::vector<std::string>& options,
                                          const std::vector<NvrtcHeader>& headers = {},
                                          const std::string& name = "gemmtune_kernels.cu");

// Compiles the kernels in device_kernels.h for an architecture ("sm_90")
// without a GPU: lets machines without a GPU check the device code.
Expected<std::vector<char>> compile_kernels_for(const std::string& arch);
// Compiles any source for an architecture without a GPU (the GPU backends'
// own modules, checked on machines without a GPU).
Expected<std::vector<char>> compile_source_for(const std::string& source, const std::string& arch,
                                               const std::vector<std::string>& options);

// Converts a problem's matrix to the kernels' view.
DeviceMatrix device_matrix(const MatrixDesc&, const void* data);

}  // namespace gemmtune::cuda
