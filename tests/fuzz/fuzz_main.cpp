// gemmtune_fuzz: a small seeded mutation fuzzer of the readers that take
// hostile bytes (the .npy reader, the command-line and shape parser, the
// workload reader, the record importer), bounded in time and iterations so
// that it runs in CI as ordinary ctest cases.
//
// Why not libFuzzer: the project is built with GCC; libFuzzer needs the whole
// library compiled a second time with clang's -fsanitize=fuzzer, which on
// CI's two cores costs more than the fuzzing itself, and its runs are not
// reproducible by count. This fuzzer is deterministic for a seed (the same
// inputs in the same order on every machine), builds with the project's own
// toolchain, and knows each format's tokens (a dictionary per target) to make
// up for having no coverage feedback.
//
// A target either accepts an input or rejects it with its documented error
// (NpyError, UsageError, InvalidProblemError, StoreError, files::FileError);
// anything else (another exception, a crash, a hang past the watchdog, a
// broken invariant such as a round trip that changes the data) is a failure.
// The failing input is written to --crash-dir (crash-<target>-<hash>) and
// the run exits 1. Such inputs go into tests/fuzz/corpus/<target>/ once
// fixed: every file there is replayed by ctest (--replay).
//
//   gemmtune_fuzz --target npy|args|workload|records [--seconds S]
//                 [--iterations N] [--seed N] [--corpus DIR] [--crash-dir DIR]
//   gemmtune_fuzz --target T --replay FILE
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "gemmtune/errors.h"
#include "npy.h"
#include "store/record_json.h"
#include "store/record_validation.h"
#include "store/store.h"
#include "util/files.h"
#include "workload.h"

