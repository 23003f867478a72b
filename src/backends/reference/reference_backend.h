#pragma once

#include <memory>

#include "gemmtune/backend.h"

namespace gemmtune::backends {

// REFERENCE: exact and simple, every op and dtype, on the CPU. It is the
// oracle; it is in the default enabled set only when named.
std::shared_ptr<Backend> make_reference_backend();

}  // namespace gemmtune::backends
