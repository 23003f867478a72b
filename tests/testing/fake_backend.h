// Fake backends and a fake clock, so the policy and the tuner loop can be
// tested without hardware and without real timing noise. A fake choice
// computes the right answer (through the reference) unless told to misbehave,
// and "takes" exactly the time it was given on the fake clock.
#pragma once

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "gemmtune/backend.h"
#include "runtime/cpu_runtime.h"

namespace gemmtune::testing {

// Time that only moves when a fake kernel runs.
class FakeClock {
 public:
  double now_us() const { return now_us_; }
  void advance(double us) { now_us_ += us; }

 private:
  double now_us_ = 0;
};

enum class FakeBehavior { correct, wrong_result, nan_result, build_fails, run_fails };

struct FakeChoice {
  std::string name;
  double time_us = 10;
  FakeBehavior behavior = FakeBehavior::correct;
  // Runs alternate between time_us - jitter_us and time_us + jitter_us.
  double jitter_us = 0;
};

struct FakeBackendSpec {
  std::string name = "FAKE";
  DeviceKind device = DeviceKind::cpu;
  bool available = true;
  std::string unavailable_why = "fake backend switched off";
  std::vector<FakeChoice> choices;
  // When set, enumerate() rejects every problem with this reason.
  std::optional<Rejection> rejects;
  // Ops it serves (empty: all).
  std::vector<Op> ops;
  std::string version = "fake-1";
};

class FakeBackend final : public Backend {
 public:
  FakeBackend(FakeBackendSpec spec, std::shared_ptr<FakeClock> clock);
  std::string_view name() const override { return spec_.name; }
  DeviceKind device_kind() const override { return spec_.device; }
  std::string version() const override {
    ++*version_calls_;
    return spec_.version;
  }
  Availability availability() const override;
  std::string capabilities() const override { return "fake"; }
  Expected<std::vector<Choice>> enumerate(const Problem&, const TuningContext&) const override;
  Expected<std::unique_ptr<Kernel>> build(const Problem&, const Choice&, const TuningContext&) const override;

  // How many times any kernel of this backend ran / was built.
  int runs() const { return *runs_; }
  int builds() const { return *builds_; }
  // How many times version() was asked (asking a real library's loads it).
  int version_calls() const { return *version_calls_; }
  // The compile_threads the last build was given.
  int last_compile_threads() const { return *compile_threads_; }
  FakeBackendSpec& spec() { return spec_; }
  // Makes every kernel of this backend, also ones already built, fail at run.
  void fail_all_runs(bool fail) { *fail_runs_ = fail; }

 private:
  FakeBackendSpec spec_;
  std::shared_ptr<FakeClock> clock_;
  std::shared_ptr<int> runs_ = std::make_shared<int>(0);
  std::shared_ptr<int> builds_ = std::make_shared<int>(0);
  std::shared_ptr<int> version_calls_ = std::make_shared<int>(0);
  std::shared_ptr<int> compile_threads_ = std::make_shared<int>(0);
  std::shared_ptr<bool> fail_runs_ = std::make_shared<bool>(false);
};

// A CPU runtime whose clock is the fake clock.
std::unique_ptr<runtime::CpuRuntime> make_fake_cpu_runtime(std::shared_ptr<FakeClock> clock);

}  // namespace gemmtune::testing
