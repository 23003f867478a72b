#include "args.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>

#include "core/option_table.h"
#include "gemmtune/errors.h"

namespace gemmtune::cli {
namespace {

// Where a flag makes sense. A workload line is its own context: it may set
// problem and tuning flags but not output flags, which belong to the run.
enum Context : unsigned {
  kBackends = 1u << 0,
  kTune = 1u << 1,
  kRun = 1u << 2,
  kExplain = 1u << 3,
  kCache = 1u << 4,
  kLine = 1u << 5,
};

constexpr unsigned kProblemFlag = kTune | kExplain | kLine;        // describe the problem in flags
constexpr unsigned kProblemOrRun = kTune | kRun | kExplain | kLine; // also meaningful for run
constexpr unsigned kTuning = kTune | kRun | kLine;                 // measuring and caching

struct Flag {
  std::string_view name;
  bool takes_value;
  unsigned contexts;
};

constexpr Flag kFlags[] = {
    {"--json", false, kBackends | kTune | kRun | kExplain | kCache},
    {"--csv", false, kTune | kRun},
    {"--quiet", false, kTune | kRun},
    {"--workload", false, kTune},  // its value is optional: handled specially
    {"--devices", true, kTune},
    {"--dtype", true, kProblemOrRun},
    {"--out-dtype", true, kProblemOrRun},
    {"--layout", true, kProblemFlag},
    {"--bias", true, kProblemOrRun},  // a kind, or for run a file
    {"--alpha", true, kProblemOrRun},
    {"--beta", true, kProblemOrRun},
    {"--activation", true, kProblemOrRun},
    {"--device", true, kProblemOrRun},
    {"--scale-a", true, kProblemOrRun},  // a kind, or for run a file
    {"--scale-b", true, kProblemOrRun},
    {"--broadcast-b", false, kProblemFlag},
    {"--allow-tf32", false, kProblemOrRun},
    {"--lda", true, kProblemFlag},
    {"--ldb", true, kProblemFlag},
    {"--ldc", true, kProblemFlag},
    {"--alignment", true, kProblemFlag},
    // Tuning options come from the option table (option_flag below).
    {"--a", true, kRun},
    {"--b", true, kRun},
    {"--out", true, kRun},
};

// The contexts of a tuning option's flag, from the table's Use bits.
unsigned contexts_of(unsigned uses) {
  unsigned contexts = 0;
  if (uses & option_table::kMeasuring) contexts |= kTuning;
  if (uses & option_table::kEnumerating) contexts |= kExplain;
  if (uses & option_table::kCatalogue) contexts |= kCache;
  return contexts;
}

// The problem, output and file flags above, then the option table's flags.
std::optional<Flag> find_flag(std::string_view name) {
  for (const auto& f : kFlags)
    if (f.name == name) return f;
  if (const auto* option = option_table::find_flag(name))
    return Flag{option->flag, !option->value_name.empty(), contexts_of(option->uses)};
  return std::nullopt;
}

unsigned context_of(Command c) {
  switch (c) {
    case Command::backends: return kBackends;
    case Command::tune: return kTune;
    case Command::run: return kRun;
    case Command::explain: return kExplain;
    case Command::cache: return kCache;
    case Command::help: return 0;
  }
  return 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Why a flag does not fit a command, with a pointer to what does.
std::string misplaced_flag_message(std::string_view flag, unsigned context, Command command) {
  std::string where = context == kLine ? std::string("a workload line")
                                       : "`gemmtune " + std::string(command_name(command)) + "`";
  std::string msg = std::string(flag) + " does not apply to " + where;
  if (context == kRun && flag == "--layout")
    msg += ": run takes each operand's layout from its .npy file (C order = n, Fortran order = t)";
  else if (context == kRun && flag == "--broadcast-b")
    msg += ": for bmm/baddbmm pass a 2-D B.npy to share one B across the batch";
  else if (context == kLine && (flag == "--json" || flag == "--csv" || flag == "--quiet"))
    msg += ": output flags go on the command line and apply to the whole workload";
  else if (context == kLine && flag == "--workload")
    msg += ": workloads do not nest";
  else if (context == kExplain)
    msg += ": explain lists choices without building or timing them";
  return msg;
}

[[noreturn]] void usage_fail(const std::string& message, Command command) {
  throw UsageError(message, usage_hint(command));
}

double parse_number(std::string_view flag, const std::string& value, Command command) {
  const char* begin = value.c_str();
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(begin, &end);
  if (value.empty() || end != begin + value.size() || !std::isfinite(v))
    usage_fail(std::string(flag) + " expects a finite number, got '" + value + "'", command);
  // ERANGE with a finite result is an underflow: a subnormal double (1e-310)
  // is a value like any other; one that became 0 (1e-400) is not what was
  // written.
  if (errno == ERANGE && v == 0)
    usage_fail(std::string(flag) + " " + value + " is too small for a double: it would be 0", command);
  return v;
}

// A tuning option's flag: checked by the option's own parser now, so that a
// bad value is a usage error before any work, and kept as text.
void apply_option_flag(Invocation& inv, const option_table::Option& option, const std::string& value) {
  const std::string text = option.value_name.empty() ? std::string(option.switch_value) : value;
  TuneOptions scratch;
  try {
    option_table::set(scratch, option, text, option.flag);
  } catch (const ConfigError& e) {
    usage_fail(e.what(), inv.command);
  }
  inv.tune.values[std::string(option.name)] = text;
}

std::string dtype_names() { return "f32, f64, f16, bf16, i8, u8, i32, f8e4m3, f8e5m2"; }

// Applies one flag. `context` is a single Context bit.
void apply_flag(Invocation& inv, std::string_view flag, const std::string& value, unsigned context) {
  const Command cmd = inv.command;
  ProblemArgs& p = inv.problem;
  const bool run = context == kRun;
  if (const auto* option = option_table::find_flag(flag)) {
    apply_option_flag(inv, *option, value);
  } else if (flag == "--json" || flag == "--csv") {
    OutputFormat f = flag == "--json" ? OutputFormat::json : OutputFormat::csv;
    if (inv.format != OutputFormat::table && inv.format != f) usage_fail("--json and --csv cannot be combined", cmd);
    inv.format = f;
  } else if (flag == "--quiet") {
    inv.quiet = true;
  } else if (flag == "--devices") {
    if (value.empty()) usage_fail("--devices expects a list of devices (cuda:0,cuda:1) or the word all", cmd);
    inv.devices = value;
  } else if (flag == "--dtype" || flag == "--out-dtype") {
    auto d = parse_dtype(value);
    if (!d) usage_fail(std::string(flag) + " expects a dtype (" + dtype_names() + "), got '" + value + "'", cmd);
    (flag == "--dtype" ? p.dtype : p.out_dtype) = *d;
  } else if (flag == "--layout") {
    std::string l = lower(value);
    if (l.size() != 2 || (l[0] != 'n' && l[0] != 't') || (l[1] != 'n' && l[1] != 't'))
      usage_fail("--layout expects nn, nt, tn or tt (first letter A, second B; t = stored transposed), got '" +
                     value + "'",
                 cmd);
    p.transpose_a = l[0] == 't';
    p.transpose_b = l[1] == 't';
  } else if (flag == "--bias") {
    if (run) {
      inv.files.bias = value;
    } else {
      auto b = parse_bias_kind(value);
      if (!b) usage_fail("--bias expects none, row or full, got '" + value + "'", cmd);
      p.bias = *b;
    }
  } else if (flag == "--scale-a" || flag == "--scale-b") {
    if (run) {
      (flag == "--scale-a" ? inv.files.scale_a : inv.files.scale_b) = value;
    } else {
      auto s = parse_scale_kind(value);
      if (!s) usage_fail(std::string(flag) + " expects none, per_tensor or per_channel, got '" + value + "'", cmd);
      (flag == "--scale-a" ? p.scale_a : p.scale_b) = *s;
    }
  } else if (flag == "--alpha") {
    p.alpha = parse_number(flag, value, cmd);
  } else if (flag == "--beta") {
    p.beta = parse_number(flag, value, cmd);
  } else if (flag == "--activation") {
    auto a = parse_activation(value);
    if (!a) usage_fail("--activation expects none, relu, gelu, gelu_tanh or silu, got '" + value + "'", cmd);
    p.activation = *a;
  } else if (flag == "--device") {
    auto d = parse_device(value);
    if (!d) usage_fail("--device expects cpu, cuda or cuda:N, got '" + value + "'", cmd);
    p.device = *d;
    p.device_given = true;
  } else if (flag == "--broadcast-b") {
    p.broadcast_b = true;
  } else if (flag == "--allow-tf32") {
    p.allow_tf32 = true;
  } else if (flag == "--lda" || flag == "--ldb" || flag == "--ldc") {
    std::int64_t ld = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ld);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || ld < 1)
      usage_fail(std::string(flag) + " expects a positive number of elements, got '" + value + "'", cmd);
    (flag == "--lda" ? p.lda : flag == "--ldb" ? p.ldb : p.ldc) = ld;
  } else if (flag == "--alignment") {
    int bytes = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), bytes);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || bytes < 1 || bytes > 4096 ||
        (bytes & (bytes - 1)) != 0)
      usage_fail("--alignment expects a power of two from 1 to 4096 (bytes), got '" + value + "'", cmd);
    p.alignment = bytes;
  } else if (flag == "--a") {
    inv.files.a = value;
  } else if (flag == "--b") {
    inv.files.b = value;
  } else if (flag == "--out") {
    inv.files.out = value;
  }
}

