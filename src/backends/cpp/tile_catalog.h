// The register tiles compiled into this build, collected from the kernel
// files' constant tables and checked once, the first time they are needed
// (BLIS-style registration): a tile whose descriptor breaks an invariant is
// left out and logged as an error, never offered.
#pragma once

#include <string>
#include <vector>

#include "backends/cpp/kernel_api.h"

namespace gemmtune::backends::cpp {

// Every valid tile, in registration order (AVX-512 f32, bf16, int8, AVX2 f32).
const std::vector<TileKernel>& tile_catalog();
// The tile of this ISA, arithmetic and shape, or null.
const TileKernel* find_tile(Isa, Arith, int mr, int nr);
// All tiles of one ISA and arithmetic.
std::vector<const TileKernel*> tiles_of(Isa, Arith);

// Every valid dot-product tile (AVX-512 f32, bf16), and lookups.
const std::vector<DotKernel>& dot_catalog();
const DotKernel* find_dot(Isa, Arith, int mr, int nr);
std::vector<const DotKernel*> dots_of(Isa, Arith);
// Why a dot descriptor cannot be registered (accumulators + B vectors + one A
// vector over the register file, NR outside 1..8, no function, a duplicate);
// empty when it can.
std::string dot_problem(const DotKernel&, const std::vector<DotKernel>& registered_before);

// Why a descriptor cannot be registered after `registered_before` (NR not a
// multiple of the vector width, more accumulators than registers, a missing
// packer, a duplicate, ...); empty when it can. Exposed for tests.
std::string tile_problem(const TileKernel&, const std::vector<TileKernel>& registered_before);

}  // namespace gemmtune::backends::cpp
