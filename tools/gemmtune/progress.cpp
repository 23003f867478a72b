#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include "format.h"

namespace gemmtune::cli {

ProgressDisplay::ProgressDisplay(std::ostream& err, bool live, bool quiet) : err_(err), live_(live), quiet_(quiet) {}

ProgressDisplay::~ProgressDisplay() { clear(); }

void ProgressDisplay::on_progress(const ProgressEvent& e) {
  if (quiet_) return;
  char counter[32];
  std::snprintf(counter, sizeof counter, "[%*d/%d]", e.total >= 10 ? (e.total >= 100 ? 3 : 2) : 1, e.index, e.total);
  std::string text = prefix_ + counter + " " + e.backend + " " + e.choice;
  if (live_) {
    // Keep to one row: a wrapped line cannot be erased by \r.
    const std::size_t width = static_cast<std::size_t>(terminal_columns()) - 1;
    if (text.size() > width) text = text.substr(0, width > 3 ? width - 3 : 0) + "...";
    err_ << "\r\033[K" << text << std::flush;
    drawn_ = true;
  } else {
    err_ << "gemmtune: " << text << " (" << e.problem << ")\n" << std::flush;
  }
}

void ProgressDisplay::warning(const std::string& message) {
  clear();
  err_ << "gemmtune: warning: " << printable(message) << "\n" << std::flush;
}

void ProgressDisplay::clear() {
  if (!drawn_) return;
  err_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

int terminal_columns() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 100;
}

}  // namespace gemmtune::cli
