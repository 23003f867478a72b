// The CPU as a device: host memory, cache-line flushes for cold timing, a
// steady clock (replaceable, so tests can drive time by hand), and the
// reference computed directly on host data.
#pragma once

#include <functional>

#include "runtime/device_runtime.h"

namespace gemmtune::runtime {

class CpuRuntime final : public DeviceRuntime {
 public:
  // `now_us` is the clock timing runs; default: std::chrono::steady_clock.
  explicit CpuRuntime(std::function<double()> now_us = {});

  DeviceKind kind() const override { return DeviceKind::cpu; }
  Availability availability() const override { return Availability::yes(); }
  std::string fingerprint() const override;
  std::size_t last_level_cache_bytes() const override;
  Expected<DeviceBuffer> allocate(std::size_t bytes) override;
  Status copy_from_host(void* dst, const void* src, std::size_t bytes) override;
  Status copy_to_host(void* dst, const void* src, std::size_t bytes) override;
  Status copy_on_device(void* dst, const void* src, std::size_t bytes) override;
  Status fill_bytes(void* dst, unsigned char value, std::size_t bytes) override;
  Status gather(void* dst, const void* src, std::size_t width, const std::vector<std::int64_t>& offsets) override;
  Status synchronize() override { return Status::success(); }
  Status flush_caches(const std::vector<MemoryRange>& ranges) override;
  Expected<Timing> measure(const std::function<Status(int rep)>& run, const std::function<Status(int rep)>& prepare,
                           const MeasureOptions& options, double best_us) override;
  Expected<std::vector<ReferenceValue>> reference(const Problem&, const GemmArgs&,
                                                  const std::vector<OutputIndex>&) override;

 protected:
  void release(void* ptr) noexcept override;

 private:
  std::function<double()> now_us_;
};

}  // namespace gemmtune::runtime
