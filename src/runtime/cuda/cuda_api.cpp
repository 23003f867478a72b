#include "runtime/cuda/cuda_api.h"

#include <dlfcn.h>

#include <chrono>
#include <mutex>

#include "util/log.h"

namespace gemmtune::cuda {
namespace {

#define GEMMTUNE_STRINGIFY2(x) #x
#define GEMMTUNE_STRINGIFY(x) GEMMTUNE_STRINGIFY2(x)

// Opens the first candidate that loads. The handle is never closed: the
// tables live as long as the process. On failure, `error` quotes dlerror()
// for the first candidate (the one a user would expect to be there).
void* open_first(const std::vector<std::string>& candidates, std::string& opened, std::string& error) {
  std::string first_error;
  for (const auto& name : candidates) {
    dlerror();
    if (void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      opened = name;
      return handle;
    }
    const char* why = dlerror();
    if (first_error.empty()) first_error = why ? why : name + ": cannot be opened";
  }
  error = first_error.empty() ? "no candidate library names" : first_error;
  return nullptr;
}

template <typename Fn>
bool load_symbol(void* handle, const char* name, Fn& out, std::string& error) {
  dlerror();
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    const char* why = dlerror();
    error = std::string("missing symbol ") + name + (why ? std::string(" (") + why + ")" : std::string());
    return false;
  }
  out = reinterpret_cast<Fn>(symbol);
  return true;
}

std::vector<std::string> with_cuda_dirs(std::vector<std::string> sonames) {
  const std::size_t n = sonames.size();
  for (const char* dir : {"/usr/local/cuda/lib64/", "/usr/local/cuda/lib/"})
    for (std::size_t i = 0; i < n; ++i) sonames.push_back(dir + sonames[i]);
  return sonames;
}

// Loads a library API, with a debug line saying how long it took (cuBLAS,
// cuBLASLt and NVRTC are 0.1-0.5 GB: their loading shows in start-up).
template <class Api>
Api timed_load(const char* what, Api (*load)(const std::vector<std::string>&), std::vector<std::string> names) {
  const auto t0 = std::chrono::steady_clock::now();
  Api api = load(with_cuda_dirs(std::move(names)));
  log::debug(std::string(what) + (api.loaded ? " loaded in " : " not loaded in ") + log::ms_since(t0));
  return api;
}

}  // namespace

#define GEMMTUNE_LOAD(fn)                                                        \
  if (!load_symbol(handle, GEMMTUNE_STRINGIFY(fn), api.fn, api.error)) return api;

DriverApi load_driver_api(const std::vector<std::string>& candidates) {
  DriverApi api;
  void* handle = open_first(candidates, api.library, api.error);
  if (!handle) return api;
  GEMMTUNE_CUDA_DRIVER_FUNCTIONS(GEMMTUNE_LOAD)
  api.loaded = true;
  return api;
}

NvrtcApi load_nvrtc_api(const std::vector<std::string>& candidates) {
  NvrtcApi api;
  void* handle = open_first(candidates, api.library, api.error);
  if (!handle) return api;
  GEMMTUNE_NVRTC_FUNCTIONS(GEMMTUNE_LOAD)
  api.loaded = true;
  return api;
}

CublasApi load_cublas_api(const std::vector<std::string>& candidates) {
  CublasApi api;
  void* handle = open_first(candidates, api.library, api.error);
  if (!handle) return api;
  GEMMTUNE_LOAD(cublasCreate_v2)
  GEMMTUNE_LOAD(cublasDestroy_v2)
  GEMMTUNE_LOAD(cublasGetProperty)
  GEMMTUNE_LOAD(cublasGetStatusString)
  GEMMTUNE_LOAD(cublasSetStream_v2)
  GEMMTUNE_LOAD(cublasSetWorkspace_v2)
  GEMMTUNE_LOAD(cublasSetMathMode)
  GEMMTUNE_LOAD(cublasSetPointerMode_v2)
  GEMMTUNE_LOAD(cublasGemmEx)
  GEMMTUNE_LOAD(cublasGemmStridedBatchedEx)
  api.loaded = true;
  return api;
}

CublasLtApi load_cublaslt_api(const std::vector<std::string>& candidates) {
  CublasLtApi api;
  void* handle = open_first(candidates, api.library, api.error);
  if (!handle) return api;
  GEMMTUNE_CUBLASLT_FUNCTIONS(GEMMTUNE_LOAD)
  api.loaded = true;
  return api;
}

#undef GEMMTUNE_LOAD

const DriverApi& driver_api() {
  // The driver is installed with the kernel module, never beside the toolkit.
  static const DriverApi api = load_driver_api({"libcuda.so.1", "libcuda.so"});
  return api;
}

const NvrtcApi& nvrtc_api() {
  static const NvrtcApi api = timed_load("NVRTC", load_nvrtc_api, {"libnvrtc.so.13", "libnvrtc.so"});
  return api;
}

const CublasApi& cublas_api() {
  static const CublasApi api = timed_load("cuBLAS", load_cublas_api, {"libcublas.so.13", "libcublas.so"});
  return api;
}

const CublasLtApi& cublaslt_api() {
  static const CublasLtApi api = timed_load("cuBLASLt", load_cublaslt_api, {"libcublasLt.so.13", "libcublasLt.so"});
  return api;
}

std::string cublas_version() {
  const CublasApi& api = cublas_api();
  int major = 0, minor = 0, patch = 0;
  if (!api.loaded || api.cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      api.cublasGetProperty(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      api.cublasGetProperty(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS)
    return {};
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::string driver_error_text(CUresult r) {
  const DriverApi& api = driver_api();
  const char* name = nullptr;
  const char* text = nullptr;
  if (api.loaded) {
    api.cuGetErrorName(r, &name);
    api.cuGetErrorString(r, &text);
  }
  std::string out = name ? name : "CUresult " + std::to_string(static_cast<int>(r));
  if (text) out += std::string(" (") + text + ")";
  return out;
}

std::string cublas_status_text(cublasStatus_t s) {
  const CublasApi& api = cublas_api();
  const char* text = api.loaded ? api.cublasGetStatusString(s) : nullptr;
  return text ? std::string(text) : "cublasStatus " + std::to_string(static_cast<int>(s));
}

std::string nvrtc_error_text(nvrtcResult r) {
  const NvrtcApi& api = nvrtc_api();
  const char* text = api.loaded ? api.nvrtcGetErrorString(r) : nullptr;
  return text ? std::string(text) : "nvrtcResult " + std::to_string(static_cast<int>(r));
}

Rejection driver_failure(const std::string& call, CUresult r) {
  const Reason reason = r == CUDA_ERROR_OUT_OF_MEMORY ? Reason::out_of_resources : Reason::runtime_error;
  return reject(reason, call + " failed: " + driver_error_text(r));
}

Rejection cublas_failure(const std::string& call, cublasStatus_t s) {
  const Reason reason = s == CUBLAS_STATUS_ALLOC_FAILED ? Reason::out_of_resources : Reason::runtime_error;
  return reject(reason, call + " failed: " + cublas_status_text(s));
}

}  // namespace gemmtune::cuda
