// The C API over gemmtune::Tuner. Exceptions never cross it: each entry
// point catches, records the message for gemmtune_last_error() and returns
// the status code the CLI would exit with.
#include "gemmtune/c_api.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/option_table.h"
#include "gemmtune/errors.h"
#include "gemmtune/tuner.h"
#include "store/record_json.h"
#include "store/store.h"

struct gemmtune_tuner {
  std::unique_ptr<gemmtune::Tuner> tuner;
  // A Tuner is not thread-safe (tuner.h): its C handle serialises the calls
  // of threads that share it.
  std::mutex mutex;
  std::string enabled;  // "BLAS,CPP"
  std::string db_path;
};

struct gemmtune_selection {
  std::optional<gemmtune::Selection> selection;
  // One selection's kernel must not run concurrently (its packing scratch,
  // its tensor maps: tuner.h): runs through one handle take turns.
  mutable std::mutex run_mutex;
  std::string report;
  std::string record_json;
};

struct gemmtune_options {
  gemmtune::TuneOptions options;
};

namespace {

using namespace gemmtune;

thread_local std::string last_error;
thread_local std::string last_error_json;

int fail(int code, std::string message, nlohmann::json typed = nlohmann::json::object()) {
  typed["status"] = code;
  typed["message"] = message;
  if (!typed.contains("type")) typed["type"] = "Error";
  last_error = std::move(message);
  last_error_json = typed.dump();
  return code;
}

nlohmann::json hints_to_json(const std::vector<DisabledBackendHint>& hints) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : hints) out.push_back({{"backend", h.backend}, {"choices_offered", h.choices_offered}});
  return out;
}

// Runs `body`, mapping exceptions to status codes like the CLI's exit codes,
// and keeping each one's type and structured parts for gemmtune_last_error_json.
template <typename F>
int guarded(F&& body) {
  try {
    return body();
  } catch (const InvalidProblemError& e) {
    return fail(GEMMTUNE_INVALID, e.what(), {{"type", "InvalidProblemError"}, {"field", e.field()}});
  } catch (const ConfigError& e) {
    return fail(GEMMTUNE_INVALID, e.what(), {{"type", "ConfigError"}});
  } catch (const NoValidChoicesError& e) {
    return fail(GEMMTUNE_NO_VALID_CHOICES, e.what(),
                {{"type", "NoValidChoicesError"},
                 {"record", store::to_json(e.record())},
                 {"hints", hints_to_json(e.hints())}});
  } catch (const KernelRunError& e) {
    return fail(GEMMTUNE_ERROR, e.what(), {{"type", "KernelRunError"}});
  } catch (const StoreInputError& e) {
    // A path or argument the store cannot use as asked (nothing changed): the
    // CLI's exit code 2.
    return fail(GEMMTUNE_INVALID, e.what(), {{"type", "StoreInputError"}});
  } catch (const StoreError& e) {
    return fail(GEMMTUNE_ERROR, e.what(), {{"type", "StoreError"}});
  } catch (const BackendUnavailableError& e) {
    return fail(GEMMTUNE_ERROR, e.what(), {{"type", "BackendUnavailableError"}});
  } catch (const std::exception& e) {
    return fail(GEMMTUNE_ERROR, e.what());
  } catch (...) {
    return fail(GEMMTUNE_ERROR, "unknown exception");
  }
}

std::string text(const char* s) { return s ? std::string(s) : std::string(); }

template <typename T, typename Parse>
T parse_or_throw(const char* value, Parse parse, const char* field, T fallback) {
  if (value == nullptr || *value == '\0') return fallback;
  auto parsed = parse(value);
  if (!parsed) throw InvalidProblemError(field, std::string("unknown ") + field + " '" + value + "'");
  return *parsed;
}

MatrixDesc to_desc(const gemmtune_matrix& m, const char* field) {
  MatrixDesc d;
  d.dtype = parse_or_throw<DType>(m.dtype, parse_dtype, field, DType::f32);
  d.rows = m.rows;
  d.cols = m.cols;
  d.row_stride = m.row_stride;
  d.col_stride = m.col_stride;
  d.batch_stride = m.batch_stride;
  return d;
}

