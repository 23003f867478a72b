// `gemmtune run` on .npy files written by NumPy, checked against a reference
// NumPy computes independently (in float64, from the same files). Debian's
// /usr/bin/python3 has python3-numpy (scripts/setup.sh); with no Python that
// has NumPy these tests fail and say to run scripts/setup.sh.
#include "cli_process.h"

namespace gemmtune::cli::testing {
namespace {

#define EXPECT_CONTAINS(text, needle) EXPECT_NE(std::string(text).find(needle), std::string::npos) << (text)

// Helpers shared by the Python scripts: bf16 rounding (to nearest even, on
// the float32 bits), the erf GELU, and a checker that prints the worst error.
const char* kPrelude = R"PY(
import math, sys
import numpy as np
rng = np.random.default_rng(1234)

def bf16(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32).reshape(np.shape(x))

def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))

def check(got, want, rtol, atol):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        print("shape", got.shape, "!=", want.shape); sys.exit(1)
    err = np.abs(got - want)
    bound = atol + rtol * np.abs(want)
    bad = np.argwhere(err > bound)
    if bad.size:
        i = tuple(bad[0])
        print("mismatch at", i, "got", got[i], "want", want[i], "max err", err.max()); sys.exit(1)
    print("OK max_err", float(err.max()) if err.size else 0.0)
)PY";

class CliRun : public CliTest {
 protected:
  // Runs Python with the prelude; the test fails unless it prints OK / exits 0.
  void py(const std::string& body) {
    ProcessResult r = python(std::string(kPrelude) + body);
    EXPECT_EQ(r.exit_code, 0) << "python failed:\n" << r.out << r.err;
  }
  void py_check(const std::string& body) {
    ProcessResult r = python(std::string(kPrelude) + body);
    EXPECT_EQ(r.exit_code, 0) << "python check failed:\n" << r.out << r.err;
    EXPECT_CONTAINS(r.out, "OK");
  }
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), "run");
    for (const char* extra : {"--budget-ms", "2"}) args.push_back(extra);
    return gemmtune(args);
  }
  // `gemmtune run ARGS` must be refused as bad usage (exit 2) with every
  // needle in its message.
  void expect_usage_error(const std::vector<std::string>& args, std::initializer_list<const char*> needles) {
    std::string command = "gemmtune run";
    for (const auto& a : args) command += " " + a;
    SCOPED_TRACE(command);
    ProcessResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.both();
    for (const char* needle : needles) EXPECT_CONTAINS(r.err, needle);
  }
};

TEST_F(CliRun, NumPyIsAvailableForTheReferenceChecks) {
  EXPECT_TRUE(numpy_available()) << "no Python with NumPy (/usr/bin/python3 has none): run scripts/setup.sh";
}

TEST_F(CliRun, MmOnCOrderFloat32MatchesNumPy) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((13, 17)).astype(np.float32))
np.save("B.npy", rng.standard_normal((17, 9)).astype(np.float32))
)PY");
  ProcessResult r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends", "BLAS"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  EXPECT_CONTAINS(r.out, "AUTOTUNE mm(13x17, 17x9) f32 nn");
  EXPECT_CONTAINS(r.out, "wrote C.npy (13x9 float32)");
  py_check(R"PY(
A = np.load("A.npy").astype(np.float64); B = np.load("B.npy").astype(np.float64)
C = np.load("C.npy")
assert C.dtype == np.float32, C.dtype
check(C, A @ B, 1e-5, 1e-5)
)PY");
}

TEST_F(CliRun, FortranOrderOperandsAreTakenAsTransposedLayouts) {
  py(R"PY(
np.save("A.npy", np.asfortranarray(rng.standard_normal((12, 20)).astype(np.float32)))
np.save("B.npy", np.asfortranarray(rng.standard_normal((20, 7)).astype(np.float32)))
)PY");
  ProcessResult r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends", "BLAS", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  nlohmann::json j = json_of(r);
  EXPECT_EQ(j["problem"]["layout"], "tt");
  EXPECT_EQ(j["output"]["shape"], (nlohmann::json{12, 7}));
  py_check(R"PY(
A = np.load("A.npy").astype(np.float64); B = np.load("B.npy").astype(np.float64)
check(np.load("C.npy"), A @ B, 1e-5, 1e-5)
)PY");
}