bool names_a_file(std::string_view flag, unsigned context) {
  if (flag == "--a" || flag == "--b" || flag == "--out" || flag == "--db") return true;
  return context == kRun && (flag == "--bias" || flag == "--scale-a" || flag == "--scale-b");
}

bool looks_like_flag(const std::string& arg) {
  // "-3x4x5" is a (bad) SHAPE, not a flag: let the shape parser explain it.
  return arg.size() >= 2 && arg[0] == '-' && !std::isdigit(static_cast<unsigned char>(arg[1]));
}

// Walks the words after the command name: flags are applied, the rest are
// returned as positionals in order.
std::vector<std::string> apply_words(Invocation& inv, const std::vector<std::string>& words, std::size_t start,
                                     unsigned context) {
  std::vector<std::string> positionals;
  std::map<std::string, std::string> files_named;
  bool flags_done = false;
  for (std::size_t i = start; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (flags_done || !looks_like_flag(word)) {
      positionals.push_back(word);
      continue;
    }
    if (word == "--") {
      flags_done = true;
      continue;
    }
    std::string name = word;
    std::optional<std::string> inline_value;
    if (auto eq = word.find('='); eq != std::string::npos && word.rfind("--", 0) == 0) {
      name = word.substr(0, eq);
      inline_value = word.substr(eq + 1);
    }
    const std::optional<Flag> flag = find_flag(name);
    if (!flag)
      usage_fail("unknown option '" + name + "' for `gemmtune " + std::string(command_name(inv.command)) + "`",
                 inv.command);
    if ((flag->contexts & context) == 0) usage_fail(misplaced_flag_message(name, context, inv.command), inv.command);
    if (name == "--workload") {
      // Two workloads would be ambiguous: which one, or both in what order?
      if (inv.workload) usage_fail("--workload given twice; give one workload file per run", inv.command);
      inv.workload = true;
      std::optional<std::string> named;
      if (inline_value) named = *inline_value;
      else if (i + 1 < words.size() && !looks_like_flag(words[i + 1])) named = words[++i];
      // An empty value is an unset variable in a script (--workload "$FILE"),
      // not a request for the built-in preset, which is the flag alone.
      if (named && named->empty())
        usage_fail("--workload was given an empty file name; name a file, or give --workload alone for the "
                   "built-in preset",
                   inv.command);
      if (named) inv.workload_file = *named;
      continue;
    }
    std::string value;
    if (flag->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else {
        if (i + 1 >= words.size() || (looks_like_flag(words[i + 1]) && words[i + 1].rfind("--", 0) == 0))
          usage_fail(name + " needs a value", inv.command);
        value = words[++i];
      }
    } else if (inline_value) {
      usage_fail(name + " takes no value", inv.command);
    }
    // A file named twice is a typo whose result depends on which one wins:
    // reading one file and overwriting the other. Refuse it.
    if (names_a_file(name, context)) {
      auto [seen, inserted] = files_named.emplace(name, value);
      if (!inserted && seen->second != value)
        usage_fail(name + " given twice ('" + seen->second + "' and '" + value + "'); give it once", inv.command);
    }
    apply_flag(inv, name, value, context);
  }
  return positionals;
}

