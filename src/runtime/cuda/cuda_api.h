// The CUDA driver, NVRTC, cuBLAS and cuBLASLt, loaded at run time with
// dlopen so that one gemmtune binary runs on machines with and without a GPU.
// The CUDA headers are used for types and enums only; nothing links against
// the CUDA libraries at build time.
//
// Each library is a table of typed function pointers filled by dlsym. The
// driver's versioned entry points (cuda.h #defines cuMemAlloc to
// cuMemAlloc_v2, ...) are looked up under the name the header maps them to,
// so each pointer has exactly the ABI its declaration promises.
#pragma once

#include <cuda.h>
#include <cublasLt.h>
#include <cublas_api.h>
#include <nvrtc.h>

#include <string>
#include <vector>

#include "gemmtune/outcome.h"

namespace gemmtune::cuda {

// The driver functions gemmtune uses. X(name) expands with the header's
// macro already applied (cuMemAlloc -> cuMemAlloc_v2).
#define GEMMTUNE_CUDA_DRIVER_FUNCTIONS(X) \
  X(cuInit)                               \
  X(cuDriverGetVersion)                   \
  X(cuGetErrorName)                       \
  X(cuGetErrorString)                     \
  X(cuDeviceGetCount)                     \
  X(cuDeviceGet)                          \
  X(cuDeviceGetName)                      \
  X(cuDeviceGetAttribute)                 \
  X(cuDeviceTotalMem)                     \
  X(cuDevicePrimaryCtxRetain)             \
  X(cuDevicePrimaryCtxRelease)            \
  X(cuCtxSetCurrent)                      \
  X(cuCtxGetCurrent)                      \
  X(cuStreamCreate)                       \
  X(cuStreamDestroy)                      \
  X(cuStreamSynchronize)                  \
  X(cuStreamBeginCapture)                 \
  X(cuStreamEndCapture)                   \
  X(cuGraphInstantiateWithFlags)          \
  X(cuGraphLaunch)                        \
  X(cuGraphExecDestroy)                   \
  X(cuGraphDestroy)                       \
  X(cuMemAlloc)                           \
  X(cuMemFree)                            \
  X(cuMemGetInfo)                         \
  X(cuMemcpyHtoDAsync)                    \
  X(cuMemcpyDtoHAsync)                    \
  X(cuMemcpyDtoDAsync)                    \
  X(cuMemsetD8Async)                      \
  X(cuMemsetD32Async)                     \
  X(cuEventCreate)                        \
  X(cuEventDestroy)                       \
  X(cuEventRecord)                        \
  X(cuEventSynchronize)                   \
  X(cuEventElapsedTime)                   \
  X(cuModuleLoadData)                     \
  X(cuModuleUnload)                       \
  X(cuModuleGetFunction)                  \
  X(cuFuncSetAttribute)                   \
  X(cuFuncGetAttribute)                   \
  X(cuOccupancyMaxActiveBlocksPerMultiprocessor) \
  X(cuOccupancyMaxActiveClusters)         \
  X(cuTensorMapEncodeTiled)               \
  X(cuLaunchKernel)

#define GEMMTUNE_NVRTC_FUNCTIONS(X) \
  X(nvrtcVersion)                   \
  X(nvrtcGetErrorString)            \
  X(nvrtcCreateProgram)             \
  X(nvrtcDestroyProgram)            \
  X(nvrtcCompileProgram)            \
  X(nvrtcGetProgramLogSize)         \
  X(nvrtcGetProgramLog)             \
  X(nvrtcGetCUBINSize)              \
  X(nvrtcGetCUBIN)

#define GEMMTUNE_CUBLASLT_FUNCTIONS(X)     \
  X(cublasLtGetVersion)                    \
  X(cublasLtGetStatusString)               \
  X(cublasLtCreate)                        \
  X(cublasLtDestroy)                       \
  X(cublasLtMatmulDescCreate)              \
  X(cublasLtMatmulDescDestroy)             \
  X(cublasLtMatmulDescSetAttribute)        \
  X(cublasLtMatrixLayoutCreate)            \
  X(cublasLtMatrixLayoutDestroy)           \
  X(cublasLtMatrixLayoutSetAttribute)      \
  X(cublasLtMatmulPreferenceCreate)        \
  X(cublasLtMatmulPreferenceDestroy)       \
  X(cublasLtMatmulPreferenceSetAttribute)  \
  X(cublasLtMatmulAlgoGetHeuristic)        \
  X(cublasLtMatmulAlgoGetIds)              \
  X(cublasLtMatmulAlgoInit)                \
  X(cublasLtMatmulAlgoCheck)               \
  X(cublasLtMatmulAlgoCapGetAttribute)     \
  X(cublasLtMatmulAlgoConfigSetAttribute)  \
  X(cublasLtMatmulAlgoConfigGetAttribute)  \
  X(cublasLtMatmul)

#define GEMMTUNE_DECLARE_POINTER(fn) decltype(&::fn) fn = nullptr;

// Every table says whether it loaded and, if not, why: the library that
// could not be opened or the symbol that was missing, in the loader's words.
struct DriverApi {
  bool loaded = false;
  std::string error;
  std::string library;  // the file that was opened
  GEMMTUNE_CUDA_DRIVER_FUNCTIONS(GEMMTUNE_DECLARE_POINTER)
};

struct NvrtcApi {
  bool loaded = false;
  std::string error;
  std::string library;
  GEMMTUNE_NVRTC_FUNCTIONS(GEMMTUNE_DECLARE_POINTER)
};

// cuBLAS. cublas_api.h declares the _v2 entry points under their own names;
// cublasGemmEx and cublasGemmStridedBatchedEx also have C++ inline overloads
// in the header, so their pointer types are spelled out here.
struct CublasApi {
  bool loaded = false;
  std::string error;
  std::string library;
  cublasStatus_t (*cublasCreate_v2)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*cublasDestroy_v2)(cublasHandle_t) = nullptr;
  cublasStatus_t (*cublasGetProperty)(libraryPropertyType, int*) = nullptr;
  const char* (*cublasGetStatusString)(cublasStatus_t) = nullptr;
  cublasStatus_t (*cublasSetStream_v2)(cublasHandle_t, cudaStream_t) = nullptr;
  cublasStatus_t (*cublasSetWorkspace_v2)(cublasHandle_t, void*, size_t) = nullptr;
  cublasStatus_t (*cublasSetMathMode)(cublasHandle_t, cublasMath_t) = nullptr;
  cublasStatus_t (*cublasSetPointerMode_v2)(cublasHandle_t, cublasPointerMode_t) = nullptr;
  cublasStatus_t (*cublasGemmEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                                 const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                                 cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
  cublasStatus_t (*cublasGemmStridedBatchedEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                               const void*, const void*, cudaDataType, int, long long int,
                                               const void*, cudaDataType, int, long long int, const void*, void*,
                                               cudaDataType, int, long long int, int, cublasComputeType_t,
                                               cublasGemmAlgo_t) = nullptr;
};

struct CublasLtApi {
  bool loaded = false;
  std::string error;
  std::string library;
  GEMMTUNE_CUBLASLT_FUNCTIONS(GEMMTUNE_DECLARE_POINTER)
};

#undef GEMMTUNE_DECLARE_POINTER

// Process-wide tables, loaded once on first use from the usual sonames
// ("libcuda.so.1"; "libnvrtc.so.13" then "libnvrtc.so"; likewise cuBLAS and
// cuBLASLt, then /usr/local/cuda/lib{64,}/). Thread-safe.
const DriverApi& driver_api();
const NvrtcApi& nvrtc_api();
const CublasApi& cublas_api();
const CublasLtApi& cublaslt_api();

// Loads from an explicit list of candidate files (tests use this to check
// the messages for a missing library). Never cached.
DriverApi load_driver_api(const std::vector<std::string>& candidates);
NvrtcApi load_nvrtc_api(const std::vector<std::string>& candidates);
CublasApi load_cublas_api(const std::vector<std::string>& candidates);
CublasLtApi load_cublaslt_api(const std::vector<std::string>& candidates);

// The loaded cuBLAS's version, "13.0.1"; empty when it is not loaded or
// does not say.
std::string cublas_version();

// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)"; works without a driver too.
std::string driver_error_text(CUresult);
std::string cublas_status_text(cublasStatus_t);
std::string nvrtc_error_text(nvrtcResult);

// Rejections for a failed call, naming the call: "cuMemAlloc(1048576 bytes)
// failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)". Out-of-memory codes map
// to out_of_resources, everything else to runtime_error.
Rejection driver_failure(const std::string& call, CUresult);
Rejection cublas_failure(const std::string& call, cublasStatus_t);

// Checked calls: `if (auto s = check(api.cuX(...), "cuX(...)"); !s) return s;`
inline Status check(CUresult r, const char* call) {
  return r == CUDA_SUCCESS ? Status::success() : Status(driver_failure(call, r));
}
inline Status check(cublasStatus_t r, const char* call) {
  return r == CUBLAS_STATUS_SUCCESS ? Status::success() : Status(cublas_failure(call, r));
}

}  // namespace gemmtune::cuda
