// The tuning loop: problem -> validate -> key -> store lookup -> enabled
// backends enumerate -> build -> verify -> time -> choose -> store.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>

#include "core/guarded.h"
#include "core/key.h"
#include "core/option_table.h"
#include "core/policy.h"
#include "core/tuner_impl.h"
#include "gemmtune/catalogue.h"
#include "measure/inputs.h"
#include "measure/verify.h"
#include "store/record_validation.h"
#include "isolation/worker_locator.h"
#include "isolation/worker_measurer.h"
#include "util/cpu_info.h"

#ifndef GEMMTUNE_VERSION
#define GEMMTUNE_VERSION "0.0.0"
#endif

namespace gemmtune {
namespace {

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Fresh inputs for every tuning: a choice must be right on any data.
std::uint64_t fresh_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device() ^
         static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

void default_warning(const std::string& message) { std::fprintf(stderr, "gemmtune: warning: %s\n", message.c_str()); }

struct PendingChoice {
  Backend* backend;
  Choice choice;
};

using core::at_stage;
using core::guarded;

// One problem's tuning: its backends' offers, its choices' outcomes, its record.
class ProblemTuning {
 public:
  ProblemTuning(Tuner::Impl& impl, const Problem& problem, TuningRecord& record)
      : impl_(impl), problem_(problem), record_(record), ctx_(impl.context_for(problem)) {}

  const TuningContext& context() const { return ctx_; }

  // Asks each named backend for choices; records backend outcomes.
  std::vector<PendingChoice> enumerate(const std::vector<std::string>& names) {
    std::vector<PendingChoice> out;
    for (const auto& name : names) {
      Backend* backend = impl_.find_backend(name);
      BackendOutcome outcome{name, backend->version(), 0, std::nullopt};
      auto offered = offer(*backend);
      if (!offered) {
        outcome.rejection = offered.error();
      } else {
        outcome.choices_offered = static_cast<int>(offered.value().size());
        for (auto& choice : offered.value()) out.push_back({backend, std::move(choice)});
      }
      record_.backends.push_back(std::move(outcome));
    }
    return out;
  }

  // What a backend offers for this problem, or why it offers nothing.
  Expected<std::vector<Choice>> offer(const Backend& backend) const {
    if (backend.device_kind() != problem_.device.kind)
      return Rejection{Stage::enumerate, Reason::wrong_device,
                       "serves " + std::string(backend.device_kind() == DeviceKind::cpu ? "cpu" : "cuda") +
                           " problems; this one is on " + to_string(problem_.device)};
    Availability availability = backend.availability();
    if (!availability.available) return Rejection{Stage::availability, Reason::unavailable, availability.why};
    auto choices = guarded(Stage::enumerate, [&] { return backend.enumerate(problem_, ctx_); });
    if (!choices) return at_stage(choices.error(), Stage::enumerate);
    if (choices.value().empty())
      return Rejection{Stage::enumerate, Reason::internal_error, "offered an empty list of choices"};
    return choices;
  }

  // Builds, verifies and times each choice (through the tuner's measurer:
  // in a worker process or in this one); appends outcomes to the record.
  void measure_all(const std::vector<PendingChoice>& pending) {
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (impl_.options.on_progress)
        impl_.options.on_progress(ProgressEvent{describe(problem_), std::string(pending[i].backend->name()),
                                                pending[i].choice.name, static_cast<int>(++progress_index_),
                                                static_cast<int>(progress_total_)});
      if (!measurer_) measurer_ = impl_.services.measurer->open(problem_, impl_.settings_for(problem_));
      // The best median so far: the runtime stops timing a choice that
      // cannot beat it (measure::early_end).
      record_.choices.push_back(measurer_->measure(*pending[i].backend, pending[i].choice, best_us_));
      const ChoiceOutcome& done = record_.choices.back();
      if (!done.rejection && done.timing && done.timing->median_us > 0 &&
          (best_us_ == 0 || done.timing->median_us < best_us_))
        best_us_ = done.timing->median_us;
    }
  }

