// Spreading problems over devices: one thread per device takes the next
// problem from a shared queue until none is left. A device whose run throws
// DeviceFailedError is retired (and reported); its problem goes back to the
// front of the queue for the others. A problem that took two devices down is
// not offered to a third: it is reported with the last failure instead.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gemmtune/errors.h"

namespace gemmtune::core {

struct ScheduleReport {
  // Per problem: the device that ran it to the end, or nullopt when no device
  // could (every device failed, or it took two down).
  std::vector<std::optional<Device>> ran_on;
  // Per problem without a device: why.
  std::vector<std::string> unfinished_why;
  struct Failure {
    Device device;
    std::string message;
  };
  std::vector<Failure> failed_devices;  // in the order they failed
};

// Runs run(problem_index, device) for every problem index in [0, count),
// each on one of `devices`, one thread per device. `run` must handle the
// problem's own errors; only DeviceFailedError says the device is unusable.
// Any other exception stops the scheduling (the devices finish the problem
// they are on) and is rethrown here. `on_failure` is told each device
// failure as it happens (from the failing device's thread).
ScheduleReport run_on_devices(std::size_t count, const std::vector<Device>& devices,
                              const std::function<void(std::size_t, Device)>& run,
                              const std::function<void(const ScheduleReport::Failure&)>& on_failure = {});

// Per item, the index of the first item the same as it (its own index when
// none comes before): a workload that repeats a problem has it tuned once,
// not once on each of two devices at the same time. Workloads are short: a
// quadratic search is enough.
template <class T, class Same>
std::vector<std::size_t> first_of_same(const std::vector<T>& items, const Same& same) {
  std::vector<std::size_t> first(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    first[i] = i;
    for (std::size_t j = 0; j < i; ++j)
      if (first[j] == j && same(items[j], items[i])) {
        first[i] = j;
        break;
      }
  }
  return first;
}

}  // namespace gemmtune::core
