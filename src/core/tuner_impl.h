// The tuner's state and services. Internal: tests build a Tuner over fake
// backends and a fake-clock runtime through make_tuner().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gemmtune/tuner.h"
#include "measure/failpoints.h"
#include "measure/measurer.h"
#include "runtime/device_runtime.h"
#include "store/store.h"

namespace gemmtune {

struct TunerServices {
  std::vector<std::shared_ptr<Backend>> backends;  // registration order
  // Default: runtime::runtime_for.
  std::function<runtime::DeviceRuntime&(Device)> runtime_for;
  // Where choices are measured. Default: from the isolation setting, workers
  // (isolation/worker_measurer.h) or in process; with a runtime_for of the
  // caller's own (a fake) always in process, since a worker could not use it.
  std::shared_ptr<measure::Measurer> measurer;
};

struct Tuner::Impl {
  Impl(TuneOptions options, TunerServices services);

  TuneOptions options;
  TunerServices services;
  std::vector<std::string> enabled;
  bool fallback_allowed = false;
  SearchSpace search_space = SearchSpace::standard;
  VerifyMode verify = VerifyMode::automatic;
  int threads = 1;
  int compile_threads = 1;
  Isolation isolation = Isolation::process;  // as used (after any fallback)
  std::optional<double> choice_timeout_ms;   // from the option or environment; unset: the device's default
  std::shared_ptr<const measure::Failpoints> failpoints;  // null: none
  std::string db_path;  // empty when the cache is off
  std::unique_ptr<store::Store> store;  // opened on first use

  void warn(const std::string& message) const;
  store::Store* open_store();
  Backend* find_backend(const std::string& name) const;
  // What the tuner hands a backend for a problem (its device included).
  TuningContext context_for(const Problem&) const;
  // How every choice of `problem` is measured (fresh seeds each call).
  measure::MeasureSettings settings_for(const Problem&) const;

 private:
  void choose_measurer(bool custom_runtime);
};

Tuner make_tuner(TuneOptions options, TunerServices services);

}  // namespace gemmtune
