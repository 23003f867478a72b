#include "isolation/fake_world.h"

namespace gemmtune::isolation_testing {
namespace {

std::shared_ptr<testing::FakeClock> world_clock() {
  static auto clock = std::make_shared<testing::FakeClock>();
  return clock;
}

}  // namespace

std::vector<std::shared_ptr<Backend>> fake_backends(std::shared_ptr<testing::FakeClock> clock) {
  testing::FakeBackendSpec fake;
  fake.name = "FAKE";
  fake.choices = {{"fast", 10}, {"medium", 20}, {"slow", 30}};
  testing::FakeBackendSpec other;
  other.name = "OTHER";
  other.choices = {{"other", 40}};
  return {std::make_shared<testing::FakeBackend>(fake, clock), std::make_shared<testing::FakeBackend>(other, clock)};
}

runtime::DeviceRuntime& fake_runtime() {
  static auto runtime = testing::make_fake_cpu_runtime(world_clock());
  return *runtime;
}

std::vector<std::shared_ptr<Backend>> world_backends() {
  static const auto backends = fake_backends(world_clock());
  return backends;
}

}  // namespace gemmtune::isolation_testing
