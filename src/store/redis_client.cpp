#include "store/redis_client.h"

#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "gemmtune/errors.h"

namespace gemmtune::store::redis {
namespace {

using Clock = std::chrono::steady_clock;

// Arrays longer than this are not something the remote cache ever asks for
// (SCAN pages are asked for 256 keys at a time); a larger count is garbage,
// refused before hiredis allocates room for it.
constexpr int kMaxArrayElements = 1 << 16;

constexpr const char* kUrlForm = "redis://[[user]:password@]host[:port][/db]";

[[noreturn]] void bad_url(const std::string& url, const std::string& why) {
  throw ConfigError("remote cache URL '" + url + "': " + why + " (expected " + kUrlForm + ")");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& url, const std::string& text, const char* what) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) bad_url(url, std::string("bad percent-escape in the ") + what);
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::optional<long long> parse_decimal(const std::string& text, long long max) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0 || value > max)
    return std::nullopt;
  return value;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits until fd is ready for `events` or the deadline passes (false).
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

// Resolves host:port within the deadline. Numeric addresses never touch the
// resolver; names go through getaddrinfo_a so a hung DNS server costs at
// most the connect time limit.
struct Addresses {
  addrinfo* list = nullptr;
  ~Addresses() {
    if (list) ::freeaddrinfo(list);
  }
};

void resolve(const Endpoint& endpoint, Clock::time_point deadline, Addresses& out) {
  const std::string port = std::to_string(endpoint.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  if (::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &out.list) == 0) return;
  out.list = nullptr;

  // Heap-allocated: when the lookup cannot be cancelled it still writes into
  // the request after we leave, so a timed-out request is deliberately leaked.
  struct Request {
    std::string host, port;
    addrinfo hints{};
    gaicb cb{};
  };
  auto* request = new Request{endpoint.host, port, {}, {}};
  request->hints.ai_family = AF_UNSPEC;
  request->hints.ai_socktype = SOCK_STREAM;
  request->hints.ai_flags = AI_NUMERICSERV;
  request->cb.ar_name = request->host.c_str();
  request->cb.ar_service = request->port.c_str();
  request->cb.ar_request = &request->hints;
  gaicb* list[1] = {&request->cb};
  if (int rc = ::getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr); rc != 0) {
    delete request;
    throw RedisError("cannot resolve " + endpoint.host + ": " + ::gai_strerror(rc));
  }
  for (;;) {
    int status = ::gai_error(&request->cb);
    if (status == 0) {
      out.list = request->cb.ar_result;
      delete request;
      return;
    }
    if (status != EAI_INPROGRESS) {
      delete request;
      throw RedisError("cannot resolve " + endpoint.host + ": " + ::gai_strerror(status));
    }
    int left = remaining_ms(deadline);
    if (left == 0) {
      if (::gai_cancel(&request->cb) == EAI_CANCELED) delete request;
      throw RedisError("resolving " + endpoint.host + " took longer than the connect time limit");
    }
    timespec wait{left / 1000, (left % 1000) * 1000000L};
    const gaicb* pending[1] = {&request->cb};
    ::gai_suspend(pending, 1, &wait);
  }
}

int connect_one(const addrinfo& address, Clock::time_point deadline, std::string& why) {
  int fd = ::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address.ai_protocol);
  if (fd < 0) {
    why = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (::connect(fd, address.ai_addr, address.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      why = std::strerror(errno);
      ::close(fd);
      return -1;
    }
    if (!wait_for(fd, POLLOUT, deadline)) {
      why = "no answer within the connect time limit";
      ::close(fd);
      return -1;
    }
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
    if (error != 0) {
      why = std::strerror(error);
      ::close(fd);
      return -1;
    }
  }
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return fd;
}

// ---- hiredis reader callbacks: replies built straight into Reply trees.
// hiredis hands each object to its parent through the task; children live
// inside their parent's `elements` (sized once, never reallocated), and only
// the root is ever freed by hiredis.

void* attach(const redisReadTask* task, Reply&& value) {
  if (task->parent != nullptr) {
    auto* parent = static_cast<Reply*>(task->parent->obj);
    Reply& slot = parent->elements[static_cast<std::size_t>(task->idx)];
    slot = std::move(value);
    return &slot;
  }
  return new (std::nothrow) Reply(std::move(value));
}

void* create_string(const redisReadTask* task, char* text, size_t length) {
  Reply r;
  r.type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
           : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                              : Reply::Type::string;
  r.text.assign(text, length);
  return attach(task, std::move(r));
}

