#include "store/record_validation.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "core/key.h"
#include "core/policy.h"
#include "gemmtune/errors.h"
#include "gemmtune/tuner.h"

namespace gemmtune::store {
namespace {

[[noreturn]] void fail(const std::string& field, const std::string& what) { throw StoreError(field + ": " + what); }

std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

void check_text(const std::string& text, std::size_t max_bytes, const std::string& field) {
  if (text.size() > max_bytes)
    fail(field, std::to_string(text.size()) + " bytes, more than the " + std::to_string(max_bytes) + " allowed");
}

// Names end up in keys, messages and file names of caches: printable ASCII
// only, so that no control character reaches a terminal or a log.
void check_name(const std::string& name, const std::string& field) {
  if (name.empty()) fail(field, "empty");
  check_text(name, kMaxNameBytes, field);
  for (unsigned char c : name)
    if (c < 0x20 || c > 0x7e) fail(field, "holds a byte that is not printable ASCII");
}

void check_range(double v, double lo, double hi, const std::string& field) {
  if (!(v >= lo && v <= hi))  // also catches NaN
    fail(field, number_text(v) + " is out of range [" + number_text(lo) + ", " + number_text(hi) + "]");
}

bool contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

void check_timing(const Timing& t, const std::string& field) {
  check_range(t.median_us, 0, kMaxMicroseconds, field + ".median_us");
  check_range(t.min_us, 0, kMaxMicroseconds, field + ".min_us");
  check_range(t.max_us, 0, kMaxMicroseconds, field + ".max_us");
  check_range(t.spread, 0, 1e6, field + ".spread");
  check_range(t.repeats, 0, 1e9, field + ".repeats");
  if (!(t.min_us <= t.median_us && t.median_us <= t.max_us))
    fail(field, "min_us <= median_us <= max_us does not hold");
}

void check_rejection(const Rejection& r, const std::string& field) {
  check_text(r.message, kMaxMessageBytes, field + ".message");
}

}  // namespace

void validate_record(const TuningRecord& r) {
  check_text(r.key, kMaxKeyBytes, "key");
  if (r.key.empty()) fail("key", "empty");
  try {
    validate(r.problem);
  } catch (const InvalidProblemError& e) {
    fail("problem." + e.field(), e.what());
  }
  check_range(r.threads, 1, kMaxThreads, "threads");
  check_text(r.environment, kMaxTextBytes, "environment");
  if (r.enabled.empty()) fail("enabled", "empty");
  if (r.enabled.size() > kMaxBackends) fail("enabled", "more than " + std::to_string(kMaxBackends) + " backends");
  for (std::size_t i = 0; i < r.enabled.size(); ++i) check_name(r.enabled[i], "enabled[" + std::to_string(i) + "]");
  if (r.backend_versions.size() > kMaxBackends)
    fail("backend_versions", "more than " + std::to_string(kMaxBackends) + " backends");
  for (const auto& [name, version] : r.backend_versions) {
    check_name(name, "backend_versions");
    check_text(version, kMaxTextBytes, "backend_versions." + name);
  }

  // The key is what a lookup matched; the problem is what the winner is
  // built for. They must be the same problem, or a lookup for one problem
  // would run a kernel built for another. The tuner adds the library
  // backend's version to a fallback record after keying it, so the key's
  // versions are those of the enabled backends.
  core::KeyContext context{r.environment, r.threads, r.enabled, {}, r.search_space};
  for (const auto& [name, version] : r.backend_versions)
    if (contains(r.enabled, name)) context.backend_versions.emplace(name, version);
  if (core::make_key(r.problem, context) != r.key)
    fail("key", "does not match its problem and context (the record was edited, or made for another problem)");

  const std::string library = library_backend(r.problem.device.kind);
  auto may_appear = [&](const std::string& backend) {
    return contains(r.enabled, backend) || (r.fallback && backend == library);
  };
  if (r.backends.size() > kMaxBackends) fail("backends", "more than " + std::to_string(kMaxBackends) + " entries");
  for (std::size_t i = 0; i < r.backends.size(); ++i) {
    const BackendOutcome& b = r.backends[i];
    const std::string field = "backends[" + std::to_string(i) + "]";
    check_name(b.backend, field + ".backend");
    if (!may_appear(b.backend)) fail(field + ".backend", b.backend + " is not in the enabled set");
    check_text(b.version, kMaxTextBytes, field + ".version");
    check_range(b.choices_offered, 0, static_cast<double>(kMaxChoices), field + ".choices_offered");
    if (b.rejection) check_rejection(*b.rejection, field + ".rejection");
  }
  if (r.choices.size() > kMaxChoices) fail("choices", "more than " + std::to_string(kMaxChoices) + " entries");
  for (std::size_t i = 0; i < r.choices.size(); ++i) {
    const ChoiceOutcome& c = r.choices[i];
    const std::string field = "choices[" + std::to_string(i) + "]";
    check_name(c.backend, field + ".backend");
    if (!may_appear(c.backend)) fail(field + ".backend", c.backend + " is not in the enabled set");
    check_name(c.name, field + ".name");
    check_text(c.description, kMaxTextBytes, field + ".description");
    if (c.timing) check_timing(*c.timing, field + ".timing");
    if (c.rejection) check_rejection(*c.rejection, field + ".rejection");
    // A verified choice has a finite error; a rejected one may hold the
    // infinity or NaN that rejected it.
    if (c.ok()) check_range(c.max_error, 0, 1e300, field + ".max_error");
    else if (c.max_error < 0) fail(field + ".max_error", "negative");
  }

  if (r.winner) {
    const Winner& w = *r.winner;
    check_name(w.backend, "winner.backend");
    check_name(w.choice, "winner.choice");
    check_range(w.time_us, 0, kMaxMicroseconds, "winner.time_us");
    if (r.fallback) {
      if (w.backend != library || contains(r.enabled, w.backend))
        fail("winner.backend", "a fallback winner must be the library backend " + library +
                                   " from outside the enabled set, not " + w.backend);
    } else if (!contains(r.enabled, w.backend)) {
      fail("winner.backend", w.backend + " is not in the enabled set");
    }
    if (!r.backend_versions.count(w.backend)) fail("backend_versions", "no version for the winner's backend " + w.backend);
    const bool verified = std::any_of(r.choices.begin(), r.choices.end(), [&](const ChoiceOutcome& c) {
      return c.backend == w.backend && c.name == w.choice && c.ok() && c.timing;
    });
    if (!verified) fail("winner", "choice " + w.backend + "/" + w.choice + " is not among the verified choices");
  }
  check_text(r.fallback_reason, kMaxTextBytes, "fallback_reason");
  check_range(r.tuning_seconds, 0, kMaxTuningSeconds, "tuning_seconds");
  check_text(r.created_at, 64, "created_at");
  check_text(r.gemmtune_version, kMaxNameBytes, "gemmtune_version");
}

}  // namespace gemmtune::store
