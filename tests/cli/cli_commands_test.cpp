// End-to-end tests of the gemmtune executable: exit codes, --json, the
// cache, the fallback switch, explain, backends and workloads. Each test runs
// the real binary in its own folder with its own GEMMTUNE_CACHE_DIR. Shapes
// are tiny and budgets short so the suite stays fast.
#include <algorithm>
#include <filesystem>

#include "cli_process.h"
#include "gemmtune/tuner.h"

namespace gemmtune::cli::testing {
namespace {

#define EXPECT_CONTAINS(text, needle) EXPECT_NE(std::string(text).find(needle), std::string::npos) << (text)

using nlohmann::json;

class Cli : public CliTest {
 protected:
  // Available backends by name, from `gemmtune backends --json`.
  std::vector<std::string> available_backends() {
    ProcessResult r = gemmtune({"backends", "--json"});
    json j = json_of(r);
    std::vector<std::string> out;
    if (j.is_null()) return out;
    for (const auto& b : j["backends"])
      if (b["available"].get<bool>()) out.push_back(b["name"]);
    return out;
  }
};

// Flags that keep a real tuning short.
const std::vector<std::string> kQuick = {"--budget-ms", "2"};

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_F(Cli, HelpExitsZeroAndListsEveryCommand) {
  ProcessResult r = gemmtune({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* cmd : {"backends", "tune", "run", "explain", "cache"}) EXPECT_CONTAINS(r.out, cmd);
  ProcessResult tune_help = gemmtune({"help", "tune"});
  EXPECT_EQ(tune_help.exit_code, 0);
  EXPECT_CONTAINS(tune_help.out, "--workload");
}

TEST_F(Cli, VersionPrintsTheLibraryVersionAndExitsZero) {
  ProcessResult r = gemmtune({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "gemmtune " + std::string(version()) + "\n");
  ProcessResult extra = gemmtune({"--version", "x"});
  EXPECT_EQ(extra.exit_code, 2);
  EXPECT_CONTAINS(extra.err, "--version takes nothing after it (got 'x')");
}

TEST_F(Cli, NoCommandIsBadUsageWithAUsageLine) {
  ProcessResult r = gemmtune({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "usage: gemmtune");
}

TEST_F(Cli, BadShapeExits2NamingTheShapeWithAUsageHint) {
  for (const char* bad : {"12x", "-3x4x5", "axbxc"}) {
    ProcessResult r = gemmtune({"tune", "mm", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_CONTAINS(r.err, std::string("bad SHAPE '") + bad + "'");
    EXPECT_CONTAINS(r.err, "usage: gemmtune tune");
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST_F(Cli, UnknownFlagExits2NamingTheFlag) {
  ProcessResult r = gemmtune({"tune", "mm", "8x8x8", "--turbo"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "'--turbo'");
  EXPECT_CONTAINS(r.err, "usage: gemmtune tune");
}

TEST_F(Cli, BadNumberExits2NamingTheFlag) {
  ProcessResult r = gemmtune({"tune", "mm", "8x8x8", "--threads", "lots"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--threads expects an integer");
}

TEST_F(Cli, UnknownBackendExits2ListingTheValidNames) {
  ProcessResult r = gemmtune({"tune", "mm", "8x8x8", "--backends", "BLAS,NOPE"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "NOPE");
  for (const char* name : {"REFERENCE", "BLAS", "ONEDNN", "CUBLAS"}) EXPECT_CONTAINS(r.err, name);
}

TEST_F(Cli, UnknownBackendInTheEnvironmentExits2) {
  ProcessResult r = gemmtune({"tune", "mm", "8x8x8"}, {{"GEMMTUNE_BACKENDS", "blas,warp_drive"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "warp_drive");
  EXPECT_CONTAINS(r.err, "GEMMTUNE_BACKENDS");
}

TEST_F(Cli, InvalidProblemExits2NamingTheField) {
  ProcessResult r = gemmtune({"tune", "mm", "8x8x8", "--dtype", "i8"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "a.dtype");
  EXPECT_CONTAINS(r.err, "int_mm");
}

TEST_F(Cli, IntMmWithOnlyBlasExits3WithBlasReasonAndAHint) {
  ProcessResult r = gemmtune(concat({"tune", "int_mm", "16x16x16", "--backends", "BLAS"}, kQuick));
  EXPECT_EQ(r.exit_code, 3) << r.both();
  EXPECT_CONTAINS(r.err, "no valid choices for int_mm");
  EXPECT_CONTAINS(r.err, "enabled backends: BLAS");
  // BLAS's own line gives its catalogued "not for me" reason.
  const auto blas_line = r.err.find("  BLAS");
  ASSERT_NE(blas_line, std::string::npos) << r.err;
  EXPECT_CONTAINS(r.err.substr(blas_line, r.err.find('\n', blas_line) - blas_line), "enumerate/unsupported_");
  // The hint names disabled backends that would serve int_mm: at least the
  // exact REFERENCE, and the optimised CPU backends that are registered and
  // serve it.
  const auto hint = r.err.find("hint: disabled backends that offer choices");
  ASSERT_NE(hint, std::string::npos) << r.err;
  const std::string hint_line = r.err.substr(hint, r.err.find('\n', hint) - hint);
  EXPECT_CONTAINS(hint_line, "REFERENCE");
  const auto available = available_backends();
  bool names_optimised = false;
  for (const char* fast : {"ONEDNN", "CPP"})
    if (std::count(available.begin(), available.end(), fast)) names_optimised |= hint_line.find(fast) != std::string::npos;
  const bool any_optimised = std::count(available.begin(), available.end(), "ONEDNN") +
                                 std::count(available.begin(), available.end(), "CPP") >
                             0;
  if (any_optimised) {
    EXPECT_TRUE(names_optimised) << hint_line;
  }
}

TEST_F(Cli, NoValidChoicesWithJsonCarriesTheReportInTheObject) {
  ProcessResult r = gemmtune(concat({"tune", "int_mm", "16x16x16", "--backends", "BLAS", "--json"}, kQuick));
  EXPECT_EQ(r.exit_code, 3);
  json j = json_of(r);
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(j["selected"].is_null());
  EXPECT_EQ(j["error"]["kind"], "no_valid_choices");
  EXPECT_EQ(j["error"]["exit_code"], 3);
  EXPECT_CONTAINS(j["error"]["message"].get<std::string>(), "BLAS");
  bool reference_hint = false;
  for (const auto& h : j["error"]["disabled_would_serve"]) reference_hint |= h["backend"] == "REFERENCE";
  EXPECT_TRUE(reference_hint) << j["error"].dump();
  ASSERT_EQ(j["backends"].size(), 1u);
  EXPECT_EQ(j["backends"][0]["backend"], "BLAS");
  EXPECT_EQ(j["backends"][0]["status"], "rejected");
  EXPECT_EQ(j["backends"][0]["stage"], "enumerate");
}

TEST_F(Cli, ScaledMmOnCpuByDefaultExits3WithAHintNamingReference) {
  ProcessResult r = gemmtune(concat({"tune", "scaled_mm", "16x16x16"}, kQuick));
  EXPECT_EQ(r.exit_code, 3) << r.both();
  const auto hint = r.err.find("hint:");
  ASSERT_NE(hint, std::string::npos) << r.err;
  EXPECT_CONTAINS(r.err.substr(hint), "REFERENCE");
}

TEST_F(Cli, TuneJsonHasTheContractFields) {
  ProcessResult r = gemmtune(concat({"tune", "mm", "24x40x32", "--layout", "nt", "--backends", "BLAS,REFERENCE", "--json"}, kQuick));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json_of(r);
  ASSERT_TRUE(j.is_object());
  const json& p = j["problem"];
  EXPECT_EQ(p["op"], "mm");
  EXPECT_EQ(p["m"], 24);
  EXPECT_EQ(p["n"], 40);
  EXPECT_EQ(p["k"], 32);
  EXPECT_EQ(p["layout"], "nt");
  EXPECT_EQ(p["dtypes"]["a"], "f32");
  EXPECT_EQ(p["device"], "cpu");
  EXPECT_EQ(p["epilogue"]["activation"], "none");
  EXPECT_CONTAINS(p["text"].get<std::string>(), "mm f32 24x40x32 nt");
  ASSERT_TRUE(j["selected"].is_object());
  const std::string winner = j["selected"]["backend"];
  EXPECT_TRUE(winner == "BLAS" || winner == "REFERENCE") << winner;
  EXPECT_GT(j["selected"]["time_us"].get<double>(), 0);
  ASSERT_GE(j["choices"].size(), 2u);
  int selected = 0;
  for (const auto& c : j["choices"]) {
    for (const char* key : {"backend", "name", "status", "time_us", "stage", "reason", "message"})
      EXPECT_TRUE(c.contains(key)) << key << " missing: " << c.dump();
    const std::string status = c["status"];
    EXPECT_TRUE(status == "ok" || status == "selected" || status == "rejected") << status;
    if (status == "selected") {
      ++selected;
      EXPECT_EQ(c["backend"], j["selected"]["backend"]);
      EXPECT_EQ(c["name"], j["selected"]["choice"]);
    }
  }
  EXPECT_EQ(selected, 1);
  EXPECT_EQ(j["cache_hit"], false);
  EXPECT_EQ(j["fallback"], false);
  EXPECT_GT(j["tuning_seconds"].get<double>(), 0);
  EXPECT_EQ(j["enabled"], (json{"REFERENCE", "BLAS"}));
}

TEST_F(Cli, TuneTableMirrorsInductorsAutotuneBlock) {
  ProcessResult r = gemmtune(concat({"tune", "mm", "24x40x32", "--backends", "BLAS"}, kQuick));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("AUTOTUNE mm(24x32, 32x40) f32 nn\n", 0), 0u) << r.out;
  EXPECT_CONTAINS(r.out, "100.0%");
  EXPECT_CONTAINS(r.out, "SingleProcess AUTOTUNE benchmarking takes");
  EXPECT_CONTAINS(r.out, "(cache miss)");
  EXPECT_CONTAINS(r.out, "selected: BLAS ");
  // Not a terminal: one plain progress line per choice, prefixed.
  EXPECT_CONTAINS(r.err, "gemmtune: [1/1] BLAS ");
}

TEST_F(Cli, QuietSilencesProgressButNotTheResult) {
  ProcessResult r = gemmtune(concat({"tune", "mm", "8x8x8", "--backends", "BLAS", "--quiet"}, kQuick));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_CONTAINS(r.out, "AUTOTUNE");
}

TEST_F(Cli, CsvHasAHeaderAndOneRowPerChoice) {
  ProcessResult r = gemmtune(concat({"tune", "mm", "8x8x8", "--backends", "BLAS,REFERENCE", "--csv"}, kQuick));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("problem,backend,choice,status,time_us", 0), 0u) << r.out;
  EXPECT_CONTAINS(r.out, ",BLAS,");
  EXPECT_CONTAINS(r.out, ",REFERENCE,reference_exact,");
  EXPECT_CONTAINS(r.out, ",selected,");
}

TEST_F(Cli, SecondIdenticalTuneIsACacheHitWithoutRemeasuring) {
  const std::vector<std::string> args = concat({"tune", "mm", "32x48x64", "--backends", "BLAS,REFERENCE", "--json"}, kQuick);
  ProcessResult first = gemmtune(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  json a = json_of(first);
  EXPECT_EQ(a["cache_hit"], false);
  EXPECT_CONTAINS(first.err, "gemmtune: [1/");  // it measured
  EXPECT_TRUE(std::filesystem::exists(path("cache/tuning.db")));

  ProcessResult second = gemmtune(args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  json b = json_of(second);
  EXPECT_EQ(b["cache_hit"], true);
  EXPECT_EQ(b["selected"], a["selected"]);
  // Nothing was measured again: no progress, the stored record is the old one.
  EXPECT_EQ(second.err.find("gemmtune: ["), std::string::npos) << second.err;
  EXPECT_EQ(b["created_at"], a["created_at"]);
  EXPECT_EQ(b["recorded_tuning_seconds"], a["recorded_tuning_seconds"]);
  EXPECT_LT(b["tuning_seconds"].get<double>(), 0.5);

  // The human form says so too.
  ProcessResult table = gemmtune(concat({"tune", "mm", "32x48x64", "--backends", "BLAS,REFERENCE"}, kQuick));
  EXPECT_CONTAINS(table.out, "(cache hit; tuned ");
}

TEST_F(Cli, NoCacheNeitherReadsNorWritesTheDatabase) {
  const std::vector<std::string> args = concat({"tune", "mm", "8x8x8", "--backends", "BLAS", "--no-cache", "--json"}, kQuick);
  EXPECT_EQ(json_of(gemmtune(args))["cache_hit"], false);
  EXPECT_EQ(json_of(gemmtune(args))["cache_hit"], false);
  EXPECT_FALSE(std::filesystem::exists(path("cache/tuning.db")));
}

TEST_F(Cli, DbFlagChoosesTheDatabaseFile) {
  ProcessResult r = gemmtune(concat({"tune", "mm", "8x8x8", "--backends", "BLAS", "--db", path("my.db")}, kQuick));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(path("my.db")));
  EXPECT_FALSE(std::filesystem::exists(path("cache/tuning.db")));
}

// CUBLAS cannot serve a CPU problem, but BLAS (the CPU's library) can.
const std::vector<std::string> kCpuProblemForCublas = {"tune", "mm", "16x16x16", "--backends", "CUBLAS", "--json",
                                                       "--budget-ms", "2"};

TEST_F(Cli, FallbackFlagUsesTheLibraryBackendLoudly) {
  ProcessResult r = gemmtune(concat(kCpuProblemForCublas, {"--fallback-to-library"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json_of(r);
  EXPECT_EQ(j["fallback"], true);
  EXPECT_EQ(j["selected"]["backend"], "BLAS");
  EXPECT_FALSE(j["fallback_reason"].get<std::string>().empty());
  EXPECT_CONTAINS(r.err, "gemmtune: warning:");
  EXPECT_CONTAINS(r.err, "FALLBACK");
}

TEST_F(Cli, FallbackEnvironmentSwitchUsesTheLibraryBackendLoudly) {
  ProcessResult r = gemmtune(kCpuProblemForCublas, {{"GEMMTUNE_FALLBACK_TO_LIBRARY", "1"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json_of(r);
  EXPECT_EQ(j["fallback"], true);
  EXPECT_EQ(j["selected"]["backend"], "BLAS");
  EXPECT_CONTAINS(r.err, "gemmtune: warning:");
}

TEST_F(Cli, FallbackLineIsLoudInTheTable) {
  ProcessResult r = gemmtune({"tune", "mm", "16x16x16", "--backends", "CUBLAS", "--budget-ms", "2", "--fallback-to-library"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "FALLBACK: the enabled backends (CUBLAS) produced no valid choice");
}

TEST_F(Cli, WithoutFallbackTheSameProblemExits3) {
  ProcessResult r = gemmtune({"tune", "mm", "16x16x16", "--backends", "CUBLAS", "--budget-ms", "2"});
  EXPECT_EQ(r.exit_code, 3) << r.both();
  EXPECT_CONTAINS(r.err, "CUBLAS");
  const auto hint = r.err.find("hint:");
  ASSERT_NE(hint, std::string::npos) << r.err;
  EXPECT_CONTAINS(r.err.substr(hint), "BLAS");
}

TEST_F(Cli, ExplainListsChoicesAndRejectionsWithoutTiming) {
  ProcessResult r = gemmtune({"explain", "int_mm", "16x16x16", "--backends", "BLAS,REFERENCE"});
  ASSERT_EQ(r.exit_code, 0) << r.both();
  EXPECT_CONTAINS(r.out, "EXPLAIN int_mm(16x16, 16x16)");
  EXPECT_CONTAINS(r.out, "enabled backends: REFERENCE, BLAS");
  EXPECT_CONTAINS(r.out, "reference_exact");
  EXPECT_CONTAINS(r.out, "rejected  enumerate/unsupported_");
  EXPECT_EQ(r.err.find("gemmtune: ["), std::string::npos) << "explain must not time anything: " << r.err;

  ProcessResult j = gemmtune({"explain", "int_mm", "16x16x16", "--backends", "BLAS,REFERENCE", "--json"});
  json e = json_of(j);
  ASSERT_TRUE(e.is_object());
  bool blas_rejected = false;
  for (const auto& b : e["backends"]) blas_rejected |= b["backend"] == "BLAS" && b["status"] == "rejected";
  EXPECT_TRUE(blas_rejected) << e.dump(2);
  ASSERT_EQ(e["choices"].size(), 1u);
  EXPECT_EQ(e["choices"][0]["status"], "offered");
}

TEST_F(Cli, ExplainExits3WhenNoEnabledBackendOffersAChoice) {
  ProcessResult r = gemmtune({"explain", "int_mm", "16x16x16", "--backends", "BLAS"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_CONTAINS(r.out, "BLAS");
  EXPECT_CONTAINS(r.out, "hint: disabled backends that would serve this problem:");
  EXPECT_CONTAINS(r.out, "REFERENCE");
  EXPECT_CONTAINS(r.err, "no enabled backend offers a choice");
  // --json carries the same `error` member as tune's: null when fine.
  json j = json_of(gemmtune({"explain", "int_mm", "16x16x16", "--backends", "BLAS", "--json"}));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["error"]["kind"], "no_valid_choices");
  EXPECT_EQ(j["error"]["exit_code"], 3);
  EXPECT_TRUE(json_of(gemmtune({"explain", "int_mm", "16x16x16", "--backends", "BLAS,REFERENCE", "--json"}))["error"]
                  .is_null());
}

TEST_F(Cli, BackendsListsEveryBuiltInBackend) {
  ProcessResult r = gemmtune({"backends", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json_of(r);
  std::vector<std::string> names;
  std::vector<std::string> expected_default;
  for (const auto& b : j["backends"]) {
    names.push_back(b["name"]);
    for (const char* key : {"device", "available", "version", "capabilities", "default_enabled", "enabled"})
      EXPECT_TRUE(b.contains(key)) << key;
    if (!b["available"].get<bool>()) {
      EXPECT_FALSE(b["unavailable_reason"].get<std::string>().empty()) << b.dump();
      EXPECT_FALSE(b["default_enabled"].get<bool>());
    }
    if (b["name"] == "REFERENCE") {
      EXPECT_FALSE(b["default_enabled"].get<bool>());
    }
    if (b["default_enabled"].get<bool>()) expected_default.push_back(b["name"]);
    EXPECT_EQ(b["enabled"], b["default_enabled"]) << "no GEMMTUNE_BACKENDS: the default set is enabled";
  }
  for (const char* name : {"REFERENCE", "BLAS", "ONEDNN", "CUBLAS", "CUBLASLT"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  EXPECT_EQ(names.front(), "REFERENCE");  // registration order
  EXPECT_EQ(j["enabled"], json(expected_default));

  ProcessResult table = gemmtune({"backends"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_CONTAINS(table.out, "BACKEND");
  EXPECT_CONTAINS(table.out, "enabled now:");
}

TEST_F(Cli, BackendsShowsWhatTheEnvironmentEnables) {
  ProcessResult r = gemmtune({"backends", "--json"}, {{"GEMMTUNE_BACKENDS", "blas,reference"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json_of(r);
  EXPECT_EQ(j["enabled"], (json{"REFERENCE", "BLAS"}));
  EXPECT_EQ(j["enabled_source"], "GEMMTUNE_BACKENDS");
  ProcessResult bad = gemmtune({"backends"}, {{"GEMMTUNE_BACKENDS", "nope"}});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_CONTAINS(bad.err, "nope");
  EXPECT_CONTAINS(bad.out, "REFERENCE");  // the list is still shown
}

TEST_F(Cli, CacheListShowExportClearImportStatsRoundTrip) {
  for (const char* shape : {"8x8x8", "16x8x4"})
    ASSERT_EQ(gemmtune(concat({"tune", "mm", shape, "--backends", "BLAS", "--quiet"}, kQuick)).exit_code, 0);

  json list = json_of(gemmtune({"cache", "list", "--json"}));
  ASSERT_EQ(list.size(), 2u) << list.dump();
  const std::string id = std::to_string(list[0]["id"].get<long long>());
  EXPECT_EQ(list[0]["winner_backend"], "BLAS");

  ProcessResult list_table = gemmtune({"cache", "list"});
  EXPECT_CONTAINS(list_table.out, "2 records in ");
  EXPECT_CONTAINS(list_table.out, "mm f32 8x8x8 nn");

  json shown = json_of(gemmtune({"cache", "show", id, "--json"}));
  ASSERT_TRUE(shown.is_object());
  EXPECT_EQ(shown["winner"]["backend"], "BLAS");
  EXPECT_FALSE(shown["choices"].empty());
  ProcessResult show_table = gemmtune({"cache", "show", id});
  EXPECT_EQ(show_table.exit_code, 0) << show_table.err;
  EXPECT_CONTAINS(show_table.out, "record " + id);
  EXPECT_CONTAINS(show_table.out, "choices:");
  EXPECT_CONTAINS(show_table.out, "runs");

  ProcessResult exported = gemmtune({"cache", "export", path("records.json")});
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_CONTAINS(exported.out, "exported 2 records");
  json file = json::parse(read("records.json"));
  EXPECT_EQ(file["records"].size(), 2u);

  ProcessResult cleared = gemmtune({"cache", "clear"});
  EXPECT_CONTAINS(cleared.out, "removed 2 records");
  EXPECT_EQ(json_of(gemmtune({"cache", "list", "--json"})).size(), 0u);
  EXPECT_EQ(json_of(gemmtune({"cache", "stats", "--json"}))["records"], 0);

  ProcessResult imported = gemmtune({"cache", "import", path("records.json")});
  EXPECT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_CONTAINS(imported.out, "imported 2 new");
  json stats = json_of(gemmtune({"cache", "stats", "--json"}));
  EXPECT_EQ(stats["records"], 2);
  EXPECT_EQ(stats["wins_by_backend"]["BLAS"], 2);

  // The imported records serve later tunings as cache hits.
  json again = json_of(gemmtune(concat({"tune", "mm", "8x8x8", "--backends", "BLAS", "--json"}, kQuick)));
  EXPECT_EQ(again["cache_hit"], true);
}

TEST_F(Cli, CacheShowOfAnUnknownIdExits2) {
  ASSERT_EQ(gemmtune({"tune", "mm", "8x8x8", "--backends", "BLAS", "--budget-ms", "1"}).exit_code, 0);
  ProcessResult r = gemmtune({"cache", "show", "987654"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "987654");
}

TEST_F(Cli, CacheImportOfAMissingFileExits2) {
  ProcessResult r = gemmtune({"cache", "import", path("nothing.json")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "nothing.json");
}

TEST_F(Cli, UnusableDatabasePathExits2WithAMessageNotACrash) {
  // The path is the user's mistake: bad usage, found before any tuning.
  write("plainfile", "not a folder");
  ProcessResult r = gemmtune(concat({"tune", "mm", "8x8x8", "--backends", "BLAS", "--db", path("plainfile/sub/tuning.db")}, kQuick));
  EXPECT_EQ(r.exit_code, 2) << r.both();
  EXPECT_CONTAINS(r.err, "gemmtune: error:");
  EXPECT_CONTAINS(r.err, "plainfile");
}

TEST_F(Cli, DamagedDatabaseIsSetAsideWithAWarning) {
  // A database gemmtune made (its header carries the mark) whose pages were
  // then overwritten: set aside, and tuning goes on in a fresh one.
  ASSERT_EQ(gemmtune(concat({"tune", "mm", "8x8x8", "--backends", "BLAS", "--quiet"}, kQuick)).exit_code, 0);
  std::string bytes = read("cache/tuning.db");
  ASSERT_GT(bytes.size(), 100u);
  write("cache/tuning.db", bytes.substr(0, 100) + std::string(8192, 'x'));
  ProcessResult r = gemmtune(concat({"tune", "mm", "8x8x8", "--backends", "BLAS", "--quiet"}, kQuick));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Warnings are shown even with --quiet.
  EXPECT_CONTAINS(r.err, "gemmtune: warning:");
  EXPECT_CONTAINS(r.err, "damaged");
  EXPECT_CONTAINS(r.out, "AUTOTUNE");
}

TEST_F(Cli, FileThatGemmtuneDidNotMakeIsRefusedNotSetAside) {
  std::filesystem::create_directories(path("cache"));
  write("cache/tuning.db", std::string(4096, 'x'));
  ProcessResult r = gemmtune(concat({"tune", "mm", "8x8x8", "--backends", "BLAS", "--quiet"}, kQuick));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_CONTAINS(r.err, "not a gemmtune database");
  EXPECT_EQ(read("cache/tuning.db"), std::string(4096, 'x'));
}

TEST_F(Cli, WorkloadTunesEveryLineAndEndsWithASummary) {
  write("w.txt",
        "# two small problems\n"
        "mm 8x16x8 --layout nt\n"
        "\n"
        "addmm 4x8x16 --activation relu   # with a row bias\n");
  ProcessResult r = gemmtune(concat({"tune", "--workload", "w.txt", "--backends", "BLAS,REFERENCE"}, kQuick));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "[w.txt:2] AUTOTUNE mm(8x8, 8x16) f32 nt");
  EXPECT_CONTAINS(r.out, "[w.txt:4] AUTOTUNE addmm(8, 4x16, 16x8) f32 nn bias=row act=relu");
  EXPECT_CONTAINS(r.out, "SUMMARY: 2 problems");
  EXPECT_CONTAINS(r.out, "speedup vs BLAS");
  EXPECT_CONTAINS(r.out, "0/2 cache hits");
  EXPECT_CONTAINS(r.err, "gemmtune: (1/2) [");

  ProcessResult j = gemmtune(concat({"tune", "--workload", "w.txt", "--backends", "BLAS,REFERENCE", "--json"}, kQuick));
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json all = json_of(j);
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["label"], "w.txt:2");
  EXPECT_EQ(all[0]["cache_hit"], true);
  EXPECT_EQ(all[1]["problem"]["op"], "addmm");
}

TEST_F(Cli, WorkloadWithABadLineExits2BeforeTuningAnything) {
  write("w.txt", "mm 8x8x8\nmm 8x8x\n");
  ProcessResult r = gemmtune(concat({"tune", "--workload", "w.txt", "--backends", "BLAS"}, kQuick));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "w.txt:2");
  EXPECT_TRUE(r.out.empty()) << r.out;
  write("u.txt", "mm 8x8x8\nmm 8x8x8 --backends BLAS,NOPE\n");
  ProcessResult unknown = gemmtune(concat({"tune", "--workload", "u.txt", "--backends", "BLAS"}, kQuick));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_CONTAINS(unknown.err, "u.txt:2: unknown backend 'NOPE'");
  EXPECT_TRUE(unknown.out.empty()) << unknown.out;
  write("v.txt", "mm 8x8x8\nmm 8x8x8 --dtype i8\n");
  ProcessResult invalid = gemmtune(concat({"tune", "--workload", "v.txt", "--backends", "BLAS"}, kQuick));
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_CONTAINS(invalid.err, "v.txt:2");
  EXPECT_CONTAINS(invalid.err, "a.dtype");
}

TEST_F(Cli, WorkloadGoesOnPastAProblemWithoutValidChoicesAndExits3) {
  write("w.txt", "int_mm 16x16x16\nmm 8x8x8\n");
  ProcessResult r = gemmtune(concat({"tune", "--workload", "w.txt", "--backends", "BLAS"}, kQuick));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_CONTAINS(r.err, "w.txt:1: no valid choices for int_mm");
  EXPECT_CONTAINS(r.out, "[w.txt:2] AUTOTUNE mm(8x8, 8x8)");
  EXPECT_CONTAINS(r.out, "NO VALID CHOICES (exit 3)");
  EXPECT_CONTAINS(r.out, "1 without valid choices");
}

TEST_F(Cli, MissingWorkloadFileExits2) {
  ProcessResult r = gemmtune({"tune", "--workload", path("absent.txt")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "absent.txt");
}

}  // namespace
}  // namespace gemmtune::cli::testing