void* create_array(const redisReadTask* task, int elements) {
  if (elements < 0 || elements > kMaxArrayElements) return nullptr;  // hiredis reports it as an error
  Reply r;
  r.type = Reply::Type::array;
  r.elements.resize(static_cast<std::size_t>(elements));
  return attach(task, std::move(r));
}

void* create_integer(const redisReadTask* task, long long value) {
  Reply r;
  r.type = Reply::Type::integer;
  r.integer = value;
  return attach(task, std::move(r));
}

void* create_nil(const redisReadTask* task) { return attach(task, Reply{}); }

void free_object(void* object) { delete static_cast<Reply*>(object); }

redisReplyObjectFunctions kReplyFunctions = {create_string, create_array, create_integer, create_nil, free_object};

}  // namespace

std::string Endpoint::display() const {
  std::string out = "redis://";
  if (!password.empty()) out += username + ":***@";
  const bool ipv6 = host.find(':') != std::string::npos;  // written [::1] in URLs
  if (ipv6) out += '[';
  out += host;
  if (ipv6) out += ']';
  out += ':';
  out += std::to_string(port);
  out += '/';
  out += std::to_string(db);
  return out;
}

Endpoint parse_url(const std::string& url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) bad_url(url, "no scheme");
  const std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme == "rediss")
    throw ConfigError("remote cache URL '" + url +
                      "': rediss:// (TLS) is not supported: this gemmtune is built with Debian's hiredis " +
                      std::to_string(HIREDIS_MAJOR) + "." + std::to_string(HIREDIS_MINOR) +
                      ", which has no TLS (hiredis_ssl came with hiredis 1.0); use redis:// on a trusted "
                      "network or through a TLS tunnel (stunnel, spiped)");
  if (scheme != "redis") bad_url(url, "unsupported scheme '" + scheme + "'");
  std::string rest = url.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string::npos)
    bad_url(url, "query parameters and fragments are not supported; set the time limits and the key prefix "
                 "with their own options");
  const std::size_t path_start = rest.find('/');
  std::string authority = rest.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "" : rest.substr(path_start + 1);

  Endpoint e;
  if (const std::size_t at = authority.rfind('@'); at != std::string::npos) {
    std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    if (colon == std::string::npos) bad_url(url, "a user name needs a password (user:password@host)");
    e.username = percent_decode(url, userinfo.substr(0, colon), "user name");
    e.password = percent_decode(url, userinfo.substr(colon + 1), "password");
    if (e.password.empty()) bad_url(url, "empty password");
  }
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) bad_url(url, "unclosed '[' in the host");
    e.host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad_url(url, "unexpected text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) bad_url(url, "empty port");
    }
  } else {
    const std::size_t colon = authority.find(':');
    e.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) bad_url(url, "empty port");
    }
  }
  if (e.host.empty()) bad_url(url, "no host");
  // A host is a name (letters, digits, '-', '_', '.'), an IPv4 address or,
  // in brackets, an IPv6 one (hex digits, ':', '.', an optional %zone).
  // Anything else (a space, a percent escape) is a typo, not a name to send
  // to the resolver.
  const bool bracketed = !authority.empty() && authority.front() == '[';
  const std::size_t zone = bracketed ? e.host.find('%') : std::string::npos;
  for (std::size_t i = 0; i < e.host.size(); ++i) {
    const unsigned char ch = static_cast<unsigned char>(e.host[i]);
    const bool ok = bracketed ? (i < zone ? (std::isxdigit(ch) || ch == ':' || ch == '.')
                                          : (i == zone || std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.'))
                              : (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.');
    if (!ok || ch >= 0x80)
      bad_url(url, std::string("the host has a character no host name or address has (") +
                       (std::isprint(ch) && ch < 0x80 ? std::string("'") + static_cast<char>(ch) + "'"
                                                     : "byte " + std::to_string(ch)) +
                       (bracketed ? "); an IPv6 address is hex digits and ':'" : "); percent escapes are not decoded in the host"));
  }
  if (bracketed && (zone == 0 || zone + 1 == e.host.size())) bad_url(url, "an empty IPv6 address or zone");
  if (!port_text.empty()) {
    auto port = parse_decimal(port_text, 65535);
    if (!port || *port == 0) bad_url(url, "port '" + port_text + "' is not a number from 1 to 65535");
    e.port = static_cast<int>(*port);
  }
  if (!path.empty()) {
    auto db = parse_decimal(path, 1 << 30);
    if (!db) bad_url(url, "database '" + path + "' is not a non-negative number");
    e.db = static_cast<int>(*db);
  }
  return e;
}

std::string Reply::describe() const {
  auto quoted = [](const std::string& s) {
    constexpr std::size_t kMax = 60;
    std::string shown;
    for (char c : s.substr(0, kMax)) shown += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    return "'" + shown + (s.size() > kMax ? "...'" : "'");
  };
  switch (type) {
    case Type::string: return "string " + quoted(text);
    case Type::status: return "status " + quoted(text);
    case Type::error: return "error " + quoted(text);
    case Type::integer: return "integer " + std::to_string(integer);
    case Type::nil: return "nil";
    case Type::array: return "array of " + std::to_string(elements.size());
  }
  return "?";
}

struct Connection::Parser {
  redisReader* reader = redisReaderCreateWithFunctions(&kReplyFunctions);
  ~Parser() {
    if (reader) redisReaderFree(reader);
  }
};

Connection::Connection(int fd, const Limits& limits) : fd_(fd), limits_(limits), parser_(std::make_unique<Parser>()) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint, const Limits& limits) {
  const auto deadline = Clock::now() + limits.connect_timeout;
  Addresses addresses;
  resolve(endpoint, deadline, addresses);
  std::string why = "no address";
  int fd = -1;
  for (const addrinfo* a = addresses.list; a != nullptr && fd < 0; a = a->ai_next) fd = connect_one(*a, deadline, why);
  if (fd < 0) throw RedisError("cannot connect to " + endpoint.display() + ": " + why);
  std::unique_ptr<Connection> connection(new Connection(fd, limits));
  if (!connection->parser_->reader) connection->fail("out of memory for the protocol reader");

  std::vector<std::vector<std::string>> setup;
  if (!endpoint.password.empty()) {
    if (endpoint.username.empty()) setup.push_back({"AUTH", endpoint.password});
    else setup.push_back({"AUTH", endpoint.username, endpoint.password});
  }
  if (endpoint.db != 0) setup.push_back({"SELECT", std::to_string(endpoint.db)});
  if (!setup.empty()) {
    auto replies = connection->pipeline(setup);
    for (std::size_t i = 0; i < replies.size(); ++i)
      if (!replies[i].is_ok_status())
        connection->fail(std::string(setup[i][0] == "AUTH" ? "authentication" : "selecting the database") +
                         " failed: " + replies[i].describe());
  }
  return connection;
}

void Connection::fail(const std::string& why) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  throw RedisError(why);
}

