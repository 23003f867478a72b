// CUBLASLT: the library as the rest of the backend uses it -- status
// checks, the process's handle, attribute setters -- and the descriptors of
// one (problem, setup): the matmul descriptor with its epilogue attributes,
// the four matrix layouts, and the heuristic's preferences (workspace,
// alignment).
#pragma once

#include <cstddef>
#include <string>

#include "backends/cublaslt/lt_epilogue.h"
#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "runtime/cuda/cuda_api.h"

namespace gemmtune::backends::cublaslt {

const cuda::CublasLtApi& lt();

// The library's text for a status ("CUBLAS_STATUS_NOT_SUPPORTED").
std::string lt_status(cublasStatus_t);

// A failed call as a rejection: out_of_resources for allocation failures,
// runtime_error otherwise; success for CUBLAS_STATUS_SUCCESS.
Status lt_check(cublasStatus_t, const std::string& call);

// One cuBLASLt handle for the process: it holds no stream and is safe to
// share between threads. Created on first use; never destroyed.
Expected<cublasLtHandle_t> lt_handle();

// set_desc runs in the kernel's run() (pointers change per call): the
// message is built only on failure.
template <typename T>
Status set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const T& value,
                const char* what) {
  const cublasStatus_t s = lt().cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof(T));
  if (s == CUBLAS_STATUS_SUCCESS) return Status::success();
  return lt_check(s, std::string("cublasLtMatmulDescSetAttribute(") + what + ")");
}

// Owns the descriptors of one problem.
struct Descs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t x = nullptr, y = nullptr, c = nullptr, d = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  Descs() = default;
  Descs(const Descs&) = delete;
  Descs& operator=(const Descs&) = delete;
  Descs(Descs&& o) noexcept { *this = std::move(o); }
  Descs& operator=(Descs&& o) noexcept;
  ~Descs();
};

// The descriptors of (problem, setup): placeholders stand for the bias and
// scale pointers (the heuristic reads them only for their alignment; the
// kernel sets the real ones per call), the heuristic may use up to
// `max_workspace` bytes, and every operand's guaranteed alignment is stated.
Expected<Descs> make_descs(const Problem&, const Setup&, std::size_t max_workspace);

}  // namespace gemmtune::backends::cublaslt
