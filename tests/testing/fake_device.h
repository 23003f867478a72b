// A fake device of any kind (a "GPU" made of host memory), so that what
// depends on devices (sharing records between identical GPUs, spreading a
// workload over several) can be tested on a machine without them. It is a
// CPU runtime on the fake clock that reports another kind and fingerprint.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/cpu_runtime.h"
#include "testing/fake_backend.h"

namespace gemmtune::testing {

class FakeDevice final : public runtime::DeviceRuntime {
 public:
  FakeDevice(DeviceKind kind, std::string fingerprint, std::shared_ptr<FakeClock> clock)
      : kind_(kind), fingerprint_(std::move(fingerprint)), host_(make_fake_cpu_runtime(std::move(clock))) {}

  DeviceKind kind() const override { return kind_; }
  Availability availability() const override { return Availability::yes(); }
  std::string fingerprint() const override { return fingerprint_; }
  std::size_t last_level_cache_bytes() const override { return host_->last_level_cache_bytes(); }
  Expected<runtime::DeviceBuffer> allocate(std::size_t bytes) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++allocations_;
    }
    return host_->allocate(bytes);
  }
  // What a real GPU makes on first use (its context): recorded, so that a
  // test can see when, how often and on which thread the measurer asks.
  void prepare() override {
    std::lock_guard<std::mutex> lock(mutex_);
    prepares_.push_back(Prepared{std::this_thread::get_id(), allocations_});
  }
  struct Prepared {
    std::thread::id thread;
    int allocations_before = 0;  // buffers allocated before this prepare()
  };
  std::vector<Prepared> prepares() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return prepares_;
  }
  Status copy_from_host(void* d, const void* s, std::size_t n) override { return host_->copy_from_host(d, s, n); }
  Status copy_to_host(void* d, const void* s, std::size_t n) override {
    count_to_host(n);
    return host_->copy_to_host(d, s, n);
  }
  Status copy_on_device(void* d, const void* s, std::size_t n) override { return host_->copy_on_device(d, s, n); }
  Status fill_bytes(void* d, unsigned char v, std::size_t n) override { return host_->fill_bytes(d, v, n); }
  Status gather(void* d, const void* s, std::size_t width, const std::vector<std::int64_t>& offsets) override {
    count_to_host(offsets.size() * width);
    return host_->gather(d, s, width, offsets);
  }
  // Bytes brought back to the host (copy_to_host, gather), as a real GPU
  // would move them over PCIe.
  std::size_t bytes_to_host() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_to_host_;
  }
  Status synchronize() override { return host_->synchronize(); }
  Status flush_caches(const std::vector<runtime::MemoryRange>& r) override { return host_->flush_caches(r); }
  Expected<Timing> measure(const std::function<Status(int)>& run, const std::function<Status(int)>& prepare,
                           const MeasureOptions& options, double best_us) override {
    return host_->measure(run, prepare, options, best_us);
  }
  Expected<std::vector<runtime::ReferenceValue>> reference(const Problem& p, const GemmArgs& args,
                                                           const std::vector<runtime::OutputIndex>& at) override {
    return host_->reference(p, args, at);
  }

 protected:
  // Buffers come from (and go back to) the host runtime: never called here.
  void release(void*) noexcept override {}

 private:
  void count_to_host(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    bytes_to_host_ += bytes;
  }

  DeviceKind kind_;
  std::string fingerprint_;
  mutable std::mutex mutex_;
  int allocations_ = 0;
  std::vector<Prepared> prepares_;
  std::size_t bytes_to_host_ = 0;
  std::unique_ptr<runtime::CpuRuntime> host_;
};

}  // namespace gemmtune::testing
