#include "backends/cpp/search_space.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cpp/tile_catalog.h"

namespace gemmtune::backends::cpp {

namespace {

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }
std::int64_t ceil_div(std::int64_t x, std::int64_t m) { return (x + m - 1) / m; }

struct Grid {
  int tb = 1, tm = 1, tn = 1;
};

// Thread grids for exactly `threads` threads that leave no thread idle.
// Exhaustive: the batch split and every tm x tn factoring. Standard: the
// batch split when there are batches enough, else splitting N (each thread
// reads only its columns of B: best when M is small) and, unless M is small,
// splitting M. When no split keeps every thread busy (a single tile of
// output), one thread.
std::vector<Grid> grids_for(const Problem& p, int threads, int mr, int nr, bool exhaustive) {
  if (threads == 1) return {Grid{}};
  std::vector<Grid> out;
  const std::int64_t row_tiles = ceil_div(p.m, mr), col_tiles = ceil_div(p.n, nr);
  const bool batches_enough = p.batch >= threads && (p.batch % threads == 0 || p.batch >= 4 * threads);
  if (p.batch >= threads && (exhaustive || batches_enough)) out.push_back(Grid{threads, 1, 1});
  if (!exhaustive && batches_enough) return out;
  for (int tm = 1; tm <= threads; ++tm) {
    if (threads % tm != 0) continue;
    const int tn = threads / tm;
    if (tm > row_tiles || tn > col_tiles) continue;
    if (!exhaustive && tm != 1 && tn != 1) continue;
    if (!exhaustive && tm > 1 && p.m <= 16) continue;
    out.push_back(Grid{1, tm, tn});
  }
  if (out.empty()) out.push_back(Grid{});
  return out;
}

// Fork/join and split overheads cost a few microseconds: below about 100k
// multiply-adds per thread a problem runs best on fewer threads.
constexpr double kMacsPerThread = 1.0e5;
int useful_threads(const Problem& p, int threads) {
  const double macs = static_cast<double>(p.batch) * p.m * p.n * std::max<std::int64_t>(p.k, 1);
  return static_cast<int>(std::clamp(macs / kMacsPerThread, 1.0, static_cast<double>(threads)));
}

struct Blocks {
  int kc, mc, nc;
};

// Cache blocks for a packed tile. KC: 512 groups of K per tile call, so the
// tile's store of partial sums is amortized over enough FMAs while its B
// panel (KC x NR) streams from L2. MC: an A block (MC x KC) fills about
// `l2_share` of L2. NC: a B block (KC x NC) takes a share of L3. All clamped
// to the problem.
Blocks packed_blocks(const Problem& p, const CpuFeatures& cpu, Arith arith, int mr, int nr, int kc_groups,
                     double l2_share, int threads) {
  const int eb = packed_elem_bytes(arith), group = k_group(arith);
  const std::int64_t k_padded = round_up(std::max<std::int64_t>(p.k, 1), group);
  std::int64_t kc = std::min<std::int64_t>(static_cast<std::int64_t>(kc_groups) * group, k_padded);
  // Split K evenly rather than leave a sliver of a last block.
  kc = round_up(ceil_div(k_padded, ceil_div(k_padded, kc)), group);
  std::int64_t mc = static_cast<std::int64_t>(static_cast<double>(cpu.l2_bytes) * l2_share) / (kc * eb);
  mc = std::clamp<std::int64_t>(mc / mr * mr, mr, kMaxMc / mr * mr);
  mc = std::min(mc, round_up(std::max<std::int64_t>(p.m, 1), mr));
  std::int64_t nc = static_cast<std::int64_t>(cpu.l3_bytes / 2 / static_cast<std::size_t>(std::max(threads, 1))) / (kc * eb);
  nc = std::clamp<std::int64_t>(nc / nr * nr, nr, kMaxNc / nr * nr);
  nc = std::min(nc, round_up(std::max<std::int64_t>(p.n, 1), nr));
  return Blocks{static_cast<int>(kc), static_cast<int>(mc), static_cast<int>(nc)};
}

// A rough model of how close a tile gets to peak on a problem with
// `threads` threads, to pick the default tiles (the tuner measures; this only
// decides what it measures). Calibrated on Zen 4 (16x1024x1024 and 64^3):
//  - cycles: a tile of r rows and NV vectors per row costs about
//    max(r * NV, 12) cycles per K step and strip: short tiles (the last rows
//    of a direct problem, which computes only the rows there are) cannot
//    hide the FMA latency and loop overhead. Packed tiles always compute MR
//    rows (zero padding); both pay for the whole last strip of columns;
//  - a single vector per row pays one broadcast per FMA (about 10% slower);
//  - direct path only: every extra row tile re-reads its strip of B, from L2
//    or beyond once the strip no longer fits L1 (about 1% each);
//  - balance: the busiest thread's share of the output (whole tiles per
//    thread) against an even split, for the best of the tile's grids.
double estimated_efficiency(const TileKernel& t, const Problem& p, Path path, const CpuFeatures& cpu, int threads) {
  const std::int64_t m = std::max<std::int64_t>(p.m, 1), n = std::max<std::int64_t>(p.n, 1);
  const int width = vector_floats(t.isa);
  const int vectors_per_row = t.nr / width;
  auto tile_cycles = [&](std::int64_t rows) { return static_cast<double>(std::max<std::int64_t>(rows * vectors_per_row, 12)); };
  const std::int64_t full_tiles = m / t.mr, rest = m % t.mr;
  double cycles = static_cast<double>(full_tiles) * tile_cycles(t.mr);
  if (rest > 0) cycles += tile_cycles(path == Path::direct ? rest : t.mr);
  cycles *= static_cast<double>(ceil_div(n, t.nr));
  const double ideal = static_cast<double>(m) * static_cast<double>(n) / width;
  double efficiency = ideal / cycles;
  if (vectors_per_row == 1) efficiency *= 0.9;
  const double strip_bytes = static_cast<double>(std::max<std::int64_t>(p.k, 1)) * t.nr * 4;
  if (path == Path::direct && strip_bytes > static_cast<double>(cpu.l1d_bytes) / 2)
    efficiency *= std::pow(0.99, static_cast<double>(ceil_div(m, t.mr) - 1));
  double balance = threads > 1 ? 0.0 : 1.0;
  for (Grid g : grids_for(p, threads, t.mr, t.nr, false)) {
    if (g.tb > 1) return efficiency;  // whole batches per thread: balanced enough
    const double rows = static_cast<double>(std::min(round_up(ceil_div(m, g.tm), t.mr), m));
    const double cols = static_cast<double>(std::min(round_up(ceil_div(n, g.tn), t.nr), n));
    balance = std::max(balance, static_cast<double>(m * n) / (g.tm * g.tn) / (rows * cols));
  }
  return efficiency * balance;
}

std::vector<const TileKernel*> best_tiles(std::vector<const TileKernel*> tiles, const Problem& p, Path path,
                                          const CpuFeatures& cpu, int threads, std::size_t keep) {
  std::stable_sort(tiles.begin(), tiles.end(), [&](const TileKernel* x, const TileKernel* y) {
    return estimated_efficiency(*x, p, path, cpu, threads) > estimated_efficiency(*y, p, path, cpu, threads);
  });
  std::vector<const TileKernel*> out;
  for (const TileKernel* t : tiles) {
    if (out.size() == keep) break;
    // On the direct path, tiles taller than M run the same code (ROWS = M):
    // keep one of them.
    const bool same_as_kept = std::any_of(out.begin(), out.end(), [&](const TileKernel* o) {
      return path == Path::direct && o->nr == t->nr && std::min<std::int64_t>(o->mr, p.m) == std::min<std::int64_t>(t->mr, p.m) &&
             std::max(o->mr, t->mr) >= p.m;
    });
    if (!same_as_kept) out.push_back(t);
  }
  return out;
}

// The packed tiles worth a default slot. Large problems: the two shapes
// that run closest to peak (measured on Zen 4; they suit Intel cores too).
// Small or skinny ones: the two the efficiency model ranks first.
std::vector<const TileKernel*> standard_packed_tiles(const Problem& p, Isa isa, Arith arith, bool small_or_skinny,
                                                     const CpuFeatures& cpu, int threads) {
  if (small_or_skinny) return best_tiles(tiles_of(isa, arith), p, Path::packed, cpu, threads, 2);
  std::vector<const TileKernel*> out;
  const auto shapes = isa == Isa::avx512 ? std::vector<std::pair<int, int>>{{14, 32}, {6, 64}}
                                         : std::vector<std::pair<int, int>>{{6, 16}, {4, 24}};
  for (auto [mr, nr] : shapes)
    if (const TileKernel* t = find_tile(isa, arith, mr, nr)) out.push_back(t);
  return out.empty() ? best_tiles(tiles_of(isa, arith), p, Path::packed, cpu, threads, 2) : out;
}

// Rows up to which the default space offers the dot path.
constexpr std::int64_t kDotMaxRows = 32;

// The dot tiles worth measuring: every one when exhaustive; else those whose
// rows fit M best (all tiles taller than M run the same ROWS = M code, so
// only the narrowest-rowed of them is kept).
std::vector<const DotKernel*> dot_tiles(std::vector<const DotKernel*> dots, const Problem& p, bool exhaustive) {
  if (exhaustive) return dots;
  std::vector<const DotKernel*> out;
  for (const DotKernel* d : dots) {
    const bool same_as_kept = std::any_of(out.begin(), out.end(), [&](const DotKernel* o) {
      return o->nr == d->nr && std::min<std::int64_t>(o->mr, p.m) == std::min<std::int64_t>(d->mr, p.m);
    });
    if (!same_as_kept) out.push_back(d);
  }
  return out;
}

}  // namespace

