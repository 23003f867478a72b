// A small blocking Redis client for the remote cache: hiredis formats the
// commands and parses the replies (Debian's libhiredis-dev), while the
// socket, the time limits and the size limits are ours, so that a server
// that is absent, slow, stalled or answering garbage costs at most one time
// limit and a bounded amount of memory, and never a hang or a crash.
//
// Debian 12's hiredis (0.14) has no TLS (hiredis_ssl arrived with hiredis
// 1.0), so rediss:// URLs are refused with a ConfigError saying so.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gemmtune::store::redis {

// Where the server is: redis://[[user]:password@]host[:port][/db].
struct Endpoint {
  std::string host;  // a name, an IPv4 address, or an IPv6 address (written [::1] in URLs)
  int port = 6379;
  int db = 0;
  std::string username;  // empty: AUTH with the password only (the default user)
  std::string password;  // empty: no AUTH
  // The URL without the password ("redis://:***@host:6379/0"): for messages.
  std::string display() const;
};

// Parses a redis:// URL (user and password percent-decoded). Throws
// ConfigError naming what is wrong; rediss:// is refused with the reason.
Endpoint parse_url(const std::string& url);

// Redis trouble: could not connect, timed out, connection closed, or an
// answer that is not the Redis protocol or exceeds the size limit. The
// connection that threw is closed and must not be used again.
class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Reply {
  enum class Type { string, status, error, integer, nil, array };
  Type type = Type::nil;
  std::string text;  // string, status, error
  long long integer = 0;
  std::vector<Reply> elements;  // array

  bool is_ok_status() const { return type == Type::status && text == "OK"; }
  // "string 'abc'", "error 'WRONGTYPE ...'", "integer 3", "array of 2": for messages.
  std::string describe() const;
};

struct Limits {
  std::chrono::milliseconds connect_timeout{500};
  // One command or pipeline, from the first byte sent to the last byte of
  // the last reply: a slow-drip server cannot stretch it.
  std::chrono::milliseconds command_timeout{500};
  // Bytes one reply may take on the wire; more is treated as garbage.
  std::size_t max_reply_bytes = 8u << 20;
};

// One connection. Not thread-safe: one per thread.
class Connection {
 public:
  // Connects within connect_timeout, then AUTH and SELECT (when needed)
  // within command_timeout. Throws RedisError.
  static std::unique_ptr<Connection> open(const Endpoint&, const Limits&);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends every command in one write and reads one reply per command. An
  // error reply is a Reply of type error, not an exception. Throws
  // RedisError (and closes the connection) on trouble.
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);
  Reply command(const std::vector<std::string>& args);

 private:
  Connection(int fd, const Limits& limits);
  [[noreturn]] void fail(const std::string& why);
  void send_all(const std::string& bytes, std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  Limits limits_;
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

}  // namespace gemmtune::store::redis
