// Basic vocabulary shared by every part of gemmtune: data types, ops,
// epilogue pieces, devices. Plain enums with string conversions so that the
// CLI, the store and reports all spell them the same way.
#pragma once

#if __cplusplus < 202002L
#error "gemmtune's C++ API needs C++20: compile with -std=c++20 (the CMake target gemmtune::gemmtune asks for it)"
#endif

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

enum class DType : std::uint8_t {
  f32,
  f64,
  f16,
  bf16,
  i8,
  u8,
  i32,
  f8e4m3,  // OCP fp8 E4M3 (finite only, max 448)
  f8e5m2,  // OCP fp8 E5M2
};

enum class Op : std::uint8_t {
  mm,         // C = act(alpha * A.B)
  addmm,      // C = act(alpha * A.B + beta * bias)
  bmm,        // batched mm
  baddbmm,    // batched addmm
  int_mm,     // int8 x int8 -> int32 (A may be u8), exact, wraps like int32
  mixed_mm,   // A (f32/f16/bf16) x B (int8, per-column f32 scale) -> A's dtype
  scaled_mm,  // fp8 x fp8 with per-tensor or per-channel f32 scales
};

// gelu is the exact erf form; gelu_tanh is PyTorch's approximate="tanh"
// (appended last so that the stored values of the others never change).
enum class Activation : std::uint8_t { none, relu, gelu, silu, gelu_tanh };

// Bias of addmm-style ops. `row` is one value per output column (shape [N]),
// broadcast over the rows, as torch.addmm does with a 1-D input.
enum class BiasKind : std::uint8_t { none, row, full };

// Scales of scaled_mm (A and B) and mixed_mm (B only). per_channel means one
// f32 per row of A (M values) or one per column of B (N values).
enum class ScaleKind : std::uint8_t { none, per_tensor, per_channel };

enum class DeviceKind : std::uint8_t { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;
  friend bool operator==(const Device&, const Device&) = default;
};

// default: a short list chosen from the problem and the machine.
// exhaustive: everything the backend can offer.
enum class SearchSpace : std::uint8_t { standard, exhaustive };

std::string_view to_string(DType);
std::string_view to_string(Op);
std::string_view to_string(Activation);
std::string_view to_string(BiasKind);
std::string_view to_string(ScaleKind);
std::string_view to_string(SearchSpace);  // "default" / "exhaustive"
std::string to_string(Device);            // "cpu", "cuda:0"

// Parsers accept the names above case-insensitively plus common aliases
// ("float32", "bfloat16", "int8", "e4m3", ...). nullopt when unknown.
std::optional<DType> parse_dtype(std::string_view);
std::optional<Op> parse_op(std::string_view);
std::optional<Activation> parse_activation(std::string_view);
std::optional<BiasKind> parse_bias_kind(std::string_view);
std::optional<ScaleKind> parse_scale_kind(std::string_view);
std::optional<SearchSpace> parse_search_space(std::string_view);
std::optional<Device> parse_device(std::string_view);

std::size_t dtype_size(DType);
bool is_floating(DType);  // f32 f64 f16 bf16 fp8
bool is_integer(DType);   // i8 u8 i32
bool is_fp8(DType);
bool is_batched(Op);      // bmm, baddbmm

// Whether an op takes a bias: addmm/baddbmm need one, mixed_mm/scaled_mm may
// have one, mm/bmm/int_mm have none.
enum class BiasRule : std::uint8_t { forbidden, required, optional };
BiasRule bias_rule(Op);

}  // namespace gemmtune

#pragma GCC visibility pop