  void add_to_progress_total(std::size_t count) { progress_total_ += count; }

 private:
  Tuner::Impl& impl_;
  const Problem& problem_;
  TuningRecord& record_;
  TuningContext ctx_;
  // Opened on the first choice: inputs and the reference are made once per
  // problem, by whoever measures (never once per choice).
  std::unique_ptr<measure::ProblemMeasurer> measurer_;
  std::size_t progress_index_ = 0;
  std::size_t progress_total_ = 0;
  double best_us_ = 0;  // the best median measured so far for this problem (0: none yet)
};

bool contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

}  // namespace

// ---------------------------------------------------------------- Impl

Tuner::Impl::Impl(TuneOptions opts, TunerServices svc) : options(std::move(opts)), services(std::move(svc)) {
  const bool custom_runtime = static_cast<bool>(services.runtime_for);
  if (!services.runtime_for) services.runtime_for = [](Device device) -> runtime::DeviceRuntime& {
    return runtime::runtime_for(device);
  };
  option_table::with_environment(options);  // every malformed GEMMTUNE_* is a ConfigError now, not mid-tuning
  enabled = core::resolve_enabled(options, services.backends);
  fallback_allowed = core::resolve_fallback(options);
  search_space = core::resolve_search_space(options);
  verify = core::resolve_verify(options);
  if (options.threads < 0) throw ConfigError("threads must be >= 0 (0 = every CPU), got " + std::to_string(options.threads));
  if (options.measure.min_repeats > options.measure.max_repeats)
    throw ConfigError("min_repeats (--min-repeats) is " + std::to_string(options.measure.min_repeats) +
                      ", more than max_repeats (--max-repeats), " + std::to_string(options.measure.max_repeats) +
                      ": a choice cannot be timed at least that often and at most this often");
  threads = options.threads > 0 ? options.threads : cpu::info().logical_cpus;
  compile_threads = core::resolve_compile_threads(options, cpu::info().logical_cpus);
  if (options.use_cache) {
    db_path = db_path_for(options);
    remote = store::resolve_remote(options);
  }
  cache_dir = store::cache_dir_for(option_table::with_environment(options)).value_or("");
  if (!options.on_warning) options.on_warning = default_warning;
  if (!services.open_cache) services.open_cache = [this](const std::string& path, store::WarningSink warn) {
    return store::open_tuning_cache(path, remote, std::move(warn));
  };
  choice_timeout_ms = core::resolve_choice_timeout_ms(options);
  const std::optional<std::string> failpoint_text = option_table::with_environment(options).failpoints;
  if (failpoint_text) {
    std::vector<std::string> names;
    for (const auto& b : services.backends) names.emplace_back(b->name());
    auto parsed = measure::Failpoints::parse(*failpoint_text,
                                             options.failpoints ? "the failpoints option" : "GEMMTUNE_FAILPOINTS", names);
    if (!parsed.empty()) failpoints = std::make_shared<const measure::Failpoints>(std::move(parsed));
  }
  choose_measurer(custom_runtime);
}

namespace {

// The first backend a measuring worker could not build (the worker knows
// gemmtune's own backends only: a program's own Backend lives in the
// program), or nullopt when there is none.
std::optional<std::string> backend_unknown_to_workers(const std::vector<std::shared_ptr<Backend>>& backends) {
  static const std::vector<std::string> known = [] {
    std::vector<std::string> names;
    for (const auto& b : builtin_backends()) names.emplace_back(b->name());
    return names;
  }();
  for (const auto& b : backends)
    if (std::find(known.begin(), known.end(), b->name()) == known.end()) return std::string(b->name());
  return std::nullopt;
}

}  // namespace

