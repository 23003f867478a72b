// Command-line parsing of the gemmtune tool: the words and flags of one
// invocation (or of one workload line) turned into plain data. Nothing here
// tunes or touches files; every mistake is a UsageError (exit code 2) whose
// message names the flag or argument and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gemmtune/options.h"
#include "gemmtune/problem.h"
#include "gemmtune/types.h"

namespace gemmtune::cli {

enum class Command : std::uint8_t { help, backends, tune, run, explain, cache };

std::string_view command_name(Command);
std::optional<Command> parse_command(std::string_view);

// Bad usage. what() is the specific message ("--threads expects a
// non-negative integer, got 'x'"); hint() is a one-line usage reminder.
class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& message, std::string hint);
  const std::string& hint() const { return hint_; }

 private:
  std::string hint_;
};

enum class OutputFormat : std::uint8_t { table, json, csv };
enum class CacheAction : std::uint8_t { list, show, export_file, import_file, clear, stats, push, pull };

struct Shape {
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  bool has_batch = false;  // written as BxMxNxK
};
// "MxNxK" or "BxMxNxK" with non-negative decimal integers; nullopt otherwise.
std::optional<Shape> parse_shape(std::string_view);

// What becomes a ProblemSpec. Unset optionals take the op's defaults.
struct ProblemArgs {
  std::optional<Op> op;
  std::optional<Shape> shape;
  std::optional<DType> dtype;
  std::optional<DType> out_dtype;
  bool transpose_a = false;  // --layout tn / tt
  bool transpose_b = false;  // --layout nt / tt
  std::optional<BiasKind> bias;
  double alpha = 1.0;
  double beta = 1.0;
  Activation activation = Activation::none;
  Device device;
  bool device_given = false;  // --device was on the command line or the line: --devices may not contradict it
  std::optional<ScaleKind> scale_a, scale_b;
  bool broadcast_b = false;
  bool allow_tf32 = false;
  // Leading dimensions where they are not the dense ones (--lda/--ldb/--ldc):
  // the row stride of a row-major operand, the column stride of a
  // column-major one; batches stay dense at that spacing.
  std::optional<std::int64_t> lda, ldb, ldc;
  int alignment = 64;  // --alignment: what every pointer is guaranteed (bytes)
};

// The dtype used when --dtype is not given: i8 for int_mm, f8e4m3 for
// scaled_mm, f32 otherwise.
DType default_dtype(Op);
// Needs op and shape. Leading dimensions are not part of a spec (make_problem
// builds dense operands); to_problem applies them.
ProblemSpec to_problem_spec(const ProblemArgs&);
// make_problem(to_problem_spec(args)) with --lda/--ldb/--ldc applied.
Problem to_problem(const ProblemArgs&);

// Tuning flags as given, by option name (src/core/option_table.cpp), each
// already checked by the option's parser; a later flag replaces an earlier
// one. Options not given stay unset so that the environment (GEMMTUNE_*)
// still applies, as the precedence rule says.
struct TuneArgs {
  std::map<std::string, std::string, std::less<>> values;
  friend bool operator==(const TuneArgs&, const TuneArgs&) = default;
};
// The callbacks are left unset; the caller installs its own.
TuneOptions to_tune_options(const TuneArgs&);

// Files of `gemmtune run`. Empty means not given.
struct RunFiles {
  std::string a, b, bias, scale_a, scale_b, out;
};

struct Invocation {
  Command command = Command::help;
  std::optional<Command> help_topic;  // `help CMD`, `CMD --help`
  ProblemArgs problem;
  TuneArgs tune;
  RunFiles files;
  OutputFormat format = OutputFormat::table;
  bool quiet = false;
  bool workload = false;          // tune --workload
  std::string workload_file;      // "" or "default": the built-in preset
  std::string devices;            // tune --workload --devices LIST|all ("" = each line's --device)
  CacheAction cache_action = CacheAction::list;
  std::string cache_argument;     // show ID, export FILE, import FILE
};

// Parses argv without the program name. Throws UsageError.
Invocation parse_command_line(const std::vector<std::string>& args);

// Parses one workload line, already split into words ("mm", "128x768x768",
// "--dtype", "bf16", ...), on top of `base` (the command line's flags): a
// flag on the line overrides the command line's, everything else is kept.
// Throws UsageError (without location; the caller adds file:line).
Invocation parse_workload_line(const std::vector<std::string>& words, const Invocation& base);

// Splits a workload line into words: whitespace separated, '...' and "..."
// quote, '#' outside quotes starts a comment. Throws UsageError for an
// unterminated quote.
std::vector<std::string> split_words(std::string_view line);

// Full help (`gemmtune --help`, `gemmtune help CMD`).
std::string help_text(std::optional<Command> topic);
// One line: "usage: gemmtune tune OP SHAPE [options]  (gemmtune help tune)".
std::string usage_hint(Command);

}  // namespace gemmtune::cli
