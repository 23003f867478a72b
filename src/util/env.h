// Reading GEMMTUNE_* environment variables. A set but malformed value is a
// ConfigError naming the variable, never silently ignored.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gemmtune::env {

// Unset or empty -> nullopt.
std::optional<std::string> get(const char* name);
// "1/true/yes/on" and "0/false/no/off" (any case); other text: nullopt.
std::optional<bool> parse_bool(std::string_view text);
// parse_bool of the variable; text it does not take is a ConfigError.
std::optional<bool> get_bool(const char* name);
// Comma- or space-separated list, empty items dropped.
std::vector<std::string> split_list(const std::string& text);

// The default cache folder when GEMMTUNE_CACHE_DIR (the cache_dir option)
// is not set: $XDG_CACHE_HOME/gemmtune (absolute values only, as XDG says),
// else $HOME/.cache/gemmtune; nullopt when neither is set.
std::optional<std::string> default_cache_dir();

}  // namespace gemmtune::env
