#include "runtime/cpu_runtime.h"

#include <immintrin.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "backends/reference/reference_math.h"
#include "measure/timing.h"
#include "util/cpu_info.h"

namespace gemmtune::runtime {

CpuRuntime::CpuRuntime(std::function<double()> now_us) : now_us_(std::move(now_us)) {
  if (!now_us_) {
    now_us_ = [] {
      using namespace std::chrono;
      return duration<double, std::micro>(steady_clock::now().time_since_epoch()).count();
    };
  }
}

std::string CpuRuntime::fingerprint() const {
  const auto& info = cpu::info();
  return "cpu=" + info.model + ";isa=" + info.isa_list() + ";cpus=" + std::to_string(info.logical_cpus);
}

std::size_t CpuRuntime::last_level_cache_bytes() const { return cpu::info().l3_bytes; }

Expected<DeviceBuffer> CpuRuntime::allocate(std::size_t bytes) {
  if (bytes == 0) return DeviceBuffer(this, nullptr, 0);
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr)
    return reject(Reason::out_of_resources, "could not allocate " + std::to_string(bytes) + " bytes of host memory");
  return DeviceBuffer(this, p, bytes);
}

void CpuRuntime::release(void* ptr) noexcept { std::free(ptr); }

Status CpuRuntime::copy_from_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
  return Status::success();
}
Status CpuRuntime::copy_to_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
  return Status::success();
}
Status CpuRuntime::copy_on_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes) std::memmove(dst, src, bytes);
  return Status::success();
}
Status CpuRuntime::fill_bytes(void* dst, unsigned char value, std::size_t bytes) {
  if (bytes) std::memset(dst, value, bytes);
  return Status::success();
}
Status CpuRuntime::gather(void* dst, const void* src, std::size_t width, const std::vector<std::int64_t>& offsets) {
  auto* out = static_cast<unsigned char*>(dst);
  const auto* in = static_cast<const unsigned char*>(src);
  for (std::size_t s = 0; s < offsets.size(); ++s)
    std::memcpy(out + s * width, in + static_cast<std::size_t>(offsets[s]) * width, width);
  return Status::success();
}

Status CpuRuntime::flush_caches(const std::vector<MemoryRange>& ranges) {
  // clflush evicts a line from every cache level of every core.
  for (const auto& range : ranges) {
    const auto* p = static_cast<const char*>(range.data);
    for (std::size_t off = 0; off < range.bytes; off += 64) _mm_clflush(p + off);
  }
  _mm_mfence();
  return Status::success();
}

Expected<Timing> CpuRuntime::measure(const std::function<Status(int rep)>& run,
                                     const std::function<Status(int rep)>& prepare, const MeasureOptions& options,
                                     double /*best_us*/) {
  // No early stop (nor settled medians) on the CPU: what ran before can slow
  // a choice's first runs for tens of milliseconds (OpenBLAS's threads spin
  // after a call: oneDNN measured right after BLAS read 4.1-8.4 ms for its
  // first 10 runs and 0.19 ms over the whole budget), so a short series can
  // wrongly rule a choice out.
  return measure::repeat_and_summarize(
      [&](int rep) -> Expected<double> {
        if (Status s = prepare(rep); !s) return s.error();
        const double start = now_us_();
        Status s = run(rep);
        const double stop = now_us_();
        if (!s) return s.error();
        return stop - start;
      },
      options);
}

Expected<std::vector<ReferenceValue>> CpuRuntime::reference(const Problem& p, const GemmArgs& args,
                                                            const std::vector<OutputIndex>& indices) {
  std::vector<ReferenceValue> out(indices.size());
  const int workers = std::max(1, std::min(cpu::info().logical_cpus, static_cast<int>(indices.size() / 64 + 1)));
  auto work = [&](int w) {
    for (std::size_t s = static_cast<std::size_t>(w); s < indices.size(); s += static_cast<std::size_t>(workers))
      out[s] = reference::element(p, args, indices[s].batch, indices[s].row, indices[s].col);
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  return out;
}

}  // namespace gemmtune::runtime
