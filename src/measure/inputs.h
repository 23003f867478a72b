// Inputs for verifying and timing: fresh random data (never zeros), made on
// the host and copied to the problem's device. (Cold-cache timing flushes
// these buffers before each run rather than rotating copies of them.)
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "runtime/device_runtime.h"

namespace gemmtune::measure {

// 64-byte aligned host memory.
class HostBuffer {
 public:
  HostBuffer() = default;
  explicit HostBuffer(std::size_t bytes);
  void* data() const { return data_.get(); }
  std::size_t bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> data_;
  std::size_t bytes_ = 0;
};

// Random data for every input of a problem, plus an output buffer filled
// with a poison pattern (0xFF bytes: NaN for floats). Nothing at all for an
// empty output (every pointer null), whatever the size of the inputs.
struct HostData {
  HostBuffer a, b, bias, c, scale_a, scale_b;
  GemmArgs args() const;
};
HostData make_host_data(const Problem&, std::uint64_t seed);

// Throws InvalidProblemError, naming the largest operand, when `copies`
// copies of the problem's operands (A, B, C, bias, scales) cannot fit in
// the memory this process may use (memory::usable_bytes): such a problem
// would be killed, or loop for days, after allocating. An empty output
// needs nothing.
void check_fits_in_memory(const Problem&, int copies);

// Fills `count` elements with values that are exactly representable in the
// dtype: floats uniform in [-1, 1], fp8 in [-2, 2], int8 over its full range.
// The values depend only on the seed, never on `threads` (0: up to 16, as
// the machine has; operands under ~1 M elements take one).
void fill_random(void* data, DType, std::size_t count, std::uint64_t seed, int threads = 0);

inline constexpr unsigned char kPoisonByte = 0xFF;

// One set of inputs on the device.
struct DeviceInputSet {
  runtime::DeviceBuffer a, b, bias, c, scale_a, scale_b;
  GemmArgs args() const;
  // What a run of `problem` reads and writes: each operand's rows (or
  // columns) and batches, not the gaps between them.
  std::vector<runtime::MemoryRange> ranges(const Problem& problem) const;
};

// Copies host data to the device. Fails with out_of_resources when device
// memory runs out.
Expected<DeviceInputSet> upload(runtime::DeviceRuntime&, const HostData&);

// Writes the poison pattern into the output of a set.
Status poison_output(runtime::DeviceRuntime&, DeviceInputSet&);

}  // namespace gemmtune::measure