TEST_F(CliRun, Float32FilesConvertedToBf16RoundToNearestEven) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((16, 32)).astype(np.float32))
np.save("B.npy", np.asfortranarray(rng.standard_normal((32, 8)).astype(np.float32)))
)PY");
  ProcessResult r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--dtype", "bf16", "--backends",
                         "BLAS,REFERENCE", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  nlohmann::json j = json_of(r);
  EXPECT_EQ(j["problem"]["dtypes"]["c"], "bf16");
  EXPECT_EQ(j["output"]["npy_dtype"], "<f4");
  py_check(R"PY(
A = bf16(np.load("A.npy")).astype(np.float64); B = bf16(np.load("B.npy")).astype(np.float64)
C = np.load("C.npy")
assert C.dtype == np.float32
# The output is bf16 widened to float32: its low 16 bits are zero.
assert not np.any(C.view(np.uint32) & 0xFFFF), "output is not bf16-valued"
want = A @ B
# One bf16 rounding of the output (2^-8 relative) plus summation slack.
check(C, want, 2**-7, 1e-2 * np.abs(A).max() * np.abs(B).max())
)PY");
}

TEST_F(CliRun, AddmmWithRowBiasAlphaBetaAndGelu) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((6, 10)).astype(np.float32))
np.save("B.npy", rng.standard_normal((10, 5)).astype(np.float32))
np.save("bias.npy", rng.standard_normal(5).astype(np.float32))
)PY");
  ProcessResult r = run({"addmm", "--a", "A.npy", "--b", "B.npy", "--bias", "bias.npy", "--out", "C.npy", "--alpha",
                         "0.5", "--beta", "2", "--activation", "gelu", "--backends", "BLAS,REFERENCE"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  EXPECT_CONTAINS(r.out, "AUTOTUNE addmm(5, 6x10, 10x5) f32 nn bias=row");
  py_check(R"PY(
A = np.load("A.npy").astype(np.float64); B = np.load("B.npy").astype(np.float64)
bias = np.load("bias.npy").astype(np.float64)
check(np.load("C.npy"), gelu(0.5 * (A @ B) + 2.0 * bias[None, :]), 1e-5, 1e-5)
)PY");
}

TEST_F(CliRun, AddmmWithFullBias) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((4, 3)).astype(np.float32))
np.save("B.npy", rng.standard_normal((3, 6)).astype(np.float32))
np.save("bias.npy", np.asfortranarray(rng.standard_normal((4, 6)).astype(np.float32)))
)PY");
  ProcessResult r = run({"addmm", "--a", "A.npy", "--b", "B.npy", "--bias", "bias.npy", "--out", "C.npy", "--backends",
                         "BLAS,REFERENCE", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  // --quiet hides progress, not the result.
  EXPECT_CONTAINS(r.out, "wrote C.npy");
  EXPECT_EQ(r.err.find("reference_exact"), std::string::npos) << "progress despite --quiet: " << r.err;
  py_check(R"PY(
A = np.load("A.npy").astype(np.float64); B = np.load("B.npy").astype(np.float64)
check(np.load("C.npy"), A @ B + np.load("bias.npy"), 1e-5, 1e-5)
)PY");
}

TEST_F(CliRun, BmmOnThreeDimensionalFilesAndASharedTwoDimensionalB) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((3, 5, 4)).astype(np.float32))
np.save("B.npy", np.asfortranarray(rng.standard_normal((3, 4, 6)).astype(np.float32)))
np.save("B2.npy", rng.standard_normal((4, 6)).astype(np.float32))
)PY");
  ProcessResult r = run({"bmm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends", "BLAS,REFERENCE"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  EXPECT_CONTAINS(r.out, "wrote C.npy (3x5x6 float32)");
  ProcessResult shared = run({"bmm", "--a", "A.npy", "--b", "B2.npy", "--out", "C2.npy", "--backends", "BLAS,REFERENCE"});
  ASSERT_EQ(shared.exit_code, 0) << shared.both();
  EXPECT_CONTAINS(shared.out, "AUTOTUNE bmm(3x5x4, 4x6)");
  py_check(R"PY(
A = np.load("A.npy").astype(np.float64)
check(np.load("C.npy"), np.matmul(A, np.load("B.npy").astype(np.float64)), 1e-5, 1e-5)
check(np.load("C2.npy"), np.matmul(A, np.load("B2.npy").astype(np.float64)), 1e-5, 1e-5)
)PY");
}

TEST_F(CliRun, ABatchOfNoMatricesWritesAnEmptyResultWithASharedBOrABias) {
  // Batch 0 with a shared 2-D B or a 1-D bias: those were converted as one
  // matrix into an empty buffer (a crash).
  py(R"PY(
np.save("A0.npy", np.ones((0, 3, 4), np.float32))
np.save("B0.npy", np.ones((0, 4, 5), np.float32))
np.save("B2.npy", np.ones((4, 5), np.float32))
np.save("bias.npy", np.ones((5,), np.float32))
)PY");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"bmm", "--a", "A0.npy", "--b", "B0.npy", "--out", "C1.npy"},
        std::vector<std::string>{"bmm", "--a", "A0.npy", "--b", "B2.npy", "--out", "C2.npy"},
        std::vector<std::string>{"baddbmm", "--a", "A0.npy", "--b", "B0.npy", "--bias", "bias.npy", "--out", "C3.npy"}}) {
    ProcessResult r = run(args);
    ASSERT_EQ(r.exit_code, 0) << args[0] << " " << args[4] << ": " << r.both();
    EXPECT_CONTAINS(r.out, "(0x3x5 float32)");
  }
  py_check(R"PY(
for name in ("C1.npy", "C2.npy", "C3.npy"):
    check(np.load(name), np.zeros((0, 3, 5)), 0, 0)
)PY");
}

