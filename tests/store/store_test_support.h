// Helpers for the store tests: a scratch folder, fully populated sample
// records and a field-by-field comparison of records.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gemmtune/record.h"

namespace gemmtune::store::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Collects the store's warnings.
struct Warnings {
  std::vector<std::string> messages;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& m) { messages.push_back(m); };
  }
};

// A record in which every field differs from its default, so that a field
// the JSON form forgot cannot round-trip by accident. `variant` varies the
// content deterministically (the concurrency test checks which writer won).
TuningRecord sample_record(const std::string& key, int variant = 0);

// A record that passes validate_record(): a CPU addmm whose key is the one
// the tuner computes from its problem and context. `label` goes into the
// environment (so different labels give different keys); `variant` varies
// the problem and the timings.
TuningRecord valid_record(const std::string& label, int variant = 0);

// Every field equal (doubles exactly). Reports the first difference.
::testing::AssertionResult same_record(const TuningRecord& expected, const TuningRecord& actual);

// "w3-17" from ("w", 3, 17); "k4" from ("k", 4).
std::string numbered_key(const char* prefix, int a, int b = -1);

std::string read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::string& bytes);
bool file_exists(const std::string& path);
// Files in `folder` whose name starts with `prefix`.
std::vector<std::string> files_starting_with(const std::string& folder, const std::string& prefix);

// Runs one SQL statement on a database with the raw sqlite3 API (to damage
// or inspect it behind the store's back); returns the first column of each
// row. With keep_wal, closing does not checkpoint: committed changes stay in
// the -wal file, as after a crash.
std::vector<std::string> sql(const std::string& db_path, const std::string& statement, bool keep_wal = false);

}  // namespace gemmtune::store::testing
