// The remote cache's URL and options: what is accepted, and the clear
// ConfigError for everything else (found before any work, exit code 2).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "gemmtune/errors.h"
#include "store/redis_client.h"
#include "store/tuning_cache.h"
#include "testing/scoped_env.h"

namespace gemmtune::store {
namespace {

using gemmtune::testing::ScopedEnv;
using redis::parse_url;

#define EXPECT_CONFIG_ERROR(statement, needle)                                              \
  try {                                                                                     \
    statement;                                                                              \
    ADD_FAILURE() << #statement " did not throw";                                           \
  } catch (const ConfigError& e) {                                                          \
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();           \
  }

TEST(RedisUrl, HostPortAndDatabase) {
  auto e = parse_url("redis://cache.internal:7000/3");
  EXPECT_EQ(e.host, "cache.internal");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.db, 3);
  EXPECT_TRUE(e.password.empty());
  auto d = parse_url("redis://127.0.0.1");
  EXPECT_EQ(d.port, 6379);
  EXPECT_EQ(d.db, 0);
}

TEST(RedisUrl, PasswordAndUserArePercentDecodedAndNeverDisplayed) {
  auto e = parse_url("redis://:p%40ss%3Aword@host:6380");
  EXPECT_EQ(e.password, "p@ss:word");
  EXPECT_TRUE(e.username.empty());
  auto u = parse_url("redis://tuner:secret@host");
  EXPECT_EQ(u.username, "tuner");
  EXPECT_EQ(u.password, "secret");
  EXPECT_EQ(u.display(), "redis://tuner:***@host:6379/0");
  EXPECT_EQ(u.display().find("secret"), std::string::npos);
}

TEST(RedisUrl, Ipv6HostInBrackets) {
  auto e = parse_url("redis://[::1]:6390/1");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 6390);
  EXPECT_EQ(e.display(), "redis://[::1]:6390/1");
}

TEST(RedisUrl, RedissIsRefusedBecauseDebiansHiredisHasNoTls) {
  EXPECT_CONFIG_ERROR(parse_url("rediss://host:6380"), "no TLS");
  EXPECT_CONFIG_ERROR(parse_url("REDISS://host:6380"), "hiredis 0.14");
}

TEST(RedisUrl, MalformedUrlsNameWhatIsWrong) {
  EXPECT_CONFIG_ERROR(parse_url("host:6379"), "no scheme");
  EXPECT_CONFIG_ERROR(parse_url("http://host"), "unsupported scheme 'http'");
  EXPECT_CONFIG_ERROR(parse_url("redis://"), "no host");
  EXPECT_CONFIG_ERROR(parse_url("redis://host:0"), "port '0'");
  EXPECT_CONFIG_ERROR(parse_url("redis://host:65536"), "port '65536'");
  EXPECT_CONFIG_ERROR(parse_url("redis://host:http"), "port 'http'");
  EXPECT_CONFIG_ERROR(parse_url("redis://host:"), "empty port");
  EXPECT_CONFIG_ERROR(parse_url("redis://host/x"), "database 'x'");
  EXPECT_CONFIG_ERROR(parse_url("redis://host/-1"), "database '-1'");
  EXPECT_CONFIG_ERROR(parse_url("redis://user@host"), "needs a password");
  EXPECT_CONFIG_ERROR(parse_url("redis://:@host"), "empty password");
  EXPECT_CONFIG_ERROR(parse_url("redis://:%zz@host"), "percent-escape");
  EXPECT_CONFIG_ERROR(parse_url("redis://host?timeout=1"), "query parameters");
  EXPECT_CONFIG_ERROR(parse_url("redis://[::1:6379"), "unclosed '['");
}

