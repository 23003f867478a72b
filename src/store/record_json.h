// JSON forms of problems and tuning records: the store's payload, the export
// file and the CLI's --json all use these, so there is one spelling.
//
// The forms are complete and lossless: record_from_json(to_json(r)) == r for
// every field, doubles included (nlohmann writes the shortest text that reads
// back to the same double; non-finite values, which JSON cannot hold, are
// written as the strings "nan", "inf" and "-inf"). Enums are spelled with
// their canonical to_string names. Optional parts (a timing, a rejection, the
// winner) are null when absent. Unknown members are ignored, so a file with
// extra annotations still reads.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "gemmtune/record.h"

namespace gemmtune::store {

nlohmann::json to_json(const Problem&);
nlohmann::json to_json(const Rejection&);
nlohmann::json to_json(const ChoiceOutcome&);
nlohmann::json to_json(const TuningRecord&);

// Validate every field and throw StoreError naming the path of the first
// bad one: "choices[3].timing.median_us: expected a number, got string",
// "problem.a.dtype: unknown dtype 'f33'", "winner: missing field". Paths are
// relative to the object passed in.
Problem problem_from_json(const nlohmann::json&);
Rejection rejection_from_json(const nlohmann::json&);
ChoiceOutcome choice_outcome_from_json(const nlohmann::json&);
TuningRecord record_from_json(const nlohmann::json&);

// A key cut to its first 48 characters ("v1|op=mm;batch=1;m=64;n=64;..."):
// enough to recognise it in a message, short enough to read.
std::string short_key(const std::string& key);

// A record's stored text (the database's payload, the remote cache's value):
// compact JSON, with invalid UTF-8 in strings replaced.
std::string record_text(const TuningRecord&);
// Stored text read back: parsed, every field validated as record_from_json
// does, and required to hold `key` (the key it was stored under). Throws
// StoreError naming what is wrong.
TuningRecord record_from_text(std::string_view text, const std::string& key);

// The export file: {"format": kExportFormatName, "version": N,
// "exported_at": ISO 8601 UTC, "records": [record, ...]}.
inline constexpr std::string_view kExportFormatName = "gemmtune-tuning-records";
// Format version of the export file.
inline constexpr int kExportFormatVersion = 1;

}  // namespace gemmtune::store
