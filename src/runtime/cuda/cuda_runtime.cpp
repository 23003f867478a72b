#include "runtime/cuda/cuda_runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <sstream>
#include <string_view>

#include "measure/timing.h"
#include "runtime/cuda/cubin_disk.h"
#include "util/log.h"

namespace gemmtune::cuda {
namespace {

std::string sm_name(int major, int minor) { return "sm_" + std::to_string(major) + std::to_string(minor); }

const std::vector<std::string> kKernelOptions{"--fmad=false"};

}  // namespace

// NVRTC for one architecture; the log is part of the message on failure.
Expected<std::vector<char>> nvrtc_compile(const std::string& source, const std::string& arch,
                                          const std::vector<std::string>& extra,
                                          const std::vector<NvrtcHeader>& headers, const std::string& name) {
  const NvrtcApi& api = nvrtc_api();
  if (!api.loaded) return reject(Reason::unavailable, "no NVRTC (" + api.error + ")");
  std::vector<const char*> header_texts, header_names;
  for (const NvrtcHeader& h : headers) {
    header_texts.push_back(h.text.c_str());
    header_names.push_back(h.name.c_str());
  }
  nvrtcProgram program = nullptr;
  if (nvrtcResult r = api.nvrtcCreateProgram(&program, source.c_str(), name.c_str(), static_cast<int>(headers.size()),
                                             header_texts.data(), header_names.data());
      r != NVRTC_SUCCESS)
    return reject(Reason::compile_error, "nvrtcCreateProgram failed: " + nvrtc_error_text(r));
  std::vector<std::string> options{"--gpu-architecture=" + arch, "-std=c++17"};
  options.insert(options.end(), extra.begin(), extra.end());
  std::vector<const char*> argv;
  for (const auto& o : options) argv.push_back(o.c_str());
  const nvrtcResult compiled = api.nvrtcCompileProgram(program, static_cast<int>(argv.size()), argv.data());
  std::string log;
  std::size_t log_size = 0;
  if (api.nvrtcGetProgramLogSize(program, &log_size) == NVRTC_SUCCESS && log_size > 1) {
    log.resize(log_size);
    api.nvrtcGetProgramLog(program, log.data());
    log.resize(log_size - 1);
  }
  Expected<std::vector<char>> out = std::vector<char>{};
  if (compiled != NVRTC_SUCCESS) {
    out = reject(Reason::compile_error, "NVRTC could not compile for " + arch + ": " + nvrtc_error_text(compiled) +
                                            (log.empty() ? "" : "\n" + log));
  } else {
    std::size_t size = 0;
    if (nvrtcResult r = api.nvrtcGetCUBINSize(program, &size); r != NVRTC_SUCCESS || size == 0) {
      out = reject(Reason::compile_error, "nvrtcGetCUBINSize failed: " + nvrtc_error_text(r));
    } else {
      std::vector<char> cubin(size);
      if (nvrtcResult g = api.nvrtcGetCUBIN(program, cubin.data()); g != NVRTC_SUCCESS)
        out = reject(Reason::compile_error, "nvrtcGetCUBIN failed: " + nvrtc_error_text(g));
      else
        out = std::move(cubin);
    }
  }
  api.nvrtcDestroyProgram(&program);
  return out;
}

std::string nvrtc_unavailable_reason() {
  const NvrtcApi& api = nvrtc_api();
  return api.loaded ? std::string() : "no NVRTC (" + api.error + ")";
}

Expected<std::vector<char>> compile_kernels_for(const std::string& arch) {
  return nvrtc_compile(reference_kernel_source(), arch, kKernelOptions);
}

Expected<std::vector<char>> compile_source_for(const std::string& source, const std::string& arch,
                                               const std::vector<std::string>& options) {
  return nvrtc_compile(source, arch, options);
}

DeviceMatrix device_matrix(const MatrixDesc& d, const void* data) {
  DeviceMatrix m;
  m.rows = d.rows;
  m.cols = d.cols;
  m.rs = d.row_stride;
  m.cs = d.col_stride;
  m.bs = d.batch_stride;
  m.data = data;
  m.dtype = static_cast<std::int32_t>(d.dtype);
  return m;
}

CudaRuntime::CudaRuntime(int index) : index_(index) {
  const std::string why = open();
  availability_ = why.empty() ? Availability::yes() : Availability::no(why);
}

std::string CudaRuntime::open() {
  const auto t0 = std::chrono::steady_clock::now();
  const DriverApi& api = driver_api();
  if (!api.loaded) return "no CUDA driver (" + api.error + ")";
  if (CUresult r = api.cuInit(0); r != CUDA_SUCCESS) return "cuInit failed: " + driver_error_text(r);
  log::debug("CUDA cuda:" + std::to_string(index_) + ": driver loaded and initialized in " + log::ms_since(t0));
  int count = 0;
  if (CUresult r = api.cuDeviceGetCount(&count); r != CUDA_SUCCESS)
    return "cuDeviceGetCount failed: " + driver_error_text(r);
  if (count == 0) return "no CUDA device (the driver reports 0 devices)";
  if (index_ < 0 || index_ >= count)
    return "cuda:" + std::to_string(index_) + " does not exist: this machine has " + std::to_string(count) +
           " CUDA device(s), cuda:0 to cuda:" + std::to_string(count - 1);
  auto failed = [](const char* call, CUresult r) { return std::string(call) + " failed: " + driver_error_text(r); };
  if (CUresult r = api.cuDeviceGet(&device_, index_); r != CUDA_SUCCESS) return failed("cuDeviceGet", r);
  char name[256] = {};
  if (CUresult r = api.cuDeviceGetName(name, sizeof(name) - 1, device_); r != CUDA_SUCCESS)
    return failed("cuDeviceGetName", r);
  info_.name = name;
  int l2 = 0;
  struct Attribute {
    CUdevice_attribute attribute;
    int* out;
  };
  for (const Attribute& a : {Attribute{CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &info_.sm_major},
                             Attribute{CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &info_.sm_minor},
                             Attribute{CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info_.sm_count},
                             Attribute{CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, &l2}}) {
    if (CUresult r = api.cuDeviceGetAttribute(a.out, a.attribute, device_); r != CUDA_SUCCESS)
      return failed("cuDeviceGetAttribute", r);
  }
  info_.l2_bytes = static_cast<std::size_t>(l2);
  // Clocks tell apart boards of one model run at other clocks (a power-capped
  // part, an SXM and a PCIe card). Newer drivers may drop these attributes;
  // then they stay 0 rather than making the device unusable.
  if (api.cuDeviceGetAttribute(&info_.clock_khz, CU_DEVICE_ATTRIBUTE_CLOCK_RATE, device_) != CUDA_SUCCESS)
    info_.clock_khz = 0;
  if (api.cuDeviceGetAttribute(&info_.memory_clock_khz, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, device_) !=
      CUDA_SUCCESS)
    info_.memory_clock_khz = 0;
  if (CUresult r = api.cuDeviceTotalMem(&info_.memory_bytes, device_); r != CUDA_SUCCESS)
    return failed("cuDeviceTotalMem", r);
  if (CUresult r = api.cuDriverGetVersion(&info_.driver_version); r != CUDA_SUCCESS)
    return failed("cuDriverGetVersion", r);
  return {};
}

std::string CudaRuntime::open_context() const {
  const auto t0 = std::chrono::steady_clock::now();
  const DriverApi& api = driver_api();
  auto failed = [](const char* call, CUresult r) { return std::string(call) + " failed: " + driver_error_text(r); };
  // The primary context is the one the CUDA runtime API (and so PyTorch)
  // uses: pointers from either side are valid in the other.
  if (CUresult r = api.cuDevicePrimaryCtxRetain(&context_, device_); r != CUDA_SUCCESS) {
    context_ = nullptr;
    return failed("cuDevicePrimaryCtxRetain", r);
  }
  if (CUresult r = api.cuCtxSetCurrent(context_); r != CUDA_SUCCESS) return failed("cuCtxSetCurrent", r);
  if (CUresult r = api.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING); r != CUDA_SUCCESS)
    return failed("cuStreamCreate", r);
  if (CUresult r = api.cuEventCreate(&start_, CU_EVENT_DEFAULT); r != CUDA_SUCCESS) return failed("cuEventCreate", r);
  if (CUresult r = api.cuEventCreate(&stop_, CU_EVENT_DEFAULT); r != CUDA_SUCCESS) return failed("cuEventCreate", r);
  log::debug("CUDA cuda:" + std::to_string(index_) + ": primary context, stream and events made in " + log::ms_since(t0));
  return {};
}

