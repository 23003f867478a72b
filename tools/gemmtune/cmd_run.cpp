// `gemmtune run`: one GEMM on .npy data. The problem is derived from the
// files (shapes, C/Fortran order), so the selection the tuner returns is for
// exactly the data it is then run on.
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "commands.h"
#include "format.h"
#include "gemmtune/errors.h"
#include "measure/inputs.h"
#include "npy.h"
#include "runtime/device_runtime.h"
#include "store/store.h"
#include "util/files.h"
#include "util/numeric.h"

namespace gemmtune::cli {
namespace {

[[noreturn]] void usage(const std::string& message) { throw UsageError(message, usage_hint(Command::run)); }

struct InputFile {
  std::string flag;  // "--a"
  std::string path;
  NpyArray array;
  std::size_t rank() const { return array.shape.size(); }
  std::string describe() const {
    return flag + " " + path + " (" + array.shape_text() + ", " + std::string(npy_type_name(array.type)) +
           (array.fortran_order ? ", Fortran order" : ", C order") + ")";
  }
};

InputFile load(const std::string& flag, const std::string& path) { return InputFile{flag, path, read_npy(path)}; }

// Tracks values a narrower float dtype could not hold, to warn once per
// file: fp8 saturates them to its largest value; f16, bf16 and f32 round
// them to an infinity, as IEEE rounding (and torch's .to()) does.
struct ConversionNotes {
  std::int64_t saturated = 0;
  std::int64_t infinite = 0;
};

// Converts one element to `target`, refusing integer targets that would
// change the value (NumPy files of floats for an int8 GEMM are a mistake
// worth reporting, not something to round silently).
void store_converted(void* dst, DType target, std::int64_t index, double v, const InputFile& file,
                     std::initializer_list<std::int64_t> position, ConversionNotes& notes) {
  if (is_integer(target)) {
    double lo = target == DType::i8 ? -128.0 : target == DType::u8 ? 0.0 : -2147483648.0;
    double hi = target == DType::i8 ? 127.0 : target == DType::u8 ? 255.0 : 2147483647.0;
    if (!(v == std::nearbyint(v)) || v < lo || v > hi) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.9g", v);
      std::string where = "(";
      for (auto p : position) {
        if (where.size() > 1) where += ", ";
        where += std::to_string(p);
      }
      where += ")";
      usage(file.path + ": element " + where + " = " + buf + " is not representable as " +
            std::string(to_string(target)) + " (converting " + file.flag + " to the problem's dtype)");
    }
  } else if (std::isfinite(v)) {
    if (std::isinf(numeric::rounded_as(target, v))) ++notes.infinite;
    const double fp8_max = target == DType::f8e4m3 ? numeric::kE4M3.max_finite : numeric::kE5M2.max_finite;
    if (is_fp8(target) && std::fabs(v) > fp8_max) ++notes.saturated;
  }
  numeric::store_from_double(dst, target, index, v);
}

// Copies a 2-D or 3-D file into a buffer laid out as `desc` (batched when
// the file is 3-D), converting to desc.dtype.
void convert_matrix(const InputFile& file, const MatrixDesc& desc, std::int64_t batches, void* dst, Io& io) {
  const NpyArray& a = file.array;
  const bool three = a.shape.size() == 3;
  const std::int64_t rows = desc.rows, cols = desc.cols;
  // An empty matrix has nothing to convert, however long its other side: a
  // 2^40 x 0 operand must not loop 2^40 times.
  if (rows == 0 || cols == 0 || batches == 0) return;
  const std::vector<std::int64_t> stride = a.element_strides();
  const std::int64_t sb = three ? stride[0] : 0;
  const std::int64_t si = stride[three ? 1 : 0];
  const std::int64_t sj = stride[three ? 2 : 1];
  ConversionNotes notes;
  for (std::int64_t b = 0; b < batches; ++b)
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) {
        const double v = a.load(b * sb + i * si + j * sj);
        const std::int64_t out = b * desc.batch_stride + i * desc.row_stride + j * desc.col_stride;
        if (three) store_converted(dst, desc.dtype, out, v, file, {b, i, j}, notes);
        else store_converted(dst, desc.dtype, out, v, file, {i, j}, notes);
      }
  if (notes.saturated > 0)
    io.err << "gemmtune: warning: " << file.path << ": " << notes.saturated << " values exceed the range of "
           << to_string(desc.dtype) << " and were saturated to its largest value\n";
  if (notes.infinite > 0)
    io.err << "gemmtune: warning: " << file.path << ": " << notes.infinite << " values exceed the range of "
           << to_string(desc.dtype) << " and became infinities\n";
}