namespace gemmtune::fuzz {

// Where targets write their files; main() removes it.
extern std::string g_scratch;

namespace {

namespace fs = std::filesystem;

// A broken invariant: the input was accepted but the result is wrong.
struct Violation {
  std::string what;
};

[[noreturn]] void violated(const std::string& what) { throw Violation{what}; }

// ---- the crash path: written from a signal handler ---------------------

const std::string* g_input = nullptr;
char g_crash_file[4096] = {};

void on_fatal_signal(int sig) {
  static const char kMessage[] = "gemmtune_fuzz: fatal signal; input saved to ";
  (void)!::write(2, kMessage, sizeof kMessage - 1);
  (void)!::write(2, g_crash_file, std::strlen(g_crash_file));
  (void)!::write(2, "\n", 1);
  if (g_input != nullptr) {
    FILE* f = std::fopen(g_crash_file, "wb");  // not async-signal-safe, but the process is dying anyway
    if (f != nullptr) {
      std::fwrite(g_input->data(), 1, g_input->size(), f);
      std::fclose(f);
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_handlers() {
  static std::vector<char> alt_stack(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt_stack.data();
  ss.ss_size = alt_stack.size();
  ::sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_ONSTACK;
  for (int sig : {SIGSEGV, SIGABRT, SIGFPE, SIGILL, SIGBUS, SIGALRM}) ::sigaction(sig, &sa, nullptr);
}

// ---- deterministic randomness -----------------------------------------

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
  bool chance(int one_in) { return below(static_cast<std::size_t>(one_in)) == 0; }

 private:
  std::uint64_t state_;
};

// Numbers that break parsers: limits of every integer width, huge and tiny
// floats, NaN and infinities as text.
const std::vector<std::string> kNumbers = {
    "0",          "-0",         "1",           "-1",          "2",         "7",
    "127",        "128",        "255",         "256",         "65535",     "65536",
    "2147483647", "2147483648", "-2147483649", "4294967295",  "4294967296", "9223372036854775807",
    "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999999",
    "1e308",      "1e309",      "-1e309",      "1e-320",      "5e-324",    "nan",
    "inf",        "-inf",       "NaN",         "0x10",        "1.5",       "1e3",
    "3.4028235e38", "65504",    "65520",       "1099511627776"};

std::string mutate(std::string input, const std::vector<std::string>& dictionary,
                   const std::vector<std::string>& corpus, Rng& rng) {
  constexpr std::size_t kMaxBytes = 1 << 16;
  const int steps = 1 + static_cast<int>(rng.below(4));
  for (int step = 0; step < steps; ++step) {
    const std::size_t at = rng.below(input.size() + 1);
    switch (rng.below(10)) {
      case 0:  // flip a bit
        if (!input.empty()) input[rng.below(input.size())] ^= static_cast<char>(1u << rng.below(8));
        break;
      case 1:  // a random or interesting byte
        if (!input.empty()) {
          static const char kBytes[] = {'\0', '\xff', '\x7f', '\x80', '\n', ' ', ',', '-', '\'', '"', '(', '{', '[', '='};
          input[rng.below(input.size())] = rng.chance(2) ? static_cast<char>(rng.next()) : kBytes[rng.below(sizeof kBytes)];
        }
        break;
      case 2:
      case 3:  // a token of the format
        input.insert(at, dictionary[rng.below(dictionary.size())]);
        break;
      case 4: {  // replace a run of digits with a nasty number
        std::size_t d = input.find_first_of("0123456789", at);
        if (d == std::string::npos) d = input.find_first_of("0123456789");
        if (d == std::string::npos) {
          input.insert(at, kNumbers[rng.below(kNumbers.size())]);
          break;
        }
        std::size_t e = input.find_first_not_of("0123456789.", d);
        if (e == std::string::npos) e = input.size();
        input.replace(d, e - d, kNumbers[rng.below(kNumbers.size())]);
        break;
      }
      case 5:  // delete a range
        if (!input.empty()) input.erase(at, 1 + rng.below(std::min<std::size_t>(input.size() - std::min(at, input.size()), 64) + 1));
        break;
      case 6: {  // duplicate a range (repetition breaks counters and nesting)
        if (input.empty()) break;
        const std::size_t from = rng.below(input.size());
        const std::string piece = input.substr(from, 1 + rng.below(64));
        const std::size_t times = rng.chance(8) ? 1 + rng.below(2000) : 1;
        std::string repeated;
        for (std::size_t t = 0; t < times && repeated.size() < kMaxBytes; ++t) repeated += piece;
        input.insert(at, repeated);
        break;
      }
      case 7:  // random bytes
        for (std::size_t n = 1 + rng.below(8); n > 0; --n) input.insert(input.begin() + static_cast<long>(at), static_cast<char>(rng.next()));
        break;
      case 8: {  // cross over with another corpus entry
        const std::string& other = corpus[rng.below(corpus.size())];
        const std::size_t from = rng.below(other.size() + 1);
        input = input.substr(0, at) + other.substr(from, rng.below(other.size() - from + 1));
        break;
      }
      case 9:  // truncate
        input.resize(at);
        break;
    }
    if (input.size() > kMaxBytes) input.resize(kMaxBytes);
  }
  return input;
}

// ---- the targets ---------------------------------------------------------

struct Target {
  std::string name;
  std::vector<std::string> dictionary;
  std::function<void(const std::string&, std::uint64_t iteration)> run;
};

const std::string& scratch() {
  if (g_scratch.empty()) {
    std::string pattern = (fs::temp_directory_path() / "gemmtune-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    g_scratch = pattern;
  }
  return g_scratch;
}

void put_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// .npy: parse in memory; on success the data size matches the header and a
// round trip through format_npy gives the same array. Every 8th input also
// goes through the file reader, which must agree with the in-memory one.
void run_npy(const std::string& input, std::uint64_t iteration) {
  std::optional<cli::NpyArray> parsed;
  try {
    parsed = cli::parse_npy(input, "fuzz.npy");
  } catch (const cli::NpyError&) {
  }
  if (parsed) {
    const auto& a = *parsed;
    if (a.data.size() != static_cast<std::size_t>(a.element_count()) * cli::npy_type_size(a.type))
      violated("data size differs from shape x element size");
    const std::string again = cli::format_npy(a.type, a.shape, a.fortran_order, a.data.data());
    const cli::NpyArray b = cli::parse_npy(again, "round-trip.npy");
    if (b.shape != a.shape || b.type != a.type || b.fortran_order != a.fortran_order || b.data != a.data)
      violated("format_npy(parse_npy(x)) does not read back the same array");
  }
  if (iteration % 8 == 0) {
    const std::string file = scratch() + "/input.npy";
    put_file(file, input);
    std::optional<cli::NpyArray> read;
    try {
      read = cli::read_npy(file);
    } catch (const cli::NpyError&) {
    }
    if (read.has_value() != parsed.has_value()) violated("read_npy and parse_npy disagree on whether the file is valid");
    if (read && read->data != parsed->data) violated("read_npy and parse_npy read different data");
  }
}

// Words, one per line (so a word may hold spaces and quotes).
std::vector<std::string> lines_of(const std::string& input) {
  std::vector<std::string> words;
  std::string word;
  for (char c : input) {
    if (c == '\n') {
      words.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

// The command line: parse; a parsed tune/explain problem must build or be
// refused as invalid; the tuning flags must make TuneOptions. The first
// line alone also goes through the shape parser.
void run_args(const std::string& input, std::uint64_t) {
  const std::vector<std::string> words = lines_of(input);
  if (!words.empty()) (void)cli::parse_shape(words[0]);
  cli::Invocation inv;
  try {
    inv = cli::parse_command_line(words);
  } catch (const cli::UsageError&) {
    return;
  }
  (void)cli::to_tune_options(inv.tune);
  if ((inv.command == cli::Command::tune && !inv.workload) || inv.command == cli::Command::explain) {
    try {
      Problem p = cli::build_problem(inv.problem);
      validate(p);  // build_problem validated it: must not throw now
    } catch (const InvalidProblemError&) {
    }
  }
}

// A workload: parse every line over a command line; each parsed problem
// builds or is refused as invalid.
void run_workload(const std::string& input, std::uint64_t) {
  static const cli::Invocation base = cli::parse_command_line({"tune", "--workload", "fuzz.txt", "--db", "unused.db"});
  std::vector<cli::WorkloadItem> items;
  try {
    items = cli::parse_workload(input, "fuzz.txt", base);
  } catch (const cli::UsageError&) {
    return;
  }
  for (const auto& item : items) {
    try {
      (void)cli::build_problem(item.invocation.problem);
    } catch (const InvalidProblemError&) {
    }
  }
}

// Records: each element of "records" parses and validates, or is refused
// with a StoreError; every 16th input goes through the whole importer into a
// scratch database, after which every imported record must read back valid.
void run_records(const std::string& input, std::uint64_t iteration) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(input);
  } catch (const nlohmann::json::exception&) {  // as the importer: not JSON (or a number beyond double)
    document = nullptr;
  }
  if (document.is_object() && document.contains("records") && document["records"].is_array()) {
    for (const auto& entry : document["records"]) {
      try {
        store::validate_record(store::record_from_json(entry));
      } catch (const StoreError&) {
      }
    }
  }
  if (iteration % 16 != 0) return;
  const std::string file = scratch() + "/import.json";
  put_file(file, input);
  static std::unique_ptr<store::Store> db = store::Store::open(scratch() + "/fuzz.db", {});
  try {
    db->import_json(file);
  } catch (const StoreError&) {
  }
  for (const auto& row : db->list()) {
    auto record = db->lookup(row.key);
    if (!record) violated("an imported record does not read back: " + row.key.substr(0, 80));
    try {
      store::validate_record(*record);
    } catch (const StoreError& e) {
      violated(std::string("an imported record reads back invalid: ") + e.what());
    }
  }
  if (iteration % 256 == 0) db->clear();
}

std::vector<Target> targets() {
  return {
      {"npy",
       {"\x93NUMPY", std::string("\x01\x00", 2), std::string("\x02\x00", 2), std::string("\x03\x00", 2), "{", "}", "'descr'",
        "'fortran_order'", "'shape'", ": ", ", ", "'<f4'", "'<f8'", "'<f2'", "'|i1'", "'|u1'", "'<i4'", "'<i8'", "'>f4'",
        "'|O'", "'<c8'", "[('a', '<f4')]", "True", "False", "(", ")", "(3, 4)", "(0, 1099511627776)", "()", "(1,)", "L",
        "\n", "                "},
       run_npy},
      {"args",
       {"tune", "run", "explain", "cache", "backends", "help", "mm", "addmm", "bmm", "baddbmm", "int_mm", "mixed_mm",
        "scaled_mm", "8x8x8", "0x5x1099511627776", "2x3x4x5", "x", "--dtype", "--out-dtype", "--layout", "--bias",
        "--alpha", "--beta", "--activation", "--device", "--scale-a", "--scale-b", "--broadcast-b", "--allow-tf32",
        "--backends", "--search-space", "--db", "--threads", "--verify", "--budget-ms", "--json", "--csv", "--quiet",
        "--workload", "--a", "--b", "--out", "--", "=", "f32", "bf16", "f16", "f64", "i8", "u8", "i32", "f8e4m3", "f8e5m2",
        "nn", "tt", "row", "full", "none", "relu", "gelu", "gelu_tanh", "silu", "cuda:99999999999", "cpu", "exhaustive",
        "per_channel", "BLAS,CPP", "\n"},
       run_args},
      {"workload",
       {"mm ", "addmm ", "bmm ", "int_mm ", "scaled_mm ", "8x16x8", "1x1x1x1", " --layout nt", " --dtype bf16",
        " --activation relu", " --bias full", " --alpha 0", " --beta 0", " --backends BLAS", " --db x.db",
        " --workload", " --json", "#", "'", "\"", "\n", "\r\n", "\t"},
       run_workload},
      {"records",
       {"{", "}", "[", "]", ",", ":", "\"records\"", "\"format\"", "\"gemmtune-tuning-records\"", "\"version\"",
        "\"key\"", "\"problem\"", "\"winner\"", "\"choices\"", "\"timing\"", "\"median_us\"", "\"m\"", "\"k\"",
        "\"row_stride\"", "\"alpha\"", "\"nan\"", "\"inf\"", "null", "true", "false", "\"\\u0000\"", "\"\\ud800\"",
        "1e400", "-1", "[[[[[[[[", "]]]]]]]]"},
       run_records},
  };
}

// Seeds: the corpus folder's files, or built-in ones when it has none.
std::vector<std::string> built_in_seeds(const std::string& target) {
  if (target == "npy") {
    std::vector<float> data{1, 2, 3, 4, 5, 6};
    return {cli::format_npy(cli::NpyType::f32, {2, 3}, false, data.data()),
            cli::format_npy(cli::NpyType::i8, {3}, true, "abc"), cli::format_npy(cli::NpyType::f64, {}, false, "12345678")};
  }
  if (target == "args")
    return {"tune\nmm\n8x8x8\n--dtype\nbf16", "run\nmm\n--a\nA.npy\n--b\nB.npy\n--out\nC.npy", "cache\nshow\n12",
            "explain\naddmm\n4x4x4\n--bias\nfull\n--alpha\n0.5"};
  if (target == "workload") return {"mm 8x8x8\naddmm 4x8x16 --activation relu  # c\n", "bmm 2x3x4x5 --layout tt\n"};
  return {R"({"format": "gemmtune-tuning-records", "version": 1, "records": []})"};
}

std::vector<std::string> load_corpus(const std::string& dir, const std::string& target) {
  std::vector<std::string> out;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());  // the same order everywhere: runs reproduce
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    out.push_back(text.str());
  }
  if (out.empty()) out = built_in_seeds(target);
  return out;
}

std::string hex_hash(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

// Runs one input; returns the failure, or "" when the target took it.
std::string run_one(const Target& t, const std::string& input, std::uint64_t iteration) {
  try {
    t.run(input, iteration);
    return {};
  } catch (const Violation& v) {
    return "broken invariant: " + v.what;
  } catch (const std::exception& e) {
    return std::string("unexpected exception: ") + e.what();
  } catch (...) {
    return "unexpected non-standard exception";
  }
}

int main_impl(int argc, char** argv) {
  std::string target_name, corpus_dir, crash_dir = ".", replay;
  double seconds = 10;
  std::uint64_t iterations = 1000000, seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--target") target_name = value();
    else if (a == "--seconds") seconds = std::stod(value());
    else if (a == "--iterations") iterations = std::stoull(value());
    else if (a == "--seed") seed = std::stoull(value());
    else if (a == "--corpus") corpus_dir = value();
    else if (a == "--crash-dir") crash_dir = value();
    else if (a == "--replay") replay = value();
    else throw std::runtime_error("unknown argument " + a);
  }
  const std::vector<Target> all = targets();
  auto found = std::find_if(all.begin(), all.end(), [&](const Target& t) { return t.name == target_name; });
  if (found == all.end()) throw std::runtime_error("--target must be npy, args, workload or records");
  const Target& target = *found;
  install_handlers();

  if (!replay.empty()) {
    std::ifstream in(replay, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + replay);
    std::ostringstream text;
    text << in.rdbuf();
    const std::string input = text.str();
    g_input = &input;
    std::snprintf(g_crash_file, sizeof g_crash_file, "%s/replayed-crash", crash_dir.c_str());
    ::alarm(30);
    const std::string failure = run_one(target, input, 0);  // iteration 0 also takes the file paths
    ::alarm(0);
    if (!failure.empty()) {
      std::cerr << "gemmtune_fuzz: " << replay << ": " << failure << "\n";
      return 1;
    }
    std::cout << "gemmtune_fuzz: " << replay << ": handled\n";
    return 0;
  }

  const std::vector<std::string> corpus = load_corpus(corpus_dir, target.name);
  Rng rng(seed);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  std::uint64_t done = 0;
  // Every corpus entry as it is first, then mutations of them.
  for (; done < iterations; ++done) {
    if ((done & 63) == 0 && std::chrono::steady_clock::now() > deadline) break;
    const std::string input = done < corpus.size() ? corpus[done]
                                                   : mutate(corpus[rng.below(corpus.size())], target.dictionary, corpus, rng);
    g_input = &input;
    std::snprintf(g_crash_file, sizeof g_crash_file, "%s/crash-%s-%s", crash_dir.c_str(), target.name.c_str(),
                  hex_hash(input).c_str());
    ::alarm(10);  // a hang is a failure too (SIGALRM saves the input)
    const std::string failure = run_one(target, input, done);
    ::alarm(0);
    if (!failure.empty()) {
      put_file(g_crash_file, input);
      std::cerr << "gemmtune_fuzz: target " << target.name << ", seed " << seed << ", iteration " << done << ": "
                << failure << "\ninput saved to " << g_crash_file << "\n";
      return 1;
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "gemmtune_fuzz: target " << target.name << ", seed " << seed << ": " << done << " inputs in " << elapsed
            << " s, " << corpus.size() << " corpus entries, no failure\n";
  return 0;
}

}  // namespace

std::string g_scratch;

}  // namespace gemmtune::fuzz

int main(int argc, char** argv) {
  int code = 2;
  try {
    code = gemmtune::fuzz::main_impl(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "gemmtune_fuzz: " << e.what() << "\n";
  }
  std::error_code ec;
  if (!gemmtune::fuzz::g_scratch.empty()) std::filesystem::remove_all(gemmtune::fuzz::g_scratch, ec);
  return code;
}
