// `gemmtune cache ...`: the results database, through the public catalogue
// (gemmtune/catalogue.h), push and pull included.
#include <algorithm>

#include "commands.h"
#include "format.h"
#include "gemmtune/catalogue.h"
#include "gemmtune/record_json.h"

namespace gemmtune::cli {
namespace {

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

nlohmann::json summary_json(const RecordSummary& s) {
  return {{"id", s.id},
          {"key", s.key},
          {"problem", s.problem},
          {"winner_backend", s.winner_backend},
          {"winner_choice", s.winner_choice},
          {"winner_time_us", s.winner_time_us},
          {"fallback", s.fallback},
          {"created_at", s.created_at}};
}

int list(Catalogue& db, const Invocation& inv, Io& io) {
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

int show(Catalogue& db, const Invocation& inv, Io& io) {
  auto record = db.get(inv.cache_argument);
  if (!record)
    throw UsageError("cache show: no record with id or key prefix '" + inv.cache_argument + "' in " + db.path() +
                         " (see gemmtune cache list)",
                     usage_hint(Command::cache));
  if (inv.format == OutputFormat::json) {
    io.out << record_to_json(*record, 2) << "\n";
    return kExitOk;
  }
  std::int64_t id = 0;
  for (const auto& s : db.list())
    if (s.key == record->key) id = s.id;
  io.out << format_record(*record, id);
  return kExitOk;
}

int stats(Catalogue& db, const Invocation& inv, Io& io) {
  const CatalogueStats s = db.stats();
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

int import_file(Catalogue& db, const Invocation& inv, Io& io) {
  const ImportReport report = db.import_json(inv.cache_argument);
  io.out << "imported " << report.imported << " new and replaced " << report.replaced << " records from "
         << inv.cache_argument << " into " << db.path() << "\n";
  for (const auto& why : report.rejected) io.err << "gemmtune: warning: not imported: " << printable(why) << "\n";
  if (!report.rejected.empty() && report.imported + report.replaced == 0) {
    io.err << "gemmtune: error: no record of " << inv.cache_argument << " could be imported\n";
    return kExitUsage;
  }
  return kExitOk;
}

// The remote is resolved, and a missing one refused, before the database
// is opened.
int sync(const std::string& path, const Invocation& inv, Io& io, const Catalogue::Warn& warn) {
  const bool push = inv.cache_action == CacheAction::push;
  const TuneOptions options = to_tune_options(inv.tune);
  const SyncReport report =
      push ? push_to_remote_cache(path, options, warn) : pull_from_remote_cache(path, options, warn);
  const char* records = report.copied == 1 ? " record" : " records";
  if (push)
    io.out << "pushed " << report.copied << records << " from " << path << " to " << report.remote << "\n";
  else
    io.out << "pulled " << report.copied << records << " from " << report.remote << " into " << path << "\n";
  for (const auto& why : report.rejected)
    io.err << "gemmtune: warning: not " << (push ? "pushed" : "pulled") << ": " << printable(why) << "\n";
  return kExitOk;
}

}  // namespace

int cmd_cache(const Invocation& inv, Io& io) {
  const std::string path = db_path_for(to_tune_options(inv.tune));
  const Catalogue::Warn warn = [&io](const std::string& message) {
    io.err << "gemmtune: warning: " << printable(message) << "\n";
  };
  // Only import and pull add records (and push checks its remote first):
  // every other action reads or empties a database, and one that is not
  // there is a mistyped path. Refused before anything is made, so that
  // `cache export FILE` cannot overwrite FILE with an empty export.
  if (inv.cache_action != CacheAction::import_file && inv.cache_action != CacheAction::pull &&
      inv.cache_action != CacheAction::push)
    require_database(path);
  if (inv.cache_action == CacheAction::push || inv.cache_action == CacheAction::pull) return sync(path, inv, io, warn);
  auto db = Catalogue::open(path, warn);
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
    case CacheAction::pull: break;  // above
    case CacheAction::clear: {
      const std::int64_t n = db->clear();
      io.out << "removed " << n << (n == 1 ? " record" : " records") << " from " << db->path() << "\n";
      return kExitOk;
    }
  }
  return kExitInternal;
}

}  // namespace gemmtune::cli
