// How results look: Inductor's familiar AUTOTUNE block, the --json objects,
// --csv rows, the workload summary, `explain` and `cache show`. Pure
// functions of records, so they are unit-tested without tuning anything.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gemmtune/record.h"
#include "gemmtune/tuner.h"

namespace gemmtune::cli {

// One problem's outcome as the CLI reports it.
struct ResultView {
  std::string label;         // workload "file:line"; empty for a single problem
  TuningRecord record;       // on failure: the NoValidChoicesError's record
  bool cache_hit = false;
  ResultSource source = ResultSource::tuned;
  double waited_seconds = 0;     // for another process of the fleet tuning the same problem
  bool waited_too_long = false;  // then tuned here
  double seconds = 0;        // wall time this command spent getting the result
  std::optional<std::string> error;  // NoValidChoicesError::what() when there was no valid choice
  std::vector<DisabledBackendHint> hints;
  std::string db_path;       // "" when the cache was off
};

// The library backend's time in the same record, for "speedup over the
// library". `time_us` is set when it served the problem; otherwise `note`
// says why not: "n/a (BLAS disabled)", "n/a (BLAS: unsupported_dtype)".
struct LibraryBaseline {
  std::string backend;  // library_backend: BLAS on the CPU, CUBLAS on CUDA
  std::string choice;
  std::optional<double> time_us;
  std::string note;
};
LibraryBaseline library_baseline(const TuningRecord&);

// "mm(128x4096, 4096x4096) bf16 nt" (bias shape first for addmm, as
// Inductor prints its inputs).
std::string autotune_title(const Problem&);
// "812.3 us", "12.35 us", "0.412 us".
std::string format_time_us(double us);

// The AUTOTUNE block with the selection line, the fallback line when the
// winner came from the library fallback, and the timing footer.
std::string format_autotune(const ResultView&);

// One object per problem: problem, selected, choices, backends, enabled,
// cache_hit, fallback, tuning_seconds, library, record, error.
nlohmann::json result_to_json(const ResultView&);
// The problem part: the store's spelling plus text, shape, dtypes, layout,
// epilogue and device summaries for readers who do not know the store.
nlohmann::json problem_json(const Problem&);

// --csv: one header, then one row per choice (and per rejected backend).
std::string csv_header();
std::string csv_rows(const ResultView&);

// Where the result came from, for people: "tuned here", "local cache",
// "remote cache (tuned by host pid 12)", "tuned here after waiting 300 s".
std::string source_text(const ResultView&);
// "tuned", "local_cache", "remote_cache".
std::string_view source_name(ResultSource);

// The table that ends a workload run: one row per problem with its winner
// and where the result came from (who tuned what).
std::string format_summary(const std::vector<ResultView>&, double total_seconds);

// `explain`: the enabled set, choices or rejections, hints.
std::string format_explanation(const Explanation&);
// `error`: why it exits 3 (no enabled backend offers a choice), or nullopt;
// the `error` member is then tune's (result_to_json), null when fine.
nlohmann::json explanation_to_json(const Explanation&, const std::optional<std::string>& error);

// Every JSON document the CLI prints, indented. Bytes that are not UTF-8
// (a path is any bytes but NUL) become U+FFFD, so the output stays valid JSON
// whatever the user's file names hold.
std::string json_text(const nlohmann::json&);

// Text for the terminal: control bytes other than newline and tab (a path
// may hold ESC sequences that would redraw the user's screen) become \xNN.
std::string printable(std::string_view text);

// `cache show`: the whole record, every choice's outcome.
std::string format_record(const TuningRecord&, std::int64_t id);

}  // namespace gemmtune::cli
