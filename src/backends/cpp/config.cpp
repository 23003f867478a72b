#include "backends/cpp/config.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "util/cpu_info.h"
#include "util/log.h"

namespace gemmtune::backends::cpp {
namespace {

constexpr int kMaxKc = 8192;
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
  out << "_mr" << c.mr << "_nr" << c.nr;
  if (c.path == Path::packed) out << "_kc" << c.kc << "_mc" << c.mc << "_nc" << c.nc;
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
  if (!parse_field(token, "mr", c.mr) || !parse_field(next(), "nr", c.nr)) return std::nullopt;
  if (c.path == Path::packed) {
    if (!parse_field(next(), "kc", c.kc) || !parse_field(next(), "mc", c.mc) || !parse_field(next(), "nc", c.nc))
      return std::nullopt;
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
  if (c.path == Path::direct) out << "direct (no packing)";
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
    if (c.kc != 0 || c.mc != 0 || c.nc != 0) return bad("the direct path has no cache blocks");
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

// Thread grids worth trying for `threads` threads on this problem.
std::vector<KernelConfig> thread_grids(const Problem& p, int threads, int mr, int nr, bool exhaustive) {
  std::vector<KernelConfig> out;
  auto add = [&](int tb, int tm, int tn) {
    KernelConfig c;
    c.tb = tb;
    c.tm = tm;
    c.tn = tn;
    for (const auto& o : out)
      if (o.tb == tb && o.tm == tm && o.tn == tn) return;
    out.push_back(c);
  };
  const std::int64_t row_tiles = ceil_div(p.m, mr), col_tiles = ceil_div(p.n, nr);
  for (int t = threads; t >= 1; --t) {
    if (threads % t != 0 && !exhaustive) continue;
    if (!exhaustive && t != threads && t != 1) continue;
    if (p.batch >= t && t > 1) add(t, 1, 1);
    for (int tm = 1; tm <= t; ++tm) {
      if (t % tm != 0) continue;
      const int tn = t / tm;
      if (tm > row_tiles || tn > col_tiles) continue;  // idle threads
      add(1, tm, tn);
    }
  }
  if (out.empty()) add(1, 1, 1);
  return out;
}

// How many threads a problem of this size can use before the fork/join and
// split overheads outweigh the work (about 2 us of work per thread).
int useful_threads(const Problem& p, int threads) {
  const double flops = 2.0 * static_cast<double>(p.batch) * p.m * p.n * std::max<std::int64_t>(p.k, 1);
  const double per_thread_min = 2.0e5;  // ~2 us at 100 GFLOP/s
  int t = static_cast<int>(std::min<double>(threads, std::max(1.0, flops / per_thread_min)));
  return std::max(1, t);
}

struct Blocks {
  int kc, mc, nc;
};

// Cache blocks for a tile: a KC x NR panel of B stays in L1 next to the
// streaming A panel, an MC x KC block of A fills about half of L2, and a
// KC x NC block of B a share of L3; all clamped to the problem.
Blocks blocks_for(const Problem& p, const CpuFeatures& cpu, Arith arith, int mr, int nr, int threads_sharing_l3,
                  double l1_share, double l2_share) {
  const int eb = packed_elem_bytes(arith);
  const int group = k_group(arith);
  std::int64_t kc = static_cast<std::int64_t>(cpu.l1d_bytes * l1_share) / (nr * eb);
  kc = std::clamp<std::int64_t>(kc / 16 * 16, 64, 2048);
  const std::int64_t k_needed = round_up(std::max<std::int64_t>(p.k, 1), group);
  if (k_needed <= kc + kc / 2) kc = k_needed;  // one K block when K is close
  kc = round_up(kc, group);
  std::int64_t mc = static_cast<std::int64_t>(cpu.l2_bytes * l2_share) / (kc * eb);
  mc = std::max<std::int64_t>(mr, mc / mr * mr);
  mc = std::min<std::int64_t>(mc, round_up(std::max<std::int64_t>(p.m, 1), mr));
  std::int64_t nc = static_cast<std::int64_t>(cpu.l3_bytes / 2 / std::max(threads_sharing_l3, 1)) / (kc * eb);
  nc = std::clamp<std::int64_t>(nc / nr * nr, nr, 8192 / nr * nr);
  nc = std::min<std::int64_t>(nc, round_up(std::max<std::int64_t>(p.n, 1), nr));
  return Blocks{static_cast<int>(std::min<std::int64_t>(kc, kMaxKc)), static_cast<int>(std::min<std::int64_t>(mc, kMaxMc)),
                static_cast<int>(std::min<std::int64_t>(nc, kMaxNc))};
}

// The tile shapes to offer, best first, for an ISA and arithmetic.
std::vector<const TileKernel*> tiles_for(Isa isa, Arith arith) {
  std::vector<const TileKernel*> out;
  for (const auto& t : tile_catalog())
    if (t.isa == isa && t.arith == arith) out.push_back(&t);
  return out;
}

}  // namespace

Expected<std::vector<KernelConfig>> search_space(const Problem& p, const TuningContext& ctx, const CpuFeatures& cpu) {
  auto ariths = arithmetics_for(p);
  if (!ariths) return ariths.error();
  const bool exhaustive = ctx.search_space == SearchSpace::exhaustive;
  const int threads = std::max(1, ctx.threads);

  // (isa, arith) pairs this CPU can run, best first.
  std::vector<std::pair<Isa, Arith>> kinds;
  std::string missing;
  for (Arith arith : ariths.value()) {
    for (Isa isa : {Isa::avx512, Isa::avx2}) {
      if (tiles_for(isa, arith).empty()) continue;
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

  const int use_threads = exhaustive ? threads : useful_threads(p, threads);
  for (auto [isa, arith] : kinds) {
    const auto tiles = tiles_for(isa, arith);
    // Direct path: small problems, and few rows against many columns.
    const bool small = std::max({p.m, p.n, p.k}) <= 64;
    const bool skinny = p.m <= 16;
    if (direct_path_applies(p) && arith == Arith::f32 && (exhaustive || small || skinny)) {
      for (const TileKernel* t : tiles) {
        if (t->direct == nullptr) continue;
        if (!exhaustive && (t->mr < std::min<std::int64_t>(p.m, 16) / 2)) continue;
        for (KernelConfig grid : thread_grids(p, use_threads, t->mr, t->nr, exhaustive)) {
          grid.isa = isa;
          grid.arith = arith;
          grid.path = Path::direct;
          grid.mr = t->mr;
          grid.nr = t->nr;
          add(grid);
        }
      }
    }
    // Packed path.
    for (std::size_t ti = 0; ti < tiles.size(); ++ti) {
      const TileKernel* t = tiles[ti];
      if (!exhaustive && ti > 0) break;
      std::vector<Blocks> blocks;
      const Blocks base = blocks_for(p, cpu, arith, t->mr, t->nr, use_threads, 0.5, 0.5);
      blocks.push_back(base);
      if (exhaustive) {
        for (double l1 : {0.25, 0.5, 1.0, 2.0})
          for (double l2 : {0.25, 0.5})
            blocks.push_back(blocks_for(p, cpu, arith, t->mr, t->nr, use_threads, l1, l2));
      }
      for (const Blocks& b : blocks) {
        for (KernelConfig grid : thread_grids(p, use_threads, t->mr, t->nr, exhaustive)) {
          grid.isa = isa;
          grid.arith = arith;
          grid.path = Path::packed;
          grid.mr = t->mr;
          grid.nr = t->nr;
          grid.kc = b.kc;
          grid.mc = b.mc;
          grid.nc = b.nc;
          add(grid);
        }
      }
    }
  }
  if (out.empty()) return reject(Reason::internal_error, "no valid configuration for " + describe(p));
  return out;
}

}  // namespace gemmtune::backends::cpp
