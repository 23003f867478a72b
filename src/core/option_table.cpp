#include "core/option_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "gemmtune/errors.h"
#include "util/env.h"
#include "util/log.h"

namespace gemmtune::option_table {
namespace {

// ---------------------------------------------------------------- parsers
// Each takes the text as written and returns the value, or nullopt when the
// text is malformed (the caller reports it with the option's `expects`).

std::optional<bool> parse_switch(std::string_view text) { return env::parse_bool(text); }

template <int kMin, int kMax>
std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < kMin || value > kMax)
    return std::nullopt;
  return value;
}

std::optional<double> parse_finite(std::string_view text) {
  const std::string copy(text);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || errno == ERANGE || !std::isfinite(value))
    return std::nullopt;
  return value;
}

std::optional<double> parse_positive(std::string_view text) {
  auto v = parse_finite(text);
  return v && *v > 0 ? v : std::nullopt;
}

std::optional<double> parse_fraction(std::string_view text) {
  auto v = parse_finite(text);
  return v && *v >= 0 && *v <= 1 ? v : std::nullopt;
}

std::optional<std::vector<std::string>> parse_list(std::string_view text) {
  auto items = env::split_list(std::string(text));
  if (items.empty()) return std::nullopt;
  return items;
}

std::optional<std::string> parse_path(std::string_view text) {
  if (text.empty()) return std::nullopt;
  return std::string(text);
}

// Seconds of the per-choice limit: positive, finite, at most a week.
std::optional<double> parse_timeout_seconds(std::string_view text) {
  auto v = parse_positive(text);
  return v && *v <= kMaxChoiceTimeoutSeconds ? v : std::nullopt;
}

// GEMMTUNE_WORKER names an executable; tuners check it when they look for
// their worker (isolation/worker_locator.h).
std::optional<bool> parse_executable_path(std::string_view text) {
  if (text.empty()) return std::nullopt;
  return true;
}

// GEMMTUNE_LOG configures the process; its value is only checked here and
// read by util/log.
std::optional<bool> parse_log_level(std::string_view text) {
  if (!log::parse_level(text)) return std::nullopt;
  return true;
}

// ---------------------------------------------------------------- showing

std::string show_value(bool v) { return v ? "1" : "0"; }
std::string show_value(int v) { return std::to_string(v); }
std::string show_value(double v) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(v);
}
std::string show_value(const std::string& v) { return v; }
std::string show_value(SearchSpace v) { return std::string(to_string(v)); }
std::string show_value(VerifyMode v) {
  switch (v) {
    case VerifyMode::automatic: return "auto";
    case VerifyMode::full: return "full";
    case VerifyMode::sampled: return "sampled";
    case VerifyMode::off: return "off";
  }
  return "";
}
std::string show_value(Isolation v) { return std::string(to_string(v)); }
std::string show_value(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& item : v) out += (out.empty() ? "" : ",") + item;
  return out;
}
template <typename T>
std::string show_value(const std::optional<T>& v) {
  return v ? show_value(*v) : std::string();
}

template <typename T>
bool holds(const std::optional<T>& v) {
  return v.has_value();
}
template <typename T>
bool holds(const T&) {
  return true;
}

// A Field from an accessor (a captureless lambda returning a reference to
// the TuneOptions member) and a parser from text to the member's value.
template <auto access, auto parse>
constexpr Field field() {
  return Field{
      [](TuneOptions& o, std::string_view text) {
        auto parsed = parse(text);
        if (!parsed) return false;
        access(o) = std::move(*parsed);
        return true;
      },
      [](const TuneOptions& o) { return holds(access(const_cast<TuneOptions&>(o))); },
      [](const TuneOptions& o) { return show_value(access(const_cast<TuneOptions&>(o))); },
  };
}

// The per-choice limit: seconds as written (flag, variable, C API, Python),
// milliseconds in MeasureOptions like the other measuring times.
constexpr Field choice_timeout_field() {
  return Field{
      [](TuneOptions& o, std::string_view text) {
        auto seconds = parse_timeout_seconds(text);
        if (!seconds) return false;
        o.measure.choice_timeout_ms = *seconds * 1000.0;
        return true;
      },
      [](const TuneOptions& o) { return o.measure.choice_timeout_ms.has_value(); },
      [](const TuneOptions& o) {
        return o.measure.choice_timeout_ms ? show_value(*o.measure.choice_timeout_ms / 1000.0) : std::string();
      },
  };
}

