// Store keys. A key has a functional part (what is computed: op, dtypes,
// strides, alignment, epilogue, shape, device kind) and the context part
// that makes a stored result valid (machine fingerprint, threads, enabled
// set, backend versions, search space, schema version). A device's index is
// in neither: the fingerprint names the device's model and properties, so
// identical GPUs (cuda:0 and cuda:1 of one host) share records and
// different ones never do.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "gemmtune/problem.h"
#include "gemmtune/types.h"

namespace gemmtune::core {

// Bump when the meaning of stored records changes.
inline constexpr int kKeySchemaVersion = 1;

std::string functional_key(const Problem&);

struct KeyContext {
  std::string environment;  // the device runtime's fingerprint
  int threads = 1;
  std::vector<std::string> enabled;                     // resolved, registration order
  std::map<std::string, std::string> backend_versions;  // enabled backends of the device
  SearchSpace search_space = SearchSpace::standard;
};

std::string make_key(const Problem&, const KeyContext&);

}  // namespace gemmtune::core
