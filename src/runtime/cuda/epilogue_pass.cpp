#include "runtime/cuda/epilogue_pass.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "runtime/cuda/cuda_runtime.h"

namespace gemmtune::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr std::int64_t kVectorBytes = 16;

bool half(DType t) { return t == DType::f16 || t == DType::bf16; }

std::vector<EpilogueKernel> make_all() {
  const Activation every[] = {Activation::none, Activation::relu, Activation::gelu, Activation::silu,
                              Activation::gelu_tanh};
  std::vector<EpilogueKernel> out;
  for (Activation act : every) {
    out.push_back({DType::f32, DType::f32, DType::f32, act});
    out.push_back({DType::f64, DType::f64, DType::f64, act});
    for (DType h : {DType::f16, DType::bf16}) {
      out.push_back({h, DType::f32, h, act});
      out.push_back({h, DType::f32, DType::f32, act});
    }
  }
  for (DType h : {DType::f16, DType::bf16}) out.push_back({h, h, h, Activation::relu});
  for (Activation act : {Activation::none, Activation::relu}) out.push_back({DType::i32, DType::i32, DType::i32, act});
  return out;
}

// The compiled kernels of every device, for the process's lifetime (modules
// are never unloaded: kernels built from them may run until exit).
struct CompiledKernels {
  std::mutex mutex;
  std::map<std::pair<int, std::string>, CUfunction> functions;
  std::map<std::pair<int, std::string>, std::string> errors;  // compile errors are not retried
};

CompiledKernels& compiled() {
  static auto* kernels = new CompiledKernels();  // never destroyed (see cuda_device)
  return *kernels;
}

Expected<CUfunction> function_of(CudaRuntime& rt, const EpilogueKernel& k) {
  if (Status s = rt.make_current(); !s) return s.error();
  const auto key = std::make_pair(rt.index(), kernel_name(k));
  CompiledKernels& all = compiled();
  std::lock_guard<std::mutex> lock(all.mutex);
  if (auto it = all.functions.find(key); it != all.functions.end()) return it->second;
  if (auto it = all.errors.find(key); it != all.errors.end()) return reject(Reason::compile_error, it->second);
  auto cubin = rt.compile(epilogue_source({k}), {});
  if (!cubin) {
    if (cubin.error().reason == Reason::compile_error) all.errors.emplace(key, cubin.error().message);
    return cubin.error();
  }
  CUmodule module = nullptr;
  if (CUresult r = rt.driver().cuModuleLoadData(&module, cubin.value().data()); r != CUDA_SUCCESS)
    return driver_failure("cuModuleLoadData(" + key.second + ")", r);
  CUfunction fn = nullptr;
  if (CUresult r = rt.driver().cuModuleGetFunction(&fn, module, key.second.c_str()); r != CUDA_SUCCESS)
    return driver_failure("cuModuleGetFunction(" + key.second + ")", r);
  all.functions.emplace(key, fn);
  return fn;
}

// One operand along the launch's axes: (outer, inner, batch) strides.
struct Axes {
  std::int64_t outer = 0, inner = 0, batch = 0;
};

Axes axes_of(const MatrixDesc& d, bool inner_is_cols, bool broadcast_rows) {
  const std::int64_t rs = broadcast_rows ? 0 : d.row_stride;
  return inner_is_cols ? Axes{rs, d.col_stride, d.batch_stride} : Axes{d.col_stride, rs, d.batch_stride};
}

// Whether every row of an operand starts 16-byte aligned: its pointer, and
// its outer and batch strides in bytes (where there is more than one).
bool rows_aligned(const void* data, const Axes& a, DType dtype, std::int64_t outer, std::int64_t batch) {
  const auto size = static_cast<std::int64_t>(dtype_size(dtype));
  if (reinterpret_cast<std::uintptr_t>(data) % kVectorBytes != 0) return false;
  if (outer > 1 && (a.outer * size) % kVectorBytes != 0) return false;
  if (batch > 1 && (a.batch * size) % kVectorBytes != 0) return false;
  return true;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

}  // namespace

std::string kernel_name(const EpilogueKernel& k) {
  return "gemmtune_epilogue_" + std::string(to_string(k.out)) + "_" + std::string(to_string(k.in)) + "_" +
         std::string(to_string(k.bias)) + "_" + std::string(to_string(k.act));
}

const std::vector<EpilogueKernel>& all_epilogue_kernels() {
  static const std::vector<EpilogueKernel> all = make_all();
  return all;
}

Expected<EpilogueKernel> epilogue_kernel_for(DType out, std::optional<DType> src, std::optional<DType> bias,
                                             Activation act) {
  // Without a src or a bias the kernel reads neither: any instantiation for
  // the output serves, the f32-staging one for 16-bit outputs.
  const DType in = src.value_or(half(out) ? DType::f32 : out);
  const EpilogueKernel k{out, in, bias.value_or(out), act};
  const auto& all = all_epilogue_kernels();
  if (std::find(all.begin(), all.end(), k) != all.end()) return k;
  return reject(Reason::internal_error, "no epilogue pass writes " + std::string(to_string(out)) + " from " +
                                            std::string(to_string(in)) + " with a " +
                                            std::string(to_string(k.bias)) + " bias and " +
                                            std::string(to_string(act)));
}