void Tuner::Impl::choose_measurer(bool custom_runtime) {
  const core::IsolationSetting setting = core::resolve_isolation(options);
  isolation = setting.isolation;
  if (services.measurer) return;
  if (isolation == Isolation::process && !custom_runtime) {
    std::string looked;
    if (auto command = isolation::locate_worker(&looked)) {
      if (auto foreign = backend_unknown_to_workers(services.backends)) {
        // Measured here, not refused: the program chose to run its own code.
        if (!setting.source.empty())
          warn("isolation is process (from " + setting.source + ") but backend " + *foreign +
               " is this program's own, which a measuring worker cannot build: choices are measured in this "
               "process");
        services.measurer = measure::make_in_process_measurer(services.runtime_for);
        isolation = Isolation::none;
        return;
      }
      services.measurer = isolation::make_worker_measurer(isolation::WorkerPool::shared(*command));
      return;
    }
    const std::string why = "no measuring worker executable was found (looked for " +
                            std::string(isolation::kWorkerExecutableName) + " in: " +
                            (looked.empty() ? std::string("nowhere") : looked) +
                            "; GEMMTUNE_WORKER can name it)";
    if (!setting.source.empty())
      throw ConfigError("isolation is process (from " + setting.source + ") but " + why);
    // Isolation is the default here, not a request: measure in process, and
    // say so once per process.
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      warn("measuring choices in this process, without isolation: " + why +
           ". A crashing choice will take this process down. Set GEMMTUNE_ISOLATION=none to silence this.");
    isolation = Isolation::none;
  }
  if (custom_runtime) isolation = Isolation::none;
  services.measurer = measure::make_in_process_measurer(services.runtime_for);
}

TuningContext Tuner::Impl::context_for(const Problem& problem, bool with_device) const {
  TuningContext ctx{search_space, threads, compile_threads,
                    with_device ? &services.runtime_for(problem.device) : nullptr};
  ctx.cache_dir = cache_dir;
  // The device keeps the code it compiles for itself (a library backend's
  // epilogue pass, built with a stored winner) in the same folder.
  if (ctx.device) ctx.device->use_cache_dir(cache_dir);
  return ctx;
}

measure::MeasureSettings Tuner::Impl::settings_for(const Problem& problem) const {
  measure::MeasureSettings settings;
  // No device: the measurer brings its own (a worker opens the device in its
  // process; the tuner's process need not touch it).
  settings.context = context_for(problem, /*with_device=*/false);
  settings.verify = verify;
  settings.options = options.measure;
  settings.options.choice_timeout_ms =
      choice_timeout_ms ? *choice_timeout_ms : default_choice_timeout_seconds(problem.device.kind) * 1000.0;
  // Fresh inputs for every tuning: a choice must be right on any data.
  settings.input_seed = fresh_seed();
  settings.sample_seed = fresh_seed();
  settings.failpoints = failpoints;
  return settings;
}

void Tuner::Impl::warn(const std::string& message) const { options.on_warning(message); }

store::TuningCache* Tuner::Impl::open_cache() {
  // A tuning with faults injected (failpoints) is a test: its results must
  // not become what a later tuning reuses, nor may a stored result spare it
  // the measuring it tests. It neither reads nor writes the results cache.
  if (!options.use_cache || failpoints) return nullptr;
  if (!cache) cache = services.open_cache(db_path, [this](const std::string& m) { warn(m); });
  return cache.get();
}

Backend* Tuner::Impl::find_backend(const std::string& name) const {
  for (const auto& b : services.backends)
    if (b->name() == name) return b.get();
  return nullptr;
}

// ---------------------------------------------------------------- Tuner

