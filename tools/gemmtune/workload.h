// Workloads: many problems in one text file, one per line, written like the
// command line without `gemmtune tune` ("mm 128x768x768 --dtype bf16
// --layout nt"); '#' starts a comment, blank lines are skipped. Lines of
// PyTorch TunableOp's CSV files (tunableop_untuned0.csv) are read too
// (tunableop.h), so such a file is a workload as it is. The built-in
// preset is such a text too (default_workload.cpp), so it goes through the
// same parser as a user's file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "args.h"

namespace gemmtune::cli {

struct WorkloadItem {
  std::string label;       // "file:line"
  Invocation invocation;   // the command line's flags, overridden by the line's
};

// The built-in preset (`gemmtune tune --workload` with no file).
std::string_view default_workload_text();

// Parses workload text named `name` (for messages) over `base`. Throws
// UsageError "name:line: ..." for the first bad line, or when there is no
// problem at all.
std::vector<WorkloadItem> parse_workload(std::string_view text, const std::string& name, const Invocation& base);

// Reads base.workload_file (or the preset when it is "" or "default").
// Throws UsageError when the file cannot be read.
std::vector<WorkloadItem> load_workload(const Invocation& base);

}  // namespace gemmtune::cli