Problem to_problem(const gemmtune_problem& c) {
  Problem p;
  p.op = parse_or_throw<Op>(c.op, parse_op, "op", Op::mm);
  p.batch = c.batch;
  p.m = c.m;
  p.n = c.n;
  p.k = c.k;
  p.a = to_desc(c.a, "a.dtype");
  p.b = to_desc(c.b, "b.dtype");
  p.c = to_desc(c.c, "c.dtype");
  p.bias = parse_or_throw<BiasKind>(c.bias_kind, parse_bias_kind, "bias", BiasKind::none);
  if (p.bias != BiasKind::none) p.bias_desc = to_desc(c.bias, "bias.dtype");
  p.alpha = c.alpha;
  p.beta = c.beta;
  p.activation = parse_or_throw<Activation>(c.activation, parse_activation, "activation", Activation::none);
  p.scale_a = parse_or_throw<ScaleKind>(c.scale_a, parse_scale_kind, "scale_a", ScaleKind::none);
  p.scale_b = parse_or_throw<ScaleKind>(c.scale_b, parse_scale_kind, "scale_b", ScaleKind::none);
  p.allow_tf32 = c.allow_tf32 != 0;
  p.alignment = c.alignment;
  p.device = parse_or_throw<Device>(c.device, parse_device, "device", Device{});
  return p;
}

gemmtune_matrix from_desc(const MatrixDesc& d) {
  gemmtune_matrix m;
  m.dtype = to_string(d.dtype).data();  // string_views of static names
  m.rows = d.rows;
  m.cols = d.cols;
  m.row_stride = d.row_stride;
  m.col_stride = d.col_stride;
  m.batch_stride = d.batch_stride;
  return m;
}

// One option by name or C API key, through the option table.
void set_option(TuneOptions& options, const std::string& key, const std::string& value) {
  const auto* option = option_table::find(key);
  if (option == nullptr)
    throw ConfigError("unknown option '" + key + "' (" + option_table::names() + ")");
  if (option->process_wide)
    throw ConfigError("option " + key + " configures the whole process: set " + std::string(option->env) +
                      " in the environment instead");
  option_table::set(options, *option, value, "option " + key);
}

void apply_options(TuneOptions& options, const std::string& spec) {
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ';')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw ConfigError("option '" + item + "' is not key=value");
    set_option(options, item.substr(0, eq), item.substr(eq + 1));
  }
}

gemmtune_tuner* make_tuner(TuneOptions options) {
  auto made = std::make_unique<gemmtune_tuner>();
  made->tuner = std::make_unique<Tuner>(std::move(options));
  for (const auto& name : made->tuner->enabled()) made->enabled += (made->enabled.empty() ? "" : ",") + name;
  made->db_path = made->tuner->db_path();
  return made.release();
}

std::string make_report(const TuningRecord& record) {
  std::ostringstream out;
  for (const auto& c : record.choices) {
    out << c.backend << '\t' << c.name << '\t' << (c.ok() ? "ok" : "rejected") << '\t';
    if (c.timing) out << c.timing->median_us;
    out << '\t';
    if (c.rejection) out << c.rejection->to_string();
    out << '\n';
  }
  for (const auto& b : record.backends)
    if (b.rejection) out << b.backend << "\t-\trejected\t\t" << b.rejection->to_string() << '\n';
  return out.str();
}

}  // namespace

