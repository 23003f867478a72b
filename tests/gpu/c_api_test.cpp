// The C API as a C caller sees it (linked against libgemmtune_c.so only):
// status codes and messages, a CPU problem tuned and run end to end, and a
// GPU problem refused with the reason where there is no GPU (running one
// through the C API on a GPU is bench/gpu/bench_vs_torch.py's part).
#include "gemmtune/c_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

bool backend_available(const std::string& name) {
  const std::string listing = gemmtune_backends();
  const auto at = listing.find(name + "\t");
  return at != std::string::npos && listing.compare(at + name.size() + 1, 9, "available") == 0;
}

TEST(CApi, UnknownBackendIsInvalidAndListsTheValidNames) {
  gemmtune_tuner* t = gemmtune_tuner_create("BLAS,NO_SUCH_BACKEND", nullptr);
  EXPECT_EQ(t, nullptr);
  const std::string error = gemmtune_last_error();
  EXPECT_NE(error.find("NO_SUCH_BACKEND"), std::string::npos) << error;
  EXPECT_NE(error.find("CUBLASLT"), std::string::npos) << error;
}

TEST(CApi, UnknownOptionIsInvalid) {
  EXPECT_EQ(gemmtune_tuner_create("BLAS", "cache=0;colour=blue"), nullptr);
  EXPECT_NE(std::string(gemmtune_last_error()).find("colour"), std::string::npos);
}

TEST(CApi, CpuProblemIsTunedAndRunOnCallerBuffers) {
  gemmtune_tuner* t = gemmtune_tuner_create("BLAS", "cache=0;budget_ms=2");
  ASSERT_NE(t, nullptr) << gemmtune_last_error();
  gemmtune_problem p;
  gemmtune_problem_init(&p);
  p.op = "addmm";
  p.m = 5;
  p.n = 7;
  p.k = 3;
  ASSERT_EQ(gemmtune_problem_dense(&p, "f32", "nt"), GEMMTUNE_OK) << gemmtune_last_error();
  EXPECT_STREQ(p.bias_kind, "row");
  p.beta = 2.0;
  gemmtune_selection* s = nullptr;
  ASSERT_EQ(gemmtune_select(t, &p, &s), GEMMTUNE_OK) << gemmtune_last_error();
  EXPECT_STREQ(gemmtune_selection_backend(s), "BLAS");
  EXPECT_GT(gemmtune_selection_time_us(s), 0.0);
  EXPECT_NE(std::string(gemmtune_selection_report(s)).find("\tok\t"), std::string::npos);
  std::vector<float> a(15), w(21), bias(7), c(35, -1.0f);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = 0.25f * static_cast<float>(i % 5) - 0.5f;
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.125f * static_cast<float>(i % 7) - 0.25f;
  for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<float>(i);
  gemmtune_args args{a.data(), w.data(), c.data(), bias.data(), nullptr, nullptr};
  ASSERT_EQ(gemmtune_run(s, &args, nullptr), GEMMTUNE_OK) << gemmtune_last_error();
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 7; ++j) {
      double want = 2.0 * bias[j];
      for (int kk = 0; kk < 3; ++kk) want += a[i * 3 + kk] * w[j * 3 + kk];  // B = W^T
      EXPECT_NEAR(c[i * 7 + j], want, 1e-5) << i << "," << j;
    }
  args.a = nullptr;  // a bad call is an error code, not a crash
  EXPECT_EQ(gemmtune_run(s, &args, nullptr), GEMMTUNE_INVALID);
  EXPECT_NE(std::string(gemmtune_last_error()).find("a.data"), std::string::npos) << gemmtune_last_error();
  gemmtune_selection_destroy(s);
  gemmtune_tuner_destroy(t);
}

TEST(CApi, GpuProblemWithoutAGpuIsNoValidChoicesWithTheReason) {
  if (backend_available("CUBLAS")) GTEST_SKIP() << "a GPU is present here";
  gemmtune_tuner* t = gemmtune_tuner_create("CUBLAS,CUBLASLT", "cache=0");
  ASSERT_NE(t, nullptr) << gemmtune_last_error();
  gemmtune_problem p;
  gemmtune_problem_init(&p);
  p.m = 16;
  p.n = 64;
  p.k = 64;
  ASSERT_EQ(gemmtune_problem_dense(&p, "bf16", "nt"), GEMMTUNE_OK);
  p.device = "cuda:0";
  gemmtune_selection* s = nullptr;
  EXPECT_EQ(gemmtune_select(t, &p, &s), GEMMTUNE_NO_VALID_CHOICES);
  EXPECT_EQ(s, nullptr);
  const std::string error = gemmtune_last_error();
  EXPECT_NE(error.find("CUBLASLT"), std::string::npos) << error;
  EXPECT_NE(error.find("unavailable"), std::string::npos) << error;
  gemmtune_tuner_destroy(t);
}

TEST(CApi, InvalidProblemFieldIsNamed) {
  gemmtune_tuner* t = gemmtune_tuner_create("BLAS", "cache=0");
  ASSERT_NE(t, nullptr);
  gemmtune_problem p;
  gemmtune_problem_init(&p);
  p.m = p.n = p.k = 4;
  ASSERT_EQ(gemmtune_problem_dense(&p, "f32", "nn"), GEMMTUNE_OK);
  p.activation = "tanh";
  gemmtune_selection* s = nullptr;
  EXPECT_EQ(gemmtune_select(t, &p, &s), GEMMTUNE_INVALID);
  EXPECT_NE(std::string(gemmtune_last_error()).find("tanh"), std::string::npos) << gemmtune_last_error();
  gemmtune_tuner_destroy(t);
}

}  // namespace
