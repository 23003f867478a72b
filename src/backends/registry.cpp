// The one explicit, ordered list of built-in backends. The order is the
// tie-break order when two choices time within the noise margin: library
// backends first, then generated kernels.
#include "backends/blas/blas_backend.h"
#include "backends/compiled_out.h"
#include "backends/cpp/cpp_backend.h"
#include "backends/reference/reference_backend.h"
#include "gemmtune/tuner.h"
#ifdef GEMMTUNE_HAVE_ONEDNN
#include "backends/onednn/onednn_backend.h"
#endif
#ifdef GEMMTUNE_HAVE_CUDA
#include "backends/cublas/cublas_backend.h"
#include "backends/cublaslt/cublaslt_backend.h"
#include "backends/cuda/cuda_backend.h"
#endif

namespace gemmtune {

std::vector<std::shared_ptr<Backend>> builtin_backends() {
  using backends::make_compiled_out_backend;
  std::vector<std::shared_ptr<Backend>> list;
  list.push_back(backends::make_reference_backend());
  list.push_back(backends::make_blas_backend());
#ifdef GEMMTUNE_HAVE_ONEDNN
  list.push_back(backends::make_onednn_backend());
#else
  list.push_back(make_compiled_out_backend("ONEDNN", DeviceKind::cpu, "built without oneDNN (libdnnl-dev was not found)"));
#endif
  list.push_back(backends::make_cpp_backend());
#ifdef GEMMTUNE_HAVE_CUDA
  list.push_back(backends::make_cublas_backend());
  list.push_back(backends::make_cublaslt_backend());
  list.push_back(backends::make_cuda_backend());
#else
  list.push_back(make_compiled_out_backend("CUBLAS", DeviceKind::cuda, "built without CUDA headers"));
  list.push_back(make_compiled_out_backend("CUBLASLT", DeviceKind::cuda, "built without CUDA headers"));
  list.push_back(make_compiled_out_backend("CUDA", DeviceKind::cuda, "built without CUDA headers"));
#endif
  return list;
}

}  // namespace gemmtune
