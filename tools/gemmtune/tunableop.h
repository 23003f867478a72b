// PyTorch TunableOp's CSV files (PYTORCH_TUNABLEOP_RECORD_UNTUNED=1 writes
// tunableop_untuned0.csv; tuned results files have the same first two
// fields) as gemmtune workload lines, so `gemmtune tune --workload` tunes
// what a model ran.
//
// A line is "OP_DTYPE_TT,PARAMS[,...]", e.g.
//   GemmTunableOp_BFloat16_TN,tn_4096_128_4096_ld_4096_4096_4096
// in BLAS's column-major terms: transa, transb, m, n, k, lda, ldb, ldc of the
// call ATen makes for a row-major torch product C (M x N) = A (M x K) . B
// (K x N), which is C^T = B^T . A^T: BLAS m = N, n = M, the BLAS "a" is
// torch's B (transa gives B's layout) and the BLAS "b" is torch's A.
// "Validator,..." lines carry versions and are skipped.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gemmtune::cli {

// Whether a workload line is TunableOp's (a Validator line or an operator line).
bool is_tunableop_line(std::string_view line);

// The gemmtune words of one TunableOp line ("mm", "128x4096x4096", "--dtype",
// "bf16", "--layout", "nt", "--device", "cuda:0", ...); an empty vector for a
// Validator line. Problems are CUDA problems (TunableOp records cuBLAS and
// hipBLAS calls) on `device`. Throws UsageError naming what is malformed or
// unsupported (complex or fnuz dtypes, unknown operators).
std::vector<std::string> tunableop_words(std::string_view line, const std::string& device);

}  // namespace gemmtune::cli
