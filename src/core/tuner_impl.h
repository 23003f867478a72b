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
#include "store/tuning_cache.h"

namespace gemmtune {

struct TunerServices {
  std::vector<std::shared_ptr<Backend>> backends;  // registration order
  // Default: runtime::runtime_for.
  std::function<runtime::DeviceRuntime&(Device)> runtime_for;
  // The results cache, opened on first use. Default: the SQLite file at
  // db_path, layered over the remote cache when one is configured.
  std::function<std::unique_ptr<store::TuningCache>(const std::string& db_path, store::WarningSink)> open_cache;
  // Where choices are measured. Default: from the isolation setting, workers
  // (isolation/worker_measurer.h) or in process; with a runtime_for of the
  // caller's own (a fake) always in process, since a worker could not use it.
  std::shared_ptr<measure::Measurer> measurer;
};

// Hidden: Tuner is exported from libgemmtune.so, and its nested class would
// be too; its insides are no part of the API.
struct __attribute__((visibility("hidden"))) Tuner::Impl {
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
  std::string cache_dir;  // backends' compiled kernels live under it ("" = none)
  std::string db_path;  // empty when the cache is off
  std::optional<store::RemoteSettings> remote;  // the fleet's shared cache, if any
  std::unique_ptr<store::TuningCache> cache;  // opened on first use

  void warn(const std::string& message) const;
  store::TuningCache* open_cache();
  Backend* find_backend(const std::string& name) const;
  // What the tuner hands a backend for a problem (its device included).
  TuningContext context_for(const Problem&, bool with_device = true) const;
  // How every choice of `problem` is measured (fresh seeds each call).
  measure::MeasureSettings settings_for(const Problem&) const;

 private:
  void choose_measurer(bool custom_runtime);
};

Tuner make_tuner(TuneOptions options, TunerServices services);

// tune_on_devices() over tuners of the caller's making (tests inject fake
// devices): `make_tuner(device)` is called once per device, on that device's
// thread.
DevicesTuneReport tune_on_devices(const std::vector<Problem>& problems, const std::vector<Device>& devices,
                                  const std::function<Tuner(Device)>& make_tuner);

}  // namespace gemmtune
