#include "gemmtune/errors.h"

#include <algorithm>
#include <sstream>

namespace gemmtune {

InvalidProblemError::InvalidProblemError(std::string field, const std::string& message)
    : Error("invalid problem: " + field + ": " + message), field_(std::move(field)) {}

DeviceFailedError::DeviceFailedError(Device device, const std::string& message)
    : Error(to_string(device) + " failed: " + message), device_(device) {}

NoValidChoicesError::NoValidChoicesError(TuningRecord record, std::vector<DisabledBackendHint> hints)
    : Error(format_no_valid_choices(record, hints)), record_(std::move(record)), hints_(std::move(hints)) {}

std::string format_no_valid_choices(const TuningRecord& record, const std::vector<DisabledBackendHint>& hints) {
  std::ostringstream out;
  out << "no valid choices for " << describe(record.problem) << "\n";
  out << "  enabled backends: ";
  for (std::size_t i = 0; i < record.enabled.size(); ++i) out << (i ? ", " : "") << record.enabled[i];
  if (record.enabled.empty()) out << "(none)";
  out << "\n";

  std::size_t width = 8;
  for (const auto& b : record.backends) width = std::max(width, b.backend.size());
  for (const auto& choice : record.choices) width = std::max(width, choice.name.size() + 2);
  for (const auto& backend : record.backends) {
    out << "  " << backend.backend << std::string(width - backend.backend.size() + 2, ' ');
    if (backend.rejection) {
      out << backend.rejection->to_string() << "\n";
      continue;
    }
    out << backend.choices_offered << (backend.choices_offered == 1 ? " choice" : " choices") << ", none valid:\n";
    for (const auto& choice : record.choices) {
      if (choice.backend != backend.backend) continue;
      out << "    " << choice.name << std::string(width - choice.name.size(), ' ')
          << (choice.rejection ? choice.rejection->to_string() : std::string("(not rejected)")) << "\n";
    }
  }
  if (!record.fallback && !record.fallback_reason.empty()) {
    out << "  fallback to the library backend was on but it failed too: " << record.fallback_reason << "\n";
  }
  if (!hints.empty()) {
    out << "  hint: disabled backends that offer choices for this problem: ";
    for (std::size_t i = 0; i < hints.size(); ++i)
      out << (i ? ", " : "") << hints[i].backend << " (" << hints[i].choices_offered
          << (hints[i].choices_offered == 1 ? " choice)" : " choices)");
    out << "; enable one with --backends or GEMMTUNE_BACKENDS";
    out << "\n";
  } else {
    out << "  hint: no disabled backend offers choices for this problem either\n";
  }
  return out.str();
}

}  // namespace gemmtune
