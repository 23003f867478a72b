// The worker's side: a program in worker mode serves measure requests on the
// socket its parent gave it until the socket closes. The gemmtune CLI is its
// own worker (`gemmtune --gemmtune-worker ...`, hidden); programs that embed
// the library find the `gemmtune-worker` executable (worker_locator.h).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "gemmtune/backend.h"
#include "measure/measurer.h"

namespace gemmtune::isolation {

// The first argument that puts a program in worker mode.
inline constexpr const char* kWorkerModeFlag = "--gemmtune-worker";

// What a worker measures with.
struct WorkerServices {
  std::vector<std::shared_ptr<Backend>> backends;
  measure::RuntimeFor runtime_for;
};

// The built-in backends on the real runtimes.
WorkerServices builtin_worker_services();

// When argv[1] is kWorkerModeFlag: serves requests until the parent goes
// away and ends the process (std::_Exit, without destructors: see
// worker_main.cpp) with status 0 when the parent closed the socket, 2 for a
// malformed request; returns 2 for a malformed command line. Otherwise nullopt.
std::optional<int> serve_if_worker(int argc, char** argv,
                                   const std::function<WorkerServices()>& services = builtin_worker_services);

}  // namespace gemmtune::isolation
