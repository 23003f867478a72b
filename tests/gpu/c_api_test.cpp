// The C API as a C caller sees it (linked against libgemmtune_c.so only):
// status codes and messages, a CPU problem tuned and run end to end, and a
// GPU problem refused with the reason where there is no GPU (running one
// through the C API on a GPU is bench/gpu/bench_vs_torch.py's part).
#include "gemmtune/c_api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

bool backend_available(const std::string& name) {
  const std::string listing = gemmtune_backends();
  const auto at = listing.find(name + "\t");
  return at != std::string::npos && listing.compare(at + name.size() + 1, 9, "available") == 0;
}

// A dense f32 nn problem m x n x k (op mm unless set after).
gemmtune_problem dense_f32(std::int64_t m, std::int64_t n, std::int64_t k) {
  gemmtune_problem p;
  gemmtune_problem_init(&p);
  p.m = m;
  p.n = n;
  p.k = k;
  EXPECT_EQ(gemmtune_problem_dense(&p, "f32", "nn"), GEMMTUNE_OK) << gemmtune_last_error();
  return p;
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
  gemmtune_problem p = dense_f32(4, 4, 4);
  p.activation = "tanh";
  gemmtune_selection* s = nullptr;
  EXPECT_EQ(gemmtune_select(t, &p, &s), GEMMTUNE_INVALID);
  EXPECT_NE(std::string(gemmtune_last_error()).find("tanh"), std::string::npos) << gemmtune_last_error();
  gemmtune_tuner_destroy(t);
}

TEST(CApi, OptionsAreSetByTheTableNamesAndCheckedAtOnce) {
  gemmtune_options* o = gemmtune_options_create();
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(gemmtune_options_set(o, "backends", "blas"), GEMMTUNE_OK);
  EXPECT_EQ(gemmtune_options_set(o, "cache", "0"), GEMMTUNE_OK);
  EXPECT_EQ(gemmtune_options_set(o, "fallback", "1"), GEMMTUNE_OK);  // the older key still works
  EXPECT_EQ(gemmtune_options_set(o, "budget_ms", "soon"), GEMMTUNE_INVALID);
  const std::string error = gemmtune_last_error();
  EXPECT_NE(error.find("option budget_ms expects a positive number"), std::string::npos) << error;
  EXPECT_NE(std::string(gemmtune_last_error_json()).find("\"type\":\"ConfigError\""), std::string::npos);
  EXPECT_EQ(gemmtune_options_set(o, "colour", "blue"), GEMMTUNE_INVALID);
  EXPECT_NE(std::string(gemmtune_last_error()).find("fallback_to_library"), std::string::npos)
      << "the message lists the valid names: " << gemmtune_last_error();
  EXPECT_EQ(gemmtune_options_set(o, "log", "debug"), GEMMTUNE_INVALID);  // process-wide: environment only
  EXPECT_NE(std::string(gemmtune_last_error()).find("GEMMTUNE_LOG"), std::string::npos);
  gemmtune_tuner* t = gemmtune_tuner_create_with_options(o);
  gemmtune_options_destroy(o);
  ASSERT_NE(t, nullptr) << gemmtune_last_error();
  EXPECT_STREQ(gemmtune_tuner_enabled(t), "BLAS");
  EXPECT_STREQ(gemmtune_tuner_db_path(t), "");
  gemmtune_tuner_destroy(t);
}

TEST(CApi, OptionTableIsJsonWithEveryVariable) {
  const std::string table = gemmtune_option_table();
  ASSERT_FALSE(table.empty());
  EXPECT_EQ(table.front(), '[');
  for (const char* needle : {"\"GEMMTUNE_BACKENDS\"", "\"fallback_to_library\"", "\"--budget-ms\"", "\"cache_dir\""})
    EXPECT_NE(table.find(needle), std::string::npos) << needle;
  EXPECT_EQ(gemmtune_abi_version(), GEMMTUNE_C_ABI_VERSION);
}

TEST(CApi, NoValidChoicesErrorCarriesEveryRejectionAsJson) {
  gemmtune_tuner* t = gemmtune_tuner_create("BLAS", "cache=0");
  ASSERT_NE(t, nullptr) << gemmtune_last_error();
  gemmtune_problem p;
  gemmtune_problem_init(&p);
  p.op = "int_mm";
  p.m = p.n = p.k = 16;
  ASSERT_EQ(gemmtune_problem_dense(&p, "i8", "nn"), GEMMTUNE_OK) << gemmtune_last_error();
  gemmtune_selection* s = nullptr;
  ASSERT_EQ(gemmtune_select(t, &p, &s), GEMMTUNE_NO_VALID_CHOICES);
  const std::string json = gemmtune_last_error_json();
  EXPECT_NE(json.find("\"type\":\"NoValidChoicesError\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"stage\":\"enumerate\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"reason\":\"unsupported_dtype\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"hints\""), std::string::npos) << json;
  gemmtune_tuner_destroy(t);
}

