// One workload over several devices: the scheduler (device_scheduler.h)
// hands problems to one thread per device, each with its own tuner.
#include <map>
#include <mutex>
#include <set>

#include "core/device_scheduler.h"
#include "core/tuner_impl.h"
#include "runtime/device_runtime.h"

namespace gemmtune {
namespace {

void check_devices(const std::vector<Device>& devices) {
  if (devices.empty()) throw ConfigError("devices: no devices to tune on");
  std::set<int> seen;
  for (const Device& d : devices) {
    // One CPU is one device: there is nothing to spread a CPU problem over.
    if (d.kind != DeviceKind::cuda)
      throw ConfigError("devices: " + to_string(d) +
                        " is not a GPU; tuning on several devices spreads problems over GPUs (cuda:N), and a CPU "
                        "problem is tuned without a device list");
    if (!seen.insert(d.index).second) throw ConfigError("devices: " + to_string(d) + " is listed twice");
  }
}

}  // namespace

DevicesTuneReport tune_on_devices(const std::vector<Problem>& problems, const std::vector<Device>& devices,
                                  const std::function<Tuner(Device)>& make_tuner) {
  check_devices(devices);
  DevicesTuneReport report;
  report.results.resize(problems.size());
  std::mutex mutex;
  std::map<int, std::unique_ptr<Tuner>> tuners;  // by device index, each made on its device's thread
  auto tuner_for = [&](Device d) -> Tuner& {
    const int key = d.index;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (auto it = tuners.find(key); it != tuners.end()) return *it->second;
    }
    auto made = std::make_unique<Tuner>(make_tuner(d));
    std::lock_guard<std::mutex> lock(mutex);
    return *tuners.emplace(key, std::move(made)).first->second;
  };
  auto run = [&](std::size_t i, Device d) {
    Problem p = problems[i];
    p.device = d;
    DeviceTuneResult& out = report.results[i];  // only this thread writes it now
    out = DeviceTuneResult{};
    out.device = d;
    try {
      TuneResult r = tuner_for(d).tune(p);
      out.tuned = true;
      out.record = std::move(r.record);
      out.cache_hit = r.cache_hit;
    } catch (const NoValidChoicesError& e) {
      out.record = e.record();
      out.error = e.what();
      out.hints = e.hints();
    } catch (const DeviceFailedError&) {
      throw;  // the scheduler retires the device and gives the problem to another
    } catch (const InvalidProblemError& e) {
      out.error = e.what();
    }
  };
  // Devices are overridden: problems that differ only in theirs are one.
  const std::vector<std::size_t> first = core::first_of_same(problems, [](Problem a, const Problem& b) {
    a.device = b.device;
    return a == b;
  });
  std::vector<std::size_t> distinct;
  for (std::size_t i = 0; i < problems.size(); ++i)
    if (first[i] == i) distinct.push_back(i);
  core::ScheduleReport schedule =
      core::run_on_devices(distinct.size(), devices, [&](std::size_t k, Device d) { run(distinct[k], d); });
  for (std::size_t k = 0; k < distinct.size(); ++k)
    if (!schedule.ran_on[k]) {
      report.results[distinct[k]].tuned = false;
      report.results[distinct[k]].error = "not tuned: " + schedule.unfinished_why[k];
    }
  for (std::size_t i = 0; i < problems.size(); ++i)
    if (first[i] != i) report.results[i] = report.results[first[i]];
  for (const auto& f : schedule.failed_devices) report.failed_devices.push_back(f.message);
  // The tuners (and the workers they share) end here, on the caller's thread.
  tuners.clear();
  return report;
}

DevicesTuneReport tune_on_devices(const std::vector<Problem>& problems, const std::vector<Device>& devices,
                                  const TuneOptions& options) {
  for (const Device& d : devices) {
    const Availability a = runtime::runtime_for(d).availability();
    if (!a.available) throw ConfigError("devices: " + to_string(d) + " is not available: " + a.why);
  }
  // Made here first, so that a bad option is one ConfigError, not one per device.
  { Tuner check(options); }
  return tune_on_devices(problems, devices, [&](Device) { return Tuner(options); });
}

std::vector<Device> parse_devices(std::string_view list) {
  std::vector<Device> out;
  if (list == "all") {
    for (int index = 0;; ++index) {
      runtime::DeviceRuntime& rt = runtime::cuda_runtime(index);
      if (!rt.availability().available) {
        if (index == 0) throw ConfigError("devices: all: no CUDA device here (" + rt.availability().why + ")");
        break;
      }
      out.push_back(Device{DeviceKind::cuda, index});
    }
    return out;
  }
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    const std::string_view item = list.substr(start, end - start);
    auto device = parse_device(item);
    if (!device)
      throw ConfigError("devices: '" + std::string(item) + "' is not a GPU (a list of cuda:N, or the word all)");
    out.push_back(*device);
    start = end + 1;
  }
  check_devices(out);
  for (const Device& d : out) {
    const Availability a = runtime::runtime_for(d).availability();
    if (!a.available) throw ConfigError("devices: " + to_string(d) + " is not available: " + a.why);
  }
  return out;
}

}  // namespace gemmtune
