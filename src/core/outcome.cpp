#include "gemmtune/outcome.h"

#include <array>

namespace gemmtune {
namespace {

struct ReasonEntry {
  Reason reason;
  std::string_view name;
  std::string_view message;
  bool unsupported;
};

// The one catalogue. Backends add specifics in Rejection::message.
constexpr std::array<ReasonEntry, 18> kReasons{{
    {Reason::compiled_out, "compiled_out", "not compiled into this build", true},
    {Reason::unavailable, "unavailable", "not available on this machine", true},
    {Reason::wrong_device, "wrong_device", "serves another device kind", true},
    {Reason::unsupported_op, "unsupported_op", "op not supported", true},
    {Reason::unsupported_dtype, "unsupported_dtype", "data type not supported", true},
    {Reason::unsupported_layout, "unsupported_layout", "layout or strides not supported", true},
    {Reason::unsupported_epilogue, "unsupported_epilogue", "epilogue not supported", true},
    {Reason::unsupported_alignment, "unsupported_alignment", "pointer alignment too small", true},
    {Reason::unsupported_shape, "unsupported_shape", "shape not supported", true},
    {Reason::missing_isa, "missing_isa", "instruction set missing on this CPU", true},
    {Reason::compile_error, "compile_error", "kernel failed to compile", false},
    {Reason::out_of_resources, "out_of_resources", "out of memory or hardware resources", false},
    {Reason::wrong_result, "wrong_result", "result differs from the reference", false},
    {Reason::non_finite_result, "non_finite_result", "result has NaN or Inf where the reference is finite", false},
    {Reason::runtime_error, "runtime_error", "failed while running", false},
    {Reason::crashed, "crashed", "crashed its process", false},
    {Reason::timed_out, "timed_out", "ran past the time limit", false},
    {Reason::internal_error, "internal_error", "internal error", false},
}};

constexpr std::array<std::string_view, 7> kStageNames{"availability", "enumerate", "build", "verify",
                                                      "run",          "crash",     "timeout"};

const ReasonEntry& entry(Reason r) {
  for (const auto& e : kReasons)
    if (e.reason == r) return e;
  return kReasons.back();
}

}  // namespace

std::string_view to_string(Stage s) { return kStageNames[static_cast<std::size_t>(s)]; }
std::string_view to_string(Reason r) { return entry(r).name; }
std::string_view default_message(Reason r) { return entry(r).message; }
bool is_unsupported(Reason r) { return entry(r).unsupported; }

std::optional<Stage> parse_stage(std::string_view s) {
  for (std::size_t i = 0; i < kStageNames.size(); ++i)
    if (kStageNames[i] == s) return static_cast<Stage>(i);
  return std::nullopt;
}

std::optional<Reason> parse_reason(std::string_view s) {
  for (const auto& e : kReasons)
    if (e.name == s) return e.reason;
  return std::nullopt;
}

std::string Rejection::to_string() const {
  std::string out;
  out += gemmtune::to_string(stage);
  out += "/";
  out += gemmtune::to_string(reason);
  out += ": ";
  out += message.empty() ? std::string(default_message(reason)) : message;
  return out;
}

}  // namespace gemmtune