TEST_F(CliRun, ValuesBeyondANarrowerFloatDtypeAreSaidToBecomeInfinities) {
  py(R"PY(
np.save("big32.npy", np.array([[1e5, 1.0]], np.float32))
np.save("big64.npy", np.array([[1e300, 1.0]], np.float64))
np.save("one.npy", np.ones((2, 1), np.float32))
np.save("one64.npy", np.ones((2, 1), np.float64))
)PY");
  ProcessResult f16 = run({"mm", "--a", "big32.npy", "--b", "one.npy", "--out", "o16.npy", "--dtype", "f16"});
  ASSERT_EQ(f16.exit_code, 0) << f16.both();
  EXPECT_CONTAINS(f16.err, "big32.npy: 1 values exceed the range of f16 and became infinities");
  ProcessResult f32 = run({"mm", "--a", "big64.npy", "--b", "one64.npy", "--out", "o32.npy", "--dtype", "f32"});
  ASSERT_EQ(f32.exit_code, 0) << f32.both();
  EXPECT_CONTAINS(f32.err, "big64.npy: 1 values exceed the range of f32 and became infinities");
  py_check(R"PY(
assert np.isinf(np.load("o16.npy")[0, 0]) and np.isinf(np.load("o32.npy")[0, 0])
print("OK")
)PY");
}

TEST_F(CliRun, RunSaysWhereItsResultCameFromAndReportsRejectionsInCsvLikeTune) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((16, 32)).astype(np.float32))
np.save("B.npy", rng.standard_normal((32, 8)).astype(np.float32))
np.save("Ai.npy", np.ones((16, 32), np.int8))
np.save("Bi.npy", np.ones((32, 8), np.int8))
)PY");
  ASSERT_EQ(run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--json"}).exit_code, 0);
  ProcessResult again = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.both();
  const nlohmann::json j = json_of(again);
  EXPECT_EQ(j["cache_hit"], true);
  EXPECT_EQ(j["source"], "local_cache") << "a cache hit said it was tuned";
  ProcessResult refused = run({"int_mm", "--a", "Ai.npy", "--b", "Bi.npy", "--out", "Ci.npy", "--backends", "BLAS",
                               "--csv"});
  EXPECT_EQ(refused.exit_code, 3) << refused.both();
  EXPECT_CONTAINS(refused.out, "problem,backend,choice,status");
  EXPECT_CONTAINS(refused.out, "BLAS,,rejected");
}