CudaRuntime::~CudaRuntime() {
  if (!context_) return;  // never used, or the context could not be made
  const DriverApi& api = driver_api();
  api.cuCtxSetCurrent(context_);
  scrub_.reset();
  if (module_) api.cuModuleUnload(module_);
  if (start_) api.cuEventDestroy(start_);
  if (stop_) api.cuEventDestroy(stop_);
  if (stream_) api.cuStreamDestroy(stream_);
  api.cuDevicePrimaryCtxRelease(device_);
}

Status CudaRuntime::unavailable() const { return reject(Reason::unavailable, availability_.why); }

Status CudaRuntime::ensure_context() const {
  if (!availability_.available) return unavailable();
  std::call_once(context_once_, [this] { context_error_ = open_context(); });
  if (!context_error_.empty())
    return reject(Reason::unavailable, "cuda:" + std::to_string(index_) + " has no usable context: " + context_error_);
  return Status::success();
}

Status CudaRuntime::make_current() const {
  if (Status s = ensure_context(); !s) return s;
  return check(driver().cuCtxSetCurrent(context_), "cuCtxSetCurrent");
}

std::string CudaRuntime::fingerprint() const {
  if (!availability_.available) return "cuda=unavailable";
  std::ostringstream out;
  out << "gpu=" << info_.name << ";sm=" << info_.sm_major << info_.sm_minor << ";sms=" << info_.sm_count
      << ";l2=" << info_.l2_bytes << ";mem=" << info_.memory_bytes << ";clock=" << info_.clock_khz
      << ";memclock=" << info_.memory_clock_khz << ";driver=" << info_.driver_version;
  return out.str();
}

