// The commands of the tool, each given its parsed invocation. They may throw
// the library's exceptions and UsageError/NpyError; run_cli maps those to
// exit codes. NoValidChoicesError is handled inside where the output format
// must carry it (--json).
#pragma once

#include <memory>

#include "args.h"
#include "cli.h"
#include "gemmtune/tuner.h"
#include "progress.h"

namespace gemmtune::cli {

int cmd_backends(const Invocation&, Io&);
int cmd_tune(const Invocation&, Io&);
int cmd_explain(const Invocation&, Io&);
int cmd_run(const Invocation&, Io&);
int cmd_cache(const Invocation&, Io&);

// TuneOptions of the flags, with progress and warnings wired to `display`
// (which must outlive the tuner).
TuneOptions make_tune_options(const TuneArgs&, ProgressDisplay& display);

// make_problem() of the flags, then validate(): InvalidProblemError on a
// contradiction.
Problem build_problem(const ProblemArgs&);

// Seconds since `start` on the steady clock.
double seconds_since(std::int64_t start_ns);
std::int64_t now_ns();

}  // namespace gemmtune::cli
