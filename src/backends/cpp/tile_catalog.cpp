#include "backends/cpp/tile_catalog.h"

#include <string>

#include "backends/cpp/config.h"
#include "util/log.h"

namespace gemmtune::backends::cpp {

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

std::vector<const TileKernel*> tiles_of(Isa isa, Arith arith) {
  std::vector<const TileKernel*> out;
  for (const auto& t : tile_catalog())
    if (t.isa == isa && t.arith == arith) out.push_back(&t);
  return out;
}

const TileKernel* find_tile(Isa isa, Arith arith, int mr, int nr) {
  for (const auto& t : tile_catalog())
    if (t.isa == isa && t.arith == arith && t.mr == mr && t.nr == nr) return &t;
  return nullptr;
}

std::string dot_problem(const DotKernel& d, const std::vector<DotKernel>& registered_before) {
  if (d.mr < 1 || d.nr < 1 || d.nr > 8) return "MR must be positive and NR in 1..8";
  if (d.mr * d.nr + d.nr + 1 > vector_registers(d.isa)) return "the tile needs more vector registers than the ISA has";
  bool any = false;
  for (DotFn fn : d.fn) any |= fn != nullptr;
  if (!any) return "no dot function";
  if (d.isa != Isa::avx512) return "dot tiles are AVX-512 only";
  for (const auto& other : registered_before)
    if (other.isa == d.isa && other.arith == d.arith && other.mr == d.mr && other.nr == d.nr)
      return "registered twice";
  return {};
}

const std::vector<DotKernel>& dot_catalog() {
  static const std::vector<DotKernel> catalog = [] {
    std::vector<DotKernel> out;
    for (const DotKernelList* list : {&kAvx512F32Dots, &kAvx512Bf16Dots}) {
      for (int i = 0; i < list->count; ++i) {
        const DotKernel& d = list->items[i];
        std::string problem = dot_problem(d, out);
        if (!problem.empty()) {
          log::write(log::Level::error, "CPP backend: dot tile " + std::string(to_string(d.isa)) + " " +
                                            std::string(to_string(d.arith)) + " " + std::to_string(d.mr) + "x" +
                                            std::to_string(d.nr) + " left out: " + problem);
          continue;
        }
        out.push_back(d);
      }
    }
    return out;
  }();
  return catalog;
}

const DotKernel* find_dot(Isa isa, Arith arith, int mr, int nr) {
  for (const auto& d : dot_catalog())
    if (d.isa == isa && d.arith == arith && d.mr == mr && d.nr == nr) return &d;
  return nullptr;
}

std::vector<const DotKernel*> dots_of(Isa isa, Arith arith) {
  std::vector<const DotKernel*> out;
  for (const auto& d : dot_catalog())
    if (d.isa == isa && d.arith == arith) out.push_back(&d);
  return out;
}

}  // namespace gemmtune::backends::cpp
