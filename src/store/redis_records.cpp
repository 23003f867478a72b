#include "store/redis_records.h"

#include <utility>

#include "store/tuning_cache.h"

namespace gemmtune::store {
namespace {

using redis::RedisError;
using redis::Reply;

// Compare-and-act on a lease, atomic inside Redis: only the holder may
// extend or delete it, so a process whose lease expired and was taken over
// cannot cut short its successor's.
constexpr const char* kRenewScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
constexpr const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

constexpr int kScanPageSize = 256;

[[noreturn]] void unexpected(const char* command, const Reply& reply) {
  throw RedisError(std::string("unexpected answer to ") + command + ": " + reply.describe());
}

// SCAN's MATCH is a glob: the prefix is matched literally.
std::string glob_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

RedisRecords::RedisRecords(redis::Connection& connection, std::string prefix)
    : connection_(connection), prefix_(std::move(prefix)) {}

RemoteText RedisRecords::read_text(const Reply& length, const Reply& text, const char* what) const {
  RemoteText out;
  if (length.type == Reply::Type::error && length.text.rfind("WRONGTYPE", 0) == 0) {
    out.kind = RemoteText::Kind::wrong_type;
    return out;
  }
  if (length.type != Reply::Type::integer || length.integer < 0) unexpected(what, length);
  if (length.integer == 0) return out;  // absent (a record is never empty)
  if (static_cast<unsigned long long>(length.integer) > kMaxRemoteRecordBytes) {
    out.kind = RemoteText::Kind::oversized;
    out.bytes = length.integer;
    return out;
  }
  if (text.type != Reply::Type::string) unexpected("GETRANGE", text);
  if (text.text.size() > kMaxRemoteRecordBytes) unexpected("GETRANGE", text);
  out.kind = RemoteText::Kind::text;
  out.text = text.text;
  out.bytes = static_cast<long long>(text.text.size());
  return out;
}

RemoteText RedisRecords::fetch(const std::string& key) { return std::move(fetch_many({key}).front()); }

std::vector<RemoteText> RedisRecords::fetch_many(const std::vector<std::string>& keys) {
  const std::string last = std::to_string(kMaxRemoteRecordBytes - 1);
  std::vector<std::vector<std::string>> commands;
  for (const auto& key : keys) {
    commands.push_back({"STRLEN", record_key(key)});
    commands.push_back({"GETRANGE", record_key(key), "0", last});
  }
  auto replies = connection_.pipeline(commands);
  std::vector<RemoteText> out;
  for (std::size_t i = 0; i < keys.size(); ++i) out.push_back(read_text(replies[2 * i], replies[2 * i + 1], "STRLEN"));
  return out;
}

void RedisRecords::put(const std::string& key, const std::string& text) { put_many({{key, text}}); }

void RedisRecords::put_many(const std::vector<std::pair<std::string, std::string>>& records) {
  std::vector<std::vector<std::string>> commands;
  for (const auto& [key, text] : records) commands.push_back({"SET", record_key(key), text});
  for (const auto& reply : connection_.pipeline(commands))
    if (!reply.is_ok_status()) unexpected("SET", reply);
}

bool RedisRecords::acquire(const std::string& key, const std::string& holder, std::chrono::milliseconds ttl) {
  Reply reply = connection_.command({"SET", lease_key(key), holder, "NX", "PX", std::to_string(ttl.count())});
  if (reply.is_ok_status()) return true;
  if (reply.type == Reply::Type::nil) return false;
  unexpected("SET NX", reply);
}

bool RedisRecords::renew(const std::string& key, const std::string& holder, std::chrono::milliseconds ttl) {
  Reply reply =
      connection_.command({"EVAL", kRenewScript, "1", lease_key(key), holder, std::to_string(ttl.count())});
  if (reply.type != Reply::Type::integer) unexpected("EVAL (renew)", reply);
  return reply.integer == 1;
}

void RedisRecords::release(const std::string& key, const std::string& holder) {
  Reply reply = connection_.command({"EVAL", kReleaseScript, "1", lease_key(key), holder});
  if (reply.type != Reply::Type::integer) unexpected("EVAL (release)", reply);
}

WaitView RedisRecords::look(const std::string& key) {
  auto replies = connection_.pipeline({{"STRLEN", record_key(key)},
                                       {"GETRANGE", record_key(key), "0", std::to_string(kMaxRemoteRecordBytes - 1)},
                                       {"GET", lease_key(key)},
                                       {"PTTL", lease_key(key)}});
  WaitView view;
  view.record = read_text(replies[0], replies[1], "STRLEN");
  if (replies[2].type == Reply::Type::string) view.holder = replies[2].text;
  else if (replies[2].type != Reply::Type::nil) unexpected("GET (lease)", replies[2]);
  if (replies[3].type != Reply::Type::integer) unexpected("PTTL (lease)", replies[3]);
  view.lease_ttl_ms = replies[3].integer;
  return view;
}

ScanPage RedisRecords::scan(const std::string& cursor) {
  Reply reply = connection_.command(
      {"SCAN", cursor, "MATCH", glob_escaped(prefix_ + "rec:") + "*", "COUNT", std::to_string(kScanPageSize)});
  if (reply.type != Reply::Type::array || reply.elements.size() != 2 ||
      reply.elements[0].type != Reply::Type::string || reply.elements[1].type != Reply::Type::array)
    unexpected("SCAN", reply);
  ScanPage page;
  page.cursor = reply.elements[0].text;
  const std::string head = prefix_ + "rec:";
  for (const auto& element : reply.elements[1].elements) {
    if (element.type != Reply::Type::string) unexpected("SCAN", reply);
    if (element.text.compare(0, head.size(), head) == 0) page.keys.push_back(element.text.substr(head.size()));
  }
  return page;
}

}  // namespace gemmtune::store
