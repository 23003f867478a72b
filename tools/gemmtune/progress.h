// Progress and warnings on stderr while tuning. On a terminal one live line
// is redrawn in place and cleared when a problem is done; otherwise (logs,
// pipes, tests) each choice gets one plain "gemmtune: " line. Warnings are
// never suppressed, --quiet only silences progress.
#pragma once

#include <ostream>
#include <string>

#include "gemmtune/options.h"

namespace gemmtune::cli {

class ProgressDisplay {
 public:
  // `live`: draw the redrawn line (stderr is a terminal).
  ProgressDisplay(std::ostream& err, bool live, bool quiet);
  ~ProgressDisplay();

  // Text shown before each progress line, e.g. "(2/14) " in a workload.
  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }
  void on_progress(const ProgressEvent&);
  // "gemmtune: warning: ..." on its own line (the live line is cleared first).
  void warning(const std::string& message);
  // Erases the live line, if one is drawn.
  void clear();

 private:
  std::ostream& err_;
  bool live_;
  bool quiet_;
  bool drawn_ = false;
  std::string prefix_;
};

// Whether file descriptor 2 is a terminal, and its width in columns.
bool stderr_is_terminal();
int terminal_columns();

}  // namespace gemmtune::cli
