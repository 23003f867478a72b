// The fake world both sides of the isolation tests share: the same fake
// backends in the tuner (test process) and in the test worker (a child
// process running test_worker_main.cpp), on a fake clock, so that times are
// exact and a worker's measurements can be compared with in-process ones.
#pragma once

#include <memory>
#include <vector>

#include "gemmtune/backend.h"
#include "runtime/cpu_runtime.h"
#include "testing/fake_backend.h"

namespace gemmtune::isolation_testing {

// FAKE: fast (10 us), medium (20 us), slow (30 us); OTHER: other (40 us).
std::vector<std::shared_ptr<Backend>> fake_backends(std::shared_ptr<testing::FakeClock> clock);

// The process-wide fake-clock runtime of this world.
runtime::DeviceRuntime& fake_runtime();
std::vector<std::shared_ptr<Backend>> world_backends();

// GEMMTUNE_TEST_WORKER_MISBEHAVE selects how the test worker breaks the
// protocol: "silent" (never says hello), "oversized" (answers with a frame
// over the size limit), "garbage" (answers with text that is not JSON),
// "die_on_request" (killed as soon as a request arrives).
inline constexpr const char* kMisbehaveVariable = "GEMMTUNE_TEST_WORKER_MISBEHAVE";

}  // namespace gemmtune::isolation_testing
