#include "isolation/protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "store/record_json.h"

namespace gemmtune::isolation {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Waits until `fd` is ready for `events` or the deadline passes.
Io wait_for(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, deadline.poll_timeout_ms());
    if (ready > 0) {
      if (p.revents & events) return Io::ok;
      // POLLHUP with nothing left to read, POLLERR, POLLNVAL.
      return (p.revents & POLLHUP) ? Io::closed : Io::failed;
    }
    if (ready == 0) {
      if (deadline.passed()) return Io::timeout;
      continue;  // poll's granularity: the deadline is a little later
    }
    if (errno != EINTR) return Io::failed;
  }
}

Io write_all(int fd, const char* data, std::size_t size, Deadline deadline) {
  while (size > 0) {
    if (Io ready = wait_for(fd, POLLOUT, deadline); ready != Io::ok) return ready;
    // MSG_NOSIGNAL: a dead reader gives EPIPE, never a SIGPIPE that would
    // kill the tuner's process.
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return errno == EPIPE || errno == ECONNRESET ? Io::closed : Io::failed;
    }
  }
  return Io::ok;
}

Io read_all(int fd, char* data, std::size_t size, Deadline deadline) {
  while (size > 0) {
    if (Io ready = wait_for(fd, POLLIN, deadline); ready != Io::ok) return ready;
    const ssize_t n = ::recv(fd, data, size, MSG_DONTWAIT);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n == 0) {
      return Io::closed;
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return errno == ECONNRESET ? Io::closed : Io::failed;
    }
  }
  return Io::ok;
}

std::string to_hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string from_hex(const std::string& hex) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw std::runtime_error("cache_dir_hex holds a character that is not a lowercase hex digit");
  };
  if (hex.size() % 2 != 0 || hex.size() > 8192) throw std::runtime_error("cache_dir_hex has a bad length");
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(value(hex[i]) * 16 + value(hex[i + 1]));
  return out;
}

json settings_json(const measure::MeasureSettings& s) {
  const MeasureOptions& o = s.options;
  return json{{"context",
               {{"search_space", std::string(to_string(s.context.search_space))},
                {"threads", s.context.threads},
                {"compile_threads", s.context.compile_threads},
                // In hex: a path is bytes, and JSON text must be UTF-8.
                {"cache_dir_hex", to_hex(s.context.cache_dir)}}},
              {"verify", std::string(to_string(s.verify))},
              {"measure",
               {{"warmup_runs", o.warmup_runs},
                {"budget_ms", o.budget_ms},
                {"min_repeats", o.min_repeats},
                {"max_repeats", o.max_repeats},
                {"cold_cache", o.cold_cache},
                {"choice_timeout_ms", o.choice_timeout_ms ? json(*o.choice_timeout_ms) : json(nullptr)},
                {"noise_margin", o.noise_margin},
                {"early_stop", o.early_stop},
                {"cuda_graph", o.cuda_graph}}},
              // Two numbers, not one: JSON readers elsewhere may hold only 53 bits.
              {"seeds", {s.input_seed >> 32, s.input_seed & 0xffffffffu, s.sample_seed >> 32,
                         s.sample_seed & 0xffffffffu}}};
}

template <typename T>
T enum_or_throw(const std::optional<T>& value, const std::string& what, const std::string& text) {
  if (!value) throw std::runtime_error("unknown " + what + " '" + text + "'");
  return *value;
}