TEST(CApi, SelectionRecordIsJsonWithTheWinner) {
  gemmtune_tuner* t = gemmtune_tuner_create("BLAS", "cache=0;budget_ms=1");
  ASSERT_NE(t, nullptr) << gemmtune_last_error();
  gemmtune_problem p = dense_f32(8, 8, 8);
  gemmtune_selection* s = nullptr;
  ASSERT_EQ(gemmtune_select(t, &p, &s), GEMMTUNE_OK) << gemmtune_last_error();
  const std::string record = gemmtune_selection_record_json(s);
  EXPECT_NE(record.find("\"winner\":{"), std::string::npos) << record;
  EXPECT_NE(record.find("\"backend\":\"BLAS\""), std::string::npos) << record;
  const char* explained = nullptr;
  ASSERT_EQ(gemmtune_explain(t, &p, &explained), GEMMTUNE_OK) << gemmtune_last_error();
  EXPECT_NE(std::string(explained).find("disabled_would_serve"), std::string::npos);
  gemmtune_selection_destroy(s);
  gemmtune_tuner_destroy(t);
}

TEST(CApi, DatabaseRecordsOfAMissingFileIsAnErrorThatCreatesNothing) {
  const char* json = nullptr;
  const std::string path = ::testing::TempDir() + "/gemmtune_no_such_dir/tuning.db";
  EXPECT_EQ(gemmtune_database_records(path.c_str(), &json), GEMMTUNE_INVALID);
  EXPECT_NE(std::string(gemmtune_last_error()).find("does not exist"), std::string::npos);
  FILE* f = std::fopen(path.c_str(), "r");
  EXPECT_EQ(f, nullptr);
  if (f) std::fclose(f);
}

// Several devices (issue 12): a bad list is refused before any work; on a
// GPU machine, a workload over cuda:0 comes back in the problems' order.
TEST(CApi, ADatabasePathTheStoreCannotUseIsInvalidLikeTheClisExit2) {
  // A folder as the database, and a file that is not a gemmtune database:
  // the caller's input, nothing changed (StoreInputError), so status 2.
  const std::string dir = ::testing::TempDir() + "capi_store_input_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  gemmtune_tuner* t = gemmtune_tuner_create("BLAS", ("budget_ms=2;db=" + dir).c_str());
  if (t == nullptr) {
    EXPECT_NE(std::string(gemmtune_last_error_json()).find("\"status\":2"), std::string::npos)
        << gemmtune_last_error_json();
  } else {
    gemmtune_problem p = dense_f32(8, 8, 8);
    gemmtune_selection* s = nullptr;
    EXPECT_EQ(gemmtune_select(t, &p, &s), GEMMTUNE_INVALID) << gemmtune_last_error();
    EXPECT_EQ(s, nullptr);
    gemmtune_tuner_destroy(t);
  }
  const std::string text_file = dir + "/notes.txt";
  std::FILE* f = std::fopen(text_file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("not a database\n", f);
  std::fclose(f);
  const char* json = nullptr;
  EXPECT_EQ(gemmtune_database_records(text_file.c_str(), &json), GEMMTUNE_INVALID);
  EXPECT_NE(std::string(gemmtune_last_error_json()).find("StoreInputError"), std::string::npos)
      << gemmtune_last_error_json();
  EXPECT_EQ(std::filesystem::file_size(text_file), 15u);  // left as it was
  std::filesystem::remove_all(dir);
}

TEST(CApi, ThreadsSharingOneTunerTakeTurnsAndEachGetsItsSelection) {
  // With its results cache: the store is the shared state that crashed.
  const std::string dir = ::testing::TempDir() + "capi_shared_tuner_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  gemmtune_tuner* t =
      gemmtune_tuner_create("BLAS,CPP", ("budget_ms=1;min_repeats=1;cache_dir=" + dir).c_str());
  ASSERT_NE(t, nullptr) << gemmtune_last_error();
  std::vector<int> status(3, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] {
      int worst = GEMMTUNE_OK;
      for (int j = 0; j < 6; ++j) {
        gemmtune_problem p = dense_f32(8 + 8 * i, 16 + 8 * j, 24);
        gemmtune_selection* s = nullptr;
        const int rc = gemmtune_select(t, &p, &s);
        if (rc != GEMMTUNE_OK) worst = rc;
        gemmtune_selection_destroy(s);
      }
      status[i] = worst;
    });
  for (auto& th : threads) th.join();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(status[i], GEMMTUNE_OK) << "thread " << i;
  gemmtune_tuner_destroy(t);
  std::filesystem::remove_all(dir);
}