Expected<runtime::DeviceBuffer> CudaRuntime::allocate(std::size_t bytes) {
  if (Status s = make_current(); !s) return s.error();
  if (bytes == 0) return runtime::DeviceBuffer(this, nullptr, 0);
  CUdeviceptr ptr = 0;
  if (CUresult r = driver().cuMemAlloc(&ptr, bytes); r != CUDA_SUCCESS)
    return driver_failure("cuMemAlloc(" + std::to_string(bytes) + " bytes)", r);
  return runtime::DeviceBuffer(this, reinterpret_cast<void*>(ptr), bytes);
}

void CudaRuntime::release(void* ptr) noexcept {
  if (!ptr || !context_) return;
  driver().cuCtxSetCurrent(context_);
  driver().cuMemFree(reinterpret_cast<CUdeviceptr>(ptr));
}

Status CudaRuntime::copy_from_host(void* dst, const void* src, std::size_t bytes) {
  if (Status s = make_current(); !s) return s;
  if (bytes == 0) return Status::success();
  if (Status s = check(driver().cuMemcpyHtoDAsync(reinterpret_cast<CUdeviceptr>(dst), src, bytes, stream_),
                       "cuMemcpyHtoDAsync");
      !s)
    return s;
  return check(driver().cuStreamSynchronize(stream_), "cuStreamSynchronize after a copy to the device");
}

Status CudaRuntime::copy_to_host(void* dst, const void* src, std::size_t bytes) {
  if (Status s = make_current(); !s) return s;
  if (bytes == 0) return Status::success();
  if (Status s = check(driver().cuMemcpyDtoHAsync(dst, reinterpret_cast<CUdeviceptr>(src), bytes, stream_),
                       "cuMemcpyDtoHAsync");
      !s)
    return s;
  return check(driver().cuStreamSynchronize(stream_), "cuStreamSynchronize after a copy to the host");
}

Status CudaRuntime::copy_on_device(void* dst, const void* src, std::size_t bytes) {
  if (Status s = make_current(); !s) return s;
  if (bytes == 0) return Status::success();
  if (Status s = check(driver().cuMemcpyDtoDAsync(reinterpret_cast<CUdeviceptr>(dst),
                                                  reinterpret_cast<CUdeviceptr>(src), bytes, stream_),
                       "cuMemcpyDtoDAsync");
      !s)
    return s;
  return check(driver().cuStreamSynchronize(stream_), "cuStreamSynchronize after a device copy");
}

Status CudaRuntime::fill_bytes(void* dst, unsigned char value, std::size_t bytes) {
  if (Status s = make_current(); !s) return s;
  if (bytes == 0) return Status::success();
  return check(driver().cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(dst), value, bytes, stream_),
               "cuMemsetD8Async");
}

