// The argument parser: what each flag becomes, and that every mistake is a
// UsageError naming the flag or argument and what was expected.
#include <gtest/gtest.h>

#include "args.h"
#include "workload.h"

namespace gemmtune::cli {
namespace {

Invocation parse(std::vector<std::string> args) { return parse_command_line(args); }

// The UsageError message of a command line that must be refused.
std::string refusal(std::vector<std::string> args) {
  try {
    parse_command_line(args);
  } catch (const UsageError& e) {
    EXPECT_NE(e.hint().find("usage: gemmtune"), std::string::npos) << "no usage hint for: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted a command line that should be refused";
  return "";
}

#define EXPECT_CONTAINS(text, needle) EXPECT_NE(std::string(text).find(needle), std::string::npos) << (text)

TEST(ParseShape, AcceptsMxNxKAndBxMxNxK) {
  auto s = parse_shape("128x768x64");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->m, 128);
  EXPECT_EQ(s->n, 768);
  EXPECT_EQ(s->k, 64);
  EXPECT_FALSE(s->has_batch);
  auto b = parse_shape("8x16x32x4");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->batch, 8);
  EXPECT_EQ(b->k, 4);
  EXPECT_TRUE(b->has_batch);
  EXPECT_TRUE(parse_shape("0x0x0"));  // empty problems are part of the contract
}

TEST(ParseShape, RefusesMalformedShapes) {
  for (const char* bad : {"12x", "-3x4x5", "axbxc", "1x2", "1x2x3x4x5", "", "x1x2", "1x2x3 ", "1.5x2x3", "+1x2x3",
                          "99999999999999999999x1x1"})
    EXPECT_FALSE(parse_shape(bad)) << "accepted '" << bad << "'";
}

TEST(ParseCommandLine, TuneReadsOpShapeAndProblemFlags) {
  Invocation inv = parse({"tune", "addmm", "32x64x128", "--dtype", "bf16", "--layout", "nt", "--bias", "full",
                          "--alpha", "0.5", "--beta=2", "--activation", "gelu", "--out-dtype", "f32"});
  EXPECT_EQ(inv.command, Command::tune);
  EXPECT_EQ(inv.problem.op, Op::addmm);
  EXPECT_EQ(inv.problem.shape->m, 32);
  EXPECT_EQ(inv.problem.dtype, DType::bf16);
  EXPECT_EQ(inv.problem.out_dtype, DType::f32);
  EXPECT_FALSE(inv.problem.transpose_a);
  EXPECT_TRUE(inv.problem.transpose_b);
  EXPECT_EQ(inv.problem.bias, BiasKind::full);
  EXPECT_EQ(inv.problem.alpha, 0.5);
  EXPECT_EQ(inv.problem.beta, 2.0);
  EXPECT_EQ(inv.problem.activation, Activation::gelu);

  Problem p = make_problem(to_problem_spec(inv.problem));
  EXPECT_TRUE(p.a.is_row_major());
  EXPECT_TRUE(p.b.is_col_major());  // 't': B stored transposed
  EXPECT_EQ(p.c.dtype, DType::f32);
}

TEST(ParseCommandLine, ActivationTakesGeluTanhAndListsItWhenRefusing) {
  EXPECT_EQ(parse({"tune", "addmm", "4x5x6", "--activation", "gelu_tanh"}).problem.activation, Activation::gelu_tanh);
  EXPECT_EQ(parse({"tune", "addmm", "4x5x6", "--activation=gelu-tanh"}).problem.activation, Activation::gelu_tanh);
  EXPECT_CONTAINS(refusal({"tune", "addmm", "4x5x6", "--activation", "tanh"}),
                  "--activation expects none, relu, gelu, gelu_tanh or silu, got 'tanh'");
}

TEST(ParseCommandLine, LayoutFirstLetterIsAAndSecondIsB) {
  Invocation tn = parse({"tune", "mm", "4x5x6", "--layout", "TN"});
  EXPECT_TRUE(tn.problem.transpose_a);
  EXPECT_FALSE(tn.problem.transpose_b);
  EXPECT_CONTAINS(refusal({"tune", "mm", "4x5x6", "--layout", "nx"}), "--layout expects nn, nt, tn or tt");
}

TEST(ParseCommandLine, TuningFlagsMapToTuneOptions) {
  Invocation inv = parse({"tune", "mm", "8x8x8", "--backends", "blas,cpp", "--fallback-to-library", "--search-space",
                          "exhaustive", "--no-cache", "--db", "/tmp/x.db", "--threads", "2", "--verify", "sampled",
                          "--budget-ms", "5", "--warm-cache"});
  TuneOptions o = to_tune_options(inv.tune);
  ASSERT_TRUE(o.backends);
  EXPECT_EQ(*o.backends, (std::vector<std::string>{"blas", "cpp"}));
  EXPECT_EQ(o.fallback_to_library, true);
  EXPECT_EQ(o.search_space, SearchSpace::exhaustive);
  EXPECT_FALSE(o.use_cache);
  EXPECT_EQ(o.db_path, "/tmp/x.db");
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.verify, VerifyMode::sampled);
  EXPECT_EQ(o.measure.budget_ms, 5.0);
  EXPECT_FALSE(o.measure.cold_cache);
}

