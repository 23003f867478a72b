// Options of the remote cache resolved into settings: the field, else its
// GEMMTUNE_REMOTE_* variable, else the default.
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "gemmtune/errors.h"
#include "store/redis_client.h"
#include "store/tuning_cache.h"
#include "util/env.h"

namespace gemmtune::store {
namespace {

// Seconds -> milliseconds, refusing what is not a positive, finite time of
// at most a day (a longer limit is a mistake, not a wish).
std::chrono::milliseconds duration_of(double seconds, const std::string& what, const std::string& text) {
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > 86400)
    throw ConfigError(what + " must be a positive number of seconds (at most 86400), got " + text);
  return std::chrono::milliseconds(std::max<long long>(1, std::llround(seconds * 1000)));
}

std::chrono::milliseconds resolve_seconds(const std::optional<double>& field, const char* field_name,
                                          const char* variable, std::chrono::milliseconds fallback) {
  if (field) return duration_of(*field, field_name, std::to_string(*field));
  if (auto text = env::get(variable)) {
    char* end = nullptr;
    errno = 0;
    double value = std::strtod(text->c_str(), &end);
    if (end != text->c_str() + text->size() || errno == ERANGE)
      throw ConfigError(std::string(variable) + "=" + *text + " is not a number of seconds");
    return duration_of(value, variable, "'" + *text + "'");
  }
  return fallback;
}

}  // namespace

std::optional<RemoteSettings> resolve_remote(const TuneOptions& options) {
  std::optional<std::string> url = options.remote_cache;
  const char* url_source = "remote_cache";
  if (!url) {
    url = env::get("GEMMTUNE_REMOTE_CACHE");
    url_source = "GEMMTUNE_REMOTE_CACHE";
  }
  if (!url || url->empty()) return std::nullopt;
  RemoteSettings s;
  s.url = *url;
  try {
    (void)redis::parse_url(s.url);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(url_source) + ": " + e.what());
  }
  if (options.remote_cache_prefix) s.key_prefix = *options.remote_cache_prefix;
  else if (auto prefix = env::get("GEMMTUNE_REMOTE_CACHE_PREFIX")) s.key_prefix = *prefix;
  if (s.key_prefix.size() > 256) throw ConfigError("the remote cache's key prefix is longer than 256 bytes");
  for (unsigned char c : s.key_prefix)
    if (c < 0x20 || c == 0x7f) throw ConfigError("the remote cache's key prefix holds a control character");
  s.connect_timeout = resolve_seconds(options.remote_cache_connect_timeout, "remote_cache_connect_timeout",
                                      "GEMMTUNE_REMOTE_CACHE_CONNECT_TIMEOUT", s.connect_timeout);
  s.command_timeout = resolve_seconds(options.remote_cache_timeout, "remote_cache_timeout",
                                      "GEMMTUNE_REMOTE_CACHE_TIMEOUT", s.command_timeout);
  s.wait = resolve_seconds(options.remote_cache_wait, "remote_cache_wait", "GEMMTUNE_REMOTE_CACHE_WAIT", s.wait);
  s.lease = resolve_seconds(options.remote_cache_lease, "remote_cache_lease", "GEMMTUNE_REMOTE_CACHE_LEASE", s.lease);
  if (s.lease < std::chrono::milliseconds(300))
    throw ConfigError("the remote cache's lease must be at least 0.3 s (it is renewed every third of it)");
  return s;
}

}  // namespace gemmtune::store