Op parse_op_or_fail(const std::string& word, Command cmd) {
  auto op = parse_op(word);
  if (!op)
    usage_fail("unknown OP '" + word + "'; expected one of mm, addmm, bmm, baddbmm, int_mm, mixed_mm, scaled_mm",
               cmd);
  return *op;
}

Shape parse_shape_or_fail(const std::string& word, Op op, Command cmd) {
  auto shape = parse_shape(word);
  if (!shape)
    usage_fail("bad SHAPE '" + word +
                   "': expected MxNxK or BxMxNxK with non-negative integers (e.g. 128x768x768, 8x64x64x32)",
               cmd);
  if (shape->has_batch && !is_batched(op))
    usage_fail("SHAPE '" + word + "' has a batch but " + std::string(to_string(op)) +
                   " is not batched; use MxNxK, or bmm/baddbmm for BxMxNxK",
               cmd);
  return *shape;
}

// OP SHAPE of tune/explain and of a workload line.
void take_op_and_shape(Invocation& inv, const std::vector<std::string>& positionals, const std::string& what) {
  const Command cmd = inv.command;
  if (positionals.empty()) usage_fail(what + " needs OP and SHAPE (e.g. mm 128x768x768)", cmd);
  inv.problem.op = parse_op_or_fail(positionals[0], cmd);
  if (positionals.size() < 2) usage_fail(what + " needs a SHAPE after the op (MxNxK or BxMxNxK)", cmd);
  inv.problem.shape = parse_shape_or_fail(positionals[1], *inv.problem.op, cmd);
  if (positionals.size() > 2) usage_fail("unexpected argument '" + positionals[2] + "' after SHAPE", cmd);
}

