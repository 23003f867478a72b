#include "core/key.h"

#include <sstream>

namespace gemmtune::core {
namespace {

void put(std::ostringstream& out, const char* name, const MatrixDesc& d) {
  out << name << '=' << to_string(d.dtype) << '[' << d.rows << 'x' << d.cols << ":rs" << d.row_stride << ",cs"
      << d.col_stride << ",bs" << d.batch_stride << "];";
}

}  // namespace

std::string functional_key(const Problem& p) {
  std::ostringstream out;
  out.precision(17);
  out << "op=" << to_string(p.op) << ";batch=" << p.batch << ";m=" << p.m << ";n=" << p.n << ";k=" << p.k << ';';
  put(out, "a", p.a);
  put(out, "b", p.b);
  put(out, "c", p.c);
  out << "bias=" << to_string(p.bias) << ';';
  if (p.bias != BiasKind::none) put(out, "bias_desc", p.bias_desc);
  out << "alpha=" << p.alpha << ";beta=" << p.beta << ";act=" << to_string(p.activation)
      << ";scale_a=" << to_string(p.scale_a) << ";scale_b=" << to_string(p.scale_b)
      << ";tf32=" << (p.allow_tf32 ? 1 : 0) << ";align=" << p.alignment
      // The device's kind, not its index: identical GPUs (cuda:0, cuda:1, or
      // one per machine of a fleet) share results; the environment part of
      // the key tells different models apart.
      << ";device=" << (p.device.kind == DeviceKind::cpu ? "cpu" : "cuda");
  return out.str();
}

std::string make_key(const Problem& p, const KeyContext& ctx) {
  std::ostringstream out;
  out << "v" << kKeySchemaVersion << '|' << functional_key(p) << "|env=" << ctx.environment
      << ";threads=" << ctx.threads << "|enabled=";
  for (std::size_t i = 0; i < ctx.enabled.size(); ++i) out << (i ? "," : "") << ctx.enabled[i];
  out << "|versions=";
  bool first = true;
  for (const auto& [name, version] : ctx.backend_versions) {
    out << (first ? "" : ",") << name << ':' << version;
    first = false;
  }
  out << "|space=" << to_string(ctx.search_space);
  return out.str();
}

}  // namespace gemmtune::core