Status CudaRuntime::gather(void* host_dst, const void* device_src, std::size_t width,
                           const std::vector<std::int64_t>& offsets) {
  if (Status s = make_current(); !s) return s;
  if (offsets.empty()) return Status::success();
  auto fn = function(kGatherKernel);
  if (!fn) return fn.error();
  auto offset_buffer = allocate(offsets.size() * sizeof(std::int64_t));
  if (!offset_buffer) return offset_buffer.error();
  auto packed = allocate(offsets.size() * width);
  if (!packed) return packed.error();
  if (Status s = copy_from_host(offset_buffer.value().get(), offsets.data(), offsets.size() * sizeof(std::int64_t));
      !s)
    return s;
  GatherParams params;
  params.src = static_cast<const unsigned char*>(device_src);
  params.offsets = static_cast<const std::int64_t*>(offset_buffer.value().get());
  params.out = static_cast<unsigned char*>(packed.value().get());
  params.count = static_cast<std::int64_t>(offsets.size());
  params.width = static_cast<std::int32_t>(width);
  void* kernel_args[] = {&params};
  constexpr unsigned kThreads = 128;
  const auto blocks = static_cast<unsigned>((offsets.size() + kThreads - 1) / kThreads);
  if (Status s = check(driver().cuLaunchKernel(fn.value(), blocks, 1, 1, kThreads, 1, 1, 0, stream_, kernel_args,
                                               nullptr),
                       "cuLaunchKernel(gemmtune_gather)");
      !s)
    return s;
  return copy_to_host(host_dst, packed.value().get(), offsets.size() * width);
}

Status CudaRuntime::synchronize() {
  if (Status s = make_current(); !s) return s;
  return check(driver().cuStreamSynchronize(stream_), "cuStreamSynchronize");
}

Status CudaRuntime::ensure_scrub() {
  if (scrub_.get()) return Status::success();
  // Twice the L2 so that nothing the timed kernel reads can survive, and at
  // least 64 MiB in case the attribute under-reports.
  const std::size_t bytes = std::max<std::size_t>(2 * info_.l2_bytes, std::size_t{64} << 20);
  auto buffer = allocate(bytes);
  if (!buffer) return buffer.error();
  scrub_ = std::move(buffer.value());
  return Status::success();
}

Status CudaRuntime::flush_caches(const std::vector<runtime::MemoryRange>&) {
  if (Status s = make_current(); !s) return s;
  if (Status s = ensure_scrub(); !s) return s;
  // A changing value: the writes cannot be elided as already done. Atomic:
  // runtimes of different devices may scrub from different threads.
  static std::atomic<unsigned> counter{0};
  const unsigned value = ++counter;
  return check(driver().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(scrub_.get()), value, scrub_.bytes() / 4,
                                         stream_),
               "cuMemsetD32Async (L2 scrub)");
}

