#include "runtime/device_runtime.h"

#include "runtime/cpu_runtime.h"

namespace gemmtune::runtime {

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = other.owner_;
    ptr_ = other.ptr_;
    bytes_ = other.bytes_;
    other.owner_ = nullptr;
    other.ptr_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (owner_ && ptr_) owner_->release(ptr_);
  owner_ = nullptr;
  ptr_ = nullptr;
  bytes_ = 0;
}

DeviceRuntime& cpu_runtime() {
  static CpuRuntime runtime;
  return runtime;
}

#ifndef GEMMTUNE_HAVE_CUDA
namespace {

// Built without CUDA headers: every call says so.
class CompiledOutCudaRuntime final : public DeviceRuntime {
 public:
  DeviceKind kind() const override { return DeviceKind::cuda; }
  Availability availability() const override { return Availability::no(kWhy); }
  std::string fingerprint() const override { return "cuda=compiled-out"; }
  std::size_t last_level_cache_bytes() const override { return 0; }
  Expected<DeviceBuffer> allocate(std::size_t) override { return no(); }
  Status copy_from_host(void*, const void*, std::size_t) override { return no(); }
  Status copy_to_host(void*, const void*, std::size_t) override { return no(); }
  Status copy_on_device(void*, const void*, std::size_t) override { return no(); }
  Status fill_bytes(void*, unsigned char, std::size_t) override { return no(); }
  Status gather(void*, const void*, std::size_t, const std::vector<std::int64_t>&) override { return no(); }
  Status synchronize() override { return no(); }
  Status flush_caches(const std::vector<MemoryRange>&) override { return no(); }
  Expected<Timing> measure(const std::function<Status(int)>&, const std::function<Status(int)>&,
                           const MeasureOptions&, double) override {
    return no();
  }
  Expected<std::vector<ReferenceValue>> reference(const Problem&, const GemmArgs&,
                                                  const std::vector<OutputIndex>&) override {
    return no();
  }

 protected:
  void release(void*) noexcept override {}

 private:
  static constexpr const char* kWhy = "compiled out: gemmtune was built without the CUDA headers";
  static Rejection no() { return reject(Reason::compiled_out, kWhy); }
};

}  // namespace

DeviceRuntime& cuda_runtime(int) {
  static CompiledOutCudaRuntime runtime;
  return runtime;
}
#endif

DeviceRuntime& runtime_for(Device device) {
  return device.kind == DeviceKind::cpu ? cpu_runtime() : cuda_runtime(device.index);
}

}  // namespace gemmtune::runtime
