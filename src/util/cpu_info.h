// What the CPU offers, read once: instruction sets (CPUID and the OS's
// enabled register state), cache sizes and the model name.
#pragma once

#include <cstddef>
#include <string>

namespace gemmtune::cpu {

struct CpuInfo {
  std::string model;        // "AMD EPYC 9R14 96-Core Processor"
  int logical_cpus = 1;     // online CPUs this process may use
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;     // with the OS saving the zmm state
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
  bool avx512_fp16 = false;
  bool avx_vnni = false;
  std::size_t l1d_bytes = 32 * 1024;
  std::size_t l2_bytes = 1024 * 1024;       // per core
  std::size_t l3_bytes = 8 * 1024 * 1024;   // shared
  // "avx2,fma,avx512f,avx512bw,avx512_bf16,avx512_vnni"
  std::string isa_list() const;
};

const CpuInfo& info();

}  // namespace gemmtune::cpu