namespace {

struct Prepared {
  runtime::DeviceRuntime* rt;
  TuningRecord record;  // skeleton: problem, key, context
  core::CacheCheck check;
};

Prepared prepare(Tuner::Impl& impl, const Problem& problem) {
  validate(problem);
  Prepared p{&impl.services.runtime_for(problem.device), {}, {}};
  TuningRecord& r = p.record;
  r.problem = problem;
  r.enabled = impl.enabled;
  r.search_space = impl.search_space;
  r.threads = impl.threads;
  r.environment = p.rt->fingerprint();
  for (const auto& name : impl.enabled) {
    Backend* b = impl.find_backend(name);
    if (b->device_kind() == problem.device.kind) r.backend_versions[name] = b->version();
  }
  // The library backend's version matters to a fallback record, which is
  // usable only while the fallback is allowed: otherwise the library is not
  // asked (asking loads cuBLAS, ~0.05 s, in a process that may never use it).
  if (impl.fallback_allowed)
    if (Backend* lib = impl.find_backend(library_backend(problem.device.kind)))
      p.check.backend_versions[std::string(lib->name())] = lib->version();
  for (const auto& [name, version] : r.backend_versions) p.check.backend_versions[name] = version;
  r.key = core::make_key(problem, core::KeyContext{r.environment, r.threads, r.enabled, r.backend_versions,
                                                   r.search_space});
  r.gemmtune_version = GEMMTUNE_VERSION;
  p.check.enabled = impl.enabled;
  p.check.fallback_allowed = impl.fallback_allowed;
  p.check.environment = r.environment;
  p.check.verifying = impl.verify != VerifyMode::off;
  r.verified = impl.verify != VerifyMode::off;
  return p;
}

std::vector<DisabledBackendHint> disabled_hints(Tuner::Impl& impl, ProblemTuning& tuning,
                                                const std::vector<std::string>& skip) {
  std::vector<DisabledBackendHint> hints;
  for (const auto& backend : impl.services.backends) {
    std::string name(backend->name());
    if (contains(impl.enabled, name) || contains(skip, name)) continue;
    auto offered = tuning.offer(*backend);
    if (offered) hints.push_back({name, static_cast<int>(offered.value().size())});
  }
  return hints;
}

std::vector<std::string> registration_order(const Tuner::Impl& impl) {
  std::vector<std::string> out;
  for (const auto& b : impl.services.backends) out.emplace_back(b->name());
  return out;
}

// How tune_problem treats the cache: use it and wait for a process of the
// fleet that is tuning the problem, use it but do not wait (nullopt
// instead), or only write the new result.
enum class CacheUse { wait, dont_wait, write_only };

// A stored record is data that anyone could have edited or imported, and
// its winner is built for the record's problem: it is used only when it is
// valid and holds the problem asked for (on whichever device of the kind:
// the key leaves the index out).
std::optional<std::string> invalid_stored_record(const TuningRecord& stored, const Problem& problem) {
  try {
    store::validate_record(stored);
  } catch (const StoreError& e) {
    return std::string(e.what());
  }
  Problem same_device = stored.problem;
  same_device.device.index = problem.device.index;
  if (!(same_device == problem)) return "it holds another problem: " + describe(stored.problem);
  return std::nullopt;
}

std::optional<TuneResult> tune_problem(Tuner::Impl& impl, const Problem& problem, CacheUse use) {
  const auto start = std::chrono::steady_clock::now();
  Prepared prep = prepare(impl, problem);
  TuningRecord& record = prep.record;
  // Tuning holds the inputs and output plus the reference or a host copy of
  // the output: refuse what cannot fit now, not after allocating.
  measure::check_fits_in_memory(problem, 2);

  store::TuningCache* cache = impl.open_cache();
  std::unique_ptr<store::TuningLease> lease;  // released after the save below
  TuneResult result;
  if (cache && use != CacheUse::write_only) {
    auto usable = [&](const TuningRecord& stored) -> std::optional<std::string> {
      if (auto invalid = invalid_stored_record(stored, problem)) return "it is invalid: " + *invalid;
      return core::cache_record_unusable(stored, prep.check);
    };
    store::Lookup found = cache->lookup(record.key, usable,
                                        use == CacheUse::wait ? store::Waiting::wait : store::Waiting::dont_wait);
    if (found.claimed_elsewhere) return std::nullopt;
    result.waited_seconds = found.waited_seconds;
    result.waited_too_long = found.waited_too_long;
    if (found.waited_too_long)
      impl.warn("waited " + std::to_string(std::lround(found.waited_seconds)) + " s (the remote cache's wait bound) for " +
                (found.waited_for.empty() ? std::string("another process") : found.waited_for) + " to tune " +
                describe(problem) + "; tuning it here");
    if (found.record) {
      result.record = std::move(*found.record);
      // The key leaves out which device of the kind ran it (cuda:0 or cuda:1
      // of identical GPUs share results): the caller's problem is the one.
      result.record.problem = problem;
      result.cache_hit = true;
      result.source = found.origin == store::RecordOrigin::local ? ResultSource::local_cache
                                                                 : ResultSource::remote_cache;
      // A stored fallback is still the library serving instead of the
      // enabled set: as loud as the tuning that chose it.
      if (result.record.fallback && result.record.winner)
        impl.warn("FALLBACK for " + describe(problem) + " (stored result): the library backend " +
                  result.record.winner->backend + " serves it because no enabled backend produced a valid choice " +
                  "(--fallback-to-library / GEMMTUNE_FALLBACK_TO_LIBRARY=1; turn it off to make this an error)");
      return result;
    }
    lease = std::move(found.lease);
  }

  ProblemTuning tuning(impl, problem, record);
  auto pending = tuning.enumerate(impl.enabled);
  tuning.add_to_progress_total(pending.size());
  tuning.measure_all(pending);
  const auto order = registration_order(impl);
  auto winner = core::choose_winner(record.choices, order, impl.options.measure.noise_margin);

  std::vector<std::string> tried_for_fallback;
  if (!winner && impl.fallback_allowed) {
    const std::string lib = library_backend(problem.device.kind);
    // `fallback` says the library served: set below only when it did; a
    // failed attempt is told by fallback_reason alone.
    if (contains(impl.enabled, lib)) {
      record.fallback_reason = "the library backend " + lib + " is already enabled and found nothing either";
    } else if (!impl.find_backend(lib)) {
      record.fallback_reason = "no library backend " + lib + " is registered";
    } else {
      tried_for_fallback.push_back(lib);
      const std::size_t first_lib_choice = record.choices.size();
      auto lib_pending = tuning.enumerate({lib});
      tuning.add_to_progress_total(lib_pending.size());
      tuning.measure_all(lib_pending);
      std::vector<ChoiceOutcome> lib_choices(record.choices.begin() + static_cast<long>(first_lib_choice),
                                             record.choices.end());
      if (auto w = core::choose_winner(lib_choices, order, impl.options.measure.noise_margin)) {
        winner = first_lib_choice + *w;
        record.fallback = true;
        record.fallback_reason = "no enabled backend produced a valid choice; the library backend " + lib +
                                 " was used because fallback to the library is on";
        impl.warn("FALLBACK for " + describe(problem) + ": " + record.fallback_reason +
                  " (--fallback-to-library / GEMMTUNE_FALLBACK_TO_LIBRARY=1; turn it off to make this an error)");
      } else {
        const auto& lib_outcome = record.backends.back();
        record.fallback_reason = "the library backend " + lib + " failed too" +
                                 (lib_outcome.rejection ? ": " + lib_outcome.rejection->to_string() : "");
      }
    }
  }

  record.tuning_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  record.created_at = now_iso8601();
  record.tuned_by = store::process_identity();
  if (!winner) throw NoValidChoicesError(record, disabled_hints(impl, tuning, tried_for_fallback));

  const ChoiceOutcome& best = record.choices[*winner];
  record.winner = Winner{best.backend, best.name, best.timing->median_us};
  if (record.fallback) {
    Backend* lib = impl.find_backend(best.backend);
    record.backend_versions[best.backend] = lib->version();
  }
  if (cache) cache->save(record);
  result.record = std::move(record);
  return result;
}

// Rebuilds the winner of a record from its name, as every choice is built.
Expected<std::shared_ptr<Kernel>> build_winner(Tuner::Impl& impl, const TuningRecord& record) {
  Backend* backend = impl.find_backend(record.winner->backend);
  if (!backend) return reject(Reason::unavailable, "backend " + record.winner->backend + " is not registered");
  auto kernel = core::build_named_choice(*backend, record.problem, record.winner->choice,
                                         impl.context_for(record.problem));
  if (!kernel) return kernel.error();
  return std::shared_ptr<Kernel>(std::move(kernel.value()));
}

}  // namespace

