// The JSON forms of problems and records: lossless round trips and parse
// errors that name the bad field.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "gemmtune/errors.h"
#include "store/record_json.h"
#include "store_test_support.h"

namespace gemmtune::store {
namespace {

using nlohmann::json;
using testing::same_record;
using testing::sample_record;

// Parses and expects a StoreError whose message contains `expected`.
template <typename Parse>
void expect_parse_error(const json& j, Parse parse, const std::string& expected) {
  try {
    parse(j);
    ADD_FAILURE() << "parsed without error; expected: " << expected;
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << expected;
  }
}

TEST(RecordJson, RecordRoundTripsEveryFieldExactly) {
  TuningRecord original = sample_record("key-1");
  TuningRecord back = record_from_json(to_json(original));
  EXPECT_TRUE(same_record(original, back));
}

TEST(RecordJson, RecordRoundTripsThroughText) {
  // The store and the export file keep the dumped text, not the json object.
  TuningRecord original = sample_record("key-text", 3);
  TuningRecord back = record_from_json(json::parse(to_json(original).dump()));
  EXPECT_TRUE(same_record(original, back));
}

TEST(RecordJson, DefaultRecordRoundTrips) {
  TuningRecord empty;  // no winner, no choices, empty strings
  TuningRecord back = record_from_json(json::parse(to_json(empty).dump()));
  EXPECT_TRUE(same_record(empty, back));
  EXPECT_FALSE(back.winner.has_value());
}

TEST(RecordJson, EveryProblemFieldSurvivesTheRoundTrip) {
  // Each mutation changes one field from the base; if the JSON form dropped
  // that field, the round trip would bring back the base value.
  const Problem base = sample_record("k").problem;
  std::vector<std::pair<std::string, std::function<void(Problem&)>>> mutations = {
      {"op", [](Problem& p) { p.op = Op::scaled_mm; }},
      {"batch", [](Problem& p) { p.batch = 9; }},
      {"m", [](Problem& p) { p.m = 1LL << 40; }},
      {"n", [](Problem& p) { p.n = 0; }},
      {"k", [](Problem& p) { p.k = 12345; }},
      {"a.dtype", [](Problem& p) { p.a.dtype = DType::f8e4m3; }},
      {"a.rows", [](Problem& p) { p.a.rows = 99; }},
      {"a.cols", [](Problem& p) { p.a.cols = 98; }},
      {"a.row_stride", [](Problem& p) { p.a.row_stride = 97; }},
      {"a.col_stride", [](Problem& p) { p.a.col_stride = 96; }},
      {"a.batch_stride", [](Problem& p) { p.a.batch_stride = 95; }},
      {"b.dtype", [](Problem& p) { p.b.dtype = DType::i8; }},
      {"b.batch_stride", [](Problem& p) { p.b.batch_stride = 94; }},
      {"c.dtype", [](Problem& p) { p.c.dtype = DType::i32; }},
      {"c.row_stride", [](Problem& p) { p.c.row_stride = 93; }},
      {"bias", [](Problem& p) { p.bias = BiasKind::full; }},
      {"bias_desc.dtype", [](Problem& p) { p.bias_desc.dtype = DType::f16; }},
      {"bias_desc.rows", [](Problem& p) { p.bias_desc.rows = 17; }},
      {"alpha", [](Problem& p) { p.alpha = 1e-310; }},
      {"beta", [](Problem& p) { p.beta = 2.5; }},
      {"activation", [](Problem& p) { p.activation = Activation::silu; }},
      {"scale_a", [](Problem& p) { p.scale_a = ScaleKind::per_channel; }},
      {"scale_b", [](Problem& p) { p.scale_b = ScaleKind::none; }},
      {"allow_tf32", [](Problem& p) { p.allow_tf32 = false; }},
      {"alignment", [](Problem& p) { p.alignment = 256; }},
      {"device.kind", [](Problem& p) { p.device = Device{DeviceKind::cpu, 0}; }},
      {"device.index", [](Problem& p) { p.device.index = 7; }},
      {"cpu device index", [](Problem& p) { p.device = Device{DeviceKind::cpu, 3}; }},
  };
  for (const auto& [field, mutate] : mutations) {
    Problem changed = base;
    mutate(changed);
    ASSERT_FALSE(changed == base) << field << ": mutation did not change anything";
    Problem back = problem_from_json(json::parse(to_json(changed).dump()));
    EXPECT_TRUE(back == changed) << field << " was lost: got " << describe(back);
  }
}

TEST(RecordJson, EveryDTypeOpAndEnumRoundTrips) {
  Problem p = sample_record("k").problem;
  for (DType d : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i8, DType::u8, DType::i32, DType::f8e4m3,
                  DType::f8e5m2}) {
    p.a.dtype = d;
    EXPECT_EQ(problem_from_json(to_json(p)).a.dtype, d) << to_string(d);
  }
  for (Op op : {Op::mm, Op::addmm, Op::bmm, Op::baddbmm, Op::int_mm, Op::mixed_mm, Op::scaled_mm}) {
    p.op = op;
    EXPECT_EQ(problem_from_json(to_json(p)).op, op) << to_string(op);
  }
  for (Activation a : {Activation::none, Activation::relu, Activation::gelu, Activation::silu}) {
    p.activation = a;
    EXPECT_EQ(problem_from_json(to_json(p)).activation, a) << to_string(a);
  }
  TuningRecord r = sample_record("k");
  for (SearchSpace s : {SearchSpace::standard, SearchSpace::exhaustive}) {
    r.search_space = s;
    EXPECT_EQ(record_from_json(to_json(r)).search_space, s);
  }
  for (Stage stage : {Stage::availability, Stage::enumerate, Stage::build, Stage::verify, Stage::run, Stage::crash,
                      Stage::timeout}) {
    for (Reason reason : {Reason::compiled_out, Reason::missing_isa, Reason::non_finite_result, Reason::internal_error}) {
      Rejection rej{stage, reason, "m"};
      EXPECT_EQ(rejection_from_json(to_json(rej)), rej) << rej.to_string();
    }
  }
}

TEST(RecordJson, EnumsAreWrittenAsTheirNames) {
  json j = to_json(sample_record("k"));
  EXPECT_EQ(j["problem"]["op"], "baddbmm");
  EXPECT_EQ(j["problem"]["a"]["dtype"], "bf16");
  EXPECT_EQ(j["problem"]["device"], "cuda:1");
  EXPECT_EQ(j["problem"]["activation"], "gelu");
  EXPECT_EQ(j["search_space"], "exhaustive");
  EXPECT_EQ(j["choices"][1]["rejection"]["stage"], "verify");
  EXPECT_EQ(j["choices"][1]["rejection"]["reason"], "wrong_result");
  EXPECT_TRUE(j["choices"][1]["timing"].is_null());
  EXPECT_EQ(j["choices"][0]["timing"]["repeats"], 41);
  EXPECT_EQ(j["winner"]["backend"], "CPP");
}

TEST(RecordJson, NonFiniteNumbersRoundTrip) {
  TuningRecord r = sample_record("k");
  r.choices[0].timing->median_us = std::numeric_limits<double>::quiet_NaN();
  r.choices[0].timing->max_us = std::numeric_limits<double>::infinity();
  r.choices[0].max_error = -std::numeric_limits<double>::infinity();
  r.problem.alpha = std::numeric_limits<double>::quiet_NaN();
  TuningRecord back = record_from_json(json::parse(to_json(r).dump()));
  EXPECT_TRUE(std::isnan(back.choices[0].timing->median_us));
  EXPECT_EQ(back.choices[0].timing->max_us, std::numeric_limits<double>::infinity());
  EXPECT_EQ(back.choices[0].max_error, -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(back.problem.alpha));
}

TEST(RecordJson, MissingOptionalPartsMeanAbsent) {
  json j = to_json(sample_record("k"));
  j.erase("winner");
  j["choices"][0].erase("timing");
  j["choices"][1].erase("rejection");
  TuningRecord r = record_from_json(j);
  EXPECT_FALSE(r.winner.has_value());
  EXPECT_FALSE(r.choices[0].timing.has_value());
  EXPECT_FALSE(r.choices[1].rejection.has_value());
}

TEST(RecordJson, AnUnverifiedRecordSaysSoAndOneWithoutTheFieldWasVerified) {
  TuningRecord unverified = sample_record("k");
  unverified.verified = false;
  json j = to_json(unverified);
  EXPECT_EQ(j["verified"], false);
  EXPECT_FALSE(record_from_json(j).verified);
  j.erase("verified");  // written before the field existed
  EXPECT_TRUE(record_from_json(j).verified);
}

TEST(RecordJson, UnknownMembersAreIgnored) {
  json j = to_json(sample_record("k"));
  j["annotation"] = "shipped with release 7";
  j["problem"]["note"] = 1;
  EXPECT_TRUE(same_record(sample_record("k"), record_from_json(j)));
}

TEST(RecordJson, BadTimingNamesItsPath) {
  json j = to_json(sample_record("k"));
  j["choices"][2]["timing"]["median_us"] = "fast";
  expect_parse_error(j, record_from_json, "choices[2].timing.median_us: expected a number, got string");
}

TEST(RecordJson, MissingFieldNamesItsPath) {
  json j = to_json(sample_record("k"));
  j["problem"].erase("m");
  expect_parse_error(j, record_from_json, "problem.m: missing field");
}

TEST(RecordJson, UnknownDTypeIsRejected) {
  json j = to_json(sample_record("k"));
  j["problem"]["bias_desc"]["dtype"] = "f33";
  expect_parse_error(j, record_from_json, "problem.bias_desc.dtype: unknown dtype 'f33'");
}

TEST(RecordJson, UnknownReasonIsRejected) {
  json j = to_json(sample_record("k"));
  j["backends"][1]["rejection"]["reason"] = "bad_luck";
  expect_parse_error(j, record_from_json, "backends[1].rejection.reason: unknown reason 'bad_luck'");
}

TEST(RecordJson, UnknownStageIsRejected) {
  json j = to_json(sample_record("k"));
  j["choices"][3]["rejection"]["stage"] = "later";
  expect_parse_error(j, record_from_json, "choices[3].rejection.stage: unknown stage 'later'");
}

TEST(RecordJson, FractionalIntegerIsRejected) {
  json j = to_json(sample_record("k"));
  j["threads"] = 2.5;
  expect_parse_error(j, record_from_json, "threads: expected an integer, got number");
  j = to_json(sample_record("k"));
  j["choices"][0]["timing"]["repeats"] = 1e10;
  expect_parse_error(j, record_from_json, "choices[0].timing.repeats: expected an integer");
}

TEST(RecordJson, OutOfRangeIntegerIsRejected) {
  json j = to_json(sample_record("k"));
  j["threads"] = std::int64_t{1} << 40;
  expect_parse_error(j, record_from_json, "threads: integer out of range");
  j = to_json(sample_record("k"));
  j["problem"]["m"] = std::numeric_limits<std::uint64_t>::max();
  expect_parse_error(j, record_from_json, "problem.m: integer out of range");
}

TEST(RecordJson, WrongContainerTypesAreRejected) {
  json j = to_json(sample_record("k"));
  j["enabled"] = "CPP,BLAS";
  expect_parse_error(j, record_from_json, "enabled: expected an array, got string");
  j = to_json(sample_record("k"));
  j["enabled"][1] = 3;
  expect_parse_error(j, record_from_json, "enabled[1]: expected a string, got number");
  j = to_json(sample_record("k"));
  j["backend_versions"]["BLAS"] = nullptr;
  expect_parse_error(j, record_from_json, "backend_versions.BLAS: expected a string, got null");
  j = to_json(sample_record("k"));
  j["winner"] = 5;
  expect_parse_error(j, record_from_json, "winner: expected an object, got number");
  j = to_json(sample_record("k"));
  j["fallback"] = "yes";
  expect_parse_error(j, record_from_json, "fallback: expected true or false, got string");
  expect_parse_error(json::array(), record_from_json, "top level: expected an object, got array");
}

TEST(RecordJson, BadDeviceIsRejected) {
  json j = to_json(sample_record("k").problem);
  j["device"] = "tpu:0";
  expect_parse_error(j, problem_from_json, "device: unknown device 'tpu:0'");
  j["device"] = "cpu:x";
  expect_parse_error(j, problem_from_json, "device: unknown device 'cpu:x'");
}

}  // namespace
}  // namespace gemmtune::store
