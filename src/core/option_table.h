// The one table of tuner options. Every option's name, CLI flag, environment
// variable, C API key, parser, default and help are declared once, in
// option_table.cpp, and every way of setting an option reads this table:
//   - the CLI (tools/gemmtune/args.cpp): flags, their errors and the help text;
//   - the environment: with_environment() fills what code or flags left unset;
//   - the C API: gemmtune_options_set() and gemmtune_tuner_create()'s
//     "key=value;..." string;
//   - Python: gemmtune.Tuner(**options) reads the table through
//     gemmtune_option_table() (JSON) and sets options by name.
// Precedence everywhere: code or CLI flag, then environment, then default.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "gemmtune/options.h"

namespace gemmtune::option_table {

// Which CLI commands take an option's flag.
enum Use : unsigned {
  kMeasuring = 1u << 0,    // tune, run, and the lines of a workload file
  kEnumerating = 1u << 1,  // explain
  kCatalogue = 1u << 2,    // cache
};

// How an option's text becomes a TuneOptions field. Built by field<>() in
// option_table.cpp from an accessor and a parser.
struct Field {
  // Parses `text` into the field; false (field untouched) when malformed.
  bool (*set)(TuneOptions&, std::string_view text) = nullptr;
  // Whether the field holds a value. Only unset fields take the environment,
  // so an option with an environment variable needs a std::optional field.
  bool (*is_set)(const TuneOptions&) = nullptr;
  // The field as text its parser accepts; "" when unset.
  std::string (*show)(const TuneOptions&) = nullptr;
};

struct Option {
  std::string_view name;          // the canonical name: Python keyword, C API key
  std::string_view flag;          // CLI flag ("--budget-ms"); "" when none
  std::string_view env;           // environment variable; "" when none
  std::string_view capi_key;      // an older C API spelling also accepted ("fallback"); "" when none
  std::string_view value_name;    // the flag's value in help ("LIST"); "" for a switch that takes no value
  std::string_view switch_value;  // what a switch flag stands for ("1", or "0" for --no-cache)
  std::string_view expects;       // what a valid value looks like, used in every error message
  std::string_view default_text;  // what applies when nothing sets it
  std::string_view help;
  // What the CLI flag does, where it switches the option off (--no-cache,
  // --warm-cache) and `help`, which says what the option is, would read as
  // the opposite of the flag; "" to use `help`.
  std::string_view flag_help;
  unsigned uses = 0;              // Use bits; 0 = no CLI command takes the flag
  Field field;
  // Read from the environment only: it configures the process (GEMMTUNE_LOG),
  // not a tuner, so the C API and Python refuse it as a tuner option.
  bool process_wide = false;
};

// Every option, in the order help lists them.
std::span<const Option> all();
// By name or C API key; nullptr when unknown.
const Option* find(std::string_view name_or_key);
// By CLI flag ("--threads"); nullptr when no option has it.
const Option* find_flag(std::string_view flag);
// "backends, fallback_to_library, ..." for messages about unknown names.
std::string names();

// Sets one option from text. When the text is malformed, throws ConfigError
// "<source> expects <expects>, got '<text>'": `source` names where the text
// came from ("--threads", "GEMMTUNE_VERIFY", "option verify").
void set(TuneOptions&, const Option&, std::string_view text, std::string_view source);

// If the option's variable is set (and non-empty), parses it into `options`
// and returns the variable's name; a malformed value is a ConfigError naming
// the variable. Does not look at whether the field was set already.
std::optional<std::string_view> apply_environment(TuneOptions& options, const Option&);

// `options` with every unset option filled from its environment variable,
// and the process-wide variables (GEMMTUNE_LOG) checked: code or flag first,
// then environment. ConfigError names a malformed variable.
TuneOptions with_environment(TuneOptions options);

// The table as a JSON array of objects (name, flag, env, capi_key,
// value_name, expects, default, help, process_wide) for the C API and Python.
std::string to_json();

// Help lines ("  --budget-ms X          time spent ... (default 60)") of the
// options whose flags the given Use bits take.
std::string flag_help(unsigned uses);
// "GEMMTUNE_BACKENDS, GEMMTUNE_FALLBACK_TO_LIBRARY, ..." in table order.
std::string environment_names();

}  // namespace gemmtune::option_table
