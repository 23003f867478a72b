// Measuring in worker processes: each choice is sent, by name, to the
// worker of its problem's device, which builds, verifies and times it as the
// in-process measurer would. What the worker cannot report becomes the
// choice's rejection:
//   the worker dies (any signal, or exits)      stage crash, naming the signal
//   no answer within the choice's limit         stage timeout (worker killed)
//   the device context is lost (illegal address) stage run, as the worker
//                                                 reported it; worker replaced
// The worker is replaced and tuning goes on. A worker lost while making a
// problem's inputs and reference (before any choice was built) is not the
// choice's fault: a fresh worker tries once more, and a second loss, or a
// worker that cannot start or finds the device unavailable, is a
// DeviceFailedError (a tuning over several devices gives the problem to
// another). A preparation that fails cleanly (the inputs do not fit) is the
// rejection of every choice of that problem.
#pragma once

#include <memory>

#include "isolation/worker_pool.h"
#include "measure/measurer.h"

namespace gemmtune::isolation {

// Slack on top of the choice's limit before the parent gives up on a
// worker: the worker's own clock check (a clean timeout rejection with the
// times it measured) gets the first chance.
inline constexpr double kDeadlineSlackSeconds = 1.0;

std::shared_ptr<measure::Measurer> make_worker_measurer(std::shared_ptr<WorkerPool> pool);

}  // namespace gemmtune::isolation