// Scale files: 1 value = per tensor; `channels` values = per channel.
ScaleKind scale_kind_of(const InputFile& file, std::int64_t channels, const std::string& channel_name) {
  if (file.rank() > 2) usage(file.describe() + ": a scale must be a scalar or a vector");
  const std::int64_t count = file.array.element_count();
  if (count == 1) return ScaleKind::per_tensor;
  if (count == channels) return ScaleKind::per_channel;
  usage(file.describe() + ": expected 1 value (per tensor) or " + std::to_string(channels) + " values (one per " +
        channel_name + ")");
}

// The f32 values of a scale file (none when it was not given).
measure::HostBuffer scale_buffer(const std::optional<InputFile>& file) {
  if (!file) return {};
  const std::int64_t count = file->array.element_count();
  measure::HostBuffer out(static_cast<std::size_t>(count) * sizeof(float));
  auto* values = static_cast<float*>(out.data());
  for (std::int64_t i = 0; i < count; ++i) values[i] = static_cast<float>(file->array.load(i));
  return out;
}

DType default_run_dtype(Op op, const InputFile& a) {
  const auto native = npy_to_dtype(a.array.type);
  const bool floating = native && is_floating(*native);
  if (op == Op::scaled_mm && (floating || !native)) return DType::f8e4m3;  // NumPy has no fp8
  if (op == Op::int_mm && native != DType::i8 && native != DType::u8) return DType::i8;
  if (native) return *native;
  return DType::i32;  // int64 input: the widest integer gemmtune has
}

// --out may replace only a regular file that is neither an input nor the
// results database: checked before any work, so a mistyped path costs
// nothing and loses nothing.
void check_output_path(const RunFiles& files, const std::optional<std::string>& db_path) {
  const std::string what = "--out " + files.out;
  (void)files::writable_target(files.out, what);  // throws a usage FileError
  const std::pair<const char*, const std::string*> inputs[] = {{"--a", &files.a},
                                                               {"--b", &files.b},
                                                               {"--bias", &files.bias},
                                                               {"--scale-a", &files.scale_a},
                                                               {"--scale-b", &files.scale_b}};
  for (const auto& [flag, path] : inputs)
    if (!path->empty() && files::same_file(files.out, *path))
      usage(what + " is the same file as " + flag + " " + *path + "; write the result to another file");
  if (db_path)
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      if (files::same_file(files.out, *db_path + suffix))
        usage(what + " is the results database " + *db_path + suffix + "; write the result to another file");
}

// A buffer on the problem's device holding a copy of host data (CUDA), or
// the host buffer itself (CPU).
struct DeviceCopy {
  runtime::DeviceBuffer buffer;
  void* ptr = nullptr;
};

// An empty host buffer gives a null pointer, which the problem allows for
// an empty or absent operand.
DeviceCopy to_device(runtime::DeviceRuntime* rt, const measure::HostBuffer& host, const std::string& what,
                     bool upload = true) {
  DeviceCopy out;
  if (!rt || host.bytes() == 0) {
    out.ptr = host.data();
    return out;
  }
  auto buffer = rt->allocate(host.bytes());
  if (!buffer) throw std::runtime_error("cannot allocate " + what + " on the GPU: " + buffer.error().to_string());
  out.buffer = std::move(buffer).value();
  out.ptr = out.buffer.get();
  if (upload) {
    Status s = rt->copy_from_host(out.ptr, host.data(), host.bytes());
    if (!s) throw std::runtime_error("cannot copy " + what + " to the GPU: " + s.error().to_string());
  }
  return out;
}

}  // namespace