// The rows and columns of each operand's storage order, for --lda/--ldb/--ldc:
// a leading dimension must step over a whole row (row-major) or column.
void check_leading_dimension(const std::optional<std::int64_t>& ld, const char* flag, bool transposed,
                             std::int64_t rows, std::int64_t cols, const char* what, Command cmd) {
  if (!ld) return;
  const std::int64_t least = transposed ? rows : cols;
  if (*ld < least)
    usage_fail(std::string(flag) + " " + std::to_string(*ld) + " is smaller than " + std::to_string(least) + ", the " +
                   (transposed ? "column of a column-major " : "row of a row-major ") + what,
               cmd);
}

void check_problem_flags(const Invocation& inv) {
  const ProblemArgs& p = inv.problem;
  if (p.broadcast_b && p.op && !is_batched(*p.op))
    usage_fail("--broadcast-b applies only to bmm and baddbmm", inv.command);
  if (p.shape) {
    const Shape& s = *p.shape;
    check_leading_dimension(p.lda, "--lda", p.transpose_a, s.m, s.k, "A (M x K)", inv.command);
    check_leading_dimension(p.ldb, "--ldb", p.transpose_b, s.k, s.n, "B (K x N)", inv.command);
    check_leading_dimension(p.ldc, "--ldc", false, s.m, s.n, "C (M x N)", inv.command);
  }
}

// An operand with leading dimension `ld` in its storage order; batches stay
// `ld` times the other extent apart (a broadcast batch stride of 0 is kept).
void apply_leading_dimension(MatrixDesc& d, const std::optional<std::int64_t>& ld, bool transposed) {
  if (!ld) return;
  if (transposed) {
    d.col_stride = *ld;
    if (d.batch_stride != 0) d.batch_stride = *ld * d.cols;
  } else {
    d.row_stride = *ld;
    if (d.batch_stride != 0) d.batch_stride = *ld * d.rows;
  }
}

}  // namespace

UsageError::UsageError(const std::string& message, std::string hint)
    : std::runtime_error(message), hint_(std::move(hint)) {}

std::string_view command_name(Command c) {
  switch (c) {
    case Command::help: return "help";
    case Command::backends: return "backends";
    case Command::tune: return "tune";
    case Command::run: return "run";
    case Command::explain: return "explain";
    case Command::cache: return "cache";
  }
  return "?";
}

std::optional<Command> parse_command(std::string_view s) {
  for (Command c : {Command::help, Command::backends, Command::tune, Command::run, Command::explain, Command::cache})
    if (command_name(c) == s) return c;
  return std::nullopt;
}

