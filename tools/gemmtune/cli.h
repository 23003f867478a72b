// The gemmtune command-line tool as a function, so tests and main() share it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace gemmtune::cli {

// Exit codes of the contract.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;    // anything unexpected (message on stderr)
inline constexpr int kExitUsage = 2;       // bad usage, invalid problem, bad config, bad input file
inline constexpr int kExitNoChoices = 3;   // NoValidChoicesError

struct Io {
  std::ostream& out;  // results (tables, JSON, CSV)
  std::ostream& err;  // progress, warnings, errors
  bool err_is_terminal = false;
};

// Runs one invocation (argv without the program name) and returns its exit
// code. Never throws: every exception becomes a message and an exit code.
int run_cli(const std::vector<std::string>& args, Io io);

}  // namespace gemmtune::cli
