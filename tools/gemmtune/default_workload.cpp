// The built-in preset of `gemmtune tune --workload`: the GEMMs of a small
// transformer layer (hidden 768 and 1024, nn.Linear weights, so B is stored
// transposed: layout nt) at several token counts, in f32 and bf16, plus one
// fused addmm, one int8 GEMM and one attention bmm; token counts 1 to 2048.
// Sized for a few minutes at most on two cores with the default search space
// (about 15-20 s measured on the 2-core development machine).
// Data, not code: it is parsed exactly like a user's workload file.
#include "workload.h"

namespace gemmtune::cli {

namespace {

constexpr std::string_view kDefaultWorkload = R"(# gemmtune built-in workload: transformer projections (x @ W^T, so layout nt)
# hidden 768: QKV (768 -> 2304), out (768 -> 768), MLP up (768 -> 3072), MLP down (3072 -> 768)
mm 1x2304x768      --dtype f32  --layout nt   # decode step, QKV
mm 32x768x768      --dtype f32  --layout nt   # out projection
mm 128x3072x768    --dtype f32  --layout nt   # MLP up
mm 512x768x3072    --dtype f32  --layout nt   # MLP down
mm 2048x768x3072   --dtype f32  --layout nt   # MLP down, long prompt
mm 2048x2304x768   --dtype f32  --layout nt   # QKV, long prompt
mm 1x768x768       --dtype bf16 --layout nt   # decode step, out projection
mm 32x2304x768     --dtype bf16 --layout nt   # QKV
mm 128x768x3072    --dtype bf16 --layout nt   # MLP down
mm 2048x3072x768   --dtype bf16 --layout nt   # MLP up, long prompt
# hidden 1024
mm 512x1024x1024   --dtype f32  --layout nt   # out projection
# MLP up fused with its bias and GELU, as nn.Linear + GELU
addmm 512x4096x1024 --dtype bf16 --layout nt --bias row --activation gelu
# int8 quantized projection (int8 x int8 -> int32)
int_mm 512x1024x1024 --dtype i8 --layout nt
# attention scores Q.K^T: 12 heads, 128 tokens, head size 64
bmm 12x128x128x64  --dtype f32  --layout nt
)";

}  // namespace

std::string_view default_workload_text() { return kDefaultWorkload; }

}  // namespace gemmtune::cli