void Connection::send_all(const std::string& bytes, Clock::time_point deadline) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd_, POLLOUT, deadline)) fail("sending timed out (command time limit)");
      continue;
    }
    fail(std::string("sending failed: ") + std::strerror(errno));
  }
}

std::vector<Reply> Connection::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (fd_ < 0) throw RedisError("the connection was closed after an earlier failure");
  std::string request;
  for (const auto& command : commands) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    char* formatted = nullptr;
    int length = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(), lengths.data());
    if (length < 0 || formatted == nullptr) fail("out of memory formatting a command");
    request.append(formatted, static_cast<std::size_t>(length));
    redisFreeCommand(formatted);
  }
  const auto deadline = Clock::now() + limits_.command_timeout;
  send_all(request, deadline);

  std::vector<Reply> replies;
  replies.reserve(commands.size());
  const std::size_t budget = limits_.max_reply_bytes * std::max<std::size_t>(commands.size(), 1);
  std::size_t received = 0;
  redisReader* reader = parser_->reader;
  while (replies.size() < commands.size()) {
    void* object = nullptr;
    if (redisReaderGetReply(reader, &object) != REDIS_OK)
      fail(std::string("the answer is not the Redis protocol: ") + reader->errstr);
    if (object != nullptr) {
      std::unique_ptr<Reply> reply(static_cast<Reply*>(object));
      replies.push_back(std::move(*reply));
      continue;
    }
    char buffer[16384];
    if (!wait_for(fd_, POLLIN, deadline)) fail("no answer within the command time limit");
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) fail(std::string("receiving failed: ") + std::strerror(errno));
    if (n == 0) fail("the server closed the connection");
    received += static_cast<std::size_t>(n);
    if (received > budget) fail("the answer exceeds " + std::to_string(budget) + " bytes");
    if (redisReaderFeed(reader, buffer, static_cast<std::size_t>(n)) != REDIS_OK)
      fail(std::string("the answer is not the Redis protocol: ") + reader->errstr);
  }
  // Bytes nobody asked for would be read as the answer to the next command.
  if (reader->buf != nullptr && reader->pos < reader->len) fail("the server sent more than was asked for");
  return replies;
}

Reply Connection::command(const std::vector<std::string>& args) { return std::move(pipeline({args}).front()); }

}  // namespace gemmtune::store::redis
