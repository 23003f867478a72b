// Where a tuner finds its measuring worker executable, in this order:
//   1. GEMMTUNE_WORKER, the path of a worker executable (an error when it
//      names nothing executable: it was asked for explicitly);
//   2. this program itself, when it is a worker too (the gemmtune CLI calls
//      use_this_program_as_worker());
//   3. `gemmtune-worker` beside the binary that holds the library (the
//      shared library libgemmtune_c.so, or a program linked with the static
//      library), or in ../libexec/gemmtune/ from there (an installed tree).
// When none is found, an explicit --isolation process (option or
// GEMMTUNE_ISOLATION) is a ConfigError that says where it looked; the
// default isolation falls back to measuring in process, with one warning.
#pragma once

#include <optional>
#include <string>

#include "isolation/worker_process.h"

namespace gemmtune::isolation {

inline constexpr const char* kWorkerExecutableName = "gemmtune-worker";

// Makes this program (/proc/self/exe in worker mode) the worker of the
// tuners it creates. For programs that call serve_if_worker() first thing in
// main().
void use_this_program_as_worker();

// The worker command, or nullopt with `looked` listing the places tried.
// Throws ConfigError when GEMMTUNE_WORKER is set but not an executable file.
std::optional<WorkerCommand> locate_worker(std::string* looked);

}  // namespace gemmtune::isolation
