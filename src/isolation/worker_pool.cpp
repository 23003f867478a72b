#include "isolation/worker_pool.h"

#include <chrono>
#include <vector>

#include "util/log.h"

namespace gemmtune::isolation {

WorkerPool::WorkerPool(WorkerCommand command) : command_(std::move(command)) {}

WorkerPool::~WorkerPool() {
  const auto t0 = std::chrono::steady_clock::now();
  int stopped = 0;
  for (auto& [key, slot] : slots_) {
    std::lock_guard<std::mutex> busy(slot->busy);
    stopped += slot->process != nullptr;
    slot->process.reset();  // kills and reaps
  }
  if (stopped > 0)
    log::debug("stopped " + std::to_string(stopped) + " measuring worker(s) in " + log::ms_since(t0));
}

std::shared_ptr<WorkerPool> WorkerPool::shared(const WorkerCommand& command) {
  static std::mutex mutex;
  // Weak: the pool lives exactly as long as some tuner uses it.
  static auto* pools = new std::vector<std::weak_ptr<WorkerPool>>();
  std::lock_guard<std::mutex> lock(mutex);
  std::erase_if(*pools, [](const auto& weak) { return weak.expired(); });
  for (const auto& weak : *pools)
    if (auto pool = weak.lock(); pool && pool->command() == command) return pool;
  auto pool = std::make_shared<WorkerPool>(command);
  pools->push_back(pool);
  return pool;
}

WorkerPool::Lease::Slot& WorkerPool::slot(Device device) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = slots_[key(device)];
  if (!slot) {
    slot = std::make_unique<Lease::Slot>();
    slot->device = device;
  }
  return *slot;
}

void WorkerPool::start(Lease::Slot& s) {
  s.process = WorkerProcess::start(command_, s.device);
  ++s.started;
  log::info("started measuring worker pid " + std::to_string(s.process->pid()) + " for " + to_string(s.device) +
            " (" + command_.executable + ")");
}

WorkerPool::Lease WorkerPool::acquire(Device device) {
  Lease::Slot& s = slot(device);
  std::unique_lock<std::mutex> busy(s.busy);
  if (s.process && !s.process->running()) {
    log::info("the measuring worker for " + to_string(device) + " (pid " + std::to_string(s.process->pid()) + ") " +
              s.process->finish(0).text + " while idle; starting a new one");
    s.process.reset();
  }
  if (!s.process) start(s);
  return Lease(this, &s, std::move(busy));
}

std::optional<WorkerPool::Lease> WorkerPool::acquire_if_running(Device device) {
  Lease::Slot& s = slot(device);
  std::unique_lock<std::mutex> busy(s.busy);
  if (!s.process || !s.process->running()) return std::nullopt;
  return Lease(this, &s, std::move(busy));
}

WorkerProcess& WorkerPool::Lease::worker() { return *slot_->process; }

WorkerProcess& WorkerPool::Lease::restart() {
  retire(1.0);
  pool_->start(*slot_);
  return *slot_->process;
}

Ending WorkerPool::Lease::retire(double grace_seconds) {
  if (!slot_->process) return {};
  Ending ending = slot_->process->finish(grace_seconds);
  slot_->process.reset();
  return ending;
}

int WorkerPool::started(Device device) {
  Lease::Slot& s = slot(device);
  std::lock_guard<std::mutex> busy(s.busy);
  return s.started;
}

}  // namespace gemmtune::isolation
