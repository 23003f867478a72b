// The measuring workers of a process: one per device, started on first use,
// reused across choices, problems and tuners, replaced when one dies. Tuners
// share a pool through shared_ptr (WorkerPool::shared); when the last tuner
// using it is destroyed, the pool kills and reaps its workers.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "isolation/worker_process.h"

namespace gemmtune::isolation {

class WorkerPool {
 public:
  explicit WorkerPool(WorkerCommand command);
  ~WorkerPool();  // kills and reaps every worker (kills only: stop_workers_without_waiting)
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // The pool every tuner of this process with the same command shares.
  static std::shared_ptr<WorkerPool> shared(const WorkerCommand&);

  // Exclusive use of a device's worker for one exchange; started (or
  // restarted, when the previous one died) on acquire. Throws
  // WorkerStartError.
  class Lease {
   public:
    WorkerProcess& worker();
    // The worker is broken (crashed, hung, lost its device): end it (after
    // at most `grace_seconds`, then SIGKILL); the next acquire starts a new
    // one. Returns how it ended.
    Ending retire(double grace_seconds);
    // Retires the worker (if any) and starts a new one, keeping the lease.
    // Throws WorkerStartError.
    WorkerProcess& restart();

   private:
    friend class WorkerPool;
    struct Slot;
    Lease(WorkerPool* pool, Slot* slot, std::unique_lock<std::mutex> lock)
        : pool_(pool), slot_(slot), lock_(std::move(lock)) {}
    WorkerPool* pool_;
    Slot* slot_;
    std::unique_lock<std::mutex> lock_;
  };
  Lease acquire(Device);
  // The device's worker when one is running, without starting one.
  std::optional<Lease> acquire_if_running(Device);

  const WorkerCommand& command() const { return command_; }
  // Workers started for `device` so far (tests check reuse and replacement).
  int started(Device);

 private:
  using DeviceKey = std::pair<int, int>;
  static DeviceKey key(Device d) { return {static_cast<int>(d.kind), d.index}; }
  Lease::Slot& slot(Device);
  void start(Lease::Slot&);

  WorkerCommand command_;
  std::mutex mutex_;  // guards slots_ (the map, not the slots)
  std::map<DeviceKey, std::unique_ptr<Lease::Slot>> slots_;
};

struct WorkerPool::Lease::Slot {
  Device device;
  std::mutex busy;  // one exchange at a time per worker
  std::unique_ptr<WorkerProcess> process;
  int started = 0;
};

}  // namespace gemmtune::isolation
