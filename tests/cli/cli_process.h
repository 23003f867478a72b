// Running the built gemmtune executable (and NumPy's Python) as a
// subprocess, in a private temporary folder with its own GEMMTUNE_CACHE_DIR,
// so end-to-end tests see exactly what a user sees: exit code, stdout,
// stderr and files.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace gemmtune::cli::testing {

struct ProcessResult {
  int exit_code = -1;    // 128 + signal when it was killed by a signal
  bool signaled = false;
  std::string out, err;
  std::string both() const { return out + err; }
};

// Runs `program args...` with the current environment minus every GEMMTUNE_*
// variable, plus `env` (OPENBLAS_CORETYPE and the rest are inherited).
ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env, const std::string& workdir);

// A test with its own temporary folder (removed afterwards) and cache.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // gemmtune ARGS with GEMMTUNE_CACHE_DIR=<tmp>/cache, in <tmp>.
  ProcessResult gemmtune(const std::vector<std::string>& args, std::map<std::string, std::string> env = {});
  // Parses stdout as JSON; fails the test (and returns null) when it is not.
  nlohmann::json json_of(const ProcessResult&);
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }
  std::string read(const std::string& name) const;
  void write(const std::string& name, const std::string& text) const;

  // Runs a Python script in the temporary folder with an interpreter that
  // has NumPy: Debian's /usr/bin/python3 (python3-numpy), else
  // $GEMMTUNE_TEST_PYTHON or python3 on PATH. Fails the test, with the fix,
  // when none has NumPy: these tests must never be skipped silently.
  ProcessResult python(const std::string& script);
  bool numpy_available();
  const std::string& numpy_python();

 private:
  std::string dir_;
};

}  // namespace gemmtune::cli::testing