std::optional<Shape> parse_shape(std::string_view text) {
  std::vector<std::int64_t> dims;
  std::size_t pos = 0;
  while (true) {
    std::size_t end = text.find_first_of("xX", pos);
    std::string_view part = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || v < 0) return std::nullopt;
    dims.push_back(v);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  Shape s;
  if (dims.size() == 3) {
    s.m = dims[0], s.n = dims[1], s.k = dims[2];
  } else if (dims.size() == 4) {
    s.batch = dims[0], s.m = dims[1], s.n = dims[2], s.k = dims[3];
    s.has_batch = true;
  } else {
    return std::nullopt;
  }
  return s;
}

DType default_dtype(Op op) {
  switch (op) {
    case Op::int_mm: return DType::i8;
    case Op::scaled_mm: return DType::f8e4m3;
    default: return DType::f32;
  }
}

ProblemSpec to_problem_spec(const ProblemArgs& p) {
  ProblemSpec s;
  s.op = p.op.value_or(Op::mm);
  if (p.shape) {
    s.batch = p.shape->batch;
    s.m = p.shape->m;
    s.n = p.shape->n;
    s.k = p.shape->k;
  }
  s.dtype = p.dtype.value_or(default_dtype(s.op));
  s.out_dtype = p.out_dtype;
  s.transpose_a = p.transpose_a;
  s.transpose_b = p.transpose_b;
  s.bias = p.bias;
  s.alpha = p.alpha;
  s.beta = p.beta;
  s.activation = p.activation;
  s.scale_a = p.scale_a;
  s.scale_b = p.scale_b;
  s.allow_tf32 = p.allow_tf32;
  s.broadcast_b = p.broadcast_b;
  s.device = p.device;
  s.alignment = p.alignment;
  return s;
}

Problem to_problem(const ProblemArgs& p) {
  Problem problem = make_problem(to_problem_spec(p));
  apply_leading_dimension(problem.a, p.lda, p.transpose_a);
  apply_leading_dimension(problem.b, p.ldb, p.transpose_b);
  apply_leading_dimension(problem.c, p.ldc, false);
  return problem;
}

TuneOptions to_tune_options(const TuneArgs& t) {
  TuneOptions o;
  for (const auto& [name, text] : t.values) {
    const auto* option = option_table::find(name);
    option_table::set(o, *option, text, option->flag);
  }
  return o;
}

