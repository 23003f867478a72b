// The C API over gemmtune::Tuner. Exceptions never cross it: each entry
// point catches, records the message for gemmtune_last_error() and returns
// the status code the CLI would exit with.
#include "gemmtune/c_api.h"

#include <cstring>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "gemmtune/errors.h"
#include "gemmtune/tuner.h"
#include "util/env.h"

struct gemmtune_tuner {
  std::unique_ptr<gemmtune::Tuner> tuner;
};

struct gemmtune_selection {
  std::optional<gemmtune::Selection> selection;
  std::string report;
};

namespace {

using namespace gemmtune;

thread_local std::string last_error;

int fail(int code, std::string message) {
  last_error = std::move(message);
  return code;
}

// Runs `body`, mapping exceptions to status codes like the CLI's exit codes.
template <typename F>
int guarded(F&& body) {
  try {
    return body();
  } catch (const InvalidProblemError& e) {
    return fail(GEMMTUNE_INVALID, e.what());
  } catch (const ConfigError& e) {
    return fail(GEMMTUNE_INVALID, e.what());
  } catch (const NoValidChoicesError& e) {
    return fail(GEMMTUNE_NO_VALID_CHOICES, e.what());
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

// The words GEMMTUNE_FALLBACK_TO_LIBRARY and the other switches take.
bool parse_flag(const std::string& key, const std::string& value) {
  if (auto flag = env::parse_bool(value)) return *flag;
  throw ConfigError("option " + key + " takes 0 or 1, not '" + value + "'");
}

double parse_number(const std::string& key, const std::string& value) {
  try {
    std::size_t used = 0;
    double v = std::stod(value, &used);
    if (used == value.size()) return v;
  } catch (const std::exception&) {
  }
  throw ConfigError("option " + key + " takes a number, not '" + value + "'");
}

void apply_options(TuneOptions& options, const std::string& spec) {
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ';')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw ConfigError("option '" + item + "' is not key=value");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "search_space") {
      auto s = parse_search_space(value);
      if (!s) throw ConfigError("search_space is default or exhaustive, not '" + value + "'");
      options.search_space = *s;
    } else if (key == "cache") {
      options.use_cache = parse_flag(key, value);
    } else if (key == "db") {
      options.db_path = value;
    } else if (key == "verify") {
      if (auto mode = parse_verify_mode(value)) options.verify = *mode;
      else throw ConfigError("verify is auto, full, sampled or off, not '" + value + "'");
    } else if (key == "fallback") {
      options.fallback_to_library = parse_flag(key, value);
    } else if (key == "threads") {
      options.threads = static_cast<int>(parse_number(key, value));
    } else if (key == "compile_threads") {
      options.compile_threads = static_cast<int>(parse_number(key, value));
    } else if (key == "warmup") {
      options.measure.warmup_runs = static_cast<int>(parse_number(key, value));
    } else if (key == "budget_ms") {
      options.measure.budget_ms = parse_number(key, value);
    } else if (key == "min_repeats") {
      options.measure.min_repeats = static_cast<int>(parse_number(key, value));
    } else if (key == "max_repeats") {
      options.measure.max_repeats = static_cast<int>(parse_number(key, value));
    } else if (key == "cold_cache") {
      options.measure.cold_cache = parse_flag(key, value);
    } else if (key == "cuda_graph") {
      options.measure.cuda_graph = parse_flag(key, value);
    } else if (key == "noise_margin") {
      options.measure.noise_margin = parse_number(key, value);
    } else {
      throw ConfigError("unknown option '" + key + "' (search_space, cache, db, verify, fallback, threads, compile_threads, warmup, "
                        "budget_ms, min_repeats, max_repeats, cold_cache, cuda_graph, noise_margin)");
    }
  }
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

const char* gemmtune_last_error(void) { return last_error.c_str(); }

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
    if (backends && *backends) tune.backends = env::split_list(backends);  // as GEMMTUNE_BACKENDS reads
    apply_options(tune, text(options));
    auto tuner = std::make_unique<gemmtune_tuner>();
    tuner->tuner = std::make_unique<Tuner>(std::move(tune));
    out = tuner.release();
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
    selection->selection.emplace(tuner->tuner->select(p));
    selection->report = make_report(selection->selection->record());
    *out = selection.release();
    return GEMMTUNE_OK;
  });
}

int gemmtune_run(const gemmtune_selection* s, const gemmtune_args* args, void* stream) {
  if (!s || !args) return fail(GEMMTUNE_INVALID, "selection and args must not be NULL");
  return guarded([&] {
    s->selection->run(GemmArgs{args->a, args->b, args->c, args->bias, args->scale_a, args->scale_b}, stream);
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
void gemmtune_selection_destroy(gemmtune_selection* s) { delete s; }

}  // extern "C"
