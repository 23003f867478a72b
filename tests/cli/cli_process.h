// Running the built gemmtune executable (and NumPy's Python) as a
// subprocess, in a private temporary folder with its own GEMMTUNE_CACHE_DIR,
// so end-to-end tests see exactly what a user sees: exit code, stdout,
// stderr and files.
#pragma once

#include <sys/types.h>

#include <chrono>
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

// A process started in the background: `program args...` in `workdir`, with
// the current environment minus every GEMMTUNE_* variable, plus `env`
// (OPENBLAS_CORETYPE and the rest are inherited); stdout and stderr go to
// files named after `name` in workdir. A process still running when the
// object is destroyed is killed (SIGKILL) and reaped, so a failing test
// leaves nothing behind.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::string& program, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env, const std::string& workdir,
                    const std::string& name = "process");
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !done_; }
  // Sends a signal (SIGKILL, SIGTERM...) if it still runs.
  void signal(int sig);
  // Waits for the end (at most `limit`; then kills it and fails the test)
  // and returns its exit code and output.
  ProcessResult wait(std::chrono::milliseconds limit = std::chrono::minutes(5));
  // The output so far (stdout, stderr).
  std::string out_so_far() const;
  std::string err_so_far() const;

 private:
  pid_t pid_ = -1;
  bool done_ = false;
  int status_ = 0;
  std::string out_file_, err_file_;
};

// Runs `program args...` to its end, as BackgroundProcess starts it.
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
