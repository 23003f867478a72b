// How much memory this process may use, so that a problem whose operands
// cannot fit is refused before anything is allocated (instead of the OOM
// killer, or a loop that runs for days on a terabyte of rows).
#pragma once

#include <cstdint>
#include <string>

namespace gemmtune::memory {

// The smallest of: the machine's physical memory, the cgroup's limit (v2
// memory.max, v1 memory.limit_in_bytes) and RLIMIT_AS. Read on every call
// (cheap; limits may change).
std::uint64_t usable_bytes();

// "1.5 GiB", "812 MiB", "12 KiB", "100 bytes".
std::string human_bytes(std::uint64_t bytes);

}  // namespace gemmtune::memory