Tuner::Tuner(TuneOptions options) : Tuner(std::move(options), builtin_backends()) {}

Tuner::Tuner(TuneOptions options, std::vector<std::shared_ptr<Backend>> backends)
    : impl_(std::make_unique<Impl>(std::move(options), TunerServices{std::move(backends), {}, {}})) {}

Tuner::Tuner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tuner::~Tuner() = default;
Tuner::Tuner(Tuner&&) noexcept = default;
Tuner& Tuner::operator=(Tuner&&) noexcept = default;

TuneResult Tuner::tune(const Problem& problem) { return *tune_problem(*impl_, problem, CacheUse::wait); }

std::optional<TuneResult> Tuner::tune_unless_claimed(const Problem& problem) {
  return tune_problem(*impl_, problem, CacheUse::dont_wait);
}

Selection Tuner::select(const Problem& problem) {
  TuneResult result = *tune_problem(*impl_, problem, CacheUse::wait);
  auto kernel = build_winner(*impl_, result.record);
  if (!kernel && result.cache_hit) {
    impl_->warn("stored winner " + result.record.winner->backend + "/" + result.record.winner->choice + " for " +
                describe(problem) + " could not be rebuilt (" + kernel.error().to_string() + "); tuning again");
    result = *tune_problem(*impl_, problem, CacheUse::write_only);
    kernel = build_winner(*impl_, result.record);
  }
  if (!kernel)
    throw KernelRunError("the selected choice " + result.record.winner->backend + "/" + result.record.winner->choice +
                         " could not be built: " + kernel.error().to_string());
  return Selection(std::move(result), std::move(kernel.value()));
}

