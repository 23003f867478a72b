// JSON forms of problems and tuning records: the store's payload, the export
// file and the CLI's --json all use these, so there is one spelling.
#pragma once

#include <nlohmann/json.hpp>

#include "gemmtune/record.h"

namespace gemmtune::store {

nlohmann::json to_json(const Problem&);
nlohmann::json to_json(const Rejection&);
nlohmann::json to_json(const TuningRecord&);

// Throw StoreError naming the missing or malformed field.
Problem problem_from_json(const nlohmann::json&);
TuningRecord record_from_json(const nlohmann::json&);

// Format version of the export file.
inline constexpr int kExportFormatVersion = 1;

}  // namespace gemmtune::store
