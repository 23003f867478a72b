// One measuring worker process, seen from its parent: started with
// posix_spawn (fork+exec without running anything of this process's in the
// child: libgomp and the CUDA driver are not fork-safe), talked to over a
// Unix socket, and reaped: a WorkerProcess never leaves an orphan behind
// (its destructor kills it; the worker also asks the kernel to kill it when
// its parent dies, PR_SET_PDEATHSIG), nor a zombie, except in a program that
// is about to end and says so (stop_workers_without_waiting).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "gemmtune/errors.h"
#include "gemmtune/types.h"

namespace gemmtune::isolation {

// How to start a worker: the executable and the arguments that put it in
// worker mode. `origin` says where it was found, for messages.
struct WorkerCommand {
  std::string executable;
  std::vector<std::string> arguments;
  std::string origin;
  friend bool operator==(const WorkerCommand&, const WorkerCommand&) = default;
};

// A worker could not be started or did not introduce itself properly (a
// missing executable, another gemmtune version). Not a choice's fault: the
// device cannot be tuned on (a tuning over several devices goes on with the
// others).
class WorkerStartError : public DeviceFailedError {
 public:
  using DeviceFailedError::DeviceFailedError;
};

// How a worker process ended.
struct Ending {
  bool signaled = false;
  int signal = 0;       // when signaled
  int exit_status = 0;  // when it exited
  std::string text;     // "was killed by SIGSEGV (Segmentation fault)", "exited with status 3"
};

// "SIGSEGV (Segmentation fault)"
std::string describe_signal(int signal);

// For a program that ends right after its last tuner (the CLI, from main;
// never a library host): from now on a WorkerProcess destroyed while its
// worker runs kills it (SIGKILL) without waiting for it to end. The wait is
// the kernel tearing down the worker's GPU context (53 ms of every warm CLI
// tuning process on the H100, bench/RESULTS.md, GPU round 10); it then runs
// while this process ends, and whoever inherits the dead worker (init, a
// subreaper) reaps it. A worker retired mid-command (a crash, a timeout) is
// still waited for, and the dead ones left this way are reaped whenever
// another worker starts or stops, so they cannot pile up over a workload.
// `false` restores the default (tests).
void stop_workers_without_waiting(bool on = true);

class WorkerProcess {
 public:
  // Starts the worker for `device` and waits (at most `start_seconds`) for
  // its hello. Throws WorkerStartError.
  static std::unique_ptr<WorkerProcess> start(const WorkerCommand&, Device, double start_seconds = 30);
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return pid_; }
  int socket() const { return socket_; }
  // Whether the process has not ended (reaps it when it has).
  bool running();
  // Closes the socket, waits up to `grace_seconds` for the process to end
  // (it was dying: a crash, an exit), then kills it; reaps it either way.
  const Ending& finish(double grace_seconds);
  // Kills (SIGKILL) at once and reaps.
  const Ending& kill();

 private:
  WorkerProcess(pid_t pid, int socket);
  bool reap(bool wait);  // true when reaped (ending_ set)

  pid_t pid_ = -1;
  // The process that started the worker: a child made by fork() elsewhere
  // (Python's multiprocessing) inherits this object but must not kill the
  // worker, which is not its child.
  pid_t owner_ = -1;
  int socket_ = -1;
  bool reaped_ = false;
  Ending ending_;
};

}  // namespace gemmtune::isolation
