#include "backends/cpp/config.h"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <sstream>

#include "util/cpu_info.h"
#include "util/log.h"

namespace gemmtune::backends::cpp {
namespace {

constexpr int kMaxKc = 65536;
constexpr int kMaxMc = 8192;
constexpr int kMaxNc = 65536;
constexpr int kMaxThreads = 1024;

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }
std::int64_t ceil_div(std::int64_t x, std::int64_t m) { return (x + m - 1) / m; }

bool parse_int(std::string_view text, int& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// "mr14" -> 14 when the token starts with `key`.
bool parse_field(std::string_view token, std::string_view key, int& out) {
  return token.substr(0, key.size()) == key && parse_int(token.substr(key.size()), out);
}

}  // namespace

// --- CPU features ------------------------------------------------------------

CpuFeatures CpuFeatures::detect() {
  const auto& info = cpu::info();
  CpuFeatures f;
  f.avx2_fma = info.avx2 && info.fma;
  f.avx512 = info.avx512f && info.avx512bw && info.avx512vl && info.avx512dq;
  f.avx512_bf16 = f.avx512 && info.avx512_bf16;
  f.avx512_vnni = f.avx512 && info.avx512_vnni;
  f.l1d_bytes = info.l1d_bytes;
  f.l2_bytes = info.l2_bytes;
  f.l3_bytes = info.l3_bytes;
  f.cpus = info.logical_cpus;
  return f;
}

std::string CpuFeatures::missing(Isa isa, Arith arith) const {
  std::string out;
  auto need = [&](bool has, const char* name) {
    if (has) return;
    if (!out.empty()) out += ", ";
    out += name;
  };
  if (isa == Isa::avx2) {
    need(avx2_fma, "AVX2+FMA");
    if (arith != Arith::f32) need(false, "an AVX2 tile for this arithmetic");
    return out;
  }
  need(avx512, "AVX-512 F/BW/VL/DQ");
  if (arith == Arith::bf16) need(avx512_bf16, "AVX512_BF16");
  if (arith == Arith::u8s8 || arith == Arith::s8s8) need(avx512_vnni, "AVX512_VNNI");
  return out;
}

std::string CpuFeatures::isa_list() const {
  std::string out;
  auto add = [&](bool has, const char* name) {
    if (!has) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(avx2_fma, "avx2");
  add(avx512, "avx512");
  add(avx512_bf16, "avx512_bf16");
  add(avx512_vnni, "avx512_vnni");
  return out.empty() ? "none" : out;
}

// --- names ---------------------------------------------------------------------

std::string_view to_string(Isa isa) { return isa == Isa::avx512 ? "avx512" : "avx2"; }

std::string_view to_string(Arith arith) {
  switch (arith) {
    case Arith::f32: return "f32";
    case Arith::bf16: return "bf16";
    case Arith::u8s8: return "u8s8";
    case Arith::s8s8: return "s8s8";
  }
  return "?";
}

std::string config_name(const KernelConfig& c) {
  std::ostringstream out;
  out << "cpp_" << to_string(c.isa) << '_' << to_string(c.arith);
  if (c.path == Path::direct) out << "_direct";
  out << "_mr" << c.mr << "_nr" << c.nr << "_kc" << c.kc;
  if (c.path == Path::packed) out << "_mc" << c.mc << "_nc" << c.nc;
  if (c.tb > 1) out << "_b" << c.tb;
  out << "_t" << c.tm << 'x' << c.tn;
  return out.str();
}

std::optional<KernelConfig> parse_config_name(std::string_view name) {
  auto tokens = split(name, '_');
  std::size_t at = 0;
  auto next = [&]() -> std::string_view { return at < tokens.size() ? tokens[at++] : std::string_view{}; };
  if (next() != "cpp") return std::nullopt;
  KernelConfig c;
  std::string_view isa = next();
  if (isa == "avx512") c.isa = Isa::avx512;
  else if (isa == "avx2") c.isa = Isa::avx2;
  else return std::nullopt;
  std::string_view arith = next();
  if (arith == "f32") c.arith = Arith::f32;
  else if (arith == "bf16") c.arith = Arith::bf16;
  else if (arith == "u8s8") c.arith = Arith::u8s8;
  else if (arith == "s8s8") c.arith = Arith::s8s8;
  else return std::nullopt;
  std::string_view token = next();
  if (token == "direct") {
    c.path = Path::direct;
    token = next();
  }
  if (!parse_field(token, "mr", c.mr) || !parse_field(next(), "nr", c.nr) || !parse_field(next(), "kc", c.kc))
    return std::nullopt;
  if (c.path == Path::packed) {
    if (!parse_field(next(), "mc", c.mc) || !parse_field(next(), "nc", c.nc)) return std::nullopt;
  }
  token = next();
  if (parse_field(token, "b", c.tb)) {
    if (c.tb < 2) return std::nullopt;  // config_name never writes _b1
    token = next();
  }
  if (token.size() < 2 || token[0] != 't') return std::nullopt;
  auto grid = split(token.substr(1), 'x');
  if (grid.size() != 2 || !parse_int(grid[0], c.tm) || !parse_int(grid[1], c.tn)) return std::nullopt;
  if (at != tokens.size()) return std::nullopt;
  // Only canonical spellings ("mr014" parses as 14 but is not our name).
  if (config_name(c) != name) return std::nullopt;
  return c;
}

std::string describe_config(const KernelConfig& c) {
  std::ostringstream out;
  out << to_string(c.isa) << ' ' << to_string(c.arith) << ' ' << c.mr << 'x' << c.nr << " tile, ";
  if (c.path == Path::direct) out << "direct (no packing), KC " << c.kc;
  else out << "packed, KC " << c.kc << ", MC " << c.mc << ", NC " << c.nc;
  out << ", ";
  if (c.tb > 1) out << c.tb << " batch groups of ";
  out << c.tm << 'x' << c.tn << " threads";
  return out.str();
}

// --- the tile catalogue -----------------------------------------------------

std::string tile_problem(const TileKernel& t, const std::vector<TileKernel>& registered_before) {
  const int width = vector_floats(t.isa);
  if (t.mr < 1 || t.nr < width || t.nr % width != 0) return "NR must be a positive multiple of the vector width";
  const int accumulators = t.mr * (t.nr / width);
  // Accumulators + B vectors + one broadcast must fit the register file.
  if (accumulators + t.nr / width + 1 > vector_registers(t.isa))
    return "the tile needs more vector registers than the ISA has";
  if (t.tile == nullptr || t.pack_a == nullptr || t.pack_b == nullptr) return "tile or packer missing";
  if (t.direct != nullptr && t.arith != Arith::f32) return "only f32 tiles have a direct form";
  if (t.isa == Isa::avx2 && t.arith != Arith::f32) return "AVX2 tiles are f32 only";
  for (const auto& other : registered_before)
    if (other.isa == t.isa && other.arith == t.arith && other.mr == t.mr && other.nr == t.nr)
      return "registered twice";
  return {};
}

const std::vector<TileKernel>& tile_catalog() {
  static const std::vector<TileKernel> catalog = [] {
    std::vector<TileKernel> out;
    for (const TileKernelList* list : {&kAvx512F32Tiles, &kAvx512Bf16Tiles, &kAvx512Int8Tiles, &kAvx2F32Tiles}) {
      for (int i = 0; i < list->count; ++i) {
        const TileKernel& t = list->items[i];
        std::string problem = tile_problem(t, out);
        if (!problem.empty()) {
          log::write(log::Level::error, "CPP backend: tile " + std::string(to_string(t.isa)) + " " +
                                            std::string(to_string(t.arith)) + " " + std::to_string(t.mr) + "x" +
                                            std::to_string(t.nr) + " left out: " + problem);
          continue;
        }
        out.push_back(t);
      }
    }
    return out;
  }();
  return catalog;
}

const TileKernel* find_tile(Isa isa, Arith arith, int mr, int nr) {
  for (const auto& t : tile_catalog())
    if (t.isa == isa && t.arith == arith && t.mr == mr && t.nr == nr) return &t;
  return nullptr;
}

// --- invariants --------------------------------------------------------------

Status check_config(const KernelConfig& c) {
  auto bad = [](std::string message) { return Status(reject(Reason::internal_error, std::move(message))); };
  const TileKernel* tile = find_tile(c.isa, c.arith, c.mr, c.nr);
  if (tile == nullptr)
    return bad("no " + std::string(to_string(c.isa)) + " " + std::string(to_string(c.arith)) + " tile of " +
               std::to_string(c.mr) + "x" + std::to_string(c.nr) + " is compiled in");
  if (c.tb < 1 || c.tm < 1 || c.tn < 1 || c.threads() > kMaxThreads) return bad("thread grid out of range");
  if (c.path == Path::direct) {
    if (tile->direct == nullptr) return bad("this tile has no direct (unpacked) form");
    if (c.kc < 1 || c.kc > kMaxKc) return bad("KC " + std::to_string(c.kc) + " out of range");
    if (c.mc != 0 || c.nc != 0) return bad("the direct path has no MC or NC blocks");
    return Status::success();
  }
  const int group = k_group(c.arith);
  if (c.kc < group || c.kc > kMaxKc || c.kc % group != 0)
    return bad("KC " + std::to_string(c.kc) + " must be a positive multiple of " + std::to_string(group) +
               " up to " + std::to_string(kMaxKc));
  if (c.mc < c.mr || c.mc > kMaxMc || c.mc % c.mr != 0)
    return bad("MC " + std::to_string(c.mc) + " must be a multiple of MR " + std::to_string(c.mr));
  if (c.nc < c.nr || c.nc > kMaxNc || c.nc % c.nr != 0)
    return bad("NC " + std::to_string(c.nc) + " must be a multiple of NR " + std::to_string(c.nr));
  return Status::success();
}

// --- problems ----------------------------------------------------------------

Expected<std::vector<Arith>> arithmetics_for(const Problem& p) {
  const DType a = p.a.dtype;
  switch (p.op) {
    case Op::scaled_mm:
      return reject(Reason::unsupported_op, "scaled_mm (fp8) has no CPU kernel in CPP");
    case Op::int_mm:
      return std::vector<Arith>{a == DType::u8 ? Arith::u8s8 : Arith::s8s8};
    case Op::mm:
    case Op::addmm:
    case Op::bmm:
    case Op::baddbmm:
    case Op::mixed_mm:
      if (a == DType::f32 || a == DType::f16) return std::vector<Arith>{Arith::f32};
      if (a == DType::bf16) return std::vector<Arith>{Arith::bf16, Arith::f32};
      return reject(Reason::unsupported_dtype,
                    std::string(to_string(a)) + " inputs are not supported (f32, f16 and bf16 are)");
  }
  return reject(Reason::unsupported_op, "unknown op");
}

bool direct_path_applies(const Problem& p) {
  return p.op != Op::int_mm && p.op != Op::mixed_mm && p.a.dtype == DType::f32 && p.b.dtype == DType::f32 &&
         (p.b.col_stride == 1 || p.n <= 1);
}

Status check_config_for(const KernelConfig& c, const Problem& p, const CpuFeatures& cpu, int threads) {
  if (Status s = check_config(c); !s) return s;
  std::string missing = cpu.missing(c.isa, c.arith);
  if (!missing.empty())
    return reject(Reason::missing_isa, config_name(c) + " needs " + missing + ", which this CPU lacks");
  auto ariths = arithmetics_for(p);
  if (!ariths) return ariths.error();
  if (std::find(ariths.value().begin(), ariths.value().end(), c.arith) == ariths.value().end())
    return reject(Reason::unsupported_dtype, std::string(to_string(c.arith)) + " arithmetic does not compute " +
                                                 std::string(to_string(p.a.dtype)) + " x " +
                                                 std::string(to_string(p.b.dtype)));
  if (c.path == Path::direct && !direct_path_applies(p))
    return reject(Reason::unsupported_layout,
                  "the direct path reads f32 A and row-major f32 B in place; this problem needs packing");
  if (c.threads() > std::max(threads, 1))
    return reject(Reason::out_of_resources, config_name(c) + " uses " + std::to_string(c.threads()) +
                                                " threads but only " + std::to_string(threads) + " are allowed");
  return Status::success();
}

// --- search spaces -------------------------------------------------------------

namespace {

struct Grid {
  int tb = 1, tm = 1, tn = 1;
};

// Thread grids for exactly `threads` threads that leave no thread idle.
// Exhaustive: the batch split and every tm x tn factoring. Standard: the
// batch split when there are batches enough, else splitting N (each thread
// reads only its columns of B: best when M is small) and, unless M is small,
// splitting M.
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

std::vector<const TileKernel*> tiles_of(Isa isa, Arith arith) {
  std::vector<const TileKernel*> out;
  for (const auto& t : tile_catalog())
    if (t.isa == isa && t.arith == arith) out.push_back(&t);
  return out;
}

const TileKernel* tile_of(Isa isa, Arith arith, int mr, int nr) { return find_tile(isa, arith, mr, nr); }

// A rough model of how close a tile gets to peak on a problem, to pick the
// default tiles (the tuner measures; this only decides what it measures):
//  - edge waste: the fraction of computed elements that are real output;
//  - accumulators: 24 or more keep both FMA pipes busy through the FMA
//    latency with room for loads; 16 leave about a tenth on the table;
//  - direct path only: every extra row tile re-reads its strip of B, from L2
//    or beyond once the strip no longer fits L1.
double estimated_efficiency(const TileKernel& t, const Problem& p, Path path, const CpuFeatures& cpu) {
  const std::int64_t m = std::max<std::int64_t>(p.m, 1), n = std::max<std::int64_t>(p.n, 1);
  const double useful =
      static_cast<double>(m * n) / static_cast<double>(round_up(m, t.mr) * round_up(n, t.nr));
  const int accumulators = t.mr * (t.nr / vector_floats(t.isa));
  const double registers = accumulators >= 24 ? 1.0 : accumulators >= 16 ? 0.9 : 0.7;
  double passes = 1.0;
  const double strip_bytes = static_cast<double>(std::max<std::int64_t>(p.k, 1)) * t.nr * 4;
  if (path == Path::direct && strip_bytes > static_cast<double>(cpu.l1d_bytes) / 2)
    passes = std::pow(0.97, static_cast<double>(ceil_div(m, t.mr) - 1));
  return useful * registers * passes;
}

std::vector<const TileKernel*> best_tiles(std::vector<const TileKernel*> tiles, const Problem& p, Path path,
                                          const CpuFeatures& cpu, std::size_t keep) {
  std::stable_sort(tiles.begin(), tiles.end(), [&](const TileKernel* x, const TileKernel* y) {
    return estimated_efficiency(*x, p, path, cpu) > estimated_efficiency(*y, p, path, cpu);
  });
  if (tiles.size() > keep) tiles.erase(tiles.begin() + static_cast<std::ptrdiff_t>(keep), tiles.end());
  return tiles;
}

// The packed tiles worth a default slot. Large problems: the two shapes
// that run closest to peak (measured on Zen 4; they suit Intel cores too).
// Small or skinny ones: the two the efficiency model ranks first.
std::vector<const TileKernel*> standard_packed_tiles(const Problem& p, Isa isa, Arith arith, bool small_or_skinny,
                                                     const CpuFeatures& cpu) {
  if (small_or_skinny) return best_tiles(tiles_of(isa, arith), p, Path::packed, cpu, 2);
  std::vector<const TileKernel*> out;
  const auto shapes = isa == Isa::avx512 ? std::vector<std::pair<int, int>>{{14, 32}, {6, 64}}
                                         : std::vector<std::pair<int, int>>{{6, 16}, {4, 24}};
  for (auto [mr, nr] : shapes)
    if (const TileKernel* t = tile_of(isa, arith, mr, nr)) out.push_back(t);
  return out.empty() ? best_tiles(tiles_of(isa, arith), p, Path::packed, cpu, 2) : out;
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

  // Thread counts. Default: as many as the work pays for, plus one thread
  // for problems so small that the fork/join cost is close to the gain.
  std::vector<int> all_counts, main_counts;
  for (int t = threads; t >= 1; --t) all_counts.push_back(t);
  const int useful = useful_threads(p, threads);
  main_counts.push_back(useful);
  const double macs = static_cast<double>(p.batch) * p.m * p.n * std::max<std::int64_t>(p.k, 1);
  const bool tiny = useful > 1 && macs < 32 * kMacsPerThread;
  if (tiny) main_counts.push_back(1);

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
      if (!exhaustive) tiles = best_tiles(tiles, p, Path::direct, cpu, 2);
      // K blocks: all of K at once; and, when B outgrows L2, blocks of 256
      // rows, so each thread walks B in short strided runs.
      const bool big_b = static_cast<double>(p.k) * static_cast<double>(p.n) * 4 > static_cast<double>(cpu.l2_bytes);
      for (std::size_t i = 0; i < tiles.size(); ++i) {
        std::vector<std::int64_t> kcs{k_all};
        if (exhaustive || (big_b && i == 0)) kcs.push_back(std::min<std::int64_t>(256, k_all));
        if (exhaustive) kcs.push_back(std::min<std::int64_t>(64, k_all));
        for (std::int64_t kc : kcs) {
          KernelConfig c;
          c.isa = isa;
          c.arith = arith;
          c.path = Path::direct;
          c.mr = tiles[i]->mr;
          c.nr = tiles[i]->nr;
          c.kc = static_cast<int>(kc);
          // Tiny problems try the second tile on one thread only.
          add_with_grids(c, exhaustive ? all_counts : (tiny && i > 0) ? std::vector<int>{1} : main_counts);
        }
      }
    }

    // Packed path: every problem; one baseline choice where the direct path
    // already covers a small or skinny problem.
    std::vector<const TileKernel*> tiles =
        exhaustive ? tiles_of(isa, arith) : standard_packed_tiles(p, isa, arith, small || skinny, cpu);
    if (!exhaustive && direct && tiles.size() > 1) tiles.erase(tiles.begin() + 1, tiles.end());
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
        add_with_grids(c, exhaustive ? all_counts : direct ? std::vector<int>{useful} : main_counts);
      }
    }
  }
  if (out.empty()) return reject(Reason::internal_error, "no valid configuration for " + describe(p));
  return out;
}

}  // namespace gemmtune::backends::cpp
