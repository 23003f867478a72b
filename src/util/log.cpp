#include "util/log.h"

#include <cstdio>
#include <mutex>

#include "util/env.h"

namespace gemmtune::log {
namespace {

Level threshold() {
  static const Level level = [] {
    auto v = env::get("GEMMTUNE_LOG");
    if (!v) return Level::warn;
    if (*v == "error") return Level::error;
    if (*v == "info") return Level::info;
    if (*v == "debug") return Level::debug;
    return Level::warn;
  }();
  return level;
}

}  // namespace

bool enabled(Level level) { return level <= threshold(); }

void write(Level level, const std::string& message) {
  if (!enabled(level)) return;
  static std::mutex mutex;
  static const char* names[] = {"error", "warning", "info", "debug"};
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "gemmtune: %s: %s\n", names[static_cast<int>(level)], message.c_str());
}

}  // namespace gemmtune::log