Expected<Timing> CudaRuntime::measure(const std::function<Status(int rep)>& run,
                                      const std::function<Status(int rep)>& prepare, const MeasureOptions& options,
                                      double best_us) {
  if (Status s = make_current(); !s) return s.error();
  const DriverApi& api = driver();

  auto elapsed_us = [&]() -> Expected<double> {
    if (Status s = check(api.cuEventSynchronize(stop_), "cuEventSynchronize"); !s) {
      Rejection r = s.error();
      r.stage = Stage::run;
      return r;
    }
    float ms = 0;
    if (Status s = check(api.cuEventElapsedTime(&ms, start_, stop_), "cuEventElapsedTime"); !s) return s.error();
    return static_cast<double>(ms) * 1000.0;
  };
  // Events time each run to ~0.5 us: stop once the median is settled or
  // once the choice cannot win (measure::early_end).
  const measure::EarlyEnd end = measure::early_end(options, best_us);

  if (!options.cuda_graph) {
    return measure::repeat_and_summarize(
        [&](int rep) -> Expected<double> {
          if (Status s = prepare(rep); !s) return s.error();
          if (Status s = check(api.cuEventRecord(start_, stream_), "cuEventRecord"); !s) return s.error();
          if (Status s = run(rep); !s) return s.error();
          if (Status s = check(api.cuEventRecord(stop_, stream_), "cuEventRecord"); !s) return s.error();
          return elapsed_us();
        },
        options, end);
  }

  // One plain run first: libraries allocate and load lazily, which a
  // capture would refuse.
  if (Status s = run(-1); !s) return s.error();
  if (Status s = synchronize(); !s) return s.error();
  if (Status s = check(api.cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
      !s)
    return s.error();
  Status captured_run = run(0);
  CUgraph graph = nullptr;
  CUresult ended = api.cuStreamEndCapture(stream_, &graph);
  if (!captured_run) {
    if (graph) api.cuGraphDestroy(graph);
    Rejection r = captured_run.error();
    r.message = "while capturing a CUDA graph: " + r.message;
    return r;
  }
  if (ended != CUDA_SUCCESS) return driver_failure("cuStreamEndCapture (the run is not capturable)", ended);
  CUgraphExec exec = nullptr;
  CUresult instantiated = api.cuGraphInstantiateWithFlags(&exec, graph, 0);
  api.cuGraphDestroy(graph);
  if (instantiated != CUDA_SUCCESS) return driver_failure("cuGraphInstantiateWithFlags", instantiated);
  auto timing = measure::repeat_and_summarize(
      [&](int rep) -> Expected<double> {
        if (Status s = prepare(rep); !s) return s.error();
        if (Status s = check(api.cuEventRecord(start_, stream_), "cuEventRecord"); !s) return s.error();
        if (Status s = check(api.cuGraphLaunch(exec, stream_), "cuGraphLaunch"); !s) return s.error();
        if (Status s = check(api.cuEventRecord(stop_, stream_), "cuEventRecord"); !s) return s.error();
        return elapsed_us();
      },
      options, end);
  api.cuGraphExecDestroy(exec);
  return timing;
}

Expected<std::vector<char>> CudaRuntime::compile(const std::string& source,
                                                 const std::vector<std::string>& options) const {
  if (!availability_.available) return unavailable().error();
  const std::string arch = sm_name(info_.sm_major, info_.sm_minor);
  std::string identity = "gemmtune-runtime-kernels/1 arch=" + arch + " nvrtc=" + cubin_disk::nvrtc_version() +
                         " options=";
  for (const std::string& o : options) identity += o + ",";
  identity += " source=" + cubin_disk::hex64(cubin_disk::fnv1a(source)) + ":" + std::to_string(source.size());
  std::string folder;
  {
    std::lock_guard<std::mutex> lock(folder_mutex_);
    folder = code_folder_;
  }
  return cubin_disk::read_or_compile(folder, identity, [&] { return nvrtc_compile(source, arch, options); });
}

void CudaRuntime::use_cache_dir(const std::string& cache_dir) {
  std::lock_guard<std::mutex> lock(folder_mutex_);
  code_folder_ = cubin_disk::folder_for(cache_dir);
}

// Called with module_mutex_ held.
Status CudaRuntime::ensure_module() {
  if (module_) return Status::success();
  if (!module_error_.empty()) return reject(Reason::compile_error, module_error_);
  auto cubin = compile(reference_kernel_source(), kKernelOptions);
  if (!cubin) {
    if (cubin.error().reason == Reason::compile_error) module_error_ = cubin.error().message;
    return cubin.error();
  }
  return check(driver().cuModuleLoadData(&module_, cubin.value().data()), "cuModuleLoadData (gemmtune kernels)");
}

Expected<CUfunction> CudaRuntime::function(const char* name) {
  if (Status s = make_current(); !s) return s.error();
  std::lock_guard<std::mutex> lock(module_mutex_);
  if (auto it = functions_.find(std::string_view(name)); it != functions_.end()) return it->second;
  if (Status s = ensure_module(); !s) return s.error();
  CUfunction fn = nullptr;
  if (CUresult r = driver().cuModuleGetFunction(&fn, module_, name); r != CUDA_SUCCESS)
    return driver_failure("cuModuleGetFunction(" + std::string(name) + ")", r);
  functions_.emplace(name, fn);
  return fn;
}

void CudaRuntime::prepare() {
  const auto t0 = std::chrono::steady_clock::now();
  if (make_current() && function(kReferenceKernel))
    log::debug("CUDA cuda:" + std::to_string(index_) + ": context and reference module ready in " + log::ms_since(t0));
}

Expected<std::vector<runtime::ReferenceValue>> CudaRuntime::reference(const Problem& p, const GemmArgs& args,
                                                                      const std::vector<runtime::OutputIndex>& indices) {
  if (Status s = make_current(); !s) return s.error();
  std::vector<runtime::ReferenceValue> out(indices.size());
  if (indices.empty()) return out;
  auto fn = function(kReferenceKernel);
  if (!fn) return fn.error();

  ReferenceParams params;
  params.a = device_matrix(p.a, args.a);
  params.b = device_matrix(p.b, args.b);
  if (p.bias != BiasKind::none) params.bias = device_matrix(p.bias_desc, args.bias);
  params.k = p.k;
  params.alpha = p.alpha;
  params.beta = p.beta;
  params.integer = p.op == Op::int_mm;
  params.bias_kind = static_cast<std::int32_t>(p.bias);
  params.activation = static_cast<std::int32_t>(p.activation);
  // As the host reference: only scaled_mm and mixed_mm apply scales.
  if (p.op == Op::scaled_mm || p.op == Op::mixed_mm) {
    params.scale_a_kind = static_cast<std::int32_t>(p.scale_a);
    params.scale_b_kind = static_cast<std::int32_t>(p.scale_b);
    params.scale_a = args.scale_a;
    params.scale_b = args.scale_b;
  }
  params.wide = p.a.dtype == DType::f64 || p.b.dtype == DType::f64;

  // In chunks, so that a full check of a big output needs little memory.
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  const std::size_t chunk = std::min(kChunk, indices.size());
  auto index_buffer = allocate(chunk * 3 * sizeof(std::int64_t));
  if (!index_buffer) return index_buffer.error();
  auto value_buffer = allocate(chunk * 2 * sizeof(double));
  if (!value_buffer) return value_buffer.error();
  std::vector<std::int64_t> host_indices(chunk * 3);
  std::vector<double> host_values(chunk * 2);
  for (std::size_t first = 0; first < indices.size(); first += chunk) {
    const std::size_t count = std::min(chunk, indices.size() - first);
    for (std::size_t s = 0; s < count; ++s) {
      host_indices[3 * s] = indices[first + s].batch;
      host_indices[3 * s + 1] = indices[first + s].row;
      host_indices[3 * s + 2] = indices[first + s].col;
    }
    if (Status s = copy_from_host(index_buffer.value().get(), host_indices.data(), count * 3 * sizeof(std::int64_t));
        !s)
      return s.error();
    params.indices = static_cast<const std::int64_t*>(index_buffer.value().get());
    params.out = static_cast<double*>(value_buffer.value().get());
    params.count = static_cast<std::int64_t>(count);
    void* kernel_args[] = {&params};
    constexpr unsigned kThreads = 128;
    const auto blocks = static_cast<unsigned>((count + kThreads - 1) / kThreads);
    if (Status s = check(driver().cuLaunchKernel(fn.value(), blocks, 1, 1, kThreads, 1, 1, 0, stream_, kernel_args,
                                                 nullptr),
                         "cuLaunchKernel(gemmtune_reference)");
        !s)
      return s.error();
    if (Status s = copy_to_host(host_values.data(), value_buffer.value().get(), count * 2 * sizeof(double)); !s)
      return s.error();
    for (std::size_t s = 0; s < count; ++s) out[first + s] = {host_values[2 * s], host_values[2 * s + 1]};
  }
  return out;
}

CudaRuntime& cuda_device(int index) {
  // Never destroyed: a runtime outliving the process's other CUDA users
  // (PyTorch tears its context down at exit) must not touch the driver then.
  static std::mutex mutex;
  static auto* devices = new std::map<int, CudaRuntime*>();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = devices->find(index);
  if (it == devices->end()) it = devices->emplace(index, new CudaRuntime(index)).first;
  return *it->second;
}

Expected<CudaRuntime*> runtime_of(const TuningContext& ctx, const Problem& p) {
  if (ctx.device == nullptr)
    return reject(Reason::internal_error, "no device runtime in the tuning context for " + to_string(p.device));
  auto* rt = dynamic_cast<CudaRuntime*>(ctx.device);
  if (rt == nullptr) return reject(Reason::internal_error, "the tuning context's device runtime is not a CUDA device");
  if (rt->index() != p.device.index)
    return reject(Reason::internal_error, "the tuning context holds cuda:" + std::to_string(rt->index()) +
                                              ", the problem is on " + to_string(p.device));
  if (!rt->availability().available) return reject(Reason::unavailable, rt->availability().why);
  return rt;
}

}  // namespace gemmtune::cuda

namespace gemmtune::runtime {

DeviceRuntime& cuda_runtime(int index) { return cuda::cuda_device(index); }

}  // namespace gemmtune::runtime