Expected<std::vector<KernelConfig>> search_space(const Problem& p, const TuningContext& ctx, const CpuFeatures& cpu) {
  auto ariths = arithmetics_for(p);
  if (!ariths) return ariths.error();
  const bool exhaustive = ctx.search_space == SearchSpace::exhaustive;
  const int threads = std::max(1, ctx.threads);

  // (isa, arith) pairs this CPU can run, best first; the default space uses
  // only the best one.
  std::vector<std::pair<Isa, Arith>> kinds;
  std::string missing;
  for (Arith arith : ariths.value()) {
    for (Isa isa : {Isa::avx512, Isa::avx2}) {
      if (tiles_of(isa, arith).empty()) continue;
      std::string m = cpu.missing(isa, arith);
      if (m.empty()) kinds.emplace_back(isa, arith);
      else if (missing.empty()) missing = m;
    }
  }
  if (kinds.empty())
    return reject(Reason::missing_isa, describe(p) + " needs " + (missing.empty() ? "a kernel" : missing) +
                                           ", which this CPU lacks");
  if (!exhaustive) kinds.resize(1);

  std::vector<KernelConfig> out;
  auto add = [&](KernelConfig c) {
    if (!check_config(c)) return;
    for (const auto& o : out)
      if (o == c) return;
    out.push_back(c);
  };
  // Adds `c` once per thread grid of each thread count.
  auto add_with_grids = [&](KernelConfig c, const std::vector<int>& thread_counts) {
    for (int t : thread_counts)
      for (Grid g : grids_for(p, t, c.mr, c.nr, exhaustive)) {
        c.tb = g.tb;
        c.tm = g.tm;
        c.tn = g.tn;
        add(c);
      }
  };

  // Thread counts. Default: as many as the work pays for; for small problems
  // (where the fork/join cost of about half a microsecond is close to the
  // gain) both that and the extremes: one thread, and every thread, which
  // doubles the memory-level parallelism when the inputs come cold from DRAM.
  std::vector<int> all_counts, main_counts;
  for (int t = threads; t >= 1; --t) all_counts.push_back(t);
  const int useful = useful_threads(p, threads);
  main_counts.push_back(useful);
  const double macs = static_cast<double>(p.batch) * p.m * p.n * std::max<std::int64_t>(p.k, 1);
  if (macs < 32 * kMacsPerThread) {
    if (useful > 1) main_counts.push_back(1);
    if (useful < threads && macs >= kMacsPerThread / 4) main_counts.push_back(threads);
  }

  const bool small = std::max({p.m, p.n, p.k}) <= 64;
  const bool skinny = p.m <= 16;
  const std::int64_t k_all = std::min<std::int64_t>(std::max<std::int64_t>(p.k, 1), kMaxKc);
  for (auto [isa, arith] : kinds) {
    // Direct path: small problems, and few rows against many columns, where
    // packing costs more than it saves.
    const bool direct = arith == Arith::f32 && direct_path_applies(p) && (exhaustive || small || skinny);
    if (direct) {
      std::vector<const TileKernel*> tiles;
      for (const TileKernel* t : tiles_of(isa, arith))
        if (t->direct != nullptr) tiles.push_back(t);
      if (!exhaustive) tiles = best_tiles(tiles, p, Path::direct, cpu, useful, 2);
      // K blocks: all of K at once; and, when B outgrows L2, a short block.
      // With one row tile the kernel sweeps all columns of a K block per
      // call, so a block of 8 rows streams B row by row (near DRAM speed for
      // a GEMV-like 1 x 4096 x 4096); with several row tiles, 256 rows keep a
      // strip of B in L2 for all of them.
      const bool big_b = static_cast<double>(p.k) * static_cast<double>(p.n) * 4 > static_cast<double>(cpu.l2_bytes);
      for (std::size_t i = 0; i < tiles.size(); ++i) {
        std::vector<std::int64_t> kcs{k_all};
        const std::int64_t short_block = p.m <= tiles[i]->mr ? 8 : 256;
        if (big_b && i == 0 && !exhaustive) kcs.push_back(std::min<std::int64_t>(short_block, k_all));
        if (exhaustive)
          for (std::int64_t kc : {8, 32, 256}) kcs.push_back(std::min<std::int64_t>(kc, k_all));
        for (std::int64_t kc : kcs) {
          KernelConfig c;
          c.isa = isa;
          c.arith = arith;
          c.path = Path::direct;
          c.mr = tiles[i]->mr;
          c.nr = tiles[i]->nr;
          c.kc = static_cast<int>(kc);
          add_with_grids(c, exhaustive ? all_counts : main_counts);
        }
      }
    }

    // Dot path: B with K-contiguous columns (nt) and few rows, where packing
    // B would cost as much as the whole product; also small problems.
    const auto dot_inputs = dot_inputs_for(p);
    const bool dot = dot_inputs && dot_arith(*dot_inputs) == arith && !dots_of(isa, arith).empty() &&
                     (exhaustive || small || p.m <= kDotMaxRows);
    if (dot) {
      for (const DotKernel* d : dot_tiles(dots_of(isa, arith), p, exhaustive)) {
        std::vector<std::int64_t> kcs{k_all};
        if (exhaustive)
          for (std::int64_t kc : {64, 256, 1024}) kcs.push_back(std::min<std::int64_t>(kc, k_all));
        for (std::int64_t kc : kcs) {
          KernelConfig c;
          c.isa = isa;
          c.arith = arith;
          c.path = Path::dot;
          c.mr = d->mr;
          c.nr = d->nr;
          c.kc = static_cast<int>(kc);
          add_with_grids(c, exhaustive ? all_counts : main_counts);
        }
      }
    }

    // Packed path: every problem; one baseline choice where the direct path
    // already covers a small or skinny problem.
    std::vector<const TileKernel*> tiles =
        exhaustive ? tiles_of(isa, arith) : standard_packed_tiles(p, isa, arith, small || skinny, cpu, useful);
    if (!exhaustive && (direct || dot) && tiles.size() > 1) tiles.erase(tiles.begin() + 1, tiles.end());
    for (const TileKernel* t : tiles) {
      std::vector<Blocks> blocks;
      if (exhaustive) {
        for (int kc_groups : {128, 256, 512, 1024})
          for (double l2 : {0.125, 0.25, 0.5})
            blocks.push_back(packed_blocks(p, cpu, arith, t->mr, t->nr, kc_groups, l2, threads));
      } else {
        blocks.push_back(packed_blocks(p, cpu, arith, t->mr, t->nr, 512, 0.25, useful));
      }
      for (const Blocks& b : blocks) {
        KernelConfig c;
        c.isa = isa;
        c.arith = arith;
        c.path = Path::packed;
        c.mr = t->mr;
        c.nr = t->nr;
        c.kc = b.kc;
        c.mc = b.mc;
        c.nc = b.nc;
        if (exhaustive || !(direct || dot)) {
          add_with_grids(c, exhaustive ? all_counts : main_counts);
        } else {  // one baseline: the first grid of the useful thread count
          const Grid g = grids_for(p, useful, c.mr, c.nr, false).front();
          c.tb = g.tb;
          c.tm = g.tm;
          c.tn = g.tn;
          add(c);
        }
      }
    }
  }
  if (out.empty()) return reject(Reason::internal_error, "no valid configuration for " + describe(p));
  return out;
}

}  // namespace gemmtune::backends::cpp
