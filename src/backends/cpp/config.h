// The CPP backend's tunable parameters: one KernelConfig per choice, its
// stable procedural name, the invariants every config must meet, and which
// problems a config (and this CPU) can serve. search_space.h decides which
// configs to offer; tile_catalog.h lists the compiled tiles. Nothing here
// runs a kernel.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cpp/kernel_api.h"
#include "gemmtune/backend.h"
#include "gemmtune/outcome.h"
#include "gemmtune/problem.h"

namespace gemmtune::backends::cpp {

// The CPU as the configuration sees it. Injectable, so that tests can play a
// CPU without AVX-512 (or without BF16/VNNI) on any machine.
struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 + FMA + F16C: the floor for every tile
  bool avx512 = false;    // AVX-512 F, BW, VL, DQ
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
  std::size_t l1d_bytes = 32 * 1024;
  std::size_t l2_bytes = 1024 * 1024;  // per core
  std::size_t l3_bytes = 8 * 1024 * 1024;

  static CpuFeatures detect();  // from cpu::info()
  // Empty when the CPU can run tiles of this ISA and arithmetic, else the
  // missing extensions ("AVX512_BF16").
  std::string missing(Isa, Arith) const;
  // "avx2,avx512,avx512_bf16,avx512_vnni": goes into the backend version.
  std::string isa_list() const;
};

// Limits check_config() enforces.
inline constexpr int kMaxKc = 65536;
inline constexpr int kMaxMc = 8192;
inline constexpr int kMaxNc = 65536;
inline constexpr int kMaxThreads = 1024;

enum class Path : std::uint8_t {
  packed,  // BLIS-style: pack A and B into panels, MC/KC/NC blocking
  direct,  // no packing: the tile reads f32 A and B in place (small problems)
  dot,     // no packing, B with K-contiguous columns (nt): dot products along K
};

// One choice. The thread grid splits batches into `tb` groups and each
// batch's output into tm x tn regions; tb * tm * tn threads in all.
struct KernelConfig {
  Isa isa = Isa::avx512;
  Arith arith = Arith::f32;
  Path path = Path::packed;
  int mr = 0, nr = 0;          // register tile
  int kc = 0;                  // K block (both paths)
  int mc = 0, nc = 0;          // M and N blocks (packed path only)
                               // (dot path: mr x nr is the dot tile, kc its K block)
  int tb = 1, tm = 1, tn = 1;  // thread grid

  int threads() const { return tb * tm * tn; }
  friend bool operator==(const KernelConfig&, const KernelConfig&) = default;
};

// cpp_<isa>_<arith>_mr14_nr32_kc256_mc112_nc1536_t2x1
// cpp_<isa>_<arith>_direct_mr8_nr32_kc1024_t1x2
// cpp_<isa>_<arith>_dot_mr4_nr4_kc4096_t1x2
// with `_b<tb>` before the `_t` part when batches are split across threads.
std::string config_name(const KernelConfig&);
// Inverse of config_name; nullopt for anything it would not produce.
std::optional<KernelConfig> parse_config_name(std::string_view);
// "14x32 tile, KC 256, MC 112, NC 1536, 2x1 threads"
std::string describe_config(const KernelConfig&);

std::string_view to_string(Isa);
std::string_view to_string(Arith);

// Invariants of a config on its own and against the catalogue: a registered
// tile; MC a multiple of MR and NC of NR; KC a multiple of the K group; the
// direct path only for f32 tiles that have one; sane bounds and thread counts.
Status check_config(const KernelConfig&);

// The arithmetics that can compute this problem, best first, ignoring the
// CPU; or why none can (unsupported_op, unsupported_dtype).
Expected<std::vector<Arith>> arithmetics_for(const Problem&);
// Whether the direct path can read this problem's operands in place.
bool direct_path_applies(const Problem&);
// The operand dtypes the dot path would read for this problem, or nullopt
// when it cannot: it needs A with K-contiguous rows and B with K-contiguous
// columns, and dtypes it has loaders for.
std::optional<DotInputs> dot_inputs_for(const Problem&);
// The arithmetic a dot kernel needs for these inputs.
constexpr Arith dot_arith(DotInputs in) {
  return in == DotInputs::bf16 || in == DotInputs::bf16_i8 ? Arith::bf16 : Arith::f32;
}

// Whether `config` can serve `problem` on `cpu` with `threads` threads;
// the rejection says why not (missing_isa, unsupported_*).
Status check_config_for(const KernelConfig&, const Problem&, const CpuFeatures&, int threads);

}  // namespace gemmtune::backends::cpp