TEST(CApi, ThreadsRunningOneSelectionEachGetTheirOwnExactResult) {
  // CPP's kernels pack into scratch the selection owns: runs through one
  // handle must take turns, or one thread's packing overwrites another's.
  gemmtune_tuner* t = gemmtune_tuner_create("CPP", "cache=0;budget_ms=2");
  ASSERT_NE(t, nullptr) << gemmtune_last_error();
  gemmtune_problem p = dense_f32(96, 96, 96);
  gemmtune_selection* s = nullptr;
  ASSERT_EQ(gemmtune_select(t, &p, &s), GEMMTUNE_OK) << gemmtune_last_error();
  const int n = 96;
  std::vector<float> b(n * n);
  for (int i = 0; i < n * n; ++i) b[i] = static_cast<float>((i * 7) % 11) - 5.0f;
  std::vector<int> wrong(2, 0);
  std::vector<std::thread> threads;
  for (int th = 0; th < 2; ++th)
    threads.emplace_back([&, th] {
      // Small integers: every sum is exact in f32, so any difference is a race.
      std::vector<float> a(n * n), c(n * n), want(n * n, 0.0f);
      for (int i = 0; i < n * n; ++i) a[i] = static_cast<float>((i * (3 + 2 * th)) % 7) - 3.0f;
      for (int i = 0; i < n; ++i)
        for (int kk = 0; kk < n; ++kk)
          for (int j = 0; j < n; ++j) want[i * n + j] += a[i * n + kk] * b[kk * n + j];
      for (int rep = 0; rep < 150; ++rep) {
        std::fill(c.begin(), c.end(), -1.0f);
        if (gemmtune_selection_run(s, a.data(), b.data(), c.data(), nullptr, nullptr, nullptr, nullptr) != GEMMTUNE_OK ||
            c != want)
          ++wrong[th];
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong[0], 0) << gemmtune_selection_choice(s);
  EXPECT_EQ(wrong[1], 0) << gemmtune_selection_choice(s);
  gemmtune_selection_destroy(s);
  gemmtune_tuner_destroy(t);
}

TEST(CApi, TuneOnDevicesRefusesABadDeviceListNamingIt) {
  gemmtune_problem p = dense_f32(8, 8, 8);
  const char* json = nullptr;
  EXPECT_EQ(gemmtune_tune_on_devices(nullptr, &p, 1, nullptr, &json), GEMMTUNE_INVALID);
  EXPECT_NE(std::string(gemmtune_last_error()).find("devices"), std::string::npos) << gemmtune_last_error();
  for (const auto& [devices, needle] : std::vector<std::pair<std::string, std::string>>{
           {"cpu", "cpu is not a GPU"}, {"cuda:0,cuda:0", "listed twice"}, {"cuda:99", "cuda:99 is not available"},
           {"", "'' is not a GPU"}}) {
    EXPECT_EQ(gemmtune_tune_on_devices(nullptr, &p, 1, devices.c_str(), &json), GEMMTUNE_INVALID) << devices;
    EXPECT_NE(std::string(gemmtune_last_error()).find(needle), std::string::npos) << gemmtune_last_error();
  }
}

TEST(CApi, TuneOnDevicesTunesEachProblemOnAGpu) {
  if (!backend_available("CUBLAS")) GTEST_SKIP() << "needs a GPU (CUBLAS is not available here)";
  gemmtune_options* o = gemmtune_options_create();
  ASSERT_EQ(gemmtune_options_set(o, "backends", "CUBLAS"), GEMMTUNE_OK);
  ASSERT_EQ(gemmtune_options_set(o, "cache", "0"), GEMMTUNE_OK);
  std::vector<gemmtune_problem> problems(3);
  for (std::size_t i = 0; i < problems.size(); ++i) {
    gemmtune_problem_init(&problems[i]);
    problems[i].m = 64 << i;
    problems[i].n = problems[i].k = 128;
    ASSERT_EQ(gemmtune_problem_dense(&problems[i], "f16", "nn"), GEMMTUNE_OK);
  }
  const char* json = nullptr;
  ASSERT_EQ(gemmtune_tune_on_devices(o, problems.data(), problems.size(), "all", &json), GEMMTUNE_OK)
      << gemmtune_last_error();
  gemmtune_options_destroy(o);
  const std::string text = json;
  EXPECT_NE(text.find("\"failed_devices\":[]"), std::string::npos) << text;
  std::size_t at = 0;
  for (const char* m : {"\"m\":64,", "\"m\":128,", "\"m\":256,"}) {
    at = text.find(m, at);
    EXPECT_NE(at, std::string::npos) << m << " not in the problems' order: " << text;
  }
}

}  // namespace