extern "C" {

const char* gemmtune_version(void) { return version().data(); }

int gemmtune_abi_version(void) { return GEMMTUNE_C_ABI_VERSION; }

const char* gemmtune_last_error(void) { return last_error.c_str(); }

const char* gemmtune_last_error_json(void) { return last_error_json.c_str(); }

const char* gemmtune_option_table(void) {
  static const std::string table = option_table::to_json();
  return table.c_str();
}

gemmtune_options* gemmtune_options_create(void) {
  try {
    return new gemmtune_options();
  } catch (...) {
    fail(GEMMTUNE_ERROR, "out of memory");
    return nullptr;
  }
}

int gemmtune_options_set(gemmtune_options* options, const char* name, const char* value) {
  if (!options || !name || !value) return fail(GEMMTUNE_INVALID, "options, name and value must not be NULL");
  return guarded([&] {
    set_option(options->options, name, value);
    return GEMMTUNE_OK;
  });
}

void gemmtune_options_destroy(gemmtune_options* options) { delete options; }

gemmtune_tuner* gemmtune_tuner_create_with_options(const gemmtune_options* options) {
  gemmtune_tuner* out = nullptr;
  guarded([&] {
    out = make_tuner(options ? options->options : TuneOptions{});
    return GEMMTUNE_OK;
  });
  return out;
}

const char* gemmtune_tuner_enabled(const gemmtune_tuner* tuner) { return tuner ? tuner->enabled.c_str() : ""; }
const char* gemmtune_tuner_db_path(const gemmtune_tuner* tuner) { return tuner ? tuner->db_path.c_str() : ""; }

const char* gemmtune_backends(void) {
  static const std::string listing = [] {
    std::ostringstream out;
    for (const auto& b : builtin_backends()) {
      const Availability a = b->availability();
      out << b->name() << '\t' << (a.available ? "available" : "unavailable") << '\t' << a.why << '\n';
    }
    return out.str();
  }();
  return listing.c_str();
}

gemmtune_tuner* gemmtune_tuner_create(const char* backends, const char* options) {
  gemmtune_tuner* out = nullptr;
  guarded([&] {
    TuneOptions tune;
    if (backends && *backends) set_option(tune, "backends", backends);
    apply_options(tune, text(options));
    out = make_tuner(std::move(tune));
    return GEMMTUNE_OK;
  });
  return out;
}

void gemmtune_tuner_destroy(gemmtune_tuner* tuner) { delete tuner; }

void gemmtune_problem_init(gemmtune_problem* p) {
  if (!p) return;
  std::memset(p, 0, sizeof(*p));
  p->op = "mm";
  p->batch = 1;
  p->alpha = 1.0;
  p->beta = 1.0;
  p->alignment = 16;
  p->device = "cpu";
}

int gemmtune_problem_dense(gemmtune_problem* p, const char* dtype, const char* layout) {
  if (!p) return fail(GEMMTUNE_INVALID, "problem is NULL");
  return guarded([&] {
    const std::string l = text(layout).empty() ? "nn" : text(layout);
    if (l.size() != 2 || (l[0] != 'n' && l[0] != 't') || (l[1] != 'n' && l[1] != 't'))
      throw InvalidProblemError("layout", "layout is nn, nt, tn or tt, not '" + l + "'");
    ProblemSpec spec;
    spec.op = parse_or_throw<Op>(p->op, parse_op, "op", Op::mm);
    spec.batch = p->batch;
    spec.m = p->m;
    spec.n = p->n;
    spec.k = p->k;
    spec.dtype = parse_or_throw<DType>(dtype, parse_dtype, "dtype", DType::f32);
    spec.transpose_a = l[0] == 't';
    spec.transpose_b = l[1] == 't';
    if (p->bias_kind && *p->bias_kind)
      spec.bias = parse_or_throw<BiasKind>(p->bias_kind, parse_bias_kind, "bias", BiasKind::none);
    const Problem made = make_problem(spec);
    p->a = from_desc(made.a);
    p->b = from_desc(made.b);
    p->c = from_desc(made.c);
    p->bias_kind = to_string(made.bias).data();
    if (made.bias != BiasKind::none) p->bias = from_desc(made.bias_desc);
    if (made.scale_a != ScaleKind::none) p->scale_a = to_string(made.scale_a).data();
    if (made.scale_b != ScaleKind::none) p->scale_b = to_string(made.scale_b).data();
    return GEMMTUNE_OK;
  });
}

int gemmtune_select(gemmtune_tuner* tuner, const gemmtune_problem* problem, gemmtune_selection** out) {
  if (!tuner || !problem || !out) return fail(GEMMTUNE_INVALID, "tuner, problem and out must not be NULL");
  *out = nullptr;
  return guarded([&] {
    const Problem p = to_problem(*problem);
    auto selection = std::make_unique<gemmtune_selection>();
    std::lock_guard<std::mutex> lock(tuner->mutex);
    selection->selection.emplace(tuner->tuner->select(p));
    selection->report = make_report(selection->selection->record());
    selection->record_json = store::to_json(selection->selection->record()).dump();
    *out = selection.release();
    return GEMMTUNE_OK;
  });
}

int gemmtune_explain(gemmtune_tuner* tuner, const gemmtune_problem* problem, const char** json_out) {
  if (!tuner || !problem || !json_out) return fail(GEMMTUNE_INVALID, "tuner, problem and json_out must not be NULL");
  static thread_local std::string explained;
  return guarded([&] {
    const Problem p = to_problem(*problem);
    std::lock_guard<std::mutex> lock(tuner->mutex);
    const Explanation e = tuner->tuner->explain(p);
    explained = nlohmann::json{{"record", store::to_json(e.record)},
                               {"disabled_would_serve", hints_to_json(e.disabled_would_serve)}}
                    .dump();
    *json_out = explained.c_str();
    return GEMMTUNE_OK;
  });
}

int gemmtune_tune_on_devices(const gemmtune_options* options, const gemmtune_problem* problems, size_t count,
                             const char* devices, const char** json_out) {
  if (!json_out || !devices || (!problems && count > 0))
    return fail(GEMMTUNE_INVALID, "devices and json_out must not be NULL, nor problems when count > 0");
  static thread_local std::string result;
  return guarded([&] {
    std::vector<Problem> list;
    for (size_t i = 0; i < count; ++i) list.push_back(to_problem(problems[i]));
    const DevicesTuneReport report =
        tune_on_devices(list, parse_devices(devices), options ? options->options : TuneOptions{});
    nlohmann::json results = nlohmann::json::array();
    bool all_tuned = true;
    for (const auto& r : report.results) {
      all_tuned &= r.tuned;
      results.push_back({{"device", to_string(r.device)},
                         {"tuned", r.tuned},
                         {"cache_hit", r.cache_hit},
                         {"error", r.error},
                         {"record", r.record.key.empty() ? nlohmann::json(nullptr) : store::to_json(r.record)}});
    }
    result = nlohmann::json{{"results", std::move(results)}, {"failed_devices", report.failed_devices}}.dump();
    *json_out = result.c_str();
    return all_tuned ? GEMMTUNE_OK : GEMMTUNE_NO_VALID_CHOICES;
  });
}

int gemmtune_database_records(const char* db_path, const char** json_out) {
  if (!db_path || !json_out) return fail(GEMMTUNE_INVALID, "db_path and json_out must not be NULL");
  static thread_local std::string records;
  return guarded([&] {
    require_database(db_path);
    auto store = store::Store::open(db_path, [](const std::string& warning) {
      std::fprintf(stderr, "gemmtune: warning: %s\n", warning.c_str());
    });
    nlohmann::json list = nlohmann::json::array();
    for (const auto& summary : store->list())
      if (auto record = store->get(std::to_string(summary.id))) list.push_back(store::to_json(*record));
    records = nlohmann::json{{"format", store::kExportFormatName},
                             {"version", store::kExportFormatVersion},
                             {"records", std::move(list)}}
                  .dump();
    *json_out = records.c_str();
    return GEMMTUNE_OK;
  });
}

int gemmtune_run(const gemmtune_selection* s, const gemmtune_args* args, void* stream) {
  if (!s || !args) return fail(GEMMTUNE_INVALID, "selection and args must not be NULL");
  return guarded([&] {
    std::lock_guard<std::mutex> lock(s->run_mutex);
    s->selection->run(GemmArgs{args->a, args->b, args->c, args->bias, args->scale_a, args->scale_b}, stream);
    return GEMMTUNE_OK;
  });
}

int gemmtune_selection_run(const gemmtune_selection* s, const void* a, const void* b, void* c, const void* bias,
                           const float* scale_a, const float* scale_b, void* stream) {
  if (!s) return fail(GEMMTUNE_INVALID, "selection must not be NULL");
  return guarded([&] {
    std::lock_guard<std::mutex> lock(s->run_mutex);
    s->selection->run(GemmArgs{a, b, c, bias, scale_a, scale_b}, stream);
    return GEMMTUNE_OK;
  });
}

const char* gemmtune_selection_backend(const gemmtune_selection* s) { return s ? s->selection->backend().c_str() : ""; }
const char* gemmtune_selection_choice(const gemmtune_selection* s) { return s ? s->selection->choice().c_str() : ""; }
double gemmtune_selection_time_us(const gemmtune_selection* s) {
  return s && s->selection->record().winner ? s->selection->record().winner->time_us : 0.0;
}
double gemmtune_selection_tuning_seconds(const gemmtune_selection* s) {
  return s ? s->selection->record().tuning_seconds : 0.0;
}
int gemmtune_selection_cache_hit(const gemmtune_selection* s) { return s && s->selection->cache_hit() ? 1 : 0; }
int gemmtune_selection_fallback(const gemmtune_selection* s) { return s && s->selection->fallback() ? 1 : 0; }
const char* gemmtune_selection_report(const gemmtune_selection* s) { return s ? s->report.c_str() : ""; }
const char* gemmtune_selection_record_json(const gemmtune_selection* s) { return s ? s->record_json.c_str() : ""; }
void gemmtune_selection_destroy(gemmtune_selection* s) { delete s; }

}  // extern "C"