TEST(ParseCommandLine, UnsetFlagsLeaveOptionsUnsetSoTheEnvironmentApplies) {
  TuneOptions o = to_tune_options(parse({"tune", "mm", "8x8x8"}).tune);
  EXPECT_FALSE(o.backends);
  EXPECT_FALSE(o.fallback_to_library);
  EXPECT_FALSE(o.search_space);
  EXPECT_FALSE(o.verify);
  EXPECT_TRUE(o.use_cache);
  EXPECT_TRUE(o.measure.cold_cache);
}

TEST(ParseCommandLine, DefaultDtypeFollowsTheOp) {
  EXPECT_EQ(to_problem_spec(parse({"tune", "int_mm", "8x8x8"}).problem).dtype, DType::i8);
  EXPECT_EQ(to_problem_spec(parse({"tune", "scaled_mm", "8x8x8"}).problem).dtype, DType::f8e4m3);
  EXPECT_EQ(to_problem_spec(parse({"tune", "mm", "8x8x8"}).problem).dtype, DType::f32);
}

TEST(ParseCommandLine, BatchedShapeOnlyForBatchedOps) {
  Invocation inv = parse({"tune", "bmm", "4x8x8x8", "--broadcast-b"});
  EXPECT_EQ(inv.problem.shape->batch, 4);
  EXPECT_TRUE(inv.problem.broadcast_b);
  EXPECT_CONTAINS(refusal({"tune", "mm", "4x8x8x8"}), "is not batched");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--broadcast-b"}), "--broadcast-b applies only to bmm");
}

TEST(ParseCommandLine, BadShapeNamesTheShapeAndTheExpectedForm) {
  for (const char* bad : {"12x", "-3x4x5", "axbxc"}) {
    std::string msg = refusal({"tune", "mm", bad});
    EXPECT_CONTAINS(msg, std::string("bad SHAPE '") + bad + "'");
    EXPECT_CONTAINS(msg, "MxNxK");
  }
}

TEST(ParseCommandLine, UnknownFlagIsNamed) {
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--frobnicate"}), "unknown option '--frobnicate'");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "-z"}), "unknown option '-z'");
}

TEST(ParseCommandLine, MissingValueIsNamed) {
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--dtype"}), "--dtype needs a value");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--threads", "--json"}), "--threads needs a value");
}

TEST(ParseCommandLine, BadValuesNameTheFlagAndWhatWasExpected) {
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--threads", "two"}), "--threads expects an integer");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--threads", "-1"}), "--threads expects an integer");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--alpha", "1.5x"}), "--alpha expects a finite number, got '1.5x'");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--beta", "nan"}), "--beta expects a finite number");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--budget-ms", "0"}), "--budget-ms expects a positive number");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--dtype", "f33"}), "--dtype expects a dtype");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--device", "tpu"}), "--device expects cpu, cuda or cuda:N");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--verify", "maybe"}), "--verify expects auto, full, sampled or off");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--search-space", "huge"}), "--search-space expects default");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--backends", ","}), "--backends expects a comma-separated list");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--no-cache=yes"}), "--no-cache takes no value");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--json", "--csv"}), "cannot be combined");
}

