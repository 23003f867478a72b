#include "util/log.h"

#include <cctype>
#include <cstdio>
#include <mutex>

#include "util/env.h"

namespace gemmtune::log {
namespace {

Level threshold() {
  static const Level level = [] {
    auto v = env::get("GEMMTUNE_LOG");
    return v ? parse_level(*v).value_or(Level::warn) : Level::warn;
  }();
  return level;
}

}  // namespace

std::optional<Level> parse_level(std::string_view text) {
  std::string v(text);
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "error") return Level::error;
  if (v == "warn" || v == "warning") return Level::warn;
  if (v == "info") return Level::info;
  if (v == "debug") return Level::debug;
  return std::nullopt;
}

bool enabled(Level level) { return level <= threshold(); }

void write(Level level, const std::string& message) {
  if (!enabled(level)) return;
  static std::mutex mutex;
  static const char* names[] = {"error", "warning", "info", "debug"};
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "gemmtune: %s: %s\n", names[static_cast<int>(level)], message.c_str());
}

std::string ms_between(std::chrono::steady_clock::time_point start, std::chrono::steady_clock::time_point end) {
  const double ms = std::chrono::duration<double, std::milli>(end - start).count();
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", ms);
  return text;
}

std::string ms_since(std::chrono::steady_clock::time_point start) {
  return ms_between(start, std::chrono::steady_clock::now());
}

}  // namespace gemmtune::log
