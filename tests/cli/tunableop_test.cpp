// PyTorch TunableOp's CSV lines become gemmtune workload lines: BLAS's
// column-major (transa, transb, m, n, k, lda, ldb, ldc) turned back into the
// row-major torch product, dtypes renamed, Validator lines skipped, and every
// malformed or unsupported line refused with a message naming it.
#include <gtest/gtest.h>

#include "args.h"
#include "tunableop.h"
#include "workload.h"

namespace gemmtune::cli {
namespace {

using Words = std::vector<std::string>;

std::string refusal(const std::string& line) {
  try {
    tunableop_words(line, "cuda:0");
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << line;
  return "";
}

TEST(TunableOp, LinearForwardIsNtWithTorchsShape) {
  // x (128 x 4096) @ W.T with W (11008 x 4096): ATen calls gemm('t', 'n',
  // m=11008, n=128, k=4096, lda=4096, ldb=4096, ldc=11008).
  EXPECT_EQ(tunableop_words("GemmTunableOp_BFloat16_TN,tn_11008_128_4096_ld_4096_4096_11008", "cuda:0"),
            (Words{"mm", "128x11008x4096", "--dtype", "bf16", "--layout", "nt", "--device", "cuda:0"}));
}

TEST(TunableOp, TransposedAIsTheSecondBlasOperand) {
  // A stored column-major (x.T @ g, a weight gradient): BLAS transb = 't'.
  EXPECT_EQ(tunableop_words("GemmTunableOp_float_NT,nt_64_32_16_ld_64_32_64", "cuda:1"),
            (Words{"mm", "32x64x16", "--dtype", "f32", "--layout", "tn", "--device", "cuda:1"}));
}

TEST(TunableOp, NonDenseLeadingDimensionsBecomeLdFlags) {
  // A row-major with row stride 96 (a slice of a wider tensor), C with 80.
  EXPECT_EQ(tunableop_words("GemmTunableOp_Half_NN,nn_64_32_16_ld_64_96_80", "cuda:0"),
            (Words{"mm", "32x64x16", "--dtype", "f16", "--layout", "nn", "--lda", "96", "--ldc", "80", "--device",
                   "cuda:0"}));
}

TEST(TunableOp, BatchedBiasTf32AndScaledOperators) {
  EXPECT_EQ(tunableop_words("GemmStridedBatchedTunableOp_BFloat16_NN,nn_64_32_16_B_8_ld_64_16_64", "cuda:0"),
            (Words{"bmm", "8x32x64x16", "--dtype", "bf16", "--layout", "nn", "--device", "cuda:0"}));
  EXPECT_EQ(tunableop_words("GemmAndBiasTunableOp_BFloat16_TN,tn_256_16_128_ld_128_128_256", "cuda:0"),
            (Words{"addmm", "16x256x128", "--dtype", "bf16", "--layout", "nt", "--bias", "row", "--device", "cuda:0"}));
  EXPECT_EQ(tunableop_words("GemmTunableOp_tf32_NN,nn_8_8_8_ld_8_8_8", "cuda:0"),
            (Words{"mm", "8x8x8", "--dtype", "f32", "--layout", "nn", "--allow-tf32", "--device", "cuda:0"}));
  EXPECT_EQ(tunableop_words("ScaledGemmTunableOp_Float8_e4m3fn_Float8_e4m3fn_BFloat16_TN,"
                            "tn_256_64_128_ld_128_128_256_rw_1_bias_BFloat16",
                            "cuda:0"),
            (Words{"scaled_mm", "64x256x128", "--dtype", "f8e4m3", "--layout", "nt", "--out-dtype", "bf16",
                   "--scale-a", "per_channel", "--scale-b", "per_channel", "--bias", "row", "--device", "cuda:0"}));
}

TEST(TunableOp, OlderSignaturesWithoutLeadingDimensionsAreDense) {
  EXPECT_EQ(tunableop_words("GemmTunableOp_float_NT,nt_25088_4096_64,Gemm_Hipblaslt_1219,1.262", "cuda:0"),
            (Words{"mm", "4096x25088x64", "--dtype", "f32", "--layout", "tn", "--device", "cuda:0"}));
}

TEST(TunableOp, ValidatorLinesAreSkippedAndRecognised) {
  EXPECT_TRUE(is_tunableop_line("Validator,PT_VERSION,2.11.0"));
  EXPECT_TRUE(tunableop_words("Validator,PT_VERSION,2.11.0", "cuda:0").empty());
  EXPECT_TRUE(is_tunableop_line("GemmTunableOp_float_NN,nn_1_2_3"));
  EXPECT_FALSE(is_tunableop_line("mm 128x128x128 --dtype bf16"));
  EXPECT_FALSE(is_tunableop_line("mm 1x2x3 --db 'a_b,c'"));
}

TEST(TunableOp, MalformedOrUnsupportedLinesAreRefusedByName) {
  EXPECT_NE(refusal("GemmTunableOp_c10::complex<float>_NN,nn_8_8_8").find("not one gemmtune computes"),
            std::string::npos);
  EXPECT_NE(refusal("GemmTunableOp_float_NX,nn_8_8_8").find("_NN, _NT, _TN or _TT"), std::string::npos);
  EXPECT_NE(refusal("GemmTunableOp_float_NN,nt_8_8_8").find("disagree"), std::string::npos);
  EXPECT_NE(refusal("GemmTunableOp_float_NN,nn_8_x_8").find("'x' is not a non-negative integer"), std::string::npos);
  EXPECT_NE(refusal("FancyTunableOp_float_NN,nn_8_8_8").find("not one gemmtune tunes"), std::string::npos);
  EXPECT_NE(refusal("GemmTunableOp_float_NN").find("OPERATOR,PARAMETERS"), std::string::npos);
}

TEST(TunableOp, WorkloadFileMixesTunableOpAndGemmtuneLines) {
  Invocation base = parse_command_line({"tune", "--workload", "untuned.csv", "--backends", "CUBLAS"});
  auto items = parse_workload(
      "Validator,PT_VERSION,2.11.0\n"
      "GemmTunableOp_BFloat16_TN,tn_4096_128_4096_ld_4096_4096_4096\n"
      "mm 8x8x8\n",
      "untuned.csv", base);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].label, "untuned.csv:2");
  const Problem p = to_problem(items[0].invocation.problem);
  EXPECT_EQ(p.m, 128);
  EXPECT_EQ(p.n, 4096);
  EXPECT_EQ(p.a.dtype, DType::bf16);
  EXPECT_TRUE(p.b.is_col_major());
  EXPECT_EQ(p.device.kind, DeviceKind::cuda);
  EXPECT_EQ(to_tune_options(items[0].invocation.tune).backends, std::vector<std::string>{"CUBLAS"});
  try {
    parse_workload("GemmTunableOp_float_NN,nn_8_8\n", "untuned.csv", base);
    ADD_FAILURE() << "accepted a short line";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("untuned.csv:1: TunableOp line"), std::string::npos) << e.what();
  }
}