TEST(ParseCommandLine, FlagsThatMakeNoSenseForTheCommandAreRefused) {
  EXPECT_CONTAINS(refusal({"backends", "--dtype", "f32"}), "--dtype does not apply to `gemmtune backends`");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "--a", "x.npy"}), "--a does not apply to `gemmtune tune`");
  EXPECT_CONTAINS(refusal({"run", "mm", "--a", "a.npy", "--b", "b.npy", "--out", "c.npy", "--layout", "nt"}),
                  "run takes each operand's layout from its .npy file");
  EXPECT_CONTAINS(refusal({"explain", "mm", "8x8x8", "--budget-ms", "3"}), "--budget-ms does not apply to `gemmtune explain`");
  EXPECT_CONTAINS(refusal({"cache", "list", "--backends", "BLAS"}), "--backends does not apply to `gemmtune cache`");
  EXPECT_CONTAINS(refusal({"cache", "export", "x.json", "--json"}), "--json does not apply to cache export");
}

TEST(ParseCommandLine, PositionalMistakesAreNamed) {
  EXPECT_CONTAINS(refusal({"tune"}), "tune needs OP and SHAPE");
  EXPECT_CONTAINS(refusal({"tune", "mm"}), "needs a SHAPE");
  EXPECT_CONTAINS(refusal({"tune", "matmul", "8x8x8"}), "unknown OP 'matmul'");
  EXPECT_CONTAINS(refusal({"tune", "mm", "8x8x8", "extra"}), "unexpected argument 'extra'");
  EXPECT_CONTAINS(refusal({"frobnicate"}), "unknown command 'frobnicate'");
  EXPECT_CONTAINS(refusal({}), "no command given");
  EXPECT_CONTAINS(refusal({"cache"}), "cache needs an action");
  EXPECT_CONTAINS(refusal({"cache", "show"}), "needs a record ID");
  EXPECT_CONTAINS(refusal({"cache", "shred"}), "unknown cache action 'shred'");
  EXPECT_CONTAINS(refusal({"tune", "--workload", "w.txt", "mm"}), "takes no OP or SHAPE");
  // An empty value is an unset variable, not the preset (the flag alone).
  EXPECT_CONTAINS(refusal({"tune", "--workload", ""}), "--workload was given an empty file name");
  EXPECT_CONTAINS(refusal({"tune", "--workload="}), "--workload was given an empty file name");
}

TEST(ParseCommandLine, RunTakesFilesAndItsBiasAndScalesAreFiles) {
  Invocation inv = parse({"run", "addmm", "--a", "A.npy", "--b=B.npy", "--bias", "bias.npy", "--out", "C.npy",
                          "--dtype", "bf16", "--quiet"});
  EXPECT_EQ(inv.command, Command::run);
  EXPECT_EQ(inv.files.a, "A.npy");
  EXPECT_EQ(inv.files.b, "B.npy");
  EXPECT_EQ(inv.files.bias, "bias.npy");
  EXPECT_EQ(inv.files.out, "C.npy");
  EXPECT_FALSE(inv.problem.bias);  // a file here, not a kind
  EXPECT_TRUE(inv.quiet);
  EXPECT_CONTAINS(refusal({"run", "mm", "--a", "A.npy", "--b", "B.npy"}), "run needs --out C.npy");
  EXPECT_CONTAINS(refusal({"run", "mm", "8x8x8", "--a", "A.npy", "--b", "B.npy", "--out", "C.npy"}),
                  "run takes its shape from the .npy files");
}

TEST(ParseCommandLine, NegativeNumbersAreValuesNotFlags) {
  Invocation inv = parse({"tune", "addmm", "8x8x8", "--alpha", "-1.5", "--beta", "-2"});
  EXPECT_EQ(inv.problem.alpha, -1.5);
  EXPECT_EQ(inv.problem.beta, -2.0);
}

TEST(ParseCommandLine, HelpAnywhereAsksForThatCommandsHelp) {
  Invocation inv = parse({"tune", "mm", "--help"});
  EXPECT_EQ(inv.command, Command::help);
  EXPECT_EQ(inv.help_topic, Command::tune);
  EXPECT_EQ(parse({"help", "cache"}).help_topic, Command::cache);
  EXPECT_FALSE(parse({"--help"}).help_topic);
  EXPECT_CONTAINS(help_text(Command::run), "Fortran order");
}

TEST(ParseCommandLine, WorkloadValueIsOptional) {
  Invocation preset = parse({"tune", "--workload", "--quiet"});
  EXPECT_TRUE(preset.workload);
  EXPECT_EQ(preset.workload_file, "");
  EXPECT_TRUE(preset.quiet);
  Invocation file = parse({"tune", "--workload", "w.txt"});
  EXPECT_EQ(file.workload_file, "w.txt");
  EXPECT_EQ(parse({"tune", "--workload=default"}).workload_file, "default");
}