measure::MeasureSettings settings_from_json(const json& j) {
  measure::MeasureSettings s;
  const json& c = j.at("context");
  const std::string space = c.at("search_space").get<std::string>();
  s.context.search_space = enum_or_throw(parse_search_space(space), "search space", space);
  s.context.threads = c.at("threads").get<int>();
  s.context.compile_threads = c.at("compile_threads").get<int>();
  if (s.context.threads < 1 || s.context.compile_threads < 1) throw std::runtime_error("thread counts must be >= 1");
  s.context.cache_dir = from_hex(c.at("cache_dir_hex").get<std::string>());
  const std::string verify = j.at("verify").get<std::string>();
  s.verify = enum_or_throw(parse_verify_mode(verify), "verify mode", verify);
  const json& m = j.at("measure");
  MeasureOptions& o = s.options;
  o.warmup_runs = m.at("warmup_runs").get<int>();
  o.budget_ms = m.at("budget_ms").get<double>();
  o.min_repeats = m.at("min_repeats").get<int>();
  o.max_repeats = m.at("max_repeats").get<int>();
  o.cold_cache = m.at("cold_cache").get<bool>();
  if (!m.at("choice_timeout_ms").is_null()) o.choice_timeout_ms = m.at("choice_timeout_ms").get<double>();
  o.noise_margin = m.at("noise_margin").get<double>();
  // The worker's runtime draws the early stop from it and best_us
  // (measure::early_end): it must be the user's, not the default.
  o.early_stop = m.at("early_stop").get<double>();
  if (!(o.early_stop >= 0 && o.early_stop <= 1)) throw std::runtime_error("early_stop must be in [0, 1]");
  o.cuda_graph = m.at("cuda_graph").get<bool>();
  const json& seeds = j.at("seeds");
  if (!seeds.is_array() || seeds.size() != 4) throw std::runtime_error("seeds: expected 4 numbers");
  auto half = [&](std::size_t i) { return seeds.at(i).get<std::uint64_t>() & 0xffffffffu; };
  s.input_seed = half(0) << 32 | half(1);
  s.sample_seed = half(2) << 32 | half(3);
  return s;
}

}  // namespace

Deadline Deadline::after(double seconds) {
  Deadline d;
  d.at_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  return d;
}

bool Deadline::passed() const { return at_ && Clock::now() >= *at_; }

int Deadline::poll_timeout_ms() const {
  if (!at_) return -1;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*at_ - Clock::now()).count() + 1;
  if (left <= 0) return 0;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

Io write_frame(int fd, const std::string& payload, Deadline deadline) {
  if (payload.size() > kMaxFrameBytes) return Io::too_large;
  const auto n = static_cast<std::uint32_t>(payload.size());
  const unsigned char header[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                                   static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
  if (Io io = write_all(fd, reinterpret_cast<const char*>(header), 4, deadline); io != Io::ok) return io;
  return write_all(fd, payload.data(), payload.size(), deadline);
}

Io read_frame(int fd, std::string& payload, Deadline deadline) {
  unsigned char header[4];
  if (Io io = read_all(fd, reinterpret_cast<char*>(header), 4, deadline); io != Io::ok) return io;
  const std::uint32_t n = std::uint32_t{header[0]} | std::uint32_t{header[1]} << 8 | std::uint32_t{header[2]} << 16 |
                          std::uint32_t{header[3]} << 24;
  if (n > kMaxFrameBytes) return Io::too_large;
  payload.assign(n, '\0');
  return read_all(fd, payload.data(), n, deadline);
}

json to_json(const MeasureRequest& r) {
  return json{{"type", "measure"},
              {"id", r.id},
              {"problem", store::to_json(r.problem)},
              {"backend", r.backend},
              {"backend_version", r.backend_version},
              {"choice", r.choice},
              {"best_us", r.best_us},
              {"settings", settings_json(r.settings)},
              {"failpoints", r.failpoints_text}};
}

MeasureRequest request_from_json(const json& j) {
  MeasureRequest r;
  r.id = j.at("id").get<std::uint64_t>();
  r.problem = store::problem_from_json(j.at("problem"));
  r.backend = j.at("backend").get<std::string>();
  r.backend_version = j.at("backend_version").get<std::string>();
  r.choice = j.at("choice").get<std::string>();
  r.best_us = j.at("best_us").get<double>();
  if (!(r.best_us >= 0)) throw std::runtime_error("best_us must be >= 0");
  r.settings = settings_from_json(j.at("settings"));
  r.failpoints_text = j.at("failpoints").get<std::string>();
  return r;
}

}  // namespace gemmtune::isolation
