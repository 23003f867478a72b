// The tuner's state and services. Internal: tests build a Tuner over fake
// backends and a fake-clock runtime through make_tuner().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gemmtune/tuner.h"
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
  std::string cache_dir;  // backends' compiled kernels live under it ("" = none)
  std::string db_path;  // empty when the cache is off
  std::optional<store::RemoteSettings> remote;  // the fleet's shared cache, if any
  std::unique_ptr<store::TuningCache> cache;  // opened on first use

  void warn(const std::string& message) const;
  store::TuningCache* open_cache();
  Backend* find_backend(const std::string& name) const;
};

Tuner make_tuner(TuneOptions options, TunerServices services);

}  // namespace gemmtune
