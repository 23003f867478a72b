#include "core/device_scheduler.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace gemmtune::core {

ScheduleReport run_on_devices(std::size_t count, const std::vector<Device>& devices,
                              const std::function<void(std::size_t, Device)>& run,
                              const std::function<void(const ScheduleReport::Failure&)>& on_failure) {
  constexpr int kMaxDeviceFailuresPerProblem = 2;
  ScheduleReport report;
  report.ran_on.resize(count);
  report.unfinished_why.resize(count);
  std::vector<int> failures_caused(count, 0);
  std::deque<std::size_t> queue;
  for (std::size_t i = 0; i < count; ++i) queue.push_back(i);
  std::mutex mutex;
  std::condition_variable changed;  // the queue grew, or a problem in flight finished
  std::size_t in_flight = 0;
  std::exception_ptr fatal;

  auto serve = [&](Device device) {
    for (;;) {
      std::size_t problem = 0;
      {
        std::unique_lock<std::mutex> lock(mutex);
        // An empty queue is not the end while other devices work: a failing
        // one puts its problem back.
        changed.wait(lock, [&] { return !queue.empty() || in_flight == 0 || fatal; });
        if (queue.empty() || fatal) return;
        problem = queue.front();
        queue.pop_front();
        ++in_flight;
      }
      try {
        run(problem, device);
        std::lock_guard<std::mutex> lock(mutex);
        report.ran_on[problem] = device;
        --in_flight;
        changed.notify_all();
      } catch (const DeviceFailedError& e) {
        ScheduleReport::Failure failure{device, e.what()};
        {
          std::lock_guard<std::mutex> lock(mutex);
          report.failed_devices.push_back(failure);
          if (++failures_caused[problem] >= kMaxDeviceFailuresPerProblem)
            report.unfinished_why[problem] = "it took " + std::to_string(failures_caused[problem]) +
                                             " devices down; the last: " + failure.message;
          else
            queue.push_front(problem);  // the others take it next
          --in_flight;
          changed.notify_all();
        }
        if (on_failure) on_failure(failure);
        return;  // this device is retired
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!fatal) fatal = std::current_exception();
        --in_flight;
        changed.notify_all();
        return;
      }
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(devices.size());
  for (const Device& d : devices) threads.emplace_back(serve, d);
  for (auto& t : threads) t.join();
  if (fatal) std::rethrow_exception(fatal);
  for (std::size_t i = 0; i < count; ++i)
    if (!report.ran_on[i] && report.unfinished_why[i].empty())
      report.unfinished_why[i] = "every device failed before it was tuned";
  return report;
}

}  // namespace gemmtune::core
