// `gemmtune backends`: every built-in backend, available or not, and what
// the current environment would enable.
#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "format.h"
#include "gemmtune/errors.h"
#include "util/env.h"

namespace gemmtune::cli {
namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string device_name(DeviceKind kind) { return kind == DeviceKind::cuda ? "cuda" : "cpu"; }

}  // namespace

int cmd_backends(const Invocation& inv, Io& io) {
  const auto backends = builtin_backends();

  // The enabled set exactly as the tuner resolves it (GEMMTUNE_BACKENDS,
  // else the default). A bad GEMMTUNE_BACKENDS is reported after the list,
  // which is what the user needs to fix it.
  std::vector<std::string> enabled;
  std::optional<std::string> config_error;
  try {
    TuneOptions options;
    options.use_cache = false;
    Tuner tuner(options, backends);  // the same backend objects, not a second set
    enabled = tuner.enabled();
  } catch (const ConfigError& e) {
    config_error = e.what();
  }
  const auto env_value = env::get("GEMMTUNE_BACKENDS");
  auto is_enabled = [&](const std::string& name) {
    return std::any_of(enabled.begin(), enabled.end(), [&](const std::string& e) { return upper(e) == upper(name); });
  };

  if (inv.format == OutputFormat::json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& b : backends) {
      const Availability a = b->availability();
      const std::string name(b->name());
      list.push_back({{"name", name},
                      {"device", device_name(b->device_kind())},
                      {"available", a.available},
                      {"unavailable_reason", a.available ? nlohmann::json(nullptr) : nlohmann::json(a.why)},
                      {"version", b->version()},
                      {"capabilities", b->capabilities()},
                      {"may_be_inexact", b->may_be_inexact()},
                      {"default_enabled", a.available && upper(name) != "REFERENCE"},
                      {"enabled", is_enabled(name)}});
    }
    nlohmann::json out{{"backends", list},
                       {"enabled", enabled},
                       {"enabled_source", env_value ? "GEMMTUNE_BACKENDS" : "default"},
                       {"error", config_error ? nlohmann::json(*config_error) : nlohmann::json(nullptr)}};
    io.out << json_text(out) << "\n";
  } else {
    std::size_t name_w = 7;
    for (const auto& b : backends) name_w = std::max(name_w, b->name().size());
    io.out << pad("BACKEND", name_w) << "  DEVICE  DEFAULT  ENABLED  STATUS\n";
    for (const auto& b : backends) {
      const Availability a = b->availability();
      const std::string name(b->name());
      const bool by_default = a.available && upper(name) != "REFERENCE";
      io.out << pad(name, name_w) << "  " << pad(device_name(b->device_kind()), 6) << "  "
             << pad(by_default ? "yes" : "no", 7) << "  " << pad(is_enabled(name) ? "yes" : "no", 7) << "  "
             << (a.available ? "available" : "unavailable: " + a.why) << "\n";
      io.out << std::string(name_w + 2, ' ') << "version: " << b->version() << "\n";
      io.out << std::string(name_w + 2, ' ') << b->capabilities() << "\n";
    }
    io.out << "\nenabled now: " << (enabled.empty() ? std::string("(none)") : [&] {
      std::string s;
      for (std::size_t i = 0; i < enabled.size(); ++i) s += (i ? ", " : "") + enabled[i];
      return s;
    }());
    if (env_value) io.out << "  (from GEMMTUNE_BACKENDS=" << *env_value << ")";
    else io.out << "  (default: every available backend except REFERENCE; set GEMMTUNE_BACKENDS or --backends)";
    io.out << "\n";
  }
  if (config_error) {
    io.err << "gemmtune: error: " << *config_error << "\n";
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace gemmtune::cli
