#include "util/cpu_info.h"

#include <cpuid.h>
#include <sched.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace gemmtune::cpu {
namespace {

std::size_t read_cache_size(int index) {
  std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size");
  std::string text;
  if (!(in >> text) || text.empty()) return 0;
  std::size_t value = std::stoul(text);
  char unit = text.back();
  if (unit == 'K') value *= 1024;
  if (unit == 'M') value *= 1024 * 1024;
  return value;
}

int read_cache_level(int index, std::string* type) {
  std::string base = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
  std::ifstream level(base + "/level"), kind(base + "/type");
  int l = 0;
  if (!(level >> l)) return 0;
  kind >> *type;
  return l;
}

std::string read_model() {
  unsigned regs[12] = {};
  unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext < 0x80000004u) return "unknown x86-64";
  for (unsigned i = 0; i < 3; ++i) __get_cpuid(0x80000002u + i, &regs[i * 4], &regs[i * 4 + 1], &regs[i * 4 + 2], &regs[i * 4 + 3]);
  std::string model(reinterpret_cast<const char*>(regs), sizeof(regs));
  model = model.c_str();
  auto first = model.find_first_not_of(' ');
  auto last = model.find_last_not_of(' ');
  return first == std::string::npos ? "unknown x86-64" : model.substr(first, last - first + 1);
}

CpuInfo detect() {
  CpuInfo c;
  c.model = read_model();
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) c.logical_cpus = CPU_COUNT(&set);
  else c.logical_cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (c.logical_cpus < 1) c.logical_cpus = 1;

  unsigned a, b, cx, d;
  __cpuid(1, a, b, cx, d);
  const bool osxsave = cx & (1u << 27);
  c.fma = cx & (1u << 12);
  unsigned long long xcr0 = 0;
  if (osxsave) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
  }
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;
  __cpuid_count(7, 0, a, b, cx, d);
  c.avx2 = ymm_state && (b & (1u << 5));
  c.fma = c.fma && ymm_state;
  c.avx512f = zmm_state && (b & (1u << 16));
  c.avx512dq = c.avx512f && (b & (1u << 17));
  c.avx512bw = c.avx512f && (b & (1u << 30));
  c.avx512vl = c.avx512f && (b & (1u << 31));
  c.avx512_vnni = c.avx512f && (cx & (1u << 11));
  c.avx512_fp16 = c.avx512f && (d & (1u << 23));
  __cpuid_count(7, 1, a, b, cx, d);
  c.avx512_bf16 = c.avx512f && (a & (1u << 5));
  c.avx_vnni = ymm_state && (a & (1u << 4));

  for (int index = 0; index < 8; ++index) {
    std::string type;
    int level = read_cache_level(index, &type);
    if (level == 0) break;
    std::size_t size = read_cache_size(index);
    if (size == 0) continue;
    if (level == 1 && type == "Data") c.l1d_bytes = size;
    if (level == 2) c.l2_bytes = size;
    if (level == 3) c.l3_bytes = size;
  }
  return c;
}

}  // namespace

std::string CpuInfo::isa_list() const {
  std::string out;
  auto add = [&](bool has, const char* name) {
    if (!has) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512dq, "avx512dq");
  add(avx512_bf16, "avx512_bf16");
  add(avx512_vnni, "avx512_vnni");
  add(avx512_fp16, "avx512_fp16");
  add(avx_vnni, "avx_vnni");
  return out;
}

const CpuInfo& info() {
  static const CpuInfo cached = detect();
  return cached;
}

}  // namespace gemmtune::cpu