// A field that only checks its text: options that configure the process.
template <auto parse>
constexpr Field checked_only() {
  return Field{[](TuneOptions&, std::string_view text) { return parse(text).has_value(); },
               [](const TuneOptions&) { return false; }, [](const TuneOptions&) { return std::string(); }};
}

// ---------------------------------------------------------------- THE TABLE
//
// To add an option: add its field to TuneOptions (a std::optional when it
// has an environment variable, so that "unset" can defer to it), then add
// ONE entry here. The CLI flag, the environment variable, the C API key,
// Python's keyword, the error messages and the help text all follow from it;
// option_table_test checks the entry's spellings and round trip.
//   name          canonical name: Python keyword and C API key (snake_case)
//   flag          CLI flag, "--" + name with dashes unless there is a reason
//   env           GEMMTUNE_* variable, or "" when the option has none
//   capi_key      an older C API spelling kept working, or ""
//   value_name    the flag's value in help; "" makes the flag a switch that
//                 takes no value and stands for switch_value
//   expects       what a valid value looks like ("a positive integer")
//   default_text  what applies when nothing sets it
//   help          one phrase, no trailing period
//   uses          which CLI commands take the flag (kMeasuring: tune, run,
//                 workload lines; kEnumerating: explain; kCatalogue: cache)
//   field         field<accessor, parser>(): where the value goes, how the
//                 text is read
const Option kOptions[] = {
    {.name = "backends",
     .flag = "--backends",
     .env = "GEMMTUNE_BACKENDS",
     .value_name = "LIST",
     .expects = "a comma-separated list of backend names (see `gemmtune backends`)",
     .default_text = "every available backend except REFERENCE",
     .help = "the enabled backends, names in any case",
     .uses = kMeasuring | kEnumerating,
     .field = field<[](TuneOptions& o) -> auto& { return o.backends; }, parse_list>()},
    {.name = "fallback_to_library",
     .flag = "--fallback-to-library",
     .env = "GEMMTUNE_FALLBACK_TO_LIBRARY",
     .capi_key = "fallback",
     .switch_value = "1",
     .expects = "0 or 1",
     .default_text = "0, strict",
     .help = "if the enabled set cannot serve a problem, use the device's library backend (loudly)",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.fallback_to_library; }, parse_switch>()},
    {.name = "search_space",
     .flag = "--search-space",
     .env = "GEMMTUNE_SEARCH_SPACE",
     .value_name = "S",
     .expects = "default or exhaustive",
     .default_text = "default",
     .help = "how many choices each backend offers",
     .uses = kMeasuring | kEnumerating,
     .field = field<[](TuneOptions& o) -> auto& { return o.search_space; }, parse_search_space>()},
    {.name = "verify",
     .flag = "--verify",
     .env = "GEMMTUNE_VERIFY",
     .value_name = "V",
     .expects = "auto, full, sampled or off",
     .default_text = "auto: every element of small problems, a sample of large ones",
     .help = "how each choice's result is checked against the exact reference",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.verify; }, parse_verify_mode>()},
    {.name = "threads",
     .flag = "--threads",
     .value_name = "N",
     .expects = "an integer from 0 to 4096",
     .default_text = "0, every CPU",
     .help = "CPU threads",
     .uses = kMeasuring | kEnumerating,
     .field = field<[](TuneOptions& o) -> auto& { return o.threads; }, parse_int<0, 4096>>()},
    {.name = "compile_threads",
     .flag = "--compile-threads",
     .env = "GEMMTUNE_COMPILE_THREADS",
     .value_name = "N",
     .expects = "a positive integer",
     .default_text = "every CPU",
     .help = "threads that compile generated GPU kernels (NVRTC) in parallel",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.compile_threads; }, parse_int<1, 1 << 20>>()},
    {.name = "cache",
     .flag = "--no-cache",
     .switch_value = "0",
     .expects = "0 or 1",
     .default_text = "1",
     .help = "use the results database (--no-cache: neither read nor write it)",
     .flag_help = "neither read nor write the results database (by default both)",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.use_cache; }, parse_switch>()},
    {.name = "cache_dir",
     .flag = "--cache-dir",
     .env = "GEMMTUNE_CACHE_DIR",
     .value_name = "DIR",
     .expects = "a folder",
     .default_text = "$XDG_CACHE_HOME/gemmtune, else ~/.cache/gemmtune",
     .help = "the folder of the results database tuning.db",
     .uses = kMeasuring | kCatalogue,
     .field = field<[](TuneOptions& o) -> auto& { return o.cache_dir; }, parse_path>()},
    {.name = "db",
     .flag = "--db",
     .value_name = "PATH",
     .expects = "a file path",
     .default_text = "CACHE_DIR/tuning.db",
     .help = "the results database file",
     .uses = kMeasuring | kCatalogue,
     .field = field<[](TuneOptions& o) -> auto& { return o.db_path; }, parse_path>()},
    // The fleet's shared cache. The URL's text is only required here; what
    // a URL may be (and why rediss:// is refused) is said by
    // store::resolve_remote when the tuner is made.
    {.name = "remote_cache",
     .flag = "--remote-cache",
     .env = "GEMMTUNE_REMOTE_CACHE",
     .value_name = "URL",
     .expects = "a URL redis://[[user]:password@]host[:port][/db]",
     .default_text = "none",
     .help = "a results cache shared by a fleet through Redis, looked up after the local file; Redis trouble costs "
             "a warning, never the tuning",
     .uses = kMeasuring | kCatalogue,
     .field = field<[](TuneOptions& o) -> auto& { return o.remote_cache; }, parse_path>()},
    {.name = "remote_cache_prefix",
     .flag = "--remote-cache-prefix",
     .env = "GEMMTUNE_REMOTE_CACHE_PREFIX",
     .value_name = "P",
     .expects = "a key prefix (no control characters, at most 256 bytes)",
     .default_text = "gemmtune:",
     .help = "namespaces one deployment's keys in the remote cache",
     .uses = kMeasuring | kCatalogue,
     .field = field<[](TuneOptions& o) -> auto& { return o.remote_cache_prefix; }, parse_path>()},
    {.name = "remote_cache_connect_timeout",
     .flag = "--remote-cache-connect-timeout",
     .env = "GEMMTUNE_REMOTE_CACHE_CONNECT_TIMEOUT",
     .value_name = "S",
     .expects = "a positive number of seconds",
     .default_text = "0.5",
     .help = "time allowed to connect to the remote cache",
     .uses = kMeasuring | kCatalogue,
     .field = field<[](TuneOptions& o) -> auto& { return o.remote_cache_connect_timeout; }, parse_positive>()},
    {.name = "remote_cache_timeout",
     .flag = "--remote-cache-timeout",
     .env = "GEMMTUNE_REMOTE_CACHE_TIMEOUT",
     .value_name = "S",
     .expects = "a positive number of seconds",
     .default_text = "0.5",
     .help = "time allowed for one remote cache command; a slower Redis counts as absent",
     .uses = kMeasuring | kCatalogue,
     .field = field<[](TuneOptions& o) -> auto& { return o.remote_cache_timeout; }, parse_positive>()},
    {.name = "remote_cache_wait",
     .flag = "--remote-cache-wait",
     .env = "GEMMTUNE_REMOTE_CACHE_WAIT",
     .value_name = "S",
     .expects = "a positive number of seconds",
     .default_text = "300",
     .help = "how long to wait for another process tuning the same problem before tuning it here",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.remote_cache_wait; }, parse_positive>()},
    {.name = "remote_cache_lease",
     .flag = "--remote-cache-lease",
     .env = "GEMMTUNE_REMOTE_CACHE_LEASE",
     .value_name = "S",
     .expects = "a positive number of seconds (at least 0.3, at most 3600)",
     .default_text = "10",
     .help = "how long a tuning process's claim on a problem outlives it if it dies (renewed while it lives)",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.remote_cache_lease; }, parse_positive>()},
    {.name = "budget_ms",
     .flag = "--budget-ms",
     .value_name = "X",
     .expects = "a positive number of milliseconds",
     .default_text = "60",
     .help = "time spent timing each choice after its warm-up",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.measure.budget_ms; }, parse_positive>()},
    {.name = "warmup",
     .flag = "--warmup",
     .value_name = "N",
     .expects = "an integer from 0 to 1000",
     .default_text = "2",
     .help = "untimed runs of each choice before timing",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.measure.warmup_runs; }, parse_int<0, 1000>>()},
    {.name = "min_repeats",
     .flag = "--min-repeats",
     .value_name = "N",
     .expects = "an integer from 1 to 1000000",
     .default_text = "5",
     .help = "timed runs of each choice at least, whatever the budget",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.measure.min_repeats; }, parse_int<1, 1000000>>()},
    {.name = "max_repeats",
     .flag = "--max-repeats",
     .value_name = "N",
     .expects = "an integer from 1 to 1000000",
     .default_text = "1000",
     .help = "timed runs of each choice at most",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.measure.max_repeats; }, parse_int<1, 1000000>>()},
    {.name = "cold_cache",
     .flag = "--warm-cache",
     .switch_value = "0",
     .expects = "0 or 1",
     .default_text = "1",
     .help = "time with cold caches, the inputs evicted before every timed run (--warm-cache: warm)",
     .flag_help = "time with warm caches: the inputs stay cached between timed runs (by default they are evicted "
                  "before each)",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.measure.cold_cache; }, parse_switch>()},
    {.name = "cuda_graph",
     .flag = "--cuda-graph",
     .switch_value = "1",
     .expects = "0 or 1",
     .default_text = "0",
     .help = "GPU: time replays of a captured CUDA graph (small kernels, where launch gaps dominate)",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.measure.cuda_graph; }, parse_switch>()},
    {.name = "noise_margin",
     .flag = "--noise-margin",
     .value_name = "X",
     .expects = "a number from 0 to 1",
     .default_text = "0.01",
     .help = "largest relative difference two medians may have and still tie",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.measure.noise_margin; }, parse_fraction>()},
    {.name = "early_stop",
     .flag = "--early-stop",
     .value_name = "X",
     .expects = "a number from 0 to 1",
     .default_text = "0.2",
     .help = "GPU: stop timing a choice when the fastest of its first 2 x min-repeats runs is over 1 + X times the "
             "best median so far (it cannot win; cheaper tuning); 0 times every choice for the whole budget",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.measure.early_stop; }, parse_fraction>()},
    {.name = "isolation",
     .flag = "--isolation",
     .env = "GEMMTUNE_ISOLATION",
     .value_name = "I",
     .expects = "process or none",
     .default_text = "process",
     .help = "where choices are measured: process, in worker processes, so that a choice that crashes or hangs "
             "is rejected (stage crash or timeout) and tuning goes on; none, in this process, for debugging (a "
             "crash ends it)",
     .uses = kMeasuring,
     .field = field<[](TuneOptions& o) -> auto& { return o.isolation; }, parse_isolation>()},
    {.name = "choice_timeout",
     .flag = "--choice-timeout",
     .env = "GEMMTUNE_CHOICE_TIMEOUT",
     .value_name = "S",
     .expects = "a positive number of seconds (at most 604800)",
     .default_text = "120 on the CPU, 60 on a GPU",
     .help = "the most wall-clock seconds one choice may take to build, and again to verify and be timed; over "
             "it the choice is rejected at stage timeout",
     .uses = kMeasuring,
     .field = choice_timeout_field()},
    {.name = "failpoints",
     .env = "GEMMTUNE_FAILPOINTS",
     .expects = "rules BACKEND/CHOICE_GLOB=ACTION separated by ';' (actions: crash, abort, hang, throw, wrong, nan, "
                "slow:MS, illegal_address)",
     .default_text = "none",
     .help = "faults injected into chosen choices' runs, to test fault handling",
     .field = field<[](TuneOptions& o) -> auto& { return o.failpoints; }, parse_path>()},
    {.name = "worker",
     .env = "GEMMTUNE_WORKER",
     .expects = "the path of the gemmtune-worker executable",
     .default_text = "the program itself (the CLI), else gemmtune-worker beside the library",
     .help = "the measuring worker executable, for programs that embed the library",
     .field = checked_only<parse_executable_path>(),
     .process_wide = true},
    {.name = "log",
     .env = "GEMMTUNE_LOG",
     .expects = "error, warn, info or debug",
     .default_text = "warn",
     .help = "diagnostics written to stderr",
     .field = checked_only<parse_log_level>(),
     .process_wide = true},
};


