#include "workload.h"

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "util/files.h"

#include "tunableop.h"

namespace gemmtune::cli {
namespace {

// Far above any real workload (a line is ~40 bytes), far below what would
// hurt to hold in memory.
constexpr std::uint64_t kMaxWorkloadBytes = 16 << 20;

}  // namespace

std::vector<WorkloadItem> parse_workload(std::string_view text, const std::string& name, const Invocation& base) {
  std::vector<WorkloadItem> items;
  std::size_t line_number = 0, pos = 0;
  // A UTF-8 byte order mark (editors on Windows write one) is not part of
  // the first line.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    ++line_number;
    pos = end + 1;
    const std::string label = name + ":" + std::to_string(line_number);
    bool tunableop = false;
    std::vector<std::string> words;
    try {
      // A workload is text: a control byte means a binary file or a
      // mangled one, and would reach the terminal inside messages.
      for (unsigned char c : line)
        if (c < 0x20 && c != '\t' && c != '\r') {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", c);
          throw UsageError(std::string("holds the control byte ") + hex + "; a workload is a text file",
                           usage_hint(Command::tune));
        }
      tunableop = is_tunableop_line(line);
      if (tunableop) {
        // TunableOp records CUDA GEMMs: the command line's device when it
        // names a GPU, else cuda:0.
        words = tunableop_words(line, base.problem.device.kind == DeviceKind::cuda ? to_string(base.problem.device)
                                                                                   : std::string("cuda:0"));
      } else {
        words = split_words(line);
      }
      if (words.empty()) continue;
      items.push_back(WorkloadItem{label, parse_workload_line(words, base)});
    } catch (const UsageError& e) {
      // A TunableOp line is BLAS's column-major view (its A is gemmtune's B,
      // its lda gemmtune's --ldb): the message names gemmtune's terms, so
      // show the line as gemmtune reads it.
      std::string as_read;
      if (tunableop) {
        for (const auto& w : words) as_read += " " + w;
        as_read = " (this TunableOp line, in gemmtune's row-major terms: `gemmtune tune" + as_read + "`)";
      }
      throw UsageError(label + ": " + e.what() + as_read, usage_hint(Command::tune));
    }
    if (end == text.size()) break;
  }
  if (items.empty())
    throw UsageError(name + ": the workload has no problems (one per line, e.g. `mm 128x768x768 --layout nt`)",
                     usage_hint(Command::tune));
  return items;
}

std::vector<WorkloadItem> load_workload(const Invocation& base) {
  if (base.workload_file == "default") {
    std::error_code ec;
    if (std::filesystem::symlink_status("default", ec).type() != std::filesystem::file_type::not_found)
      throw UsageError("--workload default names the built-in preset, but a file 'default' is here too: write "
                       "./default for the file, or --workload alone for the preset",
                       usage_hint(Command::tune));
  }
  if (base.workload_file.empty() || base.workload_file == "default")
    return parse_workload(default_workload_text(), "default-workload", base);
  std::string text;
  try {
    text = files::InputFile(base.workload_file, "--workload " + base.workload_file).read_all(kMaxWorkloadBytes);
  } catch (const files::FileError& e) {
    if (e.fault() == files::FileError::Fault::usage) throw UsageError(e.what(), usage_hint(Command::tune));
    throw;
  }
  return parse_workload(text, base.workload_file, base);
}

}  // namespace gemmtune::cli
