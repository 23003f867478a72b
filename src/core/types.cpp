#include "gemmtune/types.h"

#include "gemmtune/options.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace gemmtune {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

template <typename E, std::size_t N>
std::optional<E> lookup(const std::array<std::pair<std::string_view, E>, N>& table, std::string_view text) {
  std::string key = lower(text);
  for (const auto& [name, value] : table)
    if (name == key) return value;
  return std::nullopt;
}

constexpr std::array<std::pair<std::string_view, DType>, 23> kDTypeNames{{
    {"f32", DType::f32},       {"float32", DType::f32},     {"float", DType::f32},
    {"f64", DType::f64},       {"float64", DType::f64},     {"double", DType::f64},
    {"f16", DType::f16},       {"float16", DType::f16},     {"half", DType::f16},
    {"bf16", DType::bf16},     {"bfloat16", DType::bf16},   {"i8", DType::i8},
    {"int8", DType::i8},       {"s8", DType::i8},           {"u8", DType::u8},
    {"uint8", DType::u8},      {"i32", DType::i32},         {"int32", DType::i32},
    {"f8e4m3", DType::f8e4m3}, {"e4m3", DType::f8e4m3},     {"float8_e4m3fn", DType::f8e4m3},
    {"f8e5m2", DType::f8e5m2}, {"e5m2", DType::f8e5m2},
}};

constexpr std::array<std::pair<std::string_view, Op>, 7> kOpNames{{
    {"mm", Op::mm},
    {"addmm", Op::addmm},
    {"bmm", Op::bmm},
    {"baddbmm", Op::baddbmm},
    {"int_mm", Op::int_mm},
    {"mixed_mm", Op::mixed_mm},
    {"scaled_mm", Op::scaled_mm},
}};

constexpr std::array<std::pair<std::string_view, Activation>, 7> kActivationNames{{
    {"none", Activation::none},
    {"relu", Activation::relu},
    {"gelu", Activation::gelu},
    {"silu", Activation::silu},
    {"swish", Activation::silu},
    {"gelu_tanh", Activation::gelu_tanh},
    {"gelu-tanh", Activation::gelu_tanh},
}};

constexpr std::array<std::pair<std::string_view, BiasKind>, 3> kBiasNames{{
    {"none", BiasKind::none},
    {"row", BiasKind::row},
    {"full", BiasKind::full},
}};

constexpr std::array<std::pair<std::string_view, ScaleKind>, 5> kScaleNames{{
    {"none", ScaleKind::none},
    {"per_tensor", ScaleKind::per_tensor},
    {"tensor", ScaleKind::per_tensor},
    {"per_channel", ScaleKind::per_channel},
    {"channel", ScaleKind::per_channel},
}};

constexpr std::array<std::pair<std::string_view, SearchSpace>, 3> kSpaceNames{{
    {"default", SearchSpace::standard},
    {"standard", SearchSpace::standard},
    {"exhaustive", SearchSpace::exhaustive},
}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<std::string_view, E>, N>& table, E value) {
  for (const auto& [name, v] : table)
    if (v == value) return name;  // the first entry is the canonical spelling
  return "?";
}

}  // namespace

std::string_view to_string(DType v) {
  switch (v) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i8: return "i8";
    case DType::u8: return "u8";
    case DType::i32: return "i32";
    case DType::f8e4m3: return "f8e4m3";
    case DType::f8e5m2: return "f8e5m2";
  }
  return "?";
}
std::string_view to_string(Op v) { return name_of(kOpNames, v); }
std::string_view to_string(Activation v) { return name_of(kActivationNames, v); }
std::string_view to_string(BiasKind v) { return name_of(kBiasNames, v); }
std::string_view to_string(ScaleKind v) { return name_of(kScaleNames, v); }
std::string_view to_string(SearchSpace v) { return name_of(kSpaceNames, v); }

std::string to_string(Device d) {
  if (d.kind == DeviceKind::cpu) return "cpu";
  return "cuda:" + std::to_string(d.index);
}

std::optional<DType> parse_dtype(std::string_view s) { return lookup(kDTypeNames, s); }
std::optional<Op> parse_op(std::string_view s) { return lookup(kOpNames, s); }
std::optional<Activation> parse_activation(std::string_view s) { return lookup(kActivationNames, s); }
std::optional<BiasKind> parse_bias_kind(std::string_view s) { return lookup(kBiasNames, s); }
std::optional<ScaleKind> parse_scale_kind(std::string_view s) { return lookup(kScaleNames, s); }
std::optional<SearchSpace> parse_search_space(std::string_view s) { return lookup(kSpaceNames, s); }

std::optional<VerifyMode> parse_verify_mode(std::string_view s) {
  const std::string t = lower(s);
  if (t == "auto" || t == "automatic") return VerifyMode::automatic;
  if (t == "full") return VerifyMode::full;
  if (t == "sampled") return VerifyMode::sampled;
  if (t == "off") return VerifyMode::off;
  return std::nullopt;
}

std::string_view to_string(VerifyMode v) {
  switch (v) {
    case VerifyMode::automatic: return "auto";
    case VerifyMode::full: return "full";
    case VerifyMode::sampled: return "sampled";
    case VerifyMode::off: return "off";
  }
  return "?";
}

std::optional<Isolation> parse_isolation(std::string_view s) {
  const std::string t = lower(s);
  if (t == "process") return Isolation::process;
  if (t == "none") return Isolation::none;
  return std::nullopt;
}

std::string_view to_string(Isolation v) { return v == Isolation::process ? "process" : "none"; }

double default_choice_timeout_seconds(DeviceKind kind) {
  return kind == DeviceKind::cpu ? kDefaultCpuChoiceTimeoutSeconds : kDefaultCudaChoiceTimeoutSeconds;
}

std::optional<Device> parse_device(std::string_view s) {
  std::string t = lower(s);
  if (t == "cpu") return Device{DeviceKind::cpu, 0};
  if (t == "cuda" || t == "gpu") return Device{DeviceKind::cuda, 0};
  if (t.rfind("cuda:", 0) == 0 && t.size() > 5) {
    int index = 0;
    auto [ptr, ec] = std::from_chars(t.data() + 5, t.data() + t.size(), index);
    if (ec == std::errc() && ptr == t.data() + t.size() && index >= 0) return Device{DeviceKind::cuda, index};
  }
  return std::nullopt;
}

std::size_t dtype_size(DType v) {
  switch (v) {
    case DType::f64: return 8;
    case DType::f32:
    case DType::i32: return 4;
    case DType::f16:
    case DType::bf16: return 2;
    case DType::i8:
    case DType::u8:
    case DType::f8e4m3:
    case DType::f8e5m2: return 1;
  }
  return 1;
}

bool is_fp8(DType v) { return v == DType::f8e4m3 || v == DType::f8e5m2; }
bool is_integer(DType v) { return v == DType::i8 || v == DType::u8 || v == DType::i32; }
bool is_floating(DType v) { return !is_integer(v); }
bool is_batched(Op op) { return op == Op::bmm || op == Op::baddbmm; }

BiasRule bias_rule(Op op) {
  switch (op) {
    case Op::addmm:
    case Op::baddbmm: return BiasRule::required;
    case Op::mixed_mm:
    case Op::scaled_mm: return BiasRule::optional;
    default: return BiasRule::forbidden;
  }
}

}  // namespace gemmtune