Invocation parse_command_line(const std::vector<std::string>& args) {
  Invocation inv;
  if (args.empty()) throw UsageError("no command given", usage_hint(Command::help));
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      inv.command = Command::help;
      inv.help_topic = parse_command(args[0]);
      if (inv.help_topic == Command::help) inv.help_topic.reset();
      return inv;
    }
  }
  auto command = parse_command(args[0]);
  if (!command)
    throw UsageError("unknown command '" + args[0] + "'; expected backends, tune, run, explain, cache or help",
                     usage_hint(Command::help));
  inv.command = *command;

  if (inv.command == Command::help) {
    if (args.size() > 2) usage_fail("help takes at most one command name", Command::help);
    if (args.size() == 2) {
      inv.help_topic = parse_command(args[1]);
      if (!inv.help_topic) usage_fail("no help for unknown command '" + args[1] + "'", Command::help);
    }
    return inv;
  }

  std::vector<std::string> positionals = apply_words(inv, args, 1, context_of(inv.command));
  const Command cmd = inv.command;
  switch (cmd) {
    case Command::backends:
      if (!positionals.empty()) usage_fail("unexpected argument '" + positionals[0] + "'", cmd);
      break;
    case Command::tune:
      if (inv.workload) {
        if (!positionals.empty())
          usage_fail("tune --workload takes no OP or SHAPE (got '" + positionals[0] + "'); put problems in the file",
                     cmd);
      } else {
        take_op_and_shape(inv, positionals, "tune");
        if (!inv.devices.empty())
          usage_fail("--devices spreads the problems of a workload over devices (tune --workload FILE --devices "
                     "LIST); one problem takes --device",
                     cmd);
      }
      break;
    case Command::explain:
      take_op_and_shape(inv, positionals, "explain");
      break;
    case Command::run:
      if (positionals.empty()) usage_fail("run needs an OP (e.g. gemmtune run mm --a A.npy --b B.npy --out C.npy)", cmd);
      inv.problem.op = parse_op_or_fail(positionals[0], cmd);
      if (positionals.size() > 1)
        usage_fail("unexpected argument '" + positionals[1] + "': run takes its shape from the .npy files", cmd);
      if (inv.files.a.empty()) usage_fail("run needs --a A.npy", cmd);
      if (inv.files.b.empty()) usage_fail("run needs --b B.npy", cmd);
      if (inv.files.out.empty()) usage_fail("run needs --out C.npy", cmd);
      break;
    case Command::cache: {
      if (positionals.empty())
        usage_fail("cache needs an action: list, show ID, export FILE, import FILE, clear, stats, push or pull", cmd);
      const std::string& action = positionals[0];
      bool needs_argument = false;
      if (action == "list") inv.cache_action = CacheAction::list;
      else if (action == "show") inv.cache_action = CacheAction::show, needs_argument = true;
      else if (action == "export") inv.cache_action = CacheAction::export_file, needs_argument = true;
      else if (action == "import") inv.cache_action = CacheAction::import_file, needs_argument = true;
      else if (action == "clear") inv.cache_action = CacheAction::clear;
      else if (action == "stats") inv.cache_action = CacheAction::stats;
      else if (action == "push") inv.cache_action = CacheAction::push;
      else if (action == "pull") inv.cache_action = CacheAction::pull;
      else
        usage_fail("unknown cache action '" + action +
                       "'; expected list, show, export, import, clear, stats, push or pull",
                   cmd);
      if (needs_argument) {
        if (positionals.size() < 2)
          usage_fail("cache " + action + " needs " + (action == "show" ? "a record ID or key prefix" : "a FILE"), cmd);
        inv.cache_argument = positionals[1];
      }
      const std::size_t expected = needs_argument ? 2 : 1;
      if (positionals.size() > expected) usage_fail("unexpected argument '" + positionals[expected] + "'", cmd);
      if (inv.format == OutputFormat::json &&
          (inv.cache_action == CacheAction::export_file || inv.cache_action == CacheAction::import_file ||
           inv.cache_action == CacheAction::push || inv.cache_action == CacheAction::pull))
        usage_fail("--json does not apply to cache " + action + " (the export file is JSON already)", cmd);
      if (inv.format == OutputFormat::json && inv.cache_action == CacheAction::clear)
        usage_fail("--json does not apply to cache clear (it prints one line: how many records it removed)", cmd);
      if (inv.cache_action != CacheAction::push && inv.cache_action != CacheAction::pull)
        for (const auto& [name, text] : inv.tune.values)
          if (name.rfind("remote_cache", 0) == 0)
            usage_fail(std::string(option_table::find(name)->flag) + " applies to cache push and cache pull; cache " +
                           action + " reads the local file only",
                       cmd);
      break;
    }
    case Command::help: break;
  }
  check_problem_flags(inv);
  return inv;
}

Invocation parse_workload_line(const std::vector<std::string>& words, const Invocation& base) {
  Invocation inv = base;
  inv.command = Command::tune;
  inv.workload = false;
  inv.workload_file.clear();
  inv.problem.op.reset();
  inv.problem.shape.reset();
  std::vector<std::string> positionals = apply_words(inv, words, 0, kLine);
  take_op_and_shape(inv, positionals, "a workload line");
  check_problem_flags(inv);
  return inv;
}

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::string current;
  bool in_word = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '#') break;
    if (c == '\'' || c == '"') {
      std::size_t close = line.find(c, i + 1);
      if (close == std::string_view::npos) throw UsageError("unterminated quote", usage_hint(Command::tune));
      current.append(line.substr(i + 1, close - i - 1));
      in_word = true;
      i = close;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words.push_back(current);
      current.clear();
      in_word = false;
    } else {
      current += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(current);
  return words;
}