TEST(RedisUrl, AHostWithACharacterNoHostHasIsRefusedNotResolved) {
  EXPECT_CONFIG_ERROR(parse_url("redis://a b:6379"), "host has a character no host name or address has (' ')");
  EXPECT_CONFIG_ERROR(parse_url("redis://h%zzost"), "('%')");
  EXPECT_CONFIG_ERROR(parse_url("redis://%31%32%37.0.0.1:1"), "percent escapes are not decoded in the host");
  EXPECT_CONFIG_ERROR(parse_url("redis://[::g]:1"), "IPv6 address is hex digits");
  EXPECT_CONFIG_ERROR(parse_url("redis://[%eth0]"), "empty IPv6 address or zone");
  EXPECT_CONFIG_ERROR(parse_url("redis://caf\xc3\xa9"), "byte 195");
  // Names, addresses and zones that exist are kept as they are.
  EXPECT_EQ(parse_url("redis://redis_cache-1.internal:1").host, "redis_cache-1.internal");
  EXPECT_EQ(parse_url("redis://[fe80::1%eth0]:1").host, "fe80::1%eth0");
  EXPECT_EQ(parse_url("redis://[::ffff:127.0.0.1]").host, "::ffff:127.0.0.1");
}

TEST(RemoteSettings, NoUrlMeansNoRemoteCache) {
  ScopedEnv unset("GEMMTUNE_REMOTE_CACHE", nullptr);
  EXPECT_FALSE(resolve_remote(TuneOptions{}).has_value());
}

TEST(RemoteSettings, OptionsBeatTheEnvironmentWhichBeatsTheDefaults) {
  ScopedEnv url("GEMMTUNE_REMOTE_CACHE", "redis://from-env:1234");
  ScopedEnv wait("GEMMTUNE_REMOTE_CACHE_WAIT", "12.5");
  ScopedEnv prefix("GEMMTUNE_REMOTE_CACHE_PREFIX", "env:");
  auto from_env = resolve_remote(TuneOptions{});
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->url, "redis://from-env:1234");
  EXPECT_EQ(from_env->wait, std::chrono::milliseconds(12500));
  EXPECT_EQ(from_env->key_prefix, "env:");
  EXPECT_EQ(from_env->lease, std::chrono::milliseconds(10000));
  EXPECT_EQ(from_env->command_timeout, std::chrono::milliseconds(500));

  TuneOptions options;
  options.remote_cache = "redis://from-option:99";
  options.remote_cache_wait = 3;
  options.remote_cache_prefix = "opt:";
  auto from_options = resolve_remote(options);
  EXPECT_EQ(from_options->url, "redis://from-option:99");
  EXPECT_EQ(from_options->wait, std::chrono::milliseconds(3000));
  EXPECT_EQ(from_options->key_prefix, "opt:");
}

TEST(RemoteSettings, BadValuesAreConfigErrorsNamingTheirSource) {
  {
    ScopedEnv url("GEMMTUNE_REMOTE_CACHE", "rediss://secure:6380");
    EXPECT_CONFIG_ERROR(resolve_remote(TuneOptions{}), "GEMMTUNE_REMOTE_CACHE");
  }
  ScopedEnv url("GEMMTUNE_REMOTE_CACHE", "redis://127.0.0.1:1");
  {
    ScopedEnv bad("GEMMTUNE_REMOTE_CACHE_TIMEOUT", "fast");
    EXPECT_CONFIG_ERROR(resolve_remote(TuneOptions{}), "GEMMTUNE_REMOTE_CACHE_TIMEOUT expects a positive number of seconds");
  }
  {
    ScopedEnv bad("GEMMTUNE_REMOTE_CACHE_CONNECT_TIMEOUT", "-1");
    EXPECT_CONFIG_ERROR(resolve_remote(TuneOptions{}), "positive number of seconds");
  }
  TuneOptions options;
  options.remote_cache_lease = 0.1;
  EXPECT_CONFIG_ERROR(resolve_remote(options), "at least 0.3 s");
  options.remote_cache_lease.reset();
  options.remote_cache_wait = std::nan("");
  EXPECT_CONFIG_ERROR(resolve_remote(options), "remote_cache_wait");
  options.remote_cache_wait.reset();
  options.remote_cache_prefix = std::string("a\nb");
  EXPECT_CONFIG_ERROR(resolve_remote(options), "control character");
}

}  // namespace
}  // namespace gemmtune::store
