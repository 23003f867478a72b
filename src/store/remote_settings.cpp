// Options of the remote cache resolved into settings (declared once, in
// core/option_table.cpp): the field, else its variable, else the default.
#include <algorithm>
#include <cmath>

#include "core/option_table.h"
#include "gemmtune/errors.h"
#include "store/redis_client.h"
#include "store/tuning_cache.h"

namespace gemmtune::store {
namespace {

// Seconds -> milliseconds, refusing what is not a positive, finite time of
// at most a day (a longer limit is a mistake, not a wish).
std::chrono::milliseconds seconds(const std::optional<double>& value, const char* option,
                                  std::chrono::milliseconds fallback) {
  if (!value) return fallback;
  if (!std::isfinite(*value) || *value <= 0 || *value > 86400)
    throw ConfigError(std::string(option) + " must be a positive number of seconds (at most 86400), got " +
                      std::to_string(*value));
  return std::chrono::milliseconds(std::max<long long>(1, std::llround(*value * 1000)));
}

}  // namespace

std::optional<RemoteSettings> resolve_remote(const TuneOptions& given) {
  // Code or flag, then GEMMTUNE_REMOTE_CACHE*, then the defaults below.
  const TuneOptions options = option_table::with_environment(given);
  if (!options.remote_cache || options.remote_cache->empty()) return std::nullopt;
  RemoteSettings s;
  s.url = *options.remote_cache;
  try {
    (void)redis::parse_url(s.url);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(given.remote_cache ? "remote_cache" : "GEMMTUNE_REMOTE_CACHE") + ": " + e.what());
  }
  if (options.remote_cache_prefix) s.key_prefix = *options.remote_cache_prefix;
  if (s.key_prefix.size() > 256) throw ConfigError("remote_cache_prefix is longer than 256 bytes");
  for (unsigned char c : s.key_prefix)
    if (c < 0x20 || c == 0x7f) throw ConfigError("remote_cache_prefix holds a control character");
  s.connect_timeout = seconds(options.remote_cache_connect_timeout, "remote_cache_connect_timeout", s.connect_timeout);
  s.command_timeout = seconds(options.remote_cache_timeout, "remote_cache_timeout", s.command_timeout);
  s.wait = seconds(options.remote_cache_wait, "remote_cache_wait", s.wait);
  s.lease = seconds(options.remote_cache_lease, "remote_cache_lease", s.lease);
  if (s.lease < std::chrono::milliseconds(300))
    throw ConfigError("remote_cache_lease must be at least 0.3 s (it is renewed every third of it)");
  if (s.lease > std::chrono::milliseconds(static_cast<std::int64_t>(kMaxLeaseSeconds * 1000)))
    throw ConfigError("remote_cache_lease must be at most " + std::to_string(static_cast<int>(kMaxLeaseSeconds)) +
                      " s (a longer lease on a Redis is taken for one gemmtune did not write)");
  return s;
}

}  // namespace gemmtune::store