std::string usage_hint(Command c) {
  switch (c) {
    case Command::backends: return "usage: gemmtune backends [--json]  (see gemmtune help backends)";
    case Command::tune:
      return "usage: gemmtune tune OP SHAPE [options] | gemmtune tune --workload [FILE]  (see gemmtune help tune)";
    case Command::run:
      return "usage: gemmtune run OP --a A.npy --b B.npy [--bias BIAS.npy] --out C.npy [options]  (see gemmtune help run)";
    case Command::explain: return "usage: gemmtune explain OP SHAPE [options]  (see gemmtune help explain)";
    case Command::cache:
      return "usage: gemmtune cache list|show ID|export FILE|import FILE|clear|stats|push|pull [--db PATH] [--json]  "
             "(see gemmtune help cache)";
    case Command::help: return "usage: gemmtune COMMAND [options]; commands: backends, tune, run, explain, cache, help (see gemmtune --help)";
  }
  return "";
}

namespace {

constexpr std::string_view kProblemHelp = R"(problem options:
  OP                     mm, addmm, bmm, baddbmm, int_mm, mixed_mm, scaled_mm
  SHAPE                  MxNxK, or BxMxNxK for bmm/baddbmm (A is MxK, B is KxN)
  --dtype D              A's dtype: f32 f64 f16 bf16 i8 u8 f8e4m3 f8e5m2
                         (default f32; i8 for int_mm; f8e4m3 for scaled_mm)
  --out-dtype D          output dtype (default: the op's, e.g. i32 for int_mm)
  --layout nn|nt|tn|tt   first letter A, second B; t = stored transposed
                         (column-major). nn.Linear's x.W^T is nt
  --bias none|row|full   addmm/baddbmm bias (default row)
  --alpha X, --beta X    C = act(alpha*A.B + beta*bias)
  --activation A         none, relu, gelu (exact erf), gelu_tanh (PyTorch's approximate="tanh"), silu
  --scale-a/--scale-b K  none, per_tensor, per_channel (scaled_mm, mixed_mm)
  --broadcast-b          bmm/baddbmm: one B for every batch (batch stride 0)
  --allow-tf32           f32 may use tf32 tensor cores (GPU)
  --device cpu|cuda[:N]  where the problem runs (default cpu)
  --lda N, --ldb N, --ldc N
                         leading dimensions where the operands are not dense:
                         the row stride of a row-major operand, the column
                         stride of a column-major one (in elements)
  --alignment BYTES      guaranteed alignment of every pointer (default 64)
)";

constexpr std::string_view kRunProblemHelp = R"(problem options (shapes, layouts and the bias kind come from the files):
  --a A.npy, --b B.npy   the operands; --out C.npy the result
  --bias BIAS.npy        addmm/baddbmm (required), mixed_mm/scaled_mm (optional)
  --scale-a SA.npy       scaled_mm: f32, 1 value or M values
  --scale-b SB.npy       scaled_mm and mixed_mm: f32, 1 value or N values
  --dtype D              convert the inputs to D (f32 f64 f16 bf16 i8 u8 f8e4m3 f8e5m2)
  --out-dtype D          output dtype (default: the op's)
  --alpha X, --beta X    C = act(alpha*A.B + beta*bias)
  --activation A         none, relu, gelu (exact erf), gelu_tanh (PyTorch's approximate="tanh"), silu
  --allow-tf32           f32 may use tf32 tensor cores (GPU)
  --device cpu|cuda[:N]  where it runs; cuda copies the data to the GPU
)";

constexpr std::string_view kOutputHelp = R"(output options:
  --json                 one JSON object per problem (a JSON array for a workload)
  --csv                  one CSV row per choice, with a header line
  --quiet                no progress lines
)";

// The tuning options' lines come from the option table.
std::string tuning_help() {
  return "tuning options:\n" +
         option_table::flag_help(option_table::kMeasuring) + std::string(kOutputHelp);
}

}  // namespace

std::string help_text(std::optional<Command> topic) {
  std::string out;
  if (!topic) {
    out += R"(gemmtune: pick the fastest verified GEMM kernel among the backends you enable

usage:
  gemmtune backends [--json]
  gemmtune tune OP SHAPE [problem options] [tuning options]
  gemmtune tune --workload [FILE|default] [--devices LIST|all] [options]
  gemmtune run OP --a A.npy --b B.npy [--bias BIAS.npy] --out C.npy [options]
  gemmtune explain OP SHAPE [problem options] [--backends LIST]
  gemmtune cache list|show ID|export FILE|import FILE|clear|stats|push|pull [--db PATH] [--json]
  gemmtune help COMMAND
  gemmtune --version

exit codes: 0 success, 2 bad usage or an invalid problem, 3 no valid choices
(nothing in the enabled backends can serve the problem), 1 internal error.

)";
    out += kProblemHelp;
    out += tuning_help();
    out += "\nenvironment: " + option_table::environment_names() +
           "\n(precedence: flag, then environment, then default; a malformed value is an error)\n";
    return out;
  }
  switch (*topic) {
    case Command::backends:
      out += usage_hint(Command::backends) + "\n\n";
      out += "Lists every built-in backend in registration order: its device, whether it\n"
             "is available here (or why not), its version and capabilities, whether it is\n"
             "in the default enabled set, and whether the current environment\n"
             "(GEMMTUNE_BACKENDS) enables it.\n";
      break;
    case Command::tune:
      out += usage_hint(Command::tune) + "\n\n";
      out += "Measures every choice of the enabled backends for one problem (or takes the\n"
             "stored result) and prints Inductor's AUTOTUNE block: one row per choice with\n"
             "its time, percent of the best and configuration, rejections with their stage\n"
             "and reason, and the selected choice.\n\n"
             "--workload FILE tunes one problem per line of FILE, written like the command\n"
             "line without `gemmtune tune` (e.g. `mm 128x768x768 --dtype bf16 --layout nt`;\n"
             "# starts a comment). Options on the command line apply to every line; a line\n"
             "may override them. --workload alone (or `--workload default`) runs a built-in\n"
             "preset of transformer projections. A summary table ends the run. With --json\n"
             "a workload prints one JSON array of result objects.\n\n"
             "--devices cuda:0,cuda:1 (or --devices all) spreads a workload's problems over\n"
             "those devices, one measuring worker each, all at once; every problem is tuned\n"
             "once, on whichever device takes it (it overrides a line's --device cuda:N;\n"
             "a problem on --device cpu is refused).\n"
             "Identical GPUs share stored results. A device that fails is reported and its\n"
             "problems go to the others.\n\n";
      out += kProblemHelp;
      out += tuning_help();
      break;
    case Command::run:
      out += usage_hint(Command::run) + "\n\n";
      out += "Computes one GEMM on .npy data with the tuned selection and writes C.npy.\n"
             "Shapes come from the files: A is MxK, B is KxN (BxMxK and BxKxN for\n"
             "bmm/baddbmm; a 2-D B is shared by every batch). C order is row-major (n),\n"
             "Fortran order column-major (t). --bias: 1-D = row bias, 2-D = full bias.\n"
             "--scale-a/--scale-b take f32 files (1 value = per_tensor, M or N values =\n"
             "per_channel). Inputs are converted to --dtype (default: A's file dtype; fp8\n"
             "for float files with scaled_mm) with round-to-nearest-even; the output is\n"
             "written in its dtype, float32 where NumPy has none (bf16, fp8).\n"
             "Accepted files: '<f4' '<f8' '<f2' '|i1' '|u1' '<i4' '<i8', format 1.0-3.0.\n\n";
      out += kRunProblemHelp;
      out += tuning_help();
      break;
    case Command::explain:
      out += usage_hint(Command::explain) + "\n\n";
      out += "Lists the enabled set, each enabled backend's choices (name, description)\n"
             "or its rejection, and the disabled backends that would serve the problem.\n"
             "Nothing is built or timed. Exit code 3 when no enabled backend offers a\n"
             "choice.\n\n";
      out += kProblemHelp;
      out += "  --backends LIST, --search-space S, --threads N, --json as for tune\n";
      break;
    case Command::cache:
      out += usage_hint(Command::cache) + "\n\n";
      out += "  list            one line per stored record (id, problem, winner, time)\n"
             "  show ID         a whole record: every choice's outcome (ID or key prefix)\n"
             "  export FILE     every record to a portable JSON file\n"
             "  import FILE     records from such a file (same keys are replaced)\n"
             "  clear           removes every record\n"
             "  stats           size, record count, wins by backend\n"
             "  push            every local record to the remote cache (--remote-cache URL)\n"
             "  pull            every record of the remote cache into the local file, each\n"
             "                  validated as an imported record is\n\n";
      out += "options:\n" + option_table::flag_help(option_table::kCatalogue);
      break;
    case Command::help: out += help_text(std::nullopt); break;
  }
  return out;
}

}  // namespace gemmtune::cli
