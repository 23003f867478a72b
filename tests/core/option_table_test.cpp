// The one table of options: every entry is spelled consistently, its parser
// round-trips what it shows, the environment fills only what code left unset,
// and a malformed value is a ConfigError naming where it came from.
#include "core/option_table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "gemmtune/errors.h"
#include "testing/scoped_env.h"

namespace gemmtune::option_table {
namespace {

using testing::ScopedEnv;

std::string config_error(const std::function<void()>& body) {
  try {
    body();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return "";
}

bool is_snake_case(std::string_view s) {
  if (s.empty() || s.front() == '_' || s.back() == '_') return false;
  for (char c : s)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return true;
}

std::string dashed_flag(std::string_view name) {
  std::string out = "--";
  for (char c : name) out += c == '_' ? '-' : c;
  return out;
}

TEST(OptionTable, EveryNameFlagVariableAndKeyIsUniqueAndWellFormed) {
  std::set<std::string_view> names, flags, variables;
  for (const auto& o : all()) {
    EXPECT_TRUE(is_snake_case(o.name)) << o.name;
    EXPECT_TRUE(names.insert(o.name).second) << "duplicate name " << o.name;
    if (!o.capi_key.empty()) EXPECT_TRUE(names.insert(o.capi_key).second) << "C API key clashes: " << o.capi_key;
    if (!o.flag.empty()) EXPECT_TRUE(flags.insert(o.flag).second) << "duplicate flag " << o.flag;
    if (!o.env.empty()) {
      EXPECT_EQ(o.env.rfind("GEMMTUNE_", 0), 0u) << o.env;
      EXPECT_TRUE(variables.insert(o.env).second) << "duplicate variable " << o.env;
    }
    EXPECT_FALSE(o.expects.empty()) << o.name;
    EXPECT_FALSE(o.help.empty()) << o.name;
    EXPECT_FALSE(o.default_text.empty()) << o.name;
    ASSERT_TRUE(o.field.set && o.field.is_set && o.field.show) << o.name;
    // A flag that takes a value is the name with dashes: the CLI, Python and
    // the C API then say the same thing. Switches may read as their effect.
    if (!o.flag.empty() && !o.value_name.empty()) EXPECT_EQ(o.flag, dashed_flag(o.name));
    if (!o.flag.empty() && o.value_name.empty()) EXPECT_FALSE(o.switch_value.empty()) << o.name;
    if (o.process_wide) EXPECT_TRUE(o.flag.empty() && !o.env.empty()) << o.name << ": process-wide means environment only";
  }
}

TEST(OptionTable, AnOptionWithAVariableIsUnsetByDefaultSoTheEnvironmentCanApply) {
  const TuneOptions defaults;
  for (const auto& o : all())
    if (!o.env.empty()) EXPECT_FALSE(o.field.is_set(defaults)) << o.name;
}

TEST(OptionTable, WhatAnOptionShowsItsParserReadsBack) {
  TuneOptions o;
  for (const auto& option : all()) {
    const std::string shown = option.field.show(o);
    if (shown.empty()) continue;  // unset optional
    TuneOptions copy;
    set(copy, option, shown, "test");
    EXPECT_EQ(option.field.show(copy), shown) << option.name;
  }
}

TEST(OptionTable, FindsByNameAndByOlderCApiKeyAndByFlag) {
  ASSERT_NE(find("fallback_to_library"), nullptr);
  EXPECT_EQ(find("fallback"), find("fallback_to_library"));
  EXPECT_EQ(find_flag("--fallback-to-library"), find("fallback_to_library"));
  EXPECT_EQ(find_flag("--no-cache"), find("cache"));
  EXPECT_EQ(find("colour"), nullptr);
  EXPECT_EQ(find_flag("--colour"), nullptr);
}

TEST(OptionTable, MalformedValueIsAConfigErrorNamingItsSource) {
  TuneOptions o;
  EXPECT_EQ(config_error([&] { set(o, *find("threads"), "two", "--threads"); }),
            "--threads expects an integer from 0 to 4096, got 'two'");
  EXPECT_NE(config_error([&] { set(o, *find("budget_ms"), "-1", "option budget_ms"); }).find("option budget_ms"),
            std::string::npos);
  EXPECT_EQ(o.threads, 0) << "a refused value leaves the field alone";
}

TEST(OptionTable, EnvironmentFillsOnlyWhatCodeLeftUnsetAndDefaultsStayUnset) {
  ScopedEnv verify("GEMMTUNE_VERIFY", "full");
  ScopedEnv space("GEMMTUNE_SEARCH_SPACE", nullptr);
  TuneOptions code;
  code.verify = VerifyMode::sampled;
  EXPECT_EQ(with_environment(code).verify, VerifyMode::sampled);  // code first
  EXPECT_EQ(with_environment(TuneOptions{}).verify, VerifyMode::full);  // then environment
  EXPECT_FALSE(with_environment(TuneOptions{}).search_space);  // then the default, decided by the policy
}

TEST(OptionTable, EmptyVariableCountsAsUnset) {
  ScopedEnv verify("GEMMTUNE_VERIFY", "");
  EXPECT_FALSE(with_environment(TuneOptions{}).verify);
}

TEST(OptionTable, MalformedVariableIsAConfigErrorNamingTheVariable) {
  const std::pair<const char*, const char*> bad[] = {
      {"GEMMTUNE_VERIFY", "maybe"},           {"GEMMTUNE_SEARCH_SPACE", "huge"},
      {"GEMMTUNE_FALLBACK_TO_LIBRARY", "2"},  {"GEMMTUNE_COMPILE_THREADS", "0"},
      {"GEMMTUNE_LOG", "loud"},               {"GEMMTUNE_BACKENDS", ",,"},
  };
  for (const auto& [variable, value] : bad) {
    ScopedEnv env(variable, value);
    const std::string message = config_error([] { with_environment(TuneOptions{}); });
    EXPECT_NE(message.find(variable), std::string::npos) << message;
    EXPECT_NE(message.find(std::string("'") + value + "'"), std::string::npos) << message;
  }
}

TEST(OptionTable, JsonListsEveryOptionForTheCApiAndPython) {
  const auto table = nlohmann::json::parse(to_json());
  ASSERT_EQ(table.size(), all().size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(table[i]["name"], std::string(all()[i].name));
    EXPECT_EQ(table[i]["env"], std::string(all()[i].env));
    EXPECT_EQ(table[i]["flag"], std::string(all()[i].flag));
  }
}

TEST(OptionTable, HelpListsEveryFlagOfTheCommandWithItsVariable) {
  const std::string help = flag_help(kMeasuring);
  for (const auto& o : all())
    if (!o.flag.empty() && (o.uses & kMeasuring)) EXPECT_NE(help.find(o.flag), std::string::npos) << o.flag;
  EXPECT_NE(help.find("GEMMTUNE_FALLBACK_TO_LIBRARY"), std::string::npos);
  EXPECT_EQ(flag_help(kCatalogue).find("--budget-ms"), std::string::npos);
  for (const auto& line : {help})
    for (std::size_t start = 0, end; start < line.size(); start = end + 1) {
      end = line.find('\n', start);
      EXPECT_LE(end - start, 79u) << line.substr(start, end - start);
    }
}

}  // namespace
}  // namespace gemmtune::option_table