TEST(Workload, LinesInheritCommandLineFlagsAndMayOverrideThem) {
  Invocation base = parse({"tune", "--workload", "w.txt", "--dtype", "bf16", "--backends", "BLAS", "--budget-ms", "3"});
  auto items = parse_workload("# comment\n\nmm 8x16x32 --layout nt   # trailing comment\n"
                              "mm 4x4x4 --dtype f32 --backends ONEDNN,CPP\n",
                              "w.txt", base);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].label, "w.txt:3");
  EXPECT_EQ(items[0].invocation.problem.dtype, DType::bf16);
  EXPECT_TRUE(items[0].invocation.problem.transpose_b);
  EXPECT_EQ(*to_tune_options(items[0].invocation.tune).backends, std::vector<std::string>{"BLAS"});
  EXPECT_EQ(to_tune_options(items[0].invocation.tune).measure.budget_ms, 3.0);
  EXPECT_EQ(items[1].label, "w.txt:4");
  EXPECT_EQ(items[1].invocation.problem.dtype, DType::f32);
  EXPECT_FALSE(items[1].invocation.problem.transpose_b);  // the line's own layout, not line 3's
  EXPECT_EQ(*to_tune_options(items[1].invocation.tune).backends, (std::vector<std::string>{"ONEDNN", "CPP"}));
}

TEST(Workload, AByteOrderMarkBeforeTheFirstLineIsNotPartOfIt) {
  Invocation base = parse({"tune", "--workload", "w.txt"});
  auto items = parse_workload("\xEF\xBB\xBFmm 4x4x4\nmm 8x8x8\n", "w.txt", base);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].invocation.problem.shape->m, 4);
}

TEST(ParseCommandLine, ASubnormalAlphaIsAValueAndOneThatWouldBeZeroIsRefused) {
  EXPECT_EQ(parse({"tune", "addmm", "4x4x4", "--dtype", "f64", "--alpha", "1e-310"}).problem.alpha, 1e-310);
  EXPECT_CONTAINS(refusal({"tune", "addmm", "4x4x4", "--alpha", "1e-400"}), "--alpha 1e-400 is too small for a double");
  EXPECT_CONTAINS(refusal({"cache", "clear", "--json"}), "--json does not apply to cache clear");
}

TEST(Workload, BadLineIsReportedWithFileAndLine) {
  Invocation base = parse({"tune", "--workload", "w.txt"});
  try {
    parse_workload("mm 8x8x8\nmm 8x\n", "w.txt", base);
    ADD_FAILURE() << "accepted a bad line";
  } catch (const UsageError& e) {
    EXPECT_CONTAINS(e.what(), "w.txt:2: bad SHAPE '8x'");
  }
  try {
    parse_workload("mm 8x8x8 --json\n", "w.txt", base);
    ADD_FAILURE() << "accepted an output flag on a line";
  } catch (const UsageError& e) {
    EXPECT_CONTAINS(e.what(), "w.txt:1: --json does not apply to a workload line");
  }
  EXPECT_THROW(parse_workload("# only comments\n\n", "w.txt", base), UsageError);
}

TEST(Workload, SplitWordsHonoursQuotesAndComments) {
  EXPECT_EQ(split_words("mm 1x2x3 --db '/tmp/my db.sqlite' # tail"),
            (std::vector<std::string>{"mm", "1x2x3", "--db", "/tmp/my db.sqlite"}));
  EXPECT_TRUE(split_words("   # nothing").empty());
  EXPECT_THROW(split_words("mm 'open"), UsageError);
}

TEST(Workload, BuiltInPresetParsesAndIsSized) {
  Invocation base = parse({"tune", "--workload"});
  auto items = load_workload(base);
  EXPECT_GE(items.size(), 10u);
  EXPECT_LE(items.size(), 14u);
  bool f32 = false, bf16 = false, addmm_gelu = false, int8 = false;
  for (const auto& item : items) {
    Problem p = make_problem(to_problem_spec(item.invocation.problem));
    EXPECT_NO_THROW(validate(p)) << item.label;
    f32 |= p.a.dtype == DType::f32;
    bf16 |= p.a.dtype == DType::bf16;
    addmm_gelu |= p.op == Op::addmm && p.bias != BiasKind::none && p.activation == Activation::gelu;
    int8 |= p.op == Op::int_mm;
  }
  EXPECT_TRUE(f32 && bf16 && addmm_gelu && int8);
}

}  // namespace
}  // namespace gemmtune::cli
