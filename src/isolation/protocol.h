// The measuring worker's protocol: frames of JSON over one Unix stream
// socket (a pipe in both directions that never raises SIGPIPE).
//
// Frame: 4-byte little-endian payload length, then the payload (UTF-8 JSON
// text). A length over kMaxFrameBytes is a protocol error: neither side
// allocates what the other merely claims. Every read and write on the
// parent's side has a deadline, so a dead or silent worker never blocks it.
//
// Messages (each a JSON object with "type"):
//   worker -> parent  hello   {protocol, version, pid}  once, at start
//   parent -> worker  measure {id, problem, backend, backend_version, choice,
//                              best_us, context, verify, measure, seeds,
//                              failpoints}
//   worker -> parent  phase   {id, phase: prepare|build|run}  as each starts
//   worker -> parent  result  {id, outcome, healthy}  (outcome: the store's
//                              JSON form of a ChoiceOutcome)
//   parent -> worker  forget  {}  (drop the current problem's inputs)
// The worker exits when its socket closes (its parent is gone or done).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "gemmtune/record.h"
#include "measure/measurer.h"

namespace gemmtune::isolation {

inline constexpr int kProtocolVersion = 1;
inline constexpr std::uint32_t kMaxFrameBytes = 8u << 20;

// A point in time (steady clock), or never.
class Deadline {
 public:
  static Deadline never() { return Deadline(); }
  static Deadline after(double seconds);
  bool is_never() const { return !at_; }
  bool passed() const;
  // Milliseconds left for poll(): -1 for never, 0 when passed.
  int poll_timeout_ms() const;

 private:
  std::optional<std::chrono::steady_clock::time_point> at_;
};

enum class Io : std::uint8_t {
  ok,
  closed,     // the other side closed the socket (or died)
  timeout,    // the deadline passed
  too_large,  // a frame over kMaxFrameBytes
  failed,     // any other error of the socket
};

Io write_frame(int fd, const std::string& payload, Deadline deadline);
Io read_frame(int fd, std::string& payload, Deadline deadline);

// One choice to measure, as the parent sends it.
struct MeasureRequest {
  std::uint64_t id = 0;
  Problem problem;
  std::string backend;
  std::string backend_version;  // the worker refuses to measure another version
  std::string choice;
  double best_us = 0;                 // the best median so far (the early stops: measure::early_end)
  measure::MeasureSettings settings;  // context without device; failpoints as text:
  std::string failpoints_text;        // the worker parses them again
};

nlohmann::json to_json(const MeasureRequest&);
// Throws std::exception (nlohmann or StoreError) on a malformed request.
MeasureRequest request_from_json(const nlohmann::json&);

// Rejection messages are cut to this many bytes before they travel (a
// compiler's log can be long); the frame limit is far above it.
inline constexpr std::size_t kMaxMessageBytes = 64 * 1024;

}  // namespace gemmtune::isolation
