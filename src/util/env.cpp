#include "util/env.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "gemmtune/errors.h"

namespace gemmtune::env {

std::optional<std::string> get(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string v(text);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

std::optional<bool> get_bool(const char* name) {
  auto value = get(name);
  if (!value) return std::nullopt;
  if (auto flag = parse_bool(*value)) return flag;
  throw ConfigError(std::string(name) + "=" + *value + " is not a boolean (use 1 or 0)");
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  for (char c : text) {
    if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
      if (!item.empty()) out.push_back(item);
      item.clear();
    } else {
      item += c;
    }
  }
  if (!item.empty()) out.push_back(item);
  return out;
}

std::optional<std::string> default_cache_dir() {
  if (auto xdg = get("XDG_CACHE_HOME"); xdg && xdg->front() == '/') return *xdg + "/gemmtune";
  if (auto home = get("HOME")) return *home + "/.cache/gemmtune";
  return std::nullopt;
}

}  // namespace gemmtune::env
