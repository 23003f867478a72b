#include "backends/cpp/config.h"

#include <cpuid.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "backends/cpp/tile_catalog.h"
#include "util/cpu_info.h"

namespace gemmtune::backends::cpp {
namespace {

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

// F16C (half <-> single conversions), which every kernel file uses; every
// AVX2 CPU has it, but cpu::info() does not report it, so check here.
bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & (1u << 29)) != 0;
}

}  // namespace

// --- CPU features ------------------------------------------------------------

CpuFeatures CpuFeatures::detect() {
  const auto& info = cpu::info();
  CpuFeatures f;
  f.avx2_fma = info.avx2 && info.fma && cpu_has_f16c();
  f.avx512 = info.avx512f && info.avx512bw && info.avx512vl && info.avx512dq;
  f.avx512_bf16 = f.avx512 && info.avx512_bf16;
  f.avx512_vnni = f.avx512 && info.avx512_vnni;
  f.l1d_bytes = info.l1d_bytes;
  f.l2_bytes = info.l2_bytes;
  f.l3_bytes = info.l3_bytes;
  return f;
}

std::string CpuFeatures::missing(Isa isa, Arith arith) const {
  std::string out;
  auto need = [&](bool has, const char* name) {
    if (has) return;
    if (!out.empty()) out += ", ";
    out += name;
  };
  need(avx2_fma, "AVX2+FMA+F16C");
  if (isa == Isa::avx2) {
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
  if (c.path == Path::dot) out << "_dot";
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
  if (token == "direct" || token == "dot") {
    c.path = token == "dot" ? Path::dot : Path::direct;
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
  else if (c.path == Path::dot) out << "dot products along K (no packing), KC " << c.kc;
  else out << "packed, KC " << c.kc << ", MC " << c.mc << ", NC " << c.nc;
  out << ", ";
  if (c.tb > 1) out << c.tb << " batch groups of ";
  out << c.tm << 'x' << c.tn << " threads";
  return out.str();
}

// --- invariants --------------------------------------------------------------

Status check_config(const KernelConfig& c) {
  auto bad = [](std::string message) { return Status(reject(Reason::internal_error, std::move(message))); };
  auto not_compiled = [&](const char* what) {
    return bad("no " + std::string(to_string(c.isa)) + " " + std::string(to_string(c.arith)) + " " + what + " of " +
               std::to_string(c.mr) + "x" + std::to_string(c.nr) + " is compiled in");
  };
  if (c.tb < 1 || c.tm < 1 || c.tn < 1 || c.threads() > kMaxThreads) return bad("thread grid out of range");
  if (c.path == Path::dot) {
    if (find_dot(c.isa, c.arith, c.mr, c.nr) == nullptr) return not_compiled("dot tile");
  } else {
    const TileKernel* tile = find_tile(c.isa, c.arith, c.mr, c.nr);
    if (tile == nullptr) return not_compiled("tile");
    if (c.path == Path::direct && tile->direct == nullptr) return bad("this tile has no direct (unpacked) form");
  }
  if (c.path != Path::packed) {
    // Unpacked paths read K in place: any KC, and no MC/NC blocks.
    if (c.kc < 1 || c.kc > kMaxKc) return bad("KC " + std::to_string(c.kc) + " out of range");
    if (c.mc != 0 || c.nc != 0)
      return bad("the " + std::string(c.path == Path::dot ? "dot" : "direct") + " path has no MC or NC blocks");
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

std::optional<DotInputs> dot_inputs_for(const Problem& p) {
  if (p.op == Op::int_mm || p.op == Op::scaled_mm) return std::nullopt;
  const bool a_k_contiguous = p.a.col_stride == 1 || p.k <= 1;
  const bool b_k_contiguous = p.b.row_stride == 1 || p.k <= 1;
  if (!a_k_contiguous || !b_k_contiguous) return std::nullopt;
  const DType a = p.a.dtype, b = p.b.dtype;
  if (p.op == Op::mixed_mm) {
    if (b != DType::i8) return std::nullopt;
    if (a == DType::f32) return DotInputs::f32_i8;
    if (a == DType::f16) return DotInputs::f16_i8;
    if (a == DType::bf16) return DotInputs::bf16_i8;
    return std::nullopt;
  }
  if (a != b) return std::nullopt;
  if (a == DType::f32) return DotInputs::f32;
  if (a == DType::f16) return DotInputs::f16;
  if (a == DType::bf16) return DotInputs::bf16;
  return std::nullopt;
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
  if (c.path == Path::dot) {
    const auto inputs = dot_inputs_for(p);
    if (!inputs)
      return reject(Reason::unsupported_layout,
                    "the dot path reads A and B with K-contiguous rows and columns (B as in nt); this problem's "
                    "layout or dtypes need another path");
    const DotKernel* dot = find_dot(c.isa, c.arith, c.mr, c.nr);
    if (dot_arith(*inputs) != c.arith || dot->fn[static_cast<int>(*inputs)] == nullptr)
      return reject(Reason::unsupported_dtype, config_name(c) + " has no dot kernel for " +
                                                   std::string(to_string(p.a.dtype)) + " x " +
                                                   std::string(to_string(p.b.dtype)));
  }
  if (c.threads() > std::max(threads, 1))
    return reject(Reason::out_of_resources, config_name(c) + " uses " + std::to_string(c.threads()) +
                                                " threads but only " + std::to_string(threads) + " are allowed");
  return Status::success();
}

}  // namespace gemmtune::backends::cpp
