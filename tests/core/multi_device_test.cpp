// Several devices on one host, without them: the scheduler over fake
// devices (each problem once, a failing device retired and its problem given
// to another), records shared between identical devices (the results key
// has no device index), and tune_on_devices over fake GPUs made of host
// memory.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/device_scheduler.h"
#include "core/tuner_impl.h"
#include "testing/fake_backend.h"
#include "testing/fake_device.h"
#include "testing/problem_specs.h"

namespace gemmtune {
namespace {

using core::run_on_devices;
using core::ScheduleReport;

Device gpu(int index) { return Device{DeviceKind::cuda, index}; }

struct Log {
  std::mutex mutex;
  std::map<std::size_t, std::vector<int>> runs;  // problem -> device indexes that ran it (to the end or not)
  void add(std::size_t problem, Device d) {
    std::lock_guard<std::mutex> lock(mutex);
    runs[problem].push_back(d.index);
  }
};

TEST(DeviceScheduler, EveryProblemRunsOnceAndEveryDeviceTakesSome) {
  Log log;
  auto report = run_on_devices(24, {gpu(0), gpu(1), gpu(2)}, [&](std::size_t i, Device d) {
    log.add(i, d);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  std::set<int> used;
  for (std::size_t i = 0; i < 24; ++i) {
    ASSERT_EQ(log.runs[i].size(), 1u) << "problem " << i;
    ASSERT_TRUE(report.ran_on[i]);
    EXPECT_EQ(report.ran_on[i]->index, log.runs[i][0]);
    used.insert(log.runs[i][0]);
  }
  EXPECT_EQ(used, (std::set<int>{0, 1, 2}));
  EXPECT_TRUE(report.failed_devices.empty());
}

TEST(DeviceScheduler, AFailingDeviceIsRetiredReportedAndItsProblemGoesToAnother) {
  Log log;
  std::atomic<int> cuda1_runs{0};
  std::vector<std::string> told;
  std::mutex told_mutex;
  auto report = run_on_devices(
      12, {gpu(0), gpu(1), gpu(2)},
      [&](std::size_t i, Device d) {
        log.add(i, d);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (d.index == 1 && ++cuda1_runs == 2) throw DeviceFailedError(d, "fell off the bus");
      },
      [&](const ScheduleReport::Failure& f) {
        std::lock_guard<std::mutex> lock(told_mutex);
        told.push_back(f.message);
      });
  ASSERT_EQ(report.failed_devices.size(), 1u);
  EXPECT_EQ(report.failed_devices[0].device.index, 1);
  EXPECT_NE(report.failed_devices[0].message.find("cuda:1 failed: fell off the bus"), std::string::npos);
  EXPECT_EQ(told.size(), 1u);
  EXPECT_EQ(cuda1_runs, 2) << "a retired device takes no more problems";
  // Its first problem stands; the one it failed on went to another device.
  int kept_on_cuda1 = 0, moved = 0;
  for (std::size_t i = 0; i < 12; ++i) {
    ASSERT_TRUE(report.ran_on[i]) << "problem " << i << " was lost";
    const std::vector<int>& tried = log.runs[i];
    if (report.ran_on[i]->index == 1) {
      ++kept_on_cuda1;
      EXPECT_EQ(tried, std::vector<int>{1});
    } else if (tried.front() == 1) {
      ++moved;
      ASSERT_EQ(tried.size(), 2u) << "problem " << i;
      EXPECT_EQ(tried[1], report.ran_on[i]->index);
    } else {
      EXPECT_EQ(tried.size(), 1u) << "problem " << i << " was run twice";
    }
  }
  EXPECT_EQ(kept_on_cuda1, 1);
  EXPECT_EQ(moved, 1);
}

TEST(DeviceScheduler, AProblemPutBackAfterTheOthersWentIdleIsStillRun) {
  // cuda:0 finishes its problem at once; cuda:1 fails later on the other.
  auto report = run_on_devices(2, {gpu(0), gpu(1)}, [&](std::size_t, Device d) {
    if (d.index == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      throw DeviceFailedError(d, "lost");
    }
  });
  EXPECT_TRUE(report.ran_on[0] && report.ran_on[1]);
  EXPECT_EQ(report.ran_on[0]->index, 0);
  EXPECT_EQ(report.ran_on[1]->index, 0);
}

TEST(DeviceScheduler, AProblemThatTookTwoDevicesDownIsNotOfferedToAThird) {
  std::atomic<int> attempts{0};
  auto report = run_on_devices(1, {gpu(0), gpu(1), gpu(2)}, [&](std::size_t, Device d) {
    ++attempts;
    throw DeviceFailedError(d, "the problem breaks devices");
  });
  EXPECT_EQ(attempts, 2);
  EXPECT_FALSE(report.ran_on[0]);
  EXPECT_NE(report.unfinished_why[0].find("took 2 devices down"), std::string::npos) << report.unfinished_why[0];
}

TEST(DeviceScheduler, WhenEveryDeviceFailsTheRestIsReportedUnfinished) {
  auto report = run_on_devices(5, {gpu(0), gpu(1)}, [&](std::size_t i, Device d) {
    if (i >= 1) throw DeviceFailedError(d, "gone");
  });
  EXPECT_TRUE(report.ran_on[0]);
  int unfinished = 0;
  for (std::size_t i = 1; i < 5; ++i) unfinished += !report.ran_on[i] && !report.unfinished_why[i].empty();
  EXPECT_EQ(unfinished, 4);
  EXPECT_EQ(report.failed_devices.size(), 2u);
}

TEST(DeviceScheduler, AnyOtherExceptionStopsTheSchedulingAndIsRethrown) {
  EXPECT_THROW(run_on_devices(10, {gpu(0), gpu(1)},
                              [&](std::size_t i, Device) {
                                if (i == 3) throw std::runtime_error("a bug");
                              }),
               std::runtime_error);
}

// ---- through the tuner, on fake GPUs -------------------------------------------

class FakeGpus : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gemmtune_gpus_" + std::to_string(::getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    // cuda:0 to cuda:2 are one model; cuda:3 another. Each has its own
    // clock (devices run at once), which its tuner's backend advances.
    for (int i = 0; i < 4; ++i) {
      clocks_.push_back(std::make_shared<testing::FakeClock>());
      devices_.push_back(std::make_unique<testing::FakeDevice>(
          DeviceKind::cuda, i < 3 ? "gpu=Fake H100;sm=90;sms=132" : "gpu=Fake A100;sm=80;sms=108", clocks_[i]));
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // What the tuner of device `index` is made of.
  TunerServices services(int index, std::shared_ptr<measure::Measurer> measurer = {}) {
    testing::FakeBackendSpec spec;
    spec.name = "FAKEGPU";
    spec.device = DeviceKind::cuda;
    spec.choices = {{"fast", 10}, {"slow", 20}};
    return TunerServices{{std::make_shared<testing::FakeBackend>(spec, clocks_.at(index))},
                         [this](Device d) -> runtime::DeviceRuntime& { return *devices_.at(d.index); },
                         {},
                         std::move(measurer)};
  }
  TuneOptions options() {
    TuneOptions o;
    o.db_path = (dir_ / "tuning.db").string();
    o.measure.budget_ms = 0.1;
    o.measure.min_repeats = 2;
    o.measure.warmup_runs = 1;
    o.threads = 1;
    o.on_warning = [](const std::string&) {};
    return o;
  }
  Problem problem(std::int64_t m, int device) {
    ProblemSpec s = testing::spec(Op::mm, m, 8, 8);
    s.device = gpu(device);
    return make_problem(s);
  }

  std::filesystem::path dir_;
  std::vector<std::shared_ptr<testing::FakeClock>> clocks_;
  std::vector<std::unique_ptr<testing::FakeDevice>> devices_;
};

TEST_F(FakeGpus, AGpuIsStartedOnceAProblemOnAnotherThreadBeforeItsInputsAreUploaded) {
  TuneOptions o = options();
  o.isolation = Isolation::none;  // the measurer in this process, where the fake device is
  Tuner tuner = make_tuner(o, services(0));
  tuner.tune(problem(8, 0));
  auto prepared = devices_[0]->prepares();
  ASSERT_EQ(prepared.size(), 1u) << "one start for the problem's two choices (the inputs are made once)";
  EXPECT_NE(prepared[0].thread, std::this_thread::get_id()) << "started beside the input fill, not before it";
  EXPECT_EQ(prepared[0].allocations_before, 0) << "joined before the first upload";
  tuner.tune(problem(16, 0));
  EXPECT_EQ(devices_[0]->prepares().size(), 2u) << "a new problem's inputs: asked again (the device makes it once)";
}

TEST_F(FakeGpus, ARecordTunedOnOneGpuServesAnIdenticalOneAndNeverADifferentOne) {
  Tuner tuner = make_tuner(options(), services(0));
  TuneResult first = tuner.tune(problem(8, 0));
  EXPECT_FALSE(first.cache_hit);
  TuneResult other_index = tuner.tune(problem(8, 2));
  EXPECT_TRUE(other_index.cache_hit) << "the index is in the key: " << other_index.record.key;
  EXPECT_EQ(other_index.record.key, first.record.key);
  EXPECT_EQ(to_string(other_index.record.problem.device), "cuda:2") << "the record speaks of the device asked for";
  Selection built = tuner.select(problem(8, 1));
  EXPECT_TRUE(built.cache_hit());
  EXPECT_EQ(to_string(built.problem().device), "cuda:1");
  TuneResult other_model = tuner.tune(problem(8, 3));
  EXPECT_FALSE(other_model.cache_hit) << "a different GPU model must never reuse the record";
  EXPECT_NE(other_model.record.key, first.record.key);
}

TEST_F(FakeGpus, TuneOnDevicesTunesEveryProblemOnceOnTheListedDevices) {
  std::vector<Problem> problems;
  for (std::int64_t m = 1; m <= 12; ++m) problems.push_back(problem(m, 0));
  DevicesTuneReport report = tune_on_devices(problems, {gpu(0), gpu(1), gpu(2)},
                                             [&](Device d) { return make_tuner(options(), services(d.index)); });
  ASSERT_EQ(report.results.size(), problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i) {
    const DeviceTuneResult& r = report.results[i];
    EXPECT_TRUE(r.tuned) << r.error;
    EXPECT_LE(r.device.index, 2);
    EXPECT_EQ(r.record.problem.m, problems[i].m) << "results come back in the problems' order";
    EXPECT_EQ(r.record.winner->choice, "fast");
  }
  EXPECT_TRUE(report.failed_devices.empty());
}

// Measures through the in-process measurer, except on one device, which
// fails as a lost GPU does.
class FailingOn final : public measure::Measurer {
 public:
  FailingOn(int index, std::shared_ptr<measure::Measurer> inner) : index_(index), inner_(std::move(inner)) {}
  std::unique_ptr<measure::ProblemMeasurer> open(const Problem& p, const measure::MeasureSettings& s) override {
    if (p.device.index == index_) throw DeviceFailedError(p.device, "the fake GPU fell off the bus");
    return inner_->open(p, s);
  }

 private:
  int index_;
  std::shared_ptr<measure::Measurer> inner_;
};

TEST_F(FakeGpus, AFailingGpuIsReportedAndItsProblemsAreTunedOnTheOthers) {
  std::vector<Problem> problems;
  for (std::int64_t m = 1; m <= 9; ++m) problems.push_back(problem(m, 0));
  auto make = [&](Device d) {
    auto in_process = measure::make_in_process_measurer(
        [this](Device device) -> runtime::DeviceRuntime& { return *devices_.at(device.index); });
    return make_tuner(options(), services(d.index, std::make_shared<FailingOn>(1, in_process)));
  };
  DevicesTuneReport report = tune_on_devices(problems, {gpu(0), gpu(1), gpu(2)}, make);
  for (const DeviceTuneResult& r : report.results) {
    EXPECT_TRUE(r.tuned) << r.error;
    EXPECT_NE(r.device.index, 1);
  }
  ASSERT_EQ(report.failed_devices.size(), 1u);
  EXPECT_NE(report.failed_devices[0].find("cuda:1 failed: the fake GPU fell off the bus"), std::string::npos);
}

// Counts the problems opened for measuring, by their m.
class Counting final : public measure::Measurer {
 public:
  explicit Counting(std::shared_ptr<measure::Measurer> inner) : inner_(std::move(inner)) {}
  std::unique_ptr<measure::ProblemMeasurer> open(const Problem& p, const measure::MeasureSettings& s) override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++opened[p.m];
    }
    return inner_->open(p, s);
  }
  std::mutex mutex;
  std::map<std::int64_t, int> opened;

 private:
  std::shared_ptr<measure::Measurer> inner_;
};

TEST_F(FakeGpus, AProblemListedTwiceIsTunedOnceAndReportedTwice) {
  auto counting = std::make_shared<Counting>(measure::make_in_process_measurer(
      [this](Device device) -> runtime::DeviceRuntime& { return *devices_.at(device.index); }));
  TuneOptions o = options();
  o.use_cache = false;  // so a second tuning would measure again, not hit the cache
  // The same problem three times, once under another device: the list's
  // devices are overridden, so they are one problem.
  std::vector<Problem> problems = {problem(4, 0), problem(5, 0), problem(4, 0), problem(4, 2)};
  DevicesTuneReport report = tune_on_devices(problems, {gpu(0), gpu(1)},
                                             [&](Device d) { return make_tuner(o, services(d.index, counting)); });
  EXPECT_EQ(counting->opened[4], 1);
  EXPECT_EQ(counting->opened[5], 1);
  ASSERT_EQ(report.results.size(), 4u);
  for (const DeviceTuneResult& r : report.results) EXPECT_TRUE(r.tuned) << r.error;
  EXPECT_EQ(report.results[2].record.key, report.results[0].record.key);
  EXPECT_EQ(report.results[3].record.problem.m, 4);
}

TEST_F(FakeGpus, ADeviceListOfMixedKindsOrRepeatsIsAConfigError) {
  auto make = [&](Device d) { return make_tuner(options(), services(d.index)); };
  EXPECT_THROW(tune_on_devices({problem(1, 0)}, {gpu(0), Device{}}, make), ConfigError);
  EXPECT_THROW(tune_on_devices({problem(1, 0)}, {gpu(0), gpu(0)}, make), ConfigError);
  EXPECT_THROW(tune_on_devices({problem(1, 0)}, {}, make), ConfigError);
  EXPECT_THROW(parse_devices("cuda:0,banana"), ConfigError);
  EXPECT_THROW(parse_devices("cpu"), ConfigError) << "spreading is over GPUs";
  EXPECT_THROW(parse_devices("cuda:0,,cuda:1"), ConfigError);
  EXPECT_THROW(parse_devices(""), ConfigError);
}

}  // namespace
}  // namespace gemmtune