// Words of `text` wrapped to lines of at most `width`, each after `indent`.
std::string wrap(std::string_view text, std::size_t first_column, std::size_t indent, std::size_t width) {
  std::string out;
  std::size_t column = first_column;
  bool line_start = true;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    if (!line_start && column + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
      line_start = true;
    }
    if (!line_start) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    line_start = false;
  }
  return out;
}

}  // namespace

std::span<const Option> all() { return kOptions; }

const Option* find(std::string_view name_or_key) {
  for (const auto& o : kOptions)
    if (o.name == name_or_key || (!o.capi_key.empty() && o.capi_key == name_or_key)) return &o;
  return nullptr;
}

const Option* find_flag(std::string_view flag) {
  for (const auto& o : kOptions)
    if (!o.flag.empty() && o.flag == flag) return &o;
  return nullptr;
}

std::string names() {
  std::string out;
  for (const auto& o : kOptions) {
    if (o.process_wide) continue;
    if (!out.empty()) out += ", ";
    out += o.name;
  }
  return out;
}

void set(TuneOptions& options, const Option& option, std::string_view text, std::string_view source) {
  if (!option.field.set(options, text))
    throw ConfigError(std::string(source) + " expects " + std::string(option.expects) + ", got '" +
                      std::string(text) + "'");
}

