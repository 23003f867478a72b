#include "store/record_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gemmtune/errors.h"
#include "gemmtune/record_json.h"

namespace gemmtune::store {
namespace {

using nlohmann::json;

// ---- writing ---------------------------------------------------------------

// JSON has no NaN or infinity; nlohmann would write them as null, which
// would not read back. Spell them as strings instead.
json number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

json matrix_json(const MatrixDesc& d) {
  return json{{"dtype", std::string(to_string(d.dtype))},
              {"rows", d.rows},
              {"cols", d.cols},
              {"row_stride", d.row_stride},
              {"col_stride", d.col_stride},
              {"batch_stride", d.batch_stride}};
}

// to_string(Device) drops the index of a CPU device; keep it when it is not
// the usual 0 so that the form stays lossless.
std::string device_text(const Device& d) {
  if (d.kind == DeviceKind::cpu && d.index != 0) return "cpu:" + std::to_string(d.index);
  return to_string(d);
}

json optional_rejection(const std::optional<Rejection>& r) { return r ? to_json(*r) : json(nullptr); }

json timing_json(const Timing& t) {
  return json{{"median_us", number(t.median_us)},
              {"min_us", number(t.min_us)},
              {"max_us", number(t.max_us)},
              {"spread", number(t.spread)},
              {"repeats", t.repeats}};
}

// ---- reading ---------------------------------------------------------------

std::string member_path(const std::string& base, std::string_view name) {
  if (base.empty()) return std::string(name);
  return base + "." + std::string(name);
}

std::string index_path(const std::string& base, std::size_t i) {
  return (base.empty() ? std::string("[") : base + "[") + std::to_string(i) + "]";
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw StoreError((path.empty() ? std::string("top level") : path) + ": " + what);
}

[[noreturn]] void wrong_type(const std::string& path, const char* expected, const json& j) {
  fail(path, std::string("expected ") + expected + ", got " + j.type_name());
}

void expect_object(const json& j, const std::string& path) {
  if (!j.is_object()) wrong_type(path, "an object", j);
}

const json& require(const json& obj, const std::string& path, std::string_view name) {
  auto it = obj.find(name);
  if (it == obj.end()) fail(member_path(path, name), "missing field");
  return *it;
}

// A member that may be absent or null.
const json* optional_member(const json& obj, std::string_view name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string read_string(const json& j, const std::string& path) {
  if (!j.is_string()) wrong_type(path, "a string", j);
  return j.get<std::string>();
}

bool read_bool(const json& j, const std::string& path) {
  if (!j.is_boolean()) wrong_type(path, "true or false", j);
  return j.get<bool>();
}

std::int64_t read_int64(const json& j, const std::string& path) {
  if (!j.is_number_integer()) wrong_type(path, "an integer", j);
  if (j.is_number_unsigned() &&
      j.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    fail(path, "integer out of range");
  return j.get<std::int64_t>();
}

int read_int(const json& j, const std::string& path) {
  std::int64_t v = read_int64(j, path);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    fail(path, "integer out of range");
  return static_cast<int>(v);
}

double read_double(const json& j, const std::string& path) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  wrong_type(path, "a number", j);
}

template <typename E, typename Parse>
E read_enum(const json& j, const std::string& path, const char* what, Parse parse) {
  std::string text = read_string(j, path);
  auto value = parse(text);
  if (!value) fail(path, std::string("unknown ") + what + " '" + text + "'");
  return *value;
}

// Shorthands for a required member of an object.
std::string get_string(const json& o, const std::string& p, std::string_view n) {
  return read_string(require(o, p, n), member_path(p, n));
}
bool get_bool(const json& o, const std::string& p, std::string_view n) {
  return read_bool(require(o, p, n), member_path(p, n));
}
std::int64_t get_int64(const json& o, const std::string& p, std::string_view n) {
  return read_int64(require(o, p, n), member_path(p, n));
}
int get_int(const json& o, const std::string& p, std::string_view n) {
  return read_int(require(o, p, n), member_path(p, n));
}
double get_double(const json& o, const std::string& p, std::string_view n) {
  return read_double(require(o, p, n), member_path(p, n));
}

std::optional<Device> parse_device_text(std::string_view text) {
  // "cpu:N" is only ever written by device_text for a CPU index other than 0.
  if (text.rfind("cpu:", 0) == 0 && text.size() > 4) {
    int index = 0;
    for (char c : text.substr(4)) {
      if (c < '0' || c > '9' || index > 100000000) return std::nullopt;
      index = index * 10 + (c - '0');
    }
    return Device{DeviceKind::cpu, index};
  }
  return parse_device(text);
}

MatrixDesc read_matrix(const json& j, const std::string& path) {
  expect_object(j, path);
  MatrixDesc d;
  d.dtype = read_enum<DType>(require(j, path, "dtype"), member_path(path, "dtype"), "dtype", parse_dtype);
  d.rows = get_int64(j, path, "rows");
  d.cols = get_int64(j, path, "cols");
  d.row_stride = get_int64(j, path, "row_stride");
  d.col_stride = get_int64(j, path, "col_stride");
  d.batch_stride = get_int64(j, path, "batch_stride");
  return d;
}

Problem read_problem(const json& j, const std::string& path) {
  expect_object(j, path);
  auto field = [&](std::string_view n) { return member_path(path, n); };
  Problem p;
  p.op = read_enum<Op>(require(j, path, "op"), field("op"), "op", parse_op);
  p.batch = get_int64(j, path, "batch");
  p.m = get_int64(j, path, "m");
  p.n = get_int64(j, path, "n");
  p.k = get_int64(j, path, "k");
  p.a = read_matrix(require(j, path, "a"), field("a"));
  p.b = read_matrix(require(j, path, "b"), field("b"));
  p.c = read_matrix(require(j, path, "c"), field("c"));
  p.bias = read_enum<BiasKind>(require(j, path, "bias"), field("bias"), "bias kind", parse_bias_kind);
  p.bias_desc = read_matrix(require(j, path, "bias_desc"), field("bias_desc"));
  p.alpha = get_double(j, path, "alpha");
  p.beta = get_double(j, path, "beta");
  p.activation = read_enum<Activation>(require(j, path, "activation"), field("activation"), "activation",
                                       parse_activation);
  p.scale_a = read_enum<ScaleKind>(require(j, path, "scale_a"), field("scale_a"), "scale kind", parse_scale_kind);
  p.scale_b = read_enum<ScaleKind>(require(j, path, "scale_b"), field("scale_b"), "scale kind", parse_scale_kind);
  p.allow_tf32 = get_bool(j, path, "allow_tf32");
  p.alignment = get_int(j, path, "alignment");
  p.device = read_enum<Device>(require(j, path, "device"), field("device"), "device", parse_device_text);
  return p;
}

Rejection read_rejection(const json& j, const std::string& path) {
  expect_object(j, path);
  Rejection r;
  r.stage = read_enum<Stage>(require(j, path, "stage"), member_path(path, "stage"), "stage", parse_stage);
  r.reason = read_enum<Reason>(require(j, path, "reason"), member_path(path, "reason"), "reason", parse_reason);
  r.message = get_string(j, path, "message");
  return r;
}

std::optional<Rejection> read_optional_rejection(const json& obj, const std::string& path) {
  const json* r = optional_member(obj, "rejection");
  if (r == nullptr) return std::nullopt;
  return read_rejection(*r, member_path(path, "rejection"));
}

Timing read_timing(const json& j, const std::string& path) {
  expect_object(j, path);
  Timing t;
  t.median_us = get_double(j, path, "median_us");
  t.min_us = get_double(j, path, "min_us");
  t.max_us = get_double(j, path, "max_us");
  t.spread = get_double(j, path, "spread");
  t.repeats = get_int(j, path, "repeats");
  return t;
}

// The array member `name` of `obj`, each element read by
// read(element, "path.name[i]").
template <typename Read>
auto read_array(const json& obj, const std::string& path, std::string_view name, Read read) {
  const std::string array_path = member_path(path, name);
  const json& a = require(obj, path, name);
  if (!a.is_array()) wrong_type(array_path, "an array", a);
  std::vector<decltype(read(a, array_path))> out;
  out.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out.push_back(read(a[i], index_path(array_path, i)));
  return out;
}

BackendOutcome read_backend_outcome(const json& j, const std::string& path) {
  expect_object(j, path);
  BackendOutcome out;
  out.backend = get_string(j, path, "backend");
  out.version = get_string(j, path, "version");
  out.choices_offered = get_int(j, path, "choices_offered");
  out.rejection = read_optional_rejection(j, path);
  return out;
}

ChoiceOutcome read_choice_outcome(const json& j, const std::string& path) {
  expect_object(j, path);
  ChoiceOutcome out;
  out.backend = get_string(j, path, "backend");
  out.name = get_string(j, path, "name");
  out.description = get_string(j, path, "description");
  if (const json* t = optional_member(j, "timing")) out.timing = read_timing(*t, member_path(path, "timing"));
  out.rejection = read_optional_rejection(j, path);
  out.max_error = get_double(j, path, "max_error");
  return out;
}

}  // namespace

json to_json(const Problem& p) {
  return json{{"op", std::string(to_string(p.op))},
              {"batch", p.batch},
              {"m", p.m},
              {"n", p.n},
              {"k", p.k},
              {"a", matrix_json(p.a)},
              {"b", matrix_json(p.b)},
              {"c", matrix_json(p.c)},
              {"bias", std::string(to_string(p.bias))},
              {"bias_desc", matrix_json(p.bias_desc)},
              {"alpha", number(p.alpha)},
              {"beta", number(p.beta)},
              {"activation", std::string(to_string(p.activation))},
              {"scale_a", std::string(to_string(p.scale_a))},
              {"scale_b", std::string(to_string(p.scale_b))},
              {"allow_tf32", p.allow_tf32},
              {"alignment", p.alignment},
              {"device", device_text(p.device)}};
}

json to_json(const Rejection& r) {
  return json{{"stage", std::string(to_string(r.stage))},
              {"reason", std::string(to_string(r.reason))},
              {"message", r.message}};
}

json to_json(const ChoiceOutcome& c) {
  return json{{"backend", c.backend},
              {"name", c.name},
              {"description", c.description},
              {"timing", c.timing ? timing_json(*c.timing) : json(nullptr)},
              {"rejection", optional_rejection(c.rejection)},
              {"max_error", number(c.max_error)}};
}

json to_json(const TuningRecord& r) {
  json backends = json::array();
  for (const auto& b : r.backends)
    backends.push_back(json{{"backend", b.backend},
                            {"version", b.version},
                            {"choices_offered", b.choices_offered},
                            {"rejection", optional_rejection(b.rejection)}});
  json choices = json::array();
  for (const auto& c : r.choices) choices.push_back(to_json(c));
  json winner = nullptr;
  if (r.winner)
    winner = json{{"backend", r.winner->backend}, {"choice", r.winner->choice}, {"time_us", number(r.winner->time_us)}};
  json versions = json::object();
  for (const auto& [name, version] : r.backend_versions) versions[name] = version;
  return json{{"key", r.key},
              {"problem", to_json(r.problem)},
              {"enabled", r.enabled},
              {"search_space", std::string(to_string(r.search_space))},
              {"threads", r.threads},
              {"environment", r.environment},
              {"backend_versions", std::move(versions)},
              {"backends", std::move(backends)},
              {"choices", std::move(choices)},
              {"winner", std::move(winner)},
              {"fallback", r.fallback},
              {"fallback_reason", r.fallback_reason},
              {"tuning_seconds", number(r.tuning_seconds)},
              {"created_at", r.created_at},
              {"gemmtune_version", r.gemmtune_version},
              {"tuned_by", r.tuned_by},
              {"verified", r.verified}};
}

Problem problem_from_json(const json& j) { return read_problem(j, ""); }

Rejection rejection_from_json(const json& j) { return read_rejection(j, ""); }

ChoiceOutcome choice_outcome_from_json(const json& j) { return read_choice_outcome(j, ""); }

TuningRecord record_from_json(const json& j) {
  expect_object(j, "");
  const std::string root;
  TuningRecord r;
  r.key = get_string(j, root, "key");
  r.problem = read_problem(require(j, root, "problem"), "problem");

  r.enabled = read_array(j, root, "enabled", read_string);

  r.search_space = read_enum<SearchSpace>(require(j, root, "search_space"), "search_space", "search space",
                                          parse_search_space);
  r.threads = get_int(j, root, "threads");
  r.environment = get_string(j, root, "environment");

  const json& versions = require(j, root, "backend_versions");
  if (!versions.is_object()) wrong_type("backend_versions", "an object", versions);
  for (const auto& [name, version] : versions.items())
    r.backend_versions[name] = read_string(version, member_path("backend_versions", name));

  r.backends = read_array(j, root, "backends", read_backend_outcome);
  r.choices = read_array(j, root, "choices", read_choice_outcome);

  if (const json* w = optional_member(j, "winner")) {
    expect_object(*w, "winner");
    r.winner = Winner{get_string(*w, "winner", "backend"), get_string(*w, "winner", "choice"),
                      get_double(*w, "winner", "time_us")};
  }
  r.fallback = get_bool(j, root, "fallback");
  r.fallback_reason = get_string(j, root, "fallback_reason");
  r.tuning_seconds = get_double(j, root, "tuning_seconds");
  r.created_at = get_string(j, root, "created_at");
  r.gemmtune_version = get_string(j, root, "gemmtune_version");
  // Records written before tuned_by existed lack it.
  if (optional_member(j, "tuned_by")) r.tuned_by = get_string(j, root, "tuned_by");
  // ... and verified (they were all verified: --verify off came with it).
  if (optional_member(j, "verified")) r.verified = get_bool(j, root, "verified");
  return r;
}

std::string record_text(const TuningRecord& record) { return gemmtune::record_to_json(record); }

TuningRecord record_from_text(std::string_view text, const std::string& key) {
  TuningRecord record = gemmtune::record_from_json(text);
  if (record.key != key) throw StoreError("its JSON holds key '" + short_key(record.key) + "'");
  return record;
}

std::string short_key(const std::string& key) {
  constexpr std::size_t kMax = 48;
  return key.size() <= kMax ? key : key.substr(0, kMax) + "...";
}

}  // namespace gemmtune::store

namespace gemmtune {
namespace {

nlohmann::json parse_text(std::string_view text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw StoreError(std::string("invalid JSON: ") + e.what());
  }
}

// Strings from compilers and drivers may hold invalid UTF-8; replace such
// bytes rather than refuse to write the record.
std::string text_of(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string record_to_json(const TuningRecord& r, int indent) { return text_of(store::to_json(r), indent); }

std::string problem_to_json(const Problem& p, int indent) { return text_of(store::to_json(p), indent); }

TuningRecord record_from_json(std::string_view text) { return store::record_from_json(parse_text(text)); }

Problem problem_from_json(std::string_view text) { return store::problem_from_json(parse_text(text)); }

}  // namespace gemmtune