std::string epilogue_source(const std::vector<EpilogueKernel>& kernels) {
  std::string source = epilogue_template_source();
  for (const EpilogueKernel& k : kernels) {
    source += "extern \"C\" __global__ void __launch_bounds__(" + std::to_string(kThreads) + ") " +
              kernel_name(k) + "(EpilogueParams p) { epilogue<" + std::to_string(static_cast<int>(k.out)) + ", " +
              std::to_string(static_cast<int>(k.in)) + ", " + std::to_string(static_cast<int>(k.bias)) + ", " +
              std::to_string(static_cast<int>(k.act)) + ">(p); }\n";
  }
  return source;
}

EpilogueLaunch plan_epilogue_launch(const EpilogueOperands& op, int sm_count) {
  EpilogueLaunch launch;
  if (op.batch <= 0 || op.m <= 0 || op.n <= 0) {
    launch.empty = true;
    return launch;
  }
  const MatrixDesc& d = op.dst_desc;
  // Along the output's unit stride; a single row or column is walked along
  // its length.
  const bool inner_is_cols = (d.col_stride == 1 && op.n > 1) || !(d.row_stride == 1 && op.m > 1);
  EpilogueParams& p = launch.params;
  p.batch = op.batch;
  p.outer = inner_is_cols ? op.m : op.n;
  p.inner = inner_is_cols ? op.n : op.m;
  p.beta = op.beta;
  p.dst = op.dst;
  const Axes dst = axes_of(d, inner_is_cols, false);
  p.dst_os = dst.outer;
  p.dst_is = dst.inner;
  p.dst_bs = op.batch > 1 ? dst.batch : 0;
  bool vector = dst.inner == 1 && rows_aligned(op.dst, dst, d.dtype, p.outer, op.batch);
  if (op.src) {
    const Axes src = axes_of(op.src_desc, inner_is_cols, false);
    p.src = op.src;
    p.src_os = src.outer;
    p.src_is = src.inner;
    p.src_bs = op.batch > 1 ? src.batch : 0;
    vector = vector && src.inner == 1 && rows_aligned(op.src, src, op.src_desc.dtype, p.outer, op.batch);
  }
  if (op.bias) {
    const Axes bias = axes_of(op.bias_desc, inner_is_cols, op.row_bias);
    p.bias = op.bias;
    p.bias_os = bias.outer;
    p.bias_is = bias.inner;
    p.bias_bs = op.batch > 1 ? bias.batch : 0;
    // Along the inner axis the bias is a vector (stride 1) or one value per
    // row (stride 0, read as a scalar: no alignment needed).
    if (bias.inner == 1)
      vector = vector && rows_aligned(op.bias, bias, op.bias_desc.dtype, p.outer, op.batch);
    else
      vector = vector && bias.inner == 0;
  }
  p.vector = vector ? 1 : 0;

  const std::int64_t width = vector ? kVectorBytes / static_cast<std::int64_t>(dtype_size(d.dtype)) : 1;
  const std::int64_t lanes = ceil_div(p.inner, width);
  std::int64_t bx = 1;
  while (bx < lanes && bx < kThreads) bx *= 2;
  const std::int64_t by = kThreads / bx;
  const std::int64_t gx = ceil_div(lanes, bx);
  const std::int64_t gz = std::min<std::int64_t>(op.batch, 65535);
  // About two waves of 8 resident blocks per SM; each thread walks its rows.
  const std::int64_t wanted = std::max<std::int64_t>(1, 16 * std::max(sm_count, 1) / (gx * gz));
  const std::int64_t gy = std::clamp<std::int64_t>(std::min(ceil_div(p.outer, by), wanted), 1, 65535);
  launch.block = {static_cast<unsigned>(bx), static_cast<unsigned>(by), 1};
  launch.grid = {static_cast<unsigned>(std::min<std::int64_t>(gx, 0x7fffffff)), static_cast<unsigned>(gy),
                 static_cast<unsigned>(gz)};
  return launch;
}

Expected<EpiloguePass> load_epilogue(CudaRuntime& rt, const EpilogueKernel& k) {
  auto fn = function_of(rt, k);
  if (!fn) return fn.error();
  return EpiloguePass{k, fn.value()};
}

Status launch_epilogue(CudaRuntime& rt, CUstream stream, const EpiloguePass& pass, const EpilogueOperands& op) {
  EpilogueLaunch launch = plan_epilogue_launch(op, rt.info().sm_count);
  if (launch.empty) return Status::success();
  void* args[] = {&launch.params};
  if (CUresult r = rt.driver().cuLaunchKernel(pass.function, launch.grid[0], launch.grid[1], launch.grid[2],
                                              launch.block[0], launch.block[1], launch.block[2], 0, stream, args,
                                              nullptr);
      r != CUDA_SUCCESS)
    return driver_failure("cuLaunchKernel(" + kernel_name(pass.kernel) + ")", r);
  return Status::success();
}

}  // namespace gemmtune::cuda