std::optional<std::string_view> apply_environment(TuneOptions& options, const Option& option) {
  if (option.env.empty()) return std::nullopt;
  const std::string variable(option.env);
  auto text = env::get(variable.c_str());
  if (!text) return std::nullopt;
  set(options, option, *text, option.env);
  return option.env;
}

TuneOptions with_environment(TuneOptions options) {
  for (const auto& option : kOptions)
    if (!option.env.empty() && !option.field.is_set(options)) apply_environment(options, option);
  return options;
}

std::string to_json() {
  nlohmann::json table = nlohmann::json::array();
  for (const auto& o : kOptions)
    table.push_back({{"name", o.name},
                     {"flag", o.flag},
                     {"env", o.env},
                     {"capi_key", o.capi_key},
                     {"value_name", o.value_name},
                     {"switch_value", o.switch_value},
                     {"expects", o.expects},
                     {"default", o.default_text},
                     {"help", o.help},
                     {"process_wide", o.process_wide}});
  return table.dump();
}

std::string flag_help(unsigned uses) {
  constexpr std::size_t kHelpColumn = 25, kWidth = 79;
  std::string out;
  for (const auto& o : kOptions) {
    if (o.flag.empty() || (o.uses & uses) == 0) continue;
    std::string head = "  " + std::string(o.flag);
    if (!o.value_name.empty()) head += " " + std::string(o.value_name);
    std::string text(o.flag_help.empty() ? o.help : o.flag_help);
    if (!o.value_name.empty()) text += ": " + std::string(o.expects) + " (default " + std::string(o.default_text) + ")";
    if (!o.env.empty()) text += "; also " + std::string(o.env);
    if (head.size() + 1 > kHelpColumn) {
      out += head + "\n" + std::string(kHelpColumn, ' ');
    } else {
      out += head + std::string(kHelpColumn - head.size(), ' ');
    }
    out += wrap(text, kHelpColumn, kHelpColumn, kWidth) + "\n";
  }
  return out;
}

std::string environment_names() {
  std::string out;
  for (const auto& o : kOptions) {
    if (o.env.empty()) continue;
    if (!out.empty()) out += ", ";
    out += o.env;
  }
  return out;
}

}  // namespace gemmtune::option_table
