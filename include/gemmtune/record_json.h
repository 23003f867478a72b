// Tuning records and problems as JSON text: the one spelling that the
// results database stores, `gemmtune cache export` writes and the CLI's
// --json embeds, for programs that log, ship or inspect tuning results.
#pragma once

#include <string>
#include <string_view>

#include "gemmtune/record.h"

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

// Lossless: reading the text back gives every field again, doubles included
// (the shortest text that reads back to the same double; NaN and infinities,
// which JSON cannot hold, are the strings "nan", "inf" and "-inf"). Enums are
// spelled as to_string() spells them; an absent timing, rejection or winner
// is null. Bytes that are not UTF-8 (compiler or driver messages may hold
// them) are replaced by U+FFFD rather than refused. indent < 0: one line.
std::string record_to_json(const TuningRecord&, int indent = -1);
std::string problem_to_json(const Problem&, int indent = -1);

// Validate every field and throw StoreError naming the first bad one
// ("choices[3].timing.median_us: expected a number, got string",
// "problem.a.dtype: unknown dtype 'f33'"); text that is not JSON is a
// StoreError too. Unknown members are ignored, so annotated files still read.
TuningRecord record_from_json(std::string_view json_text);
Problem problem_from_json(std::string_view json_text);

}  // namespace gemmtune

#pragma GCC visibility pop
