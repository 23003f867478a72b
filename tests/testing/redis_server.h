// Servers for the remote cache's tests, on 127.0.0.1 only.
//
// RedisServer runs Debian's redis-server on a free loopback port in its own
// temporary folder, persisting nothing (--save '' --appendonly no), in the
// foreground (--daemonize no) as our child: the destructor stops it (SIGKILL
// after a grace period) even when the test failed, and PR_SET_PDEATHSIG
// kills it should the test process itself die.
//
// FakeRedis is a socket that accepts connections and then stalls, or answers
// anything with fixed bytes: "slow" and "garbage" Redis for trouble tests.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace gemmtune::testing {

// A command's answer as hiredis's own synchronous client reads it: the tests
// look at Redis through a client other than the code under test.
struct RedisAnswer {
  enum class Type { string, status, error, integer, nil, array, none };
  Type type = Type::none;  // none: the command could not be sent or read
  std::string text;
  long long integer = 0;
  std::vector<std::string> strings;  // array of strings
};

class RedisServer {
 public:
  // Starts the server and waits until it answers PING. Throws
  // std::runtime_error saying what is missing or what went wrong (the
  // remote cache's tests fail, never skip, without redis-server: it is
  // installed by scripts/setup.sh).
  RedisServer();
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  const std::string& folder() const { return folder_; }

  // SIGTERM, then SIGKILL after 5 s; returns once the process is reaped.
  void stop();
  // (Re)starts on the same port (a restarted server is empty: nothing is
  // persisted).
  void start();
  bool running() const { return pid_ > 0; }

  // One command through hiredis's synchronous API.
  RedisAnswer command(const std::vector<std::string>& args) const;

 private:
  bool launch(std::string& why);
  std::string folder_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class FakeRedis {
 public:
  enum class Behaviour {
    stall,   // accept, read, never answer
    answer,  // answer every read with `answer` (sent once per read)
  };
  explicit FakeRedis(Behaviour behaviour, std::string answer = "");
  ~FakeRedis();
  FakeRedis(const FakeRedis&) = delete;
  FakeRedis& operator=(const FakeRedis&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }

 private:
  void serve();
  Behaviour behaviour_;
  std::string answer_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// A TCP port on 127.0.0.1 that nothing listens on (connections are refused).
int unused_loopback_port();

}  // namespace gemmtune::testing
