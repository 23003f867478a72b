#include "workload.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tunableop.h"

namespace gemmtune::cli {

std::vector<WorkloadItem> parse_workload(std::string_view text, const std::string& name, const Invocation& base) {
  std::vector<WorkloadItem> items;
  std::size_t line_number = 0, pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    ++line_number;
    pos = end + 1;
    const std::string label = name + ":" + std::to_string(line_number);
    try {
      std::vector<std::string> words;
      if (is_tunableop_line(line)) {
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
      throw UsageError(label + ": " + e.what(), usage_hint(Command::tune));
    }
    if (end == text.size()) break;
  }
  if (items.empty())
    throw UsageError(name + ": the workload has no problems (one per line, e.g. `mm 128x768x768 --layout nt`)",
                     usage_hint(Command::tune));
  return items;
}

std::vector<WorkloadItem> load_workload(const Invocation& base) {
  if (base.workload_file.empty() || base.workload_file == "default")
    return parse_workload(default_workload_text(), "default-workload", base);
  std::ifstream in(base.workload_file);
  if (!in)
    throw UsageError("--workload: cannot read '" + base.workload_file + "': " + std::strerror(errno),
                     usage_hint(Command::tune));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_workload(text.str(), base.workload_file, base);
}

}  // namespace gemmtune::cli
