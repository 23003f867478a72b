// Compiled CUDA code on disk, shared by processes: one file per cubin, named
// by the digest of its identity (the text that says what was compiled, how
// and by which NVRTC), written to a private temporary file and renamed into
// place (atomic; concurrent writers of one digest write the same bytes),
// validated when read (magic, identity, length, checksum: a damaged file of
// ours is a miss and is removed; a foreign one is a miss), and bounded in
// size (least recently used files go first).
//
// Used by the CUDA backend's kernel cache (templates) and by the runtime for
// its own kernels (the exact reference, the library epilogue passes), both
// under <cache dir>/kernels.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gemmtune/outcome.h"

namespace gemmtune::cuda::cubin_disk {

// The kernels' folder under a cache folder ("" for none).
std::string folder_for(const std::string& cache_dir);
// 32 hex digits naming what `identity` describes.
std::string digest_of(std::string_view identity);
// "13.0", or "none" without NVRTC: part of every identity.
std::string nvrtc_version();
// Reads the cubin stored for `digest` with identity text `identity`; nullopt
// when absent, foreign or damaged.
std::optional<std::vector<char>> read(const std::string& folder, const std::string& digest,
                                      const std::string& identity);
// Whether a file for `digest` is in `folder` (a regular file; not read).
bool has(const std::string& folder, const std::string& digest);
// Stores it atomically; false (and nothing changed) when it cannot.
bool write(const std::string& folder, const std::string& digest, const std::string& identity,
           const std::vector<char>& cubin);
// Removes least recently used kernel files until the folder holds at most
// `max_bytes` of them. Touches nothing but files named like ours.
void trim(const std::string& folder, std::uint64_t max_bytes);
inline constexpr std::uint64_t kDefaultMaxBytes = std::uint64_t{1} << 30;  // 1 GiB

// The cubin that `identity` describes: read from `folder` when stored there,
// else made by `compile` and, when that succeeds, stored (then the folder is
// trimmed to kDefaultMaxBytes) for the next process. `from_disk`, when
// given, says which. A folder of "" compiles every time.
Expected<std::vector<char>> read_or_compile(const std::string& folder, const std::string& identity,
                                            const std::function<Expected<std::vector<char>>()>& compile,
                                            bool* from_disk = nullptr);

// FNV-1a over text, and 16 hex digits of a 64-bit value (digests, checksums).
std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 1469598103934665603ull);
std::string hex64(std::uint64_t v);

}  // namespace gemmtune::cuda::cubin_disk
