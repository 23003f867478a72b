#include "cli_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace gemmtune::cli::testing {

namespace {

std::string slurp(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

BackgroundProcess::BackgroundProcess(const std::string& program, const std::vector<std::string>& args,
                                     const std::map<std::string, std::string>& env, const std::string& workdir,
                                     const std::string& name)
    : out_file_(workdir + "/." + name + ".stdout"), err_file_(workdir + "/." + name + ".stderr") {
  // Environment: inherited, minus gemmtune's own variables (a developer's
  // GEMMTUNE_BACKENDS must not change what the tests see), plus `env`.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    if (entry.rfind("GEMMTUNE_", 0) == 0) continue;
    const std::string variable = entry.substr(0, entry.find('='));
    if (env.count(variable)) continue;
    env_strings.push_back(entry);
  }
  for (const auto& [variable, value] : env) env_strings.push_back(variable + "=" + value);

  // Everything the child needs is built before fork(): only async-signal-safe
  // calls happen between fork() and execve().
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string& out_file = out_file_;
  const std::string& err_file = err_file_;
  pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork failed: " << std::strerror(errno);
    return;
  }
  if (pid == 0) {
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0 || chdir(workdir.c_str()) != 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(program.c_str(), argv.data(), envp.data());
    static const char kMessage[] = "execve failed\n";
    (void)!::write(2, kMessage, sizeof kMessage - 1);
    _exit(127);
  }
  pid_ = pid;
}

BackgroundProcess::~BackgroundProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
  }
}

void BackgroundProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::string BackgroundProcess::out_so_far() const { return slurp(out_file_); }
std::string BackgroundProcess::err_so_far() const { return slurp(err_file_); }

ProcessResult BackgroundProcess::wait(std::chrono::milliseconds limit) {
  ProcessResult r;
  if (pid_ <= 0) return r;
  if (!done_) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      pid_t got = waitpid(pid_, &status_, WNOHANG);
      if (got == pid_) break;
      if (got < 0 && errno != EINTR) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "process " << pid_ << " still ran after " << limit.count() << " ms; killed";
        ::kill(pid_, SIGKILL);
        while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    done_ = true;
  }
  if (WIFEXITED(status_)) {
    r.exit_code = WEXITSTATUS(status_);
  } else if (WIFSIGNALED(status_)) {
    r.signaled = true;
    r.exit_code = 128 + WTERMSIG(status_);
  }
  r.out = slurp(out_file_);
  r.err = slurp(err_file_);
  return r;
}

ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env, const std::string& workdir) {
  return BackgroundProcess(program, args, env, workdir).wait(std::chrono::hours(1));
}

void CliTest::SetUp() {
  std::string pattern = (std::filesystem::temp_directory_path() / "gemmtune_cli_XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
  dir_ = pattern;
}

void CliTest::TearDown() {
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

ProcessResult CliTest::gemmtune(const std::vector<std::string>& args, std::map<std::string, std::string> env) {
  if (!env.count("GEMMTUNE_CACHE_DIR")) env["GEMMTUNE_CACHE_DIR"] = path("cache");
  ProcessResult r = run_process(GEMMTUNE_CLI_PATH, args, env, dir_);
  // The contract: never a crash, whatever the input.
  EXPECT_FALSE(r.signaled) << "gemmtune was killed by a signal (exit " << r.exit_code << ")\nstderr:\n" << r.err;
  return r;
}

nlohmann::json CliTest::json_of(const ProcessResult& r) {
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "stdout is not JSON (" << e.what() << "):\n" << r.out << "\nstderr:\n" << r.err;
    return nullptr;
  }
}

std::string CliTest::read(const std::string& name) const { return slurp(path(name)); }

void CliTest::write(const std::string& name, const std::string& text) const {
  std::ofstream out(path(name), std::ios::binary);
  out << text;
}

const std::string& CliTest::numpy_python() {
  // Debian's interpreter first (scripts/setup.sh installs python3-numpy for
  // it); then $GEMMTUNE_TEST_PYTHON and the python3 on PATH, which on some
  // machines (a GPU box with a torch venv) is the one that has NumPy.
  static const std::string found = [this] {
    std::vector<std::string> candidates{GEMMTUNE_SYSTEM_PYTHON};
    if (const char* env = std::getenv("GEMMTUNE_TEST_PYTHON")) candidates.insert(candidates.begin(), env);
    if (const char* path = std::getenv("PATH")) {
      std::string dirs(path);
      for (std::size_t pos = 0; pos <= dirs.size();) {
        std::size_t end = dirs.find(':', pos);
        if (end == std::string::npos) end = dirs.size();
        if (end > pos) candidates.push_back(dirs.substr(pos, end - pos) + "/python3");
        pos = end + 1;
      }
    }
    for (const auto& candidate : candidates) {
      if (access(candidate.c_str(), X_OK) != 0) continue;
      if (run_process(candidate, {"-c", "import numpy"}, {}, dir_).exit_code == 0) return candidate;
    }
    return std::string();
  }();
  return found;
}

bool CliTest::numpy_available() { return !numpy_python().empty(); }

ProcessResult CliTest::python(const std::string& script) {
  if (!numpy_available()) {
    ADD_FAILURE() << "no Python with NumPy (tried " << GEMMTUNE_SYSTEM_PYTHON
                  << ", $GEMMTUNE_TEST_PYTHON and python3 on PATH): the `gemmtune run` tests compare against NumPy. "
                     "Run scripts/setup.sh (installs python3-numpy) and run the tests again.";
    return {};
  }
  write("script.py", script);
  return run_process(numpy_python(), {path("script.py")}, {}, dir_);
}

}  // namespace gemmtune::cli::testing
