// The one explicit, ordered list of built-in backends. The order is the
// tie-break order when two choices time within the noise margin: library
// backends first, then generated kernels.
#include "backends/compiled_out.h"
#include "backends/reference/reference_backend.h"
#include "gemmtune/tuner.h"

namespace gemmtune {

std::vector<std::shared_ptr<Backend>> builtin_backends() {
  using backends::make_compiled_out_backend;
  std::vector<std::shared_ptr<Backend>> list;
  list.push_back(backends::make_reference_backend());
  return list;
}

}  // namespace gemmtune
