#include "measure/inputs.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "gemmtune/errors.h"
#include "util/memory.h"
#include "util/numeric.h"

namespace gemmtune::measure {
namespace {

constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ull;  // splitmix64's step

// splitmix64: fast, good enough for test data, reproducible from a seed.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += kGolden);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

void fill_scales(const HostBuffer& buffer, std::size_t count, std::uint64_t seed) {
  Rng rng{seed};
  auto* out = static_cast<float*>(buffer.data());
  for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<float>(rng.uniform(0.25, 2.0));
}

// Elements [begin, end) of fill_random's sequence. splitmix64 is counter
// based (element i draws from state seed + (i + 1) * step), so a range starts
// where the whole sequence would be at `begin`: the result does not depend on
// how the elements are split between threads.
void fill_range(void* data, DType dtype, std::size_t begin, std::size_t end, std::uint64_t seed) {
  Rng rng{seed + begin * kGolden};
  switch (dtype) {
    case DType::i8: {
      auto* out = static_cast<std::int8_t*>(data);
      for (std::size_t i = begin; i < end; ++i) out[i] = static_cast<std::int8_t>(rng.next() >> 56);
      return;
    }
    case DType::u8: {
      auto* out = static_cast<std::uint8_t*>(data);
      for (std::size_t i = begin; i < end; ++i) out[i] = static_cast<std::uint8_t>(rng.next() >> 56);
      return;
    }
    case DType::i32: {
      auto* out = static_cast<std::int32_t*>(data);
      for (std::size_t i = begin; i < end; ++i) out[i] = static_cast<std::int32_t>(rng.next() >> 48) - 32768;
      return;
    }
    case DType::f32: {
      auto* out = static_cast<float*>(data);
      for (std::size_t i = begin; i < end; ++i) out[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
      return;
    }
    case DType::bf16: {  // the common GPU input: no per-element dtype switch
      auto* out = static_cast<std::uint16_t*>(data);
      for (std::size_t i = begin; i < end; ++i)
        out[i] = numeric::float_to_bf16(static_cast<float>(rng.uniform(-1.0, 1.0)));
      return;
    }
    case DType::f16: {
      auto* out = static_cast<std::uint16_t*>(data);
      for (std::size_t i = begin; i < end; ++i)
        out[i] = numeric::float_to_f16(static_cast<float>(rng.uniform(-1.0, 1.0)));
      return;
    }
    default: {
      const double range = is_fp8(dtype) ? 2.0 : 1.0;
      for (std::size_t i = begin; i < end; ++i)
        numeric::store_from_double(data, dtype, static_cast<std::int64_t>(i), rng.uniform(-range, range));
      return;
    }
  }
}

}  // namespace

void HostBuffer::Free::operator()(void* p) const { std::free(p); }

HostBuffer::HostBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  std::size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw std::bad_alloc();
  data_.reset(p);
}

void fill_random(void* data, DType dtype, std::size_t count, std::uint64_t seed, int threads) {
  // Large operands (a 4096 x 4096 bf16 pair took ~0.1 s of every GPU
  // tuning process, alone) are filled by several threads; small ones are
  // not worth a thread's start.
  constexpr std::size_t kPerThread = std::size_t{1} << 20;
  if (threads <= 0) threads = static_cast<int>(std::min(16u, std::max(1u, std::thread::hardware_concurrency())));
  const std::size_t parts = std::clamp<std::size_t>(count / kPerThread, 1, static_cast<std::size_t>(threads));
  if (parts == 1) return fill_range(data, dtype, 0, count, seed);
  std::vector<std::thread> pool;
  const std::size_t step = (count + parts - 1) / parts;
  for (std::size_t t = 1; t < parts; ++t)
    pool.emplace_back(fill_range, data, dtype, t * step, std::min(count, (t + 1) * step), seed);
  fill_range(data, dtype, 0, std::min(count, step), seed);
  for (std::thread& t : pool) t.join();
}

void check_fits_in_memory(const Problem& p, int copies) {
  if (operand_bytes(p.c, p.batch) == 0) return;
  struct Operand {
    const char* field;
    std::uint64_t bytes;
  };
  // validate() has checked that each span times its element size fits in
  // 64 bits; the sum and the copies are added with saturation.
  const Operand operands[] = {
      {"a", p.k > 0 ? operand_bytes(p.a, p.batch) : 0},
      {"b", p.k > 0 ? operand_bytes(p.b, p.batch) : 0},
      {"c", operand_bytes(p.c, p.batch)},
      {"bias_desc", p.bias != BiasKind::none ? operand_bytes(p.bias_desc, p.batch) : 0},
      {"scale_a", scale_count(p.scale_a, p.m) * sizeof(float)},
      {"scale_b", scale_count(p.scale_b, p.n) * sizeof(float)},
  };
  std::uint64_t total = 0;
  const Operand* largest = &operands[0];
  for (const auto& o : operands) {
    if (__builtin_add_overflow(total, o.bytes, &total)) total = UINT64_MAX;
    if (o.bytes > largest->bytes) largest = &o;
  }
  std::uint64_t needed = 0;
  if (__builtin_mul_overflow(total, static_cast<std::uint64_t>(copies), &needed)) needed = UINT64_MAX;
  const std::uint64_t usable = memory::usable_bytes();
  if (needed > usable)
    throw InvalidProblemError(largest->field, describe(p) + " needs " + memory::human_bytes(needed) + " for " +
                                                  std::to_string(copies) + " copies of its operands (" +
                                                  largest->field + " alone " + memory::human_bytes(largest->bytes) +
                                                  "); this process may use " + memory::human_bytes(usable));
}

HostData make_host_data(const Problem& p, std::uint64_t seed) {
  HostData d;
  // An empty output reads nothing: A (2^40 x 5 for M = 2^40, N = 0) would be
  // terabytes allocated and filled for a call that must finish at once.
  if (operand_bytes(p.c, p.batch) == 0) return d;
  auto make = [&](HostBuffer& buffer, const MatrixDesc& desc, std::uint64_t salt) {
    std::size_t bytes = operand_bytes(desc, p.batch);
    buffer = HostBuffer(bytes);
    if (bytes) fill_random(buffer.data(), desc.dtype, bytes / dtype_size(desc.dtype), seed * 7919 + salt);
  };
  make(d.a, p.a, 1);
  make(d.b, p.b, 2);
  if (p.bias != BiasKind::none) make(d.bias, p.bias_desc, 3);
  d.c = HostBuffer(operand_bytes(p.c, p.batch));
  if (d.c.bytes()) std::memset(d.c.data(), kPoisonByte, d.c.bytes());
  if (std::size_t n = scale_count(p.scale_a, p.m)) {
    d.scale_a = HostBuffer(n * sizeof(float));
    fill_scales(d.scale_a, n, seed * 7919 + 4);
  }
  if (std::size_t n = scale_count(p.scale_b, p.n)) {
    d.scale_b = HostBuffer(n * sizeof(float));
    fill_scales(d.scale_b, n, seed * 7919 + 5);
  }
  return d;
}

GemmArgs HostData::args() const {
  return GemmArgs{a.data(), b.data(), c.data(), bias.data(), static_cast<const float*>(scale_a.data()),
                  static_cast<const float*>(scale_b.data())};
}

GemmArgs DeviceInputSet::args() const {
  return GemmArgs{a.get(), b.get(), c.get(), bias.get(), static_cast<const float*>(scale_a.get()),
                  static_cast<const float*>(scale_b.get())};
}

namespace {

// The bytes a run touches in one operand's buffer: a run of elements along
// its unit stride per row (or column) and batch, neighbours merged. A slice
// of a wider tensor (--lda 262144 for a 64x64 A) touches 16 KB of a 63 MB
// buffer: evicting every line of the buffer before each timed run took 47 s
// of a tuning that takes 0.14 s on a dense A. Operands with no unit stride,
// or more runs than are worth listing, are the whole buffer.
void add_touched(std::vector<runtime::MemoryRange>& out, const runtime::DeviceBuffer& buffer, const MatrixDesc& d,
                 std::int64_t batch) {
  if (buffer.bytes() == 0) return;
  const auto* base = static_cast<const char*>(buffer.get());
  const std::size_t width = dtype_size(d.dtype);
  const bool by_rows = d.col_stride == 1 || d.cols == 1;
  const bool by_columns = !by_rows && (d.row_stride == 1 || d.rows == 1);
  const std::int64_t lines = by_rows ? d.rows : d.cols;
  const std::int64_t line_elements = by_rows ? d.cols : d.rows;
  const std::int64_t line_stride = by_rows ? d.row_stride : d.col_stride;
  const std::int64_t batches = d.batch_stride == 0 ? 1 : batch;
  constexpr std::int64_t kMaxRuns = 1 << 20;
  if ((!by_rows && !by_columns) || lines * batches > kMaxRuns || line_elements == 0) {
    out.push_back({base, buffer.bytes()});
    return;
  }
  const std::size_t first = out.size();
  for (std::int64_t b = 0; b < batches; ++b)
    for (std::int64_t i = 0; i < lines; ++i) {
      const std::size_t at = static_cast<std::size_t>(b * d.batch_stride + i * line_stride) * width;
      const std::size_t bytes = static_cast<std::size_t>(line_elements) * width;
      if (at >= buffer.bytes()) continue;
      runtime::MemoryRange run{base + at, std::min(bytes, buffer.bytes() - at)};
      if (out.size() > first) {
        auto& last = out.back();
        if (static_cast<const char*>(last.data) + last.bytes == static_cast<const char*>(run.data)) {
          last.bytes += run.bytes;
          continue;
        }
      }
      out.push_back(run);
    }
}

}  // namespace

std::vector<runtime::MemoryRange> DeviceInputSet::ranges(const Problem& p) const {
  std::vector<runtime::MemoryRange> out;
  add_touched(out, a, p.a, p.batch);
  add_touched(out, b, p.b, p.batch);
  if (p.bias != BiasKind::none) add_touched(out, bias, p.bias_desc, p.batch);
  add_touched(out, c, p.c, p.batch);
  for (const auto* buffer : {&scale_a, &scale_b})
    if (buffer->bytes()) out.push_back({buffer->get(), buffer->bytes()});
  return out;
}

Expected<DeviceInputSet> upload(runtime::DeviceRuntime& rt, const HostData& host) {
  DeviceInputSet set;
  struct Pair {
    const HostBuffer* host;
    runtime::DeviceBuffer* device;
  };
  for (Pair pair : {Pair{&host.a, &set.a}, Pair{&host.b, &set.b}, Pair{&host.bias, &set.bias},
                    Pair{&host.c, &set.c}, Pair{&host.scale_a, &set.scale_a}, Pair{&host.scale_b, &set.scale_b}}) {
    if (pair.host->bytes() == 0) continue;
    auto buffer = rt.allocate(pair.host->bytes());
    if (!buffer) return buffer.error();
    *pair.device = std::move(buffer.value());
    if (Status s = rt.copy_from_host(pair.device->get(), pair.host->data(), pair.host->bytes()); !s) return s.error();
  }
  return set;
}

Status poison_output(runtime::DeviceRuntime& rt, DeviceInputSet& set) {
  if (set.c.bytes() == 0) return Status::success();
  return rt.fill_bytes(set.c.get(), kPoisonByte, set.c.bytes());
}

}  // namespace gemmtune::measure
