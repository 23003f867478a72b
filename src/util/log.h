// Diagnostics on stderr, filtered by GEMMTUNE_LOG (error|warn|info|debug;
// default warn). Warnings meant for the user (fallback, damaged database)
// go through TuneOptions::on_warning instead, so callers can capture them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace gemmtune::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

// "error", "warn", "info", "debug" (any case); nullopt else. A malformed
// GEMMTUNE_LOG is a ConfigError where options are resolved (option_table);
// here it reads as the default.
std::optional<Level> parse_level(std::string_view);

bool enabled(Level);
void write(Level, const std::string& message);
inline void debug(const std::string& m) { write(Level::debug, m); }
inline void info(const std::string& m) { write(Level::info, m); }

// "12.3 ms": the time since `start`, for debug lines that time a step.
std::string ms_since(std::chrono::steady_clock::time_point start);
// The same between two time points.
std::string ms_between(std::chrono::steady_clock::time_point start, std::chrono::steady_clock::time_point end);

}  // namespace gemmtune::log
