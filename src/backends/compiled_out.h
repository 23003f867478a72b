// Stands in for a backend that this build does not contain, so that it is
// still listed (with why) and naming it is not an "unknown backend" error.
#pragma once

#include <memory>
#include <string>

#include "gemmtune/backend.h"

namespace gemmtune::backends {

std::shared_ptr<Backend> make_compiled_out_backend(std::string name, DeviceKind device, std::string why);

}  // namespace gemmtune::backends
