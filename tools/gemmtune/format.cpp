#include "format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "gemmtune/record_json.h"

namespace gemmtune::cli {
namespace {

using nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool same_name(const std::string& x, const std::string& y) { return lower(x) == lower(y); }

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string pad_left(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

char layout_letter(const MatrixDesc& d) {
  if (d.col_stride == 1 || d.cols <= 1) return 'n';
  if (d.row_stride == 1 || d.rows <= 1) return 't';
  return 's';  // general strides
}

std::string dims(std::initializer_list<std::int64_t> values) {
  std::string out;
  for (auto v : values) {
    if (!out.empty()) out += 'x';
    out += std::to_string(v);
  }
  return out;
}

bool is_winner(const TuningRecord& r, const ChoiceOutcome& c) {
  return r.winner && r.winner->backend == c.backend && r.winner->choice == c.name;
}

std::string status_of(const TuningRecord& r, const ChoiceOutcome& c) {
  if (c.rejection) return "rejected";
  if (is_winner(r, c)) return "selected";
  if (!c.timing) return "offered";  // explain: listed, never built or timed
  return "ok";
}

// Choices in display order: timed ones fastest first, then the rest in
// record order (which is the tuner's order: registration, then offer).
std::vector<const ChoiceOutcome*> display_order(const TuningRecord& r) {
  std::vector<const ChoiceOutcome*> timed, rest;
  for (const auto& c : r.choices) (c.ok() && c.timing ? timed : rest).push_back(&c);
  std::stable_sort(timed.begin(), timed.end(), [](const ChoiceOutcome* x, const ChoiceOutcome* y) {
    return x->timing->median_us < y->timing->median_us;
  });
  timed.insert(timed.end(), rest.begin(), rest.end());
  return timed;
}

double best_time(const TuningRecord& r) {
  if (r.winner && r.winner->time_us > 0) return r.winner->time_us;
  double best = 0;
  for (const auto& c : r.choices)
    if (c.ok() && c.timing && (best == 0 || c.timing->median_us < best)) best = c.timing->median_us;
  return best;
}

struct Row {
  std::string name, time, percent, detail;
};

// Rows of the AUTOTUNE table: every choice, then every backend that
// rejected the problem as a whole (named by the backend in upper case).
std::vector<Row> choice_rows(const TuningRecord& r, bool with_stats) {
  std::vector<Row> rows;
  const double best = best_time(r);
  for (const ChoiceOutcome* c : display_order(r)) {
    Row row;
    row.name = c->name;
    if (c->rejection) {
      row.time = "rejected";
      row.detail = c->rejection->to_string();
    } else if (c->timing) {
      row.time = format_time_us(c->timing->median_us);
      row.percent = best > 0 ? fixed(100.0 * best / c->timing->median_us, 1) + "%" : "";
      row.detail = c->description;
      if (with_stats) {
        row.detail += (row.detail.empty() ? "" : "  ") + std::string("[min ") + format_time_us(c->timing->min_us) +
                      ", max " + format_time_us(c->timing->max_us) + ", spread " +
                      fixed(100.0 * c->timing->spread, 1) + "%, " + std::to_string(c->timing->repeats) +
                      " runs, max error " + (r.verified ? fixed(c->max_error, 6) : std::string("not checked")) +
                      "]";
      }
    } else {
      row.time = "offered";
      row.detail = c->description;
    }
    rows.push_back(std::move(row));
  }
  for (const auto& b : r.backends) {
    if (!b.rejection) continue;
    rows.push_back(Row{b.backend, "rejected", "", b.rejection->to_string()});
  }
  return rows;
}

std::string render_rows(const std::vector<Row>& rows, const std::string& indent) {
  std::size_t name_w = 8, time_w = 8, pct_w = 0;
  for (const auto& row : rows) {
    name_w = std::max(name_w, row.name.size());
    time_w = std::max(time_w, row.time.size());
    pct_w = std::max(pct_w, row.percent.size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent + pad(row.name, name_w) + "  " + pad_left(row.time, time_w);
    if (row.time == "rejected") {
      line += "  " + row.detail;
    } else {
      line += "  " + pad_left(row.percent, pct_w);
      if (!row.detail.empty()) line += "  " + row.detail;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string fallback_line(const TuningRecord& r) {
  std::string enabled = r.enabled.empty() ? "(none)" : join(r.enabled, ", ");
  return "FALLBACK: the enabled backends (" + enabled + ") produced no valid choice for " + describe(r.problem) +
         "; using the library backend " + (r.winner ? r.winner->backend : library_backend(r.problem.device.kind)) +
         " because fallback to the library is on (--fallback-to-library or GEMMTUNE_FALLBACK_TO_LIBRARY=1); turn it "
         "off to make this an error";
}

// The flat stage/reason/message fields of a choice or backend row (null
// when it was not rejected), with the names to_string() gives them.
void put_rejection(json& row, const std::optional<Rejection>& rejection) {
  row["stage"] = rejection ? json(std::string(to_string(rejection->stage))) : json(nullptr);
  row["reason"] = rejection ? json(std::string(to_string(rejection->reason))) : json(nullptr);
  row["message"] = rejection ? json(rejection->message) : json(nullptr);
}

json choices_json(const TuningRecord& r) {
  json out = json::array();
  for (const auto& c : r.choices) {
    json j{{"backend", c.backend}, {"name", c.name}, {"description", c.description}, {"status", status_of(r, c)}};
    if (c.timing) {
      j["time_us"] = c.timing->median_us;
      j["min_us"] = c.timing->min_us;
      j["max_us"] = c.timing->max_us;
      j["spread"] = c.timing->spread;
      j["repeats"] = c.timing->repeats;
      j["max_error"] = r.verified ? json(c.max_error) : json(nullptr);  // null: not checked (--verify off)
    } else {
      j["time_us"] = nullptr;
    }
    put_rejection(j, c.rejection);
    out.push_back(std::move(j));
  }
  return out;
}

json backends_json(const TuningRecord& r) {
  json out = json::array();
  for (const auto& b : r.backends) {
    json j{{"backend", b.backend},
           {"version", b.version},
           {"choices_offered", b.choices_offered},
           {"status", b.rejection ? "rejected" : "ok"}};
    put_rejection(j, b.rejection);
    out.push_back(std::move(j));
  }
  return out;
}

json hints_json(const std::vector<DisabledBackendHint>& hints) {
  json out = json::array();
  for (const auto& h : hints) out.push_back({{"backend", h.backend}, {"choices_offered", h.choices_offered}});
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string hints_text(const std::vector<DisabledBackendHint>& hints) {
  std::vector<std::string> parts;
  for (const auto& h : hints)
    parts.push_back(h.backend + " (" + std::to_string(h.choices_offered) +
                    (h.choices_offered == 1 ? " choice)" : " choices)"));
  return join(parts, ", ");
}

// The `error` member of tune's and explain's JSON: null, or why it exits 3.
json error_json(const std::optional<std::string>& message, const std::vector<DisabledBackendHint>& hints) {
  if (!message) return nullptr;
  return json{{"kind", "no_valid_choices"},
              {"exit_code", 3},
              {"message", *message},
              {"disabled_would_serve", hints_json(hints)}};
}

}  // namespace

LibraryBaseline library_baseline(const TuningRecord& r) {
  LibraryBaseline out;
  out.backend = library_backend(r.problem.device.kind);
  const ChoiceOutcome* fastest = nullptr;
  const ChoiceOutcome* first_rejected = nullptr;
  for (const auto& c : r.choices) {
    if (!same_name(c.backend, out.backend)) continue;
    if (c.ok() && c.timing) {
      if (!fastest || c.timing->median_us < fastest->timing->median_us) fastest = &c;
    } else if (c.rejection && !first_rejected) {
      first_rejected = &c;
    }
  }
  if (fastest) {
    out.choice = fastest->name;
    out.time_us = fastest->timing->median_us;
    return out;
  }
  for (const auto& b : r.backends) {
    if (same_name(b.backend, out.backend) && b.rejection) {
      out.note = "n/a (" + out.backend + ": " + std::string(to_string(b.rejection->reason)) + ")";
      return out;
    }
  }
  if (first_rejected) {
    out.note = "n/a (" + out.backend + ": " + std::string(to_string(first_rejected->rejection->reason)) + ")";
    return out;
  }
  const bool enabled = std::any_of(r.enabled.begin(), r.enabled.end(),
                                   [&](const std::string& e) { return same_name(e, out.backend); });
  out.note = enabled ? "n/a (" + out.backend + ": not timed)" : "n/a (" + out.backend + " disabled)";
  return out;
}

std::string autotune_title(const Problem& p) {
  const bool batched = is_batched(p.op);
  auto operand = [&](std::int64_t rows, std::int64_t cols, std::int64_t batch_stride) {
    return batched && batch_stride != 0 ? dims({p.batch, rows, cols}) : dims({rows, cols});
  };
  std::vector<std::string> shapes;
  if (p.bias == BiasKind::row) shapes.push_back(std::to_string(p.n));
  else if (p.bias == BiasKind::full) shapes.push_back(operand(p.m, p.n, p.bias_desc.batch_stride));
  shapes.push_back(operand(p.m, p.k, p.a.batch_stride));
  shapes.push_back(operand(p.k, p.n, p.b.batch_stride));
  std::string title = std::string(to_string(p.op)) + "(" + join(shapes, ", ") + ")";

  // The rest follows describe()'s wording ("bf16 ... nt bias=row act=gelu")
  // without repeating the shape.
  std::istringstream words(describe(p));
  std::vector<std::string> tokens;
  for (std::string w; words >> w;) tokens.push_back(w);
  if (tokens.size() >= 4) {
    title += " " + tokens[1];
    for (std::size_t i = 3; i < tokens.size(); ++i) title += " " + tokens[i];
  } else {
    std::string dt(to_string(p.a.dtype));
    title += " " + dt + " " + layout_letter(p.a) + layout_letter(p.b);
  }
  return title;
}

std::string format_time_us(double us) {
  if (us >= 100) return fixed(us, 1) + " us";
  if (us >= 10) return fixed(us, 2) + " us";
  return fixed(us, 3) + " us";
}

std::string format_autotune(const ResultView& v) {
  const TuningRecord& r = v.record;
  std::ostringstream out;
  out << "AUTOTUNE " << autotune_title(r.problem) << "\n";
  out << render_rows(choice_rows(r, false), "  ");
  out << "SingleProcess AUTOTUNE benchmarking takes " << fixed(v.seconds, 2) << " seconds ("
      << (v.cache_hit ? "cache hit" : "cache miss");
  if (v.cache_hit && !r.created_at.empty())
    out << "; tuned " << r.created_at << " in " << fixed(r.tuning_seconds, 2) << " s";
  if (v.source != ResultSource::tuned || v.waited_seconds > 0) out << "; " << source_text(v);
  if (!r.verified) out << "; not verified: --verify off";
  out << ")\n";
  if (r.winner) {
    out << "selected: " << r.winner->backend << " " << r.winner->choice << " (" << format_time_us(r.winner->time_us)
        << ")";
    LibraryBaseline lib = library_baseline(r);
    if (lib.time_us && !same_name(r.winner->backend, lib.backend) && r.winner->time_us > 0)
      out << ", " << fixed(*lib.time_us / r.winner->time_us, 2) << "x vs " << lib.backend << " " << lib.choice;
    out << "\n";
    if (r.fallback) out << fallback_line(r) << "\n";
  } else {
    out << "selected: none (no valid choices)\n";
  }
  return out.str();
}

nlohmann::json problem_json(const Problem& p) {
  // The store's fields (op, m, n, k, a, b, c, device, ...) plus summaries
  // for readers under names the store does not use.
  json j = json::parse(gemmtune::problem_to_json(p));
  j["text"] = describe(p);
  j["shape"] = json{{"batch", p.batch}, {"m", p.m}, {"n", p.n}, {"k", p.k}};
  json dtypes{{"a", std::string(to_string(p.a.dtype))},
              {"b", std::string(to_string(p.b.dtype))},
              {"c", std::string(to_string(p.c.dtype))}};
  if (p.bias != BiasKind::none) dtypes["bias"] = std::string(to_string(p.bias_desc.dtype));
  j["dtypes"] = std::move(dtypes);
  j["layout"] = std::string{layout_letter(p.a), layout_letter(p.b)};
  j["epilogue"] = json{{"bias", std::string(to_string(p.bias))},
                       {"alpha", p.alpha},
                       {"beta", p.beta},
                       {"activation", std::string(to_string(p.activation))},
                       {"scale_a", std::string(to_string(p.scale_a))},
                       {"scale_b", std::string(to_string(p.scale_b))}};
  return j;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string json_text(const nlohmann::json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

nlohmann::json result_to_json(const ResultView& v) {
  const TuningRecord& r = v.record;
  json j;
  if (!v.label.empty()) j["label"] = v.label;
  j["problem"] = problem_json(r.problem);
  j["selected"] = r.winner ? json{{"backend", r.winner->backend},
                                  {"choice", r.winner->choice},
                                  {"time_us", r.winner->time_us}}
                           : json(nullptr);
  j["choices"] = choices_json(r);
  j["backends"] = backends_json(r);
  j["enabled"] = r.enabled;
  j["cache_hit"] = v.cache_hit;
  j["source"] = std::string(source_name(v.source));
  j["tuned_by"] = r.tuned_by;
  j["waited_seconds"] = v.waited_seconds;
  j["waited_too_long"] = v.waited_too_long;
  j["fallback"] = r.fallback;
  j["fallback_reason"] = r.fallback_reason;
  j["verified"] = r.verified;
  j["tuning_seconds"] = v.seconds;
  j["recorded_tuning_seconds"] = r.tuning_seconds;
  j["created_at"] = r.created_at;
  j["db"] = v.db_path;
  LibraryBaseline lib = library_baseline(r);
  json libj{{"backend", lib.backend}};
  if (lib.time_us) {
    libj["choice"] = lib.choice;
    libj["time_us"] = *lib.time_us;
    libj["speedup"] = r.winner && r.winner->time_us > 0 ? json(*lib.time_us / r.winner->time_us) : json(nullptr);
  } else {
    libj["note"] = lib.note;
  }
  j["library"] = libj;
  j["record"] = json::parse(record_to_json(r));
  j["error"] = error_json(v.error, v.hints);
  return j;
}

std::string csv_header() {
  return "problem,backend,choice,status,time_us,percent_of_best,stage,reason,message,cache_hit,fallback\n";
}

std::string csv_rows(const ResultView& v) {
  const TuningRecord& r = v.record;
  const double best = best_time(r);
  const std::string problem = csv_field(describe(r.problem));
  const std::string tail = std::string(",") + (v.cache_hit ? "true" : "false") + "," + (r.fallback ? "true" : "false");
  std::ostringstream out;
  for (const ChoiceOutcome* c : display_order(r)) {
    out << problem << "," << csv_field(c->backend) << "," << csv_field(c->name) << "," << status_of(r, *c) << ",";
    if (c->timing) out << fixed(c->timing->median_us, 3) << "," << (best > 0 ? fixed(100.0 * best / c->timing->median_us, 1) : "");
    else out << ",";
    if (c->rejection)
      out << "," << to_string(c->rejection->stage) << "," << to_string(c->rejection->reason) << ","
          << csv_field(c->rejection->message);
    else out << ",,,";
    out << tail << "\n";
  }
  for (const auto& b : r.backends) {
    if (!b.rejection) continue;
    out << problem << "," << csv_field(b.backend) << ",,rejected,,," << to_string(b.rejection->stage) << ","
        << to_string(b.rejection->reason) << "," << csv_field(b.rejection->message) << tail << "\n";
  }
  return out.str();
}

std::string_view source_name(ResultSource source) {
  switch (source) {
    case ResultSource::tuned: return "tuned";
    case ResultSource::local_cache: return "local_cache";
    case ResultSource::remote_cache: return "remote_cache";
  }
  return "?";
}

std::string source_text(const ResultView& v) {
  const std::string by = v.record.tuned_by.empty() ? "" : " (tuned by " + v.record.tuned_by + ")";
  switch (v.source) {
    case ResultSource::tuned:
      if (v.waited_too_long)
        return "tuned here after waiting " + fixed(v.waited_seconds, 0) + " s for another process";
      return "tuned here";
    case ResultSource::local_cache: return "local cache" + by;
    case ResultSource::remote_cache:
      return "remote cache" + by + (v.waited_seconds >= 0.05 ? ", waited " + fixed(v.waited_seconds, 1) + " s" : "");
  }
  return "?";
}

std::string format_summary(const std::vector<ResultView>& results, double total_seconds) {
  struct Line {
    std::string problem, winner, time, speedup, source;
  };
  std::vector<Line> lines;
  int hits = 0, failures = 0, fallbacks = 0, tuned_here = 0, local_hits = 0, remote_hits = 0;
  std::string lib_name = "library";
  double tuning = 0;
  for (const auto& v : results) {
    const TuningRecord& r = v.record;
    tuning += v.seconds;
    if (v.cache_hit) ++hits;
    Line line;
    line.problem = describe(r.problem);
    line.source = v.error ? "-" : source_text(v);
    if (!v.error) {
      if (v.source == ResultSource::tuned) ++tuned_here;
      else if (v.source == ResultSource::local_cache) ++local_hits;
      else ++remote_hits;
    }
    LibraryBaseline lib = library_baseline(r);
    lib_name = lib.backend;
    if (r.winner && !v.error) {
      line.winner = r.winner->backend + "/" + r.winner->choice + (r.fallback ? " (FALLBACK)" : "");
      if (r.fallback) ++fallbacks;
      line.time = format_time_us(r.winner->time_us);
      if (lib.time_us && r.winner->time_us > 0) line.speedup = fixed(*lib.time_us / r.winner->time_us, 2) + "x";
      else line.speedup = lib.note;
    } else {
      ++failures;
      line.winner = "NO VALID CHOICES (exit 3)";
      line.time = "-";
      line.speedup = lib.time_us ? "-" : lib.note;
    }
    lines.push_back(std::move(line));
  }
  // The column says which library it compares to when all rows agree.
  bool one_library = std::all_of(results.begin(), results.end(), [&](const ResultView& v) {
    return library_backend(v.record.problem.device.kind) == lib_name;
  });
  const std::string speedup_header = "speedup vs " + (one_library ? lib_name : std::string("library"));
  std::size_t pw = 7, ww = 6, tw = 4, sw = speedup_header.size();
  for (const auto& l : lines) {
    pw = std::max(pw, l.problem.size());
    ww = std::max(ww, l.winner.size());
    tw = std::max(tw, l.time.size());
    sw = std::max(sw, l.speedup.size());
  }
  std::ostringstream out;
  out << "SUMMARY: " << results.size() << (results.size() == 1 ? " problem" : " problems") << "\n";
  out << "  " << pad("problem", pw) << "  " << pad("winner", ww) << "  " << pad_left("time", tw) << "  "
      << pad(speedup_header, sw) << "  source\n";
  for (const auto& l : lines)
    out << "  " << pad(l.problem, pw) << "  " << pad(l.winner, ww) << "  " << pad_left(l.time, tw) << "  "
        << pad(l.speedup, sw) << "  " << l.source << "\n";
  out << "total: " << fixed(tuning, 2) << " s tuning (" << fixed(total_seconds, 2) << " s wall), " << hits << "/"
      << results.size() << " cache hits, " << failures << " without valid choices";
  if (fallbacks) out << ", " << fallbacks << " FALLBACK";
  out << "\n       " << tuned_here << " tuned here, " << local_hits << " from the local cache, " << remote_hits
      << " from the remote cache";
  out << "\n";
  return out.str();
}

std::string format_explanation(const Explanation& e) {
  const TuningRecord& r = e.record;
  std::ostringstream out;
  out << "EXPLAIN " << autotune_title(r.problem) << "\n";
  out << "  enabled backends: " << (r.enabled.empty() ? "(none)" : join(r.enabled, ", ")) << "\n";
  out << "  search space: " << to_string(r.search_space) << ", threads: " << r.threads << "\n";
  std::size_t width = 8;
  for (const auto& b : r.backends) width = std::max(width, b.backend.size());
  for (const auto& c : r.choices) width = std::max(width, c.name.size() + 2);
  for (const auto& b : r.backends) {
    out << "  " << pad(b.backend, width) << "  ";
    if (b.rejection) {
      out << "rejected  " << b.rejection->to_string() << "\n";
      continue;
    }
    out << b.choices_offered << (b.choices_offered == 1 ? " choice" : " choices");
    if (!b.version.empty()) out << "  (version " << b.version << ")";
    out << "\n";
    for (const auto& c : r.choices) {
      if (c.backend != b.backend) continue;
      out << "    " << pad(c.name, width - 2) << "  "
          << (c.rejection ? "rejected  " + c.rejection->to_string() : c.description) << "\n";
    }
  }
  if (!e.disabled_would_serve.empty())
    out << "  hint: disabled backends that would serve this problem: " << hints_text(e.disabled_would_serve)
        << "; enable one with --backends or GEMMTUNE_BACKENDS\n";
  const bool any = std::any_of(r.choices.begin(), r.choices.end(), [](const ChoiceOutcome& c) { return c.ok(); });
  if (!any) out << "  no enabled backend offers a choice for this problem\n";
  return out.str();
}

nlohmann::json explanation_to_json(const Explanation& e, const std::optional<std::string>& error) {
  const TuningRecord& r = e.record;
  json j;
  j["problem"] = problem_json(r.problem);
  j["enabled"] = r.enabled;
  j["search_space"] = std::string(to_string(r.search_space));
  j["threads"] = r.threads;
  j["backends"] = backends_json(r);
  j["choices"] = choices_json(r);
  j["disabled_would_serve"] = hints_json(e.disabled_would_serve);
  j["error"] = error_json(error, e.disabled_would_serve);
  return j;
}

std::string format_record(const TuningRecord& r, std::int64_t id) {
  std::ostringstream out;
  out << "record " << id << "\n";
  out << "  key:          " << r.key << "\n";
  out << "  problem:      " << describe(r.problem) << "\n";
  out << "  enabled:      " << (r.enabled.empty() ? "(none)" : join(r.enabled, ", ")) << "\n";
  out << "  search space: " << to_string(r.search_space) << ", threads: " << r.threads << "\n";
  out << "  environment:  " << r.environment << "\n";
  std::vector<std::string> versions;
  for (const auto& [name, version] : r.backend_versions) versions.push_back(name + "=" + version);
  out << "  versions:     " << (versions.empty() ? "-" : join(versions, ", ")) << "\n";
  out << "  created:      " << r.created_at << " by gemmtune " << r.gemmtune_version << ", tuning took "
      << fixed(r.tuning_seconds, 2) << " s\n";
  if (r.winner)
    out << "  winner:       " << r.winner->backend << " " << r.winner->choice << " ("
        << format_time_us(r.winner->time_us) << ")\n";
  else
    out << "  winner:       none\n";
  if (r.fallback) {
    out << "  " << fallback_line(r) << "\n";
    if (!r.fallback_reason.empty()) out << "  fallback reason: " << r.fallback_reason << "\n";
  }
  out << "  backends:\n";
  for (const auto& b : r.backends) {
    out << "    " << pad(b.backend, 10) << " ";
    if (b.rejection) out << "rejected  " << b.rejection->to_string();
    else out << b.choices_offered << (b.choices_offered == 1 ? " choice" : " choices");
    if (!b.version.empty()) out << "  (version " << b.version << ")";
    out << "\n";
  }
  out << "  choices:\n";
  out << render_rows(choice_rows(r, true), "    ");
  LibraryBaseline lib = library_baseline(r);
  if (r.winner && lib.time_us && r.winner->time_us > 0)
    out << "  speedup over " << lib.backend << ": " << fixed(*lib.time_us / r.winner->time_us, 2) << "x\n";
  else
    out << "  speedup over " << lib.backend << ": " << (lib.note.empty() ? "n/a" : lib.note) << "\n";
  return out.str();
}

}  // namespace gemmtune::cli
