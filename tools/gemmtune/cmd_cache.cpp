// `gemmtune cache ...`: the results database, through the store's interface.
#include <algorithm>

#include "commands.h"
#include "format.h"
#include "store/record_json.h"
#include "store/redis_client.h"
#include "store/remote_sync.h"
#include "store/store.h"
#include "store/tuning_cache.h"

namespace gemmtune::cli {
namespace {

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

nlohmann::json summary_json(const store::RecordSummary& s) {
  return {{"id", s.id},
          {"key", s.key},
          {"problem", s.problem},
          {"winner_backend", s.winner_backend},
          {"winner_choice", s.winner_choice},
          {"winner_time_us", s.winner_time_us},
          {"fallback", s.fallback},
          {"created_at", s.created_at}};
}

int list(store::Store& db, const Invocation& inv, Io& io) {
  const auto rows = db.list();
  if (inv.format == OutputFormat::json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) out.push_back(summary_json(r));
    io.out << json_text(out) << "\n";
    return kExitOk;
  }
  std::size_t pw = 7, ww = 6;
  for (const auto& r : rows) {
    pw = std::max(pw, r.problem.size());
    ww = std::max(ww, r.winner_backend.size() + 1 + r.winner_choice.size());
  }
  io.out << pad("ID", 6) << "  " << pad("PROBLEM", pw) << "  " << pad("WINNER", ww) << "  " << pad("TIME", 12)
         << "  CREATED\n";
  for (const auto& r : rows) {
    io.out << pad(std::to_string(r.id), 6) << "  " << pad(r.problem, pw) << "  "
           << pad(r.winner_backend + "/" + r.winner_choice, ww) << "  " << pad(format_time_us(r.winner_time_us), 12)
           << "  " << r.created_at << (r.fallback ? "  FALLBACK" : "") << "\n";
  }
  io.out << rows.size() << (rows.size() == 1 ? " record in " : " records in ") << db.path() << "\n";
  return kExitOk;
}

int show(store::Store& db, const Invocation& inv, Io& io) {
  auto record = db.get(inv.cache_argument);
  if (!record)
    throw UsageError("cache show: no record with id or key prefix '" + inv.cache_argument + "' in " + db.path() +
                         " (see gemmtune cache list)",
                     usage_hint(Command::cache));
  if (inv.format == OutputFormat::json) {
    io.out << json_text(store::to_json(*record)) << "\n";
    return kExitOk;
  }
  std::int64_t id = 0;
  for (const auto& s : db.list())
    if (s.key == record->key) id = s.id;
  io.out << format_record(*record, id);
  return kExitOk;
}

int stats(store::Store& db, const Invocation& inv, Io& io) {
  const store::Stats s = db.stats();
  if (inv.format == OutputFormat::json) {
    nlohmann::json wins = nlohmann::json::object();
    for (const auto& [backend, count] : s.wins_by_backend) wins[backend] = count;
    io.out << json_text(nlohmann::json{{"path", s.path},
                             {"file_bytes", s.file_bytes},
                             {"records", s.records},
                             {"fallback_records", s.fallback_records},
                             {"wins_by_backend", wins}})
           << "\n";
    return kExitOk;
  }
  io.out << "database:  " << s.path << "\n";
  io.out << "size:      " << s.file_bytes << " bytes\n";
  io.out << "records:   " << s.records << " (" << s.fallback_records << " from the library fallback)\n";
  io.out << "wins by backend:";
  if (s.wins_by_backend.empty()) io.out << " -";
  io.out << "\n";
  for (const auto& [backend, count] : s.wins_by_backend) io.out << "  " << pad(backend, 10) << " " << count << "\n";
  return kExitOk;
}

int import_file(store::Store& db, const Invocation& inv, Io& io) {
  const store::ImportReport report = db.import_json(inv.cache_argument);
  io.out << "imported " << report.imported << " new and replaced " << report.replaced << " records from "
         << inv.cache_argument << " into " << db.path() << "\n";
  for (const auto& why : report.rejected) io.err << "gemmtune: warning: not imported: " << printable(why) << "\n";
  if (!report.rejected.empty() && report.imported + report.replaced == 0) {
    io.err << "gemmtune: error: no record of " << inv.cache_argument << " could be imported\n";
    return kExitUsage;
  }
  return kExitOk;
}

int sync(store::Store& db, const store::RemoteSettings& remote, const Invocation& inv, Io& io) {
  const bool push = inv.cache_action == CacheAction::push;
  const store::SyncReport report =
      push ? store::push_to_remote(db, remote) : store::pull_from_remote(db, remote);
  const std::string where = store::redis::parse_url(remote.url).display() + " (prefix '" + remote.key_prefix + "')";
  if (push)
    io.out << "pushed " << report.copied << (report.copied == 1 ? " record" : " records") << " from " << db.path()
           << " to " << where << "\n";
  else
    io.out << "pulled " << report.copied << (report.copied == 1 ? " record" : " records") << " from " << where
           << " into " << db.path() << "\n";
  for (const auto& why : report.rejected)
    io.err << "gemmtune: warning: not " << (push ? "pushed" : "pulled") << ": " << why << "\n";
  return kExitOk;
}

}  // namespace

int cmd_cache(const Invocation& inv, Io& io) {
  std::optional<store::RemoteSettings> remote;
  if (inv.cache_action == CacheAction::push || inv.cache_action == CacheAction::pull) {
    remote = store::resolve_remote(to_tune_options(inv.tune));
    if (!remote)
      throw UsageError(std::string("cache ") + (inv.cache_action == CacheAction::push ? "push" : "pull") +
                           " needs a remote cache: --remote-cache redis://host:port (or GEMMTUNE_REMOTE_CACHE)",
                       usage_hint(Command::cache));
  }
  const std::string path = store::db_path_for(to_tune_options(inv.tune));
  auto db = store::Store::open(path, [&io](const std::string& message) {
    io.err << "gemmtune: warning: " << printable(message) << "\n";
  });
  switch (inv.cache_action) {
    case CacheAction::list: return list(*db, inv, io);
    case CacheAction::show: return show(*db, inv, io);
    case CacheAction::stats: return stats(*db, inv, io);
    case CacheAction::import_file: return import_file(*db, inv, io);
    case CacheAction::export_file: {
      const std::int64_t n = db->export_json(inv.cache_argument);
      io.out << "exported " << n << (n == 1 ? " record" : " records") << " from " << db->path() << " to "
             << inv.cache_argument << "\n";
      return kExitOk;
    }
    case CacheAction::push:
    case CacheAction::pull: return sync(*db, *remote, inv, io);
    case CacheAction::clear: {
      const std::int64_t n = db->clear();
      io.out << "removed " << n << (n == 1 ? " record" : " records") << " from " << db->path() << "\n";
      return kExitOk;
    }
  }
  return kExitInternal;
}

}  // namespace gemmtune::cli