int cmd_run(const Invocation& inv, Io& io) {
  const Op op = *inv.problem.op;
  const RunFiles& files = inv.files;
  const bool batched = is_batched(op);

  // What the op takes, before reading any data.
  switch (bias_rule(op)) {
    case BiasRule::required:
      if (files.bias.empty()) usage(std::string(to_string(op)) + " needs --bias BIAS.npy (1-D: row bias, 2-D: full)");
      break;
    case BiasRule::forbidden:
      if (!files.bias.empty())
        usage(std::string(to_string(op)) + " takes no bias; use " + (batched ? "baddbmm" : "addmm") + " with --bias");
      break;
    case BiasRule::optional: break;
  }
  if (op == Op::scaled_mm && (files.scale_a.empty() || files.scale_b.empty()))
    usage("scaled_mm needs --scale-a SA.npy and --scale-b SB.npy (f32: 1 value or one per row of A / column of B)");
  if (op == Op::mixed_mm && files.scale_b.empty()) usage("mixed_mm needs --scale-b SB.npy (f32, one per column of B)");
  if (op == Op::mixed_mm && !files.scale_a.empty()) usage("mixed_mm scales only B; drop --scale-a");
  if (op != Op::scaled_mm && op != Op::mixed_mm && (!files.scale_a.empty() || !files.scale_b.empty()))
    usage(std::string(to_string(op)) + " takes no scales (only scaled_mm and mixed_mm do)");
  // Everything the environment and the flags decide is checked before any
  // file is read: the tuner resolves its options (GEMMTUNE_* values, backend
  // names) when made, and the results database is opened now, so a bad
  // --db is refused before the work too. The tuner outlives the run: the
  // selected kernel may rely on its backend.
  ProgressDisplay display(io.err, io.err_is_terminal, inv.quiet);
  auto tuner = std::make_unique<Tuner>(make_tune_options(inv.tune, display));
  const std::optional<std::string> db_path =
      tuner->db_path().empty() ? std::nullopt : std::optional<std::string>(tuner->db_path());
  std::unique_ptr<store::Store> db_held_open;  // shared with the tuner's connection
  if (db_path) db_held_open = store::open_shared(*db_path, [&display](const std::string& m) { display.warning(m); });
  check_output_path(files, db_path);

  InputFile a = load("--a", files.a);
  InputFile b = load("--b", files.b);
  const std::size_t want_rank = batched ? 3 : 2;
  if (a.rank() != want_rank)
    usage(a.describe() + ": " + std::string(to_string(op)) + " needs a " + std::to_string(want_rank) + "-D A (" +
          (batched ? "BxMxK" : "MxK") + ")");
  if (b.rank() != want_rank && !(batched && b.rank() == 2))
    usage(b.describe() + ": " + std::string(to_string(op)) + " needs a " +
          (batched ? std::string("3-D B (BxKxN), or a 2-D B (KxN) shared by every batch") : std::string("2-D B (KxN)")));
  const std::int64_t batch = batched ? a.array.shape[0] : 1;
  const std::int64_t m = a.array.shape[a.rank() - 2], k = a.array.shape[a.rank() - 1];
  const std::int64_t kb = b.array.shape[b.rank() - 2], n = b.array.shape[b.rank() - 1];
  if (k != kb)
    usage("K differs: " + a.describe() + " has K = " + std::to_string(k) + " but " + b.describe() + " has K = " +
          std::to_string(kb));
  bool broadcast_b = false;
  if (batched && b.rank() == 3 && b.array.shape[0] != batch) {
    if (b.array.shape[0] != 1)
      usage("batch differs: " + a.describe() + " has " + std::to_string(batch) + " matrices but " + b.describe() +
            " has " + std::to_string(b.array.shape[0]));
    broadcast_b = true;
  }
  if (batched && b.rank() == 2) broadcast_b = true;

  ProblemArgs pa = inv.problem;
  pa.shape = Shape{batch, m, n, k, batched};
  pa.dtype = inv.problem.dtype.value_or(default_run_dtype(op, a));
  pa.transpose_a = a.array.fortran_order;
  pa.transpose_b = b.array.fortran_order;
  pa.broadcast_b = broadcast_b && batch > 1;
  ProblemSpec spec = to_problem_spec(pa);

  std::optional<InputFile> bias, scale_a, scale_b;
  bool bias_broadcast = false;
  if (!files.bias.empty()) {
    bias = load("--bias", files.bias);
    const auto& shape = bias->array.shape;
    if (bias->rank() == 1) {
      if (shape[0] != n) usage(bias->describe() + ": a row bias needs N = " + std::to_string(n) + " values");
      spec.bias = BiasKind::row;
    } else if (bias->rank() == 2) {
      if (shape[0] != m || shape[1] != n)
        usage(bias->describe() + ": a full bias needs shape " + std::to_string(m) + "x" + std::to_string(n));
      spec.bias = BiasKind::full;
      bias_broadcast = batched && batch > 1;
    } else if (bias->rank() == 3 && batched) {
      if (shape[0] != batch || shape[1] != m || shape[2] != n)
        usage(bias->describe() + ": a batched bias needs shape " + std::to_string(batch) + "x" + std::to_string(m) +
              "x" + std::to_string(n));
      spec.bias = BiasKind::full;
    } else {
      usage(bias->describe() + ": a bias is 1-D (row bias, N values) or 2-D (full, MxN)" +
            (batched ? std::string(" or 3-D (BxMxN)") : std::string()));
    }
  }
  if (!files.scale_a.empty()) {
    scale_a = load("--scale-a", files.scale_a);
    spec.scale_a = scale_kind_of(*scale_a, m, "row of A");
  }
  if (!files.scale_b.empty()) {
    scale_b = load("--scale-b", files.scale_b);
    spec.scale_b = scale_kind_of(*scale_b, n, "column of B");
  }

  Problem problem = make_problem(spec);
  if (bias) {
    // Keep the bias in f32 where the output dtype allows it (NumPy has no
    // bf16, and rounding the bias to the output first would add an error).
    const DType c = problem.c.dtype;
    const DType bias_dtype =
        c == DType::f64 ? DType::f64 : (c == DType::f16 && bias->array.type == NpyType::f16) ? DType::f16 : DType::f32;
    problem.bias_desc.dtype = is_integer(c) ? c : bias_dtype;
    if (bias_broadcast) problem.bias_desc.batch_stride = 0;
  }
  validate(problem);
  // The files' arrays, their converted copies and the tuner's inputs.
  measure::check_fits_in_memory(problem, 3);

  // Host copies in the problem's dtypes and layouts. A broadcast operand
  // (batch stride 0) is one matrix, whatever the batch, and none for a batch
  // of 0 (its buffer is empty: converting one matrix into it was a crash).
  const std::int64_t one_unless_empty = std::min<std::int64_t>(batch, 1);
  auto batches_of = [&](const MatrixDesc& d) { return d.batch_stride == 0 ? one_unless_empty : batch; };
  measure::HostBuffer host_a(operand_bytes(problem.a, batch));
  measure::HostBuffer host_b(operand_bytes(problem.b, batch));
  measure::HostBuffer host_c(operand_bytes(problem.c, batch));
  convert_matrix(a, problem.a, batch, host_a.data(), io);
  convert_matrix(b, problem.b, batches_of(problem.b), host_b.data(), io);
  measure::HostBuffer host_bias;
  if (bias) {
    host_bias = measure::HostBuffer(operand_bytes(problem.bias_desc, batch));
    if (bias->rank() == 1) {
      InputFile as_row = *bias;
      as_row.array.shape = {1, n};
      convert_matrix(as_row, problem.bias_desc, one_unless_empty, host_bias.data(), io);
    } else {
      convert_matrix(*bias, problem.bias_desc, batches_of(problem.bias_desc), host_bias.data(), io);
    }
  }
  measure::HostBuffer host_sa = scale_buffer(scale_a), host_sb = scale_buffer(scale_b);

  // Tune (or reuse the stored winner) for exactly this problem.
  const bool cuda = problem.device.kind == DeviceKind::cuda;
  runtime::DeviceRuntime* rt = cuda ? &runtime::runtime_for(problem.device) : nullptr;
  const Availability device_ok = rt ? rt->availability() : Availability::yes();
  ResultView view;
  const std::int64_t start = now_ns();
  std::optional<Selection> selection;
  try {
    view.db_path = tuner->db_path();
    selection.emplace(tuner->select(problem));
  } catch (const NoValidChoicesError& e) {
    display.clear();
    if (!device_ok.available)
      io.err << "gemmtune: the CUDA runtime is unavailable here (" << device_ok.why
             << "), so no CUDA backend can serve " << to_string(problem.device) << "\n";
    view.record = e.record();
    view.error = e.what();
    view.hints = e.hints();
    view.seconds = seconds_since(start);
    // With --json or --csv the report is also on stdout (as `tune` gives
    // it), but stderr says it too: a script that reads only the exit code
    // and stderr still learns why.
    if (inv.format == OutputFormat::json) io.out << json_text(result_to_json(view)) << "\n";
    if (inv.format == OutputFormat::csv) io.out << csv_header() << csv_rows(view);
    io.err << "gemmtune: error: " << printable(e.what());
    return kExitNoChoices;
  }
  display.clear();
  view.seconds = seconds_since(start);
  view.record = selection->record();
  view.cache_hit = selection->cache_hit();
  view.source = selection->source();
  view.waited_seconds = selection->waited_seconds();
  view.waited_too_long = selection->waited_too_long();

  if (cuda && !device_ok.available)
    throw std::runtime_error("the tuner selected " + selection->backend() + " for " + to_string(problem.device) +
                             " but the CUDA runtime is unavailable: " + device_ok.why);

  // Run on the problem's device. C is only written, so it is not uploaded.
  DeviceCopy dev_a = to_device(rt, host_a, "A");
  DeviceCopy dev_b = to_device(rt, host_b, "B");
  DeviceCopy dev_c = to_device(rt, host_c, "C", /*upload=*/false);
  DeviceCopy dev_bias = to_device(rt, host_bias, "the bias");
  DeviceCopy dev_sa = to_device(rt, host_sa, "scale_a");
  DeviceCopy dev_sb = to_device(rt, host_sb, "scale_b");
  GemmArgs args;
  args.a = dev_a.ptr;
  args.b = dev_b.ptr;
  args.c = dev_c.ptr;
  args.bias = dev_bias.ptr;
  args.scale_a = static_cast<const float*>(dev_sa.ptr);
  args.scale_b = static_cast<const float*>(dev_sb.ptr);
  // Selection::run checks every pointer's alignment against the problem.
  selection->run(args, rt ? rt->stream() : nullptr);
  if (rt) {
    Status s = rt->synchronize();
    if (!s) throw KernelRunError("the GPU failed after the kernel: " + s.error().to_string());
    s = rt->copy_to_host(host_c.data(), dev_c.ptr, host_c.bytes());
    if (!s) throw std::runtime_error("cannot copy C back from the GPU: " + s.error().to_string());
  }

  // Write C in its dtype, or in float32 where NumPy has no such type.
  const DType c_dtype = problem.c.dtype;
  const NpyType out_type = npy_type_for_output(c_dtype);
  std::vector<std::int64_t> out_shape = batched ? std::vector<std::int64_t>{batch, m, n} : std::vector<std::int64_t>{m, n};
  const std::int64_t count = batch * m * n;
  // A failure to store the computed data (a full disk) leaves any old
  // --out file whole and is not bad usage: exit 1.
  try {
    if (npy_to_dtype(out_type) == c_dtype) {
      write_npy(files.out, out_type, out_shape, false, host_c.data());
    } else {
      std::vector<float> wide(static_cast<std::size_t>(count));
      for (std::int64_t i = 0; i < count; ++i)
        wide[static_cast<std::size_t>(i)] = static_cast<float>(numeric::load_as_double(host_c.data(), c_dtype, i));
      write_npy(files.out, out_type, out_shape, false, wide.data());
    }
  } catch (const files::FileError& e) {
    throw std::runtime_error(e.what());
  }

  // --quiet hides progress only; the result is what the user asked for.
  {
    if (inv.format == OutputFormat::json) {
      nlohmann::json j = result_to_json(view);
      j["output"] = {{"path", files.out},
                     {"dtype", std::string(to_string(c_dtype))},
                     {"npy_dtype", std::string(npy_descr(out_type))},
                     {"shape", out_shape}};
      io.out << json_text(j) << "\n";
    } else if (inv.format == OutputFormat::csv) {
      io.out << csv_header() << csv_rows(view);
    } else {
      io.out << format_autotune(view);
      io.out << "wrote " << files.out << " (" << (batched ? std::to_string(batch) + "x" : "") << m << "x" << n << " "
             << npy_type_name(out_type)
             << (npy_to_dtype(out_type) == c_dtype ? "" : ", converted from " + std::string(to_string(c_dtype)))
             << ")\n";
    }
  }
  return kExitOk;
}

}  // namespace gemmtune::cli
