// Calling into a backend safely, and the one way a choice is built: from
// (backend, problem, choice name). The tuner, the in-process measurer, the
// measuring worker and the rebuild of a stored winner all go through
// build_named_choice, so a choice that measured well is exactly the kernel a
// later process gets from its name.
#pragma once

#include <exception>
#include <memory>
#include <string>

#include "gemmtune/backend.h"

namespace gemmtune::core {

// Runs a backend call and turns anything it throws (it should not) into a
// rejection at `stage`, so one broken backend cannot take the tuning down.
template <typename F>
auto guarded(Stage stage, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Rejection{stage, Reason::internal_error, std::string("threw: ") + e.what()};
  } catch (...) {
    return Rejection{stage, Reason::internal_error, "threw a non-standard exception"};
  }
}

inline Rejection at_stage(Rejection r, Stage stage) {
  r.stage = stage;
  return r;
}

// Builds the choice `name` of `backend` for `problem` from the name alone;
// a failure (or a throw) is a rejection at stage build.
inline Expected<std::unique_ptr<Kernel>> build_named_choice(const Backend& backend, const Problem& problem,
                                                            const std::string& name, const TuningContext& ctx) {
  auto kernel = guarded(Stage::build, [&] { return backend.build(problem, Choice{name, {}}, ctx); });
  if (!kernel) return at_stage(kernel.error(), Stage::build);
  if (!kernel.value()) return Rejection{Stage::build, Reason::internal_error, "build returned no kernel"};
  return kernel;
}

}  // namespace gemmtune::core
