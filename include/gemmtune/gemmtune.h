// The whole C++ API in one include: the tuner and its options, problems,
// records and their JSON form, the results catalogue, errors, and the
// backend interface for custom backends. (The C API is gemmtune/c_api.h.)
#pragma once

#include "gemmtune/backend.h"
#include "gemmtune/catalogue.h"
#include "gemmtune/errors.h"
#include "gemmtune/options.h"
#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"
#include "gemmtune/record.h"
#include "gemmtune/record_json.h"
#include "gemmtune/tuner.h"
#include "gemmtune/types.h"