TEST_F(CliRun, IntMmOnInt8FilesIsExactAndWritesInt32) {
  py(R"PY(
np.save("A.npy", rng.integers(-128, 128, size=(9, 33), dtype=np.int8))
np.save("B.npy", rng.integers(-128, 128, size=(33, 7), dtype=np.int8))
)PY");
  ProcessResult r = run({"int_mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends", "REFERENCE"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  py_check(R"PY(
C = np.load("C.npy")
assert C.dtype == np.int32, C.dtype
want = np.load("A.npy").astype(np.int64) @ np.load("B.npy").astype(np.int64)
assert np.array_equal(C, want), "int_mm is not exact"
print("OK")
)PY");
}

TEST_F(CliRun, Int64FilesAreConvertedForInt8Problems) {
  py(R"PY(
np.save("A.npy", rng.integers(-100, 100, size=(4, 5)))   # int64, NumPy's default
np.save("B.npy", rng.integers(-100, 100, size=(5, 3)).astype(np.int8))
)PY");
  ProcessResult r = run({"int_mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends", "REFERENCE"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  py_check(R"PY(
want = np.load("A.npy") @ np.load("B.npy").astype(np.int64)
assert np.array_equal(np.load("C.npy"), want)
print("OK")
)PY");
}

TEST_F(CliRun, MixedMmTakesPerColumnScalesFromAFile) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((5, 12)).astype(np.float32))
np.save("W.npy", rng.integers(-127, 128, size=(12, 6), dtype=np.int8))
np.save("scale.npy", (rng.random(6) * 0.05 + 0.01).astype(np.float32))
)PY");
  ProcessResult r = run({"mixed_mm", "--a", "A.npy", "--b", "W.npy", "--scale-b", "scale.npy", "--out", "C.npy",
                         "--backends", "BLAS,REFERENCE"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  EXPECT_CONTAINS(r.out, "scale=per_channel");
  py_check(R"PY(
A = np.load("A.npy").astype(np.float64)
W = np.load("W.npy").astype(np.float64) * np.load("scale.npy").astype(np.float64)[None, :]
check(np.load("C.npy"), A @ W, 1e-5, 1e-5)
)PY");
}

TEST_F(CliRun, ScaledMmConvertsFloat32FilesToFp8WithRoundToNearestEven) {
  py(R"PY(
np.save("A.npy", (rng.standard_normal((8, 16)) * 3).astype(np.float32))
np.save("B.npy", np.asfortranarray((rng.standard_normal((16, 4)) * 3).astype(np.float32)))
np.save("sa.npy", np.array([0.5], np.float32))
np.save("sb.npy", np.array([0.25, 1.0, 2.0, 4.0], np.float32))
)PY");
  ProcessResult r = run({"scaled_mm", "--a", "A.npy", "--b", "B.npy", "--scale-a", "sa.npy", "--scale-b", "sb.npy",
                         "--out", "C.npy", "--backends", "REFERENCE", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  nlohmann::json j = json_of(r);
  EXPECT_EQ(j["problem"]["dtypes"]["a"], "f8e4m3");
  EXPECT_EQ(j["problem"]["epilogue"]["scale_a"], "per_tensor");
  EXPECT_EQ(j["problem"]["epilogue"]["scale_b"], "per_channel");
  EXPECT_EQ(j["output"]["npy_dtype"], "<f4");
  py_check(R"PY(
def e4m3(x):
    # OCP fp8 E4M3: 3 mantissa bits, min normal 2^-6, max 448, ties to even.
    x = np.asarray(x, np.float64)
    a = np.minimum(np.abs(x), 448.0)
    q = 2.0 ** (np.floor(np.log2(np.maximum(a, 2.0 ** -6))) - 3)
    return np.sign(x) * np.minimum(np.rint(a / q) * q, 448.0)
A = e4m3(np.load("A.npy")); B = e4m3(np.load("B.npy"))
want = 0.5 * (A @ B) * np.load("sb.npy").astype(np.float64)[None, :]
C = np.load("C.npy")
assert not np.any(C.view(np.uint32) & 0xFFFF), "the bf16 output should be bf16-valued"
check(C, want, 2**-7, 1e-6)
)PY");
}

TEST_F(CliRun, Float16OutputIsWrittenAsNumPyFloat16) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((4, 8)).astype(np.float16))
np.save("B.npy", rng.standard_normal((8, 3)).astype(np.float16))
)PY");
  ProcessResult r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends", "REFERENCE"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  py_check(R"PY(
C = np.load("C.npy")
assert C.dtype == np.float16, C.dtype
check(C, np.load("A.npy").astype(np.float64) @ np.load("B.npy").astype(np.float64), 2**-10, 1e-3)
)PY");
}

TEST_F(CliRun, MismatchedShapesExit2NamingBothFiles) {
  py(R"PY(
np.save("A.npy", np.zeros((4, 5), np.float32))
np.save("B.npy", np.zeros((6, 3), np.float32))
)PY");
  expect_usage_error({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy"}, {"K differs", "A.npy", "B.npy"});
}

TEST_F(CliRun, BadFilesAndMissingInputsExit2NamingTheFileOrFlag) {
  py(R"PY(
np.save("A3.npy", np.zeros((2, 4, 5), np.float32))
np.save("B.npy", np.zeros((5, 3), np.float32))
np.save("Abig.npy", np.zeros((4, 5), dtype=">f4"))
np.save("Afrac.npy", np.full((4, 5), 1.5, np.float32))
np.save("Bi8.npy", np.zeros((5, 3), np.int8))
np.save("A.npy", np.zeros((4, 5), np.float32))
np.save("bias.npy", np.zeros(4, np.float32))
)PY");
  expect_usage_error({"mm", "--a", "A3.npy", "--b", "B.npy", "--out", "C.npy"}, {"A3.npy", "2-D"});
  expect_usage_error({"mm", "--a", "Abig.npy", "--b", "B.npy", "--out", "C.npy"}, {"Abig.npy: big-endian"});
  expect_usage_error({"int_mm", "--a", "Afrac.npy", "--b", "Bi8.npy", "--out", "C.npy"},
                     {"Afrac.npy: element (0, 0) = 1.5 is not representable as i8"});
  expect_usage_error({"addmm", "--a", "A.npy", "--b", "B.npy", "--bias", "bias.npy", "--out", "C.npy"},
                     {"bias.npy", "N = 3"});
  expect_usage_error({"mm", "--a", "nope.npy", "--b", "B.npy", "--out", "C.npy"}, {"nope.npy"});
  expect_usage_error({"addmm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy"}, {"addmm needs --bias"});
  expect_usage_error({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "no/such/dir/C.npy"}, {"--out"});
}

TEST_F(CliRun, SecondRunReusesTheStoredSelection) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((8, 8)).astype(np.float32))
np.save("B.npy", rng.standard_normal((8, 8)).astype(np.float32))
)PY");
  ASSERT_EQ(run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends", "BLAS", "--quiet"}).exit_code, 0);
  ProcessResult again = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--backends", "BLAS", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json_of(again)["cache_hit"], true);
  // `tune` of the same problem finds the same record: run's problem is the
  // one the flags describe.
  ProcessResult tune = gemmtune({"tune", "mm", "8x8x8", "--backends", "BLAS", "--json"});
  EXPECT_EQ(json_of(tune)["cache_hit"], true);
}

TEST_F(CliRun, CudaDeviceUsesTheGpuOrExplainsWhyNot) {
  py(R"PY(
np.save("A.npy", rng.standard_normal((8, 16)).astype(np.float32))
np.save("B.npy", rng.standard_normal((16, 4)).astype(np.float32))
)PY");
  nlohmann::json backends = json_of(gemmtune({"backends", "--json"}));
  bool gpu_backend = false;
  for (const auto& b : backends["backends"]) gpu_backend |= b["device"] == "cuda" && b["available"].get<bool>();
  ProcessResult r = run({"mm", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy", "--device", "cuda"});
  if (!gpu_backend) {
    EXPECT_EQ(r.exit_code, 3) << r.both();
    EXPECT_CONTAINS(r.err, "CUDA runtime is unavailable here");
    EXPECT_CONTAINS(r.err, "no valid choices");
  } else {
    ASSERT_EQ(r.exit_code, 0) << r.both();
    py_check(R"PY(
A = np.load("A.npy").astype(np.float64); B = np.load("B.npy").astype(np.float64)
check(np.load("C.npy"), A @ B, 1e-5, 1e-5)
)PY");
  }
}

}  // namespace
}  // namespace gemmtune::cli::testing
