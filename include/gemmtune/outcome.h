// Rejections as values: the one reason catalogue shared by every backend, so
// that reports read the same everywhere, and a small Expected<T> to return
// either a result or the reason there is none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

// Where in the tuning pipeline a backend or a choice dropped out.
enum class Stage : std::uint8_t {
  availability,  // the backend cannot run on this machine at all
  enumerate,     // the backend does not serve this problem
  build,         // the choice could not be built (compile error, resources)
  verify,        // the choice ran but its result was wrong (or NaN/Inf)
  run,           // the choice failed while running
  crash,         // the choice killed its process (isolated runs only)
  timeout,       // the choice ran far past the time limit
};

// The catalogue. "Not for me" codes (unsupported_*, wrong_device,
// missing_isa, ...) are distinct from "broken" codes (internal_error, ...).
enum class Reason : std::uint8_t {
  // not for me
  compiled_out,
  unavailable,
  wrong_device,
  unsupported_op,
  unsupported_dtype,
  unsupported_layout,
  unsupported_epilogue,
  unsupported_alignment,
  unsupported_shape,
  missing_isa,
  // broken or failed
  compile_error,
  out_of_resources,
  wrong_result,
  non_finite_result,
  runtime_error,
  crashed,
  timed_out,
  internal_error,
};

std::string_view to_string(Stage);
std::string_view to_string(Reason);          // "unsupported_dtype"
std::string_view default_message(Reason);    // "data type not supported"
bool is_unsupported(Reason);                 // true for the "not for me" codes
std::optional<Stage> parse_stage(std::string_view);
std::optional<Reason> parse_reason(std::string_view);

struct Rejection {
  Stage stage = Stage::enumerate;  // set by the tuner from where it happened
  Reason reason = Reason::internal_error;
  std::string message;             // specific: "int8 inputs not supported"

  // "enumerate/unsupported_dtype: int8 inputs not supported"
  std::string to_string() const;
  friend bool operator==(const Rejection&, const Rejection&) = default;
};

inline Rejection reject(Reason reason, std::string message) {
  return Rejection{Stage::enumerate, reason, std::move(message)};
}

// Either a value or the rejection that explains why there is none.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}            // NOLINT
  Expected(Rejection rejection) : state_(std::move(rejection)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const Rejection& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Rejection> state_;
};

// Success or a rejection, for operations with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Rejection rejection) : error_(std::move(rejection)) {}  // NOLINT
  static Status success() { return {}; }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Rejection& error() const { return *error_; }

 private:
  std::optional<Rejection> error_;
};

}  // namespace gemmtune

#pragma GCC visibility pop
