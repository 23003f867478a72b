// gemmtune: the command-line tool. Everything lives in run_cli so that the
// tests can reach the same code; main only adapts argv and the streams.
// The same binary is its own measuring worker (a hidden mode the tuner
// starts with --gemmtune-worker): choices are measured in child processes of
// this program, so a choice that crashes or hangs is rejected, not fatal.
#include <ext/stdio_filebuf.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "isolation/worker_locator.h"
#include "isolation/worker_main.h"
#include "isolation/worker_process.h"
#include "progress.h"
#include "util/log.h"

int main(int argc, char** argv) {
  // A file size limit (ulimit -f) would kill the process mid-write; ignored,
  // the write fails with EFBIG like on a full disk, and is reported as such
  // with the old file left whole.
  std::signal(SIGXFSZ, SIG_IGN);
  if (auto code = gemmtune::isolation::serve_if_worker(argc, argv)) return *code;
  gemmtune::isolation::use_this_program_as_worker();
  // This process ends right after its last tuner: its workers are killed
  // and left to end while it does (worker_process.h).
  gemmtune::isolation::stop_workers_without_waiting();
  const auto start = std::chrono::steady_clock::now();
  // The command's own output (the table, --json, --csv) goes to the real
  // stdout through a private descriptor, and fd 1 itself now points at
  // stderr: a library that prints to stdout while a kernel runs in this
  // process (`run`, --isolation none: ONEDNN_VERBOSE, cuBLAS's logging)
  // cannot corrupt what a script parses. Workers already send their stdout
  // to stderr.
  const int real_stdout = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  static std::optional<__gnu_cxx::stdio_filebuf<char>> output;
  if (real_stdout >= 0 && ::dup2(STDERR_FILENO, STDOUT_FILENO) >= 0) {
    output.emplace(real_stdout, std::ios::out);
    std::cout.rdbuf(&*output);
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  gemmtune::cli::Io io{std::cout, std::cerr, gemmtune::cli::stderr_is_terminal()};
  int code = gemmtune::cli::run_cli(args, io);
  gemmtune::log::debug("command done in " + gemmtune::log::ms_since(start) + "; exiting");
  // Ended without the static destructors and the libraries' atexit teardown:
  // every object of the command (stores closed, workers killed, files
  // renamed into place) was destroyed inside run_cli, and the statics
  // left are the process-lifetime ones that are never destroyed anyway. What
  // this skips is chiefly the CUDA driver's own teardown after cuInit: on the
  // H100 0.14 s passed between this line and the process's end before, 0.09-
  // 0.10 s after (another machine, and the timing script's own start-up
  // counted in; bench/RESULTS.md, GPU round 7).
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}
