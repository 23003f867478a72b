#include "testing/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace gemmtune::testing {
namespace {

using Clock = std::chrono::steady_clock;

int listen_loopback(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 64) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("bind/listen on 127.0.0.1: ") + std::strerror(err));
  }
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  port = ntohs(address.sin_port);
  return fd;
}

std::string find_redis_server() {
  if (const char* path = std::getenv("PATH")) {
    std::string dirs = path;
    std::size_t start = 0;
    while (start <= dirs.size()) {
      std::size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string candidate = dirs.substr(start, end - start) + "/redis-server";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  for (const char* candidate : {"/usr/bin/redis-server", "/usr/sbin/redis-server"})
    if (::access(candidate, X_OK) == 0) return candidate;
  throw std::runtime_error(
      "redis-server is not installed: the remote cache's tests start their own (run scripts/setup.sh, which installs "
      "Debian's redis-server)");
}

RedisAnswer convert(const redisReply* reply) {
  RedisAnswer out;
  if (reply == nullptr) return out;
  switch (reply->type) {
    case REDIS_REPLY_STRING: out.type = RedisAnswer::Type::string; break;
    case REDIS_REPLY_STATUS: out.type = RedisAnswer::Type::status; break;
    case REDIS_REPLY_ERROR: out.type = RedisAnswer::Type::error; break;
    case REDIS_REPLY_INTEGER: out.type = RedisAnswer::Type::integer; break;
    case REDIS_REPLY_NIL: out.type = RedisAnswer::Type::nil; break;
    case REDIS_REPLY_ARRAY: out.type = RedisAnswer::Type::array; break;
  }
  if (reply->str) out.text.assign(reply->str, reply->len);
  out.integer = reply->integer;
  for (std::size_t i = 0; i < reply->elements; ++i)
    if (reply->element[i]->str) out.strings.emplace_back(reply->element[i]->str, reply->element[i]->len);
  return out;
}

}  // namespace

int unused_loopback_port() {
  int port = 0;
  ::close(listen_loopback(port));
  return port;
}

RedisServer::RedisServer() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/gemmtune-redis-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  folder_ = pattern;
  // A free port can be taken by someone else between our probe and the
  // server's bind: try a few.
  std::string why;
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = unused_loopback_port();
    if (launch(why)) return;
  }
  std::error_code ec;
  std::filesystem::remove_all(folder_, ec);
  throw std::runtime_error("could not start redis-server: " + why);
}

RedisServer::~RedisServer() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(folder_, ec);
}

void RedisServer::start() {
  if (running()) return;
  std::string why;
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (launch(why)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the old socket may linger
  }
  throw std::runtime_error("could not restart redis-server on port " + std::to_string(port_) + ": " + why);
}

bool RedisServer::launch(std::string& why) {
  const std::string program = find_redis_server();
  const std::string port = std::to_string(port_);
  const std::string log = folder_ + "/redis.log";
  std::vector<std::string> args = {program,        "--port",       port,      "--bind",       "127.0.0.1",
                                   "--save",       "",             "--appendonly", "no",      "--daemonize",
                                   "no",           "--dir",        folder_,   "--logfile",    log,
                                   "--protected-mode", "yes"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    why = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);  // the parent died before prctl took effect
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      why = "redis-server exited at start (see " + log + "; the port may be taken)";
      return false;
    }
    RedisAnswer pong = command({"PING"});
    if (pong.type == RedisAnswer::Type::status && pong.text == "PONG") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  why = "redis-server did not answer PING within 10 s";
  stop();
  return false;
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

RedisAnswer RedisServer::command(const std::vector<std::string>& args) const {
  timeval timeout{2, 0};
  redisContext* context = redisConnectWithTimeout("127.0.0.1", port_, timeout);
  if (context == nullptr) return {};
  if (context->err) {
    redisFree(context);
    return {};
  }
  redisSetTimeout(context, timeout);
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* reply =
      static_cast<redisReply*>(redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  RedisAnswer out = convert(reply);
  if (reply) freeReplyObject(reply);
  redisFree(context);
  return out;
}

// ---------------------------------------------------------------- FakeRedis

FakeRedis::FakeRedis(Behaviour behaviour, std::string answer) : behaviour_(behaviour), answer_(std::move(answer)) {
  listen_fd_ = listen_loopback(port_);
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  thread_ = std::thread([this] { serve(); });
}

FakeRedis::~FakeRedis() {
  (void)!::write(stop_pipe_[1], "x", 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void FakeRedis::serve() {
  std::vector<int> clients;
  for (;;) {
    std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (int c : clients) fds.push_back({c, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        // A client that stops reading must not block this thread for good.
        timeval limit{2, 0};
        ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        clients.push_back(client);
        ++connections_;
      }
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      char buffer[4096];
      ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        ::close(fds[i].fd);
        clients.erase(std::find(clients.begin(), clients.end(), fds[i].fd));
        continue;
      }
      if (behaviour_ == Behaviour::answer) {
        std::size_t sent = 0;
        while (sent < answer_.size()) {
          ssize_t w = ::send(fds[i].fd, answer_.data() + sent, answer_.size() - sent, MSG_NOSIGNAL);
          if (w <= 0) break;
          sent += static_cast<std::size_t>(w);
        }
      }
    }
  }
  for (int c : clients) ::close(c);
}

}  // namespace gemmtune::testing