Explanation Tuner::explain(const Problem& problem) {
  Prepared prep = prepare(*impl_, problem);
  Explanation out;
  out.record = std::move(prep.record);
  ProblemTuning tuning(*impl_, problem, out.record);
  for (auto& pending : tuning.enumerate(impl_->enabled)) {
    ChoiceOutcome c;
    c.backend = std::string(pending.backend->name());
    c.name = pending.choice.name;
    c.description = pending.choice.description;
    out.record.choices.push_back(std::move(c));
  }
  out.disabled_would_serve = disabled_hints(*impl_, tuning, {});
  return out;
}

const std::vector<std::string>& Tuner::enabled() const { return impl_->enabled; }
const std::vector<std::shared_ptr<Backend>>& Tuner::backends() const { return impl_->services.backends; }
std::string Tuner::db_path() const { return impl_->db_path; }

void Selection::run(const GemmArgs& args, void* stream) const {
  validate_args(record_.problem, args);
  Status s = kernel_->run(args, RunContext{stream});
  if (!s)
    throw KernelRunError("the selected kernel " + record_.winner->backend + "/" + record_.winner->choice +
                         " failed: " + s.error().to_string() + " (gemmtune never falls back to another backend at run time)");
}

Tuner make_tuner(TuneOptions options, TunerServices services) {
  return Tuner(std::make_unique<Tuner::Impl>(std::move(options), std::move(services)));
}

std::string_view version() { return GEMMTUNE_VERSION; }

}  // namespace gemmtune