TEST(TunableOp, ALeadingDimensionErrorShowsTheLineInGemmtunesOwnTerms) {
  // The line's lda is BLAS's, of its column-major A, which is gemmtune's B:
  // the message names --ldb, so it shows the line as gemmtune reads it.
  Invocation base = parse_command_line({"tune", "--workload", "untuned.csv"});
  try {
    parse_workload("GemmTunableOp_float_NN,nn_4_5_6_ld_2_6_4\n", "untuned.csv", base);
    ADD_FAILURE() << "accepted a leading dimension smaller than its row";
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--ldb 2 is smaller than 4"), std::string::npos) << what;
    EXPECT_NE(what.find("in gemmtune's row-major terms: `gemmtune tune mm 5x4x6"), std::string::npos) << what;
  }
}

TEST(LeadingDimensions, LdFlagsSetTheStridesOfTheOperands) {
  Invocation inv = parse_command_line({"tune", "mm", "32x64x16", "--layout", "nt", "--lda", "40", "--ldb", "24",
                                       "--ldc", "80", "--alignment", "16"});
  const Problem p = to_problem(inv.problem);
  EXPECT_EQ(p.a.row_stride, 40);
  EXPECT_EQ(p.b.col_stride, 24);  // B column-major: its leading dimension is the column stride
  EXPECT_EQ(p.c.row_stride, 80);
  EXPECT_EQ(p.alignment, 16);
  try {
    parse_command_line({"tune", "mm", "32x64x16", "--lda", "8"});
    ADD_FAILURE() << "accepted a leading dimension smaller than the row";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--lda 8 is smaller than"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gemmtune::cli
