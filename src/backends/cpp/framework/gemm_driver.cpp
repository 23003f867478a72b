#include "backends/cpp/framework/gemm_driver.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "util/numeric.h"

namespace gemmtune::backends::cpp {
namespace {

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }
std::int64_t ceil_div(std::int64_t x, std::int64_t m) { return (x + m - 1) / m; }

// 64-byte aligned memory (packed panels are read with aligned vector loads).
class AlignedBuffer {
 public:
  bool allocate(std::size_t bytes) {
    bytes_ = static_cast<std::size_t>(round_up(static_cast<std::int64_t>(std::max<std::size_t>(bytes, 64)), 4096));
    data_.reset(static_cast<char*>(std::aligned_alloc(4096, bytes_)));
    return data_ != nullptr;
  }
  char* data() const { return data_.get(); }
  std::size_t bytes() const { return data_ ? bytes_ : 0; }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> data_;
  std::size_t bytes_ = 0;
};

struct Range {
  std::int64_t begin = 0, end = 0;
  bool empty() const { return begin >= end; }
};

// One thread's packing buffers.
struct Workspace {
  char* a = nullptr;
  char* b = nullptr;
  std::int32_t* comp = nullptr;
  char* partial = nullptr;
};

const char* element_ptr(const void* base, const MatrixDesc& d, std::int64_t batch, std::int64_t row,
                        std::int64_t col) {
  const std::int64_t offset = batch * d.batch_stride + row * d.row_stride + col * d.col_stride;
  return static_cast<const char*>(base) + offset * static_cast<std::int64_t>(dtype_size(d.dtype));
}

// The terms the semantics leave out are not computed at all (multiplying by
// zero would still turn NaN or Inf into NaN): beta = 0 drops the bias, alpha
// = 0 the product, which then runs as K = 0 (zero accumulators, A and B
// never read).
Problem without_absent_terms(Problem p) {
  if (bias_term_absent(p)) p.bias = BiasKind::none;
  if (product_term_absent(p)) {
    p.k = 0;
    p.a.cols = 0;
    p.b.rows = 0;
  }
  return p;
}

class GemmKernel final : public Kernel {
 public:
  GemmKernel(const Problem& problem, const KernelConfig& c, const TileKernel& tile, DotFn dot = nullptr)
      : p_(without_absent_terms(problem)),
        cfg_(c),
        tile_(tile),
        dot_(dot),
        group_(k_group(c.arith)),
        elem_bytes_(packed_elem_bytes(c.arith)),
        acc_dtype_(c.arith == Arith::u8s8 || c.arith == Arith::s8s8 ? DType::i32 : DType::f32) {
    const Problem& p = p_;
    const std::int64_t m = std::max<std::int64_t>(p.m, 1), n = std::max<std::int64_t>(p.n, 1);
    rows_per_thread_ = round_up(ceil_div(m, c.tm), c.mr);
    cols_per_thread_ = round_up(ceil_div(n, c.tn), c.nr);
    kc_ = c.path == Path::dot ? std::min<std::int64_t>(c.kc, std::max<std::int64_t>(p.k, 1))
                              : std::min<std::int64_t>(c.kc, std::max<std::int64_t>(round_up(p.k, group_), group_));
    k_blocks_ = std::max<std::int64_t>(1, ceil_div(p.k, kc_));
    if (c.path == Path::packed) {
      mc_ = std::min<std::int64_t>(c.mc, rows_per_thread_);
      nc_ = std::min<std::int64_t>(c.nc, cols_per_thread_);
    } else if (c.path == Path::dot) {
      nc_ = cols_per_thread_;  // partial sums of the whole region, as on the direct path
    } else {
      nc_ = cols_per_thread_;  // the direct path keeps the whole region's partial sums
      // B is never packed on the direct path, but A is when K is long: rows
      // of A a power-of-two stride apart share L1 sets, and a tile reading
      // MR of them at once would evict its own data. A is small next to B here.
      direct_packs_a_ = p.m > 1 && p.k >= 128;
    }
    // Dot tiles always end in f32 sums, whatever the arithmetic.
    needs_partial_ = k_blocks_ > 1;
    partial_in_output_ = needs_partial_ && p.c.dtype == acc_dtype_ && (p.c.col_stride == 1 || p.n <= 1);
  }

  Status allocate() {
    if (direct_packs_a_) a_bytes_ = static_cast<std::size_t>(round_up(rows_per_thread_ * kc_ * 4, 64));
    if (cfg_.path == Path::packed) {
      a_bytes_ = static_cast<std::size_t>(round_up(mc_ * kc_ * elem_bytes_, 64));
      b_bytes_ = static_cast<std::size_t>(round_up(nc_ * kc_ * elem_bytes_, 64));
      comp_bytes_ = cfg_.arith == Arith::s8s8 ? static_cast<std::size_t>(round_up(nc_ * 4, 64)) : 0;
    }
    partial_bytes_ = needs_partial_ && !partial_in_output_
                         ? static_cast<std::size_t>(round_up(std::min(rows_per_thread_, round_up(p_.m, cfg_.mr)) * nc_ * 4, 64))
                         : 0;
    per_thread_bytes_ = a_bytes_ + b_bytes_ + comp_bytes_ + partial_bytes_;
    if (per_thread_bytes_ > 0) {
      if (!workspace_.allocate(per_thread_bytes_ * static_cast<std::size_t>(cfg_.threads())))
        return reject(Reason::out_of_resources, "could not allocate " +
                                                    std::to_string(per_thread_bytes_ * cfg_.threads()) +
                                                    " bytes of packing buffers");
    }
    try {
      if (p_.bias == BiasKind::row)
        row_bias_.resize(static_cast<std::size_t>((p_.bias_desc.batch_stride == 0 ? 1 : p_.batch) * p_.n));
      if (p_.op == Op::mixed_mm && p_.scale_b == ScaleKind::per_channel) col_scale_.resize(static_cast<std::size_t>(p_.n));
    } catch (const std::bad_alloc&) {
      return reject(Reason::out_of_resources, "could not allocate the epilogue's bias and scale vectors");
    }
    return Status::success();
  }

  std::size_t workspace_bytes() const override {
    return workspace_.bytes() + (row_bias_.size() + col_scale_.size()) * sizeof(float);
  }

  Status run(const GemmArgs& args, const RunContext&) override {
    if (p_.m == 0 || p_.n == 0 || p_.batch == 0) return Status::success();
    prepare_epilogue(args);
    const int threads = cfg_.threads();
    if (threads == 1) {
      run_thread(0, args);
    } else {
#pragma omp parallel num_threads(threads)
      {
        // A smaller team than asked for (nested or limited OpenMP) still
        // covers every grid cell.
        const int team = omp_get_num_threads();
        for (int t = omp_get_thread_num(); t < threads; t += team) run_thread(t, args);
      }
    }
    return Status::success();
  }

 private:
  // Per-call epilogue data: the row bias times beta as f32 and the mixed_mm
  // column scales times alpha, so that the tiles read plain f32 vectors.
  void prepare_epilogue(const GemmArgs& args) {
    alpha_ = static_cast<float>(p_.alpha);
    if (p_.k == 0) {
      // No product: the accumulators are zeros, and the scales are not read
      // (a NaN scale times a zero sum would be NaN).
      alpha_ = 0.0f;
      std::fill(col_scale_.begin(), col_scale_.end(), 0.0f);
    } else if (p_.op == Op::mixed_mm) {
      if (p_.scale_b == ScaleKind::per_tensor) alpha_ = static_cast<float>(p_.alpha * args.scale_b[0]);
      for (std::int64_t j = 0; j < static_cast<std::int64_t>(col_scale_.size()); ++j)
        col_scale_[j] = static_cast<float>(p_.alpha * args.scale_b[j]);
    }
    if (!row_bias_.empty()) {
      const std::int64_t batches = static_cast<std::int64_t>(row_bias_.size()) / p_.n;
      for (std::int64_t b = 0; b < batches; ++b)
        for (std::int64_t j = 0; j < p_.n; ++j) {
          const std::int64_t at = b * p_.bias_desc.batch_stride + j * p_.bias_desc.col_stride;
          row_bias_[b * p_.n + j] =
              static_cast<float>(p_.beta * numeric::load_as_double(args.bias, p_.bias_desc.dtype, at));
        }
    }
  }

  OutputArgs output_for_batch(const GemmArgs& args, std::int64_t batch) const {
    OutputArgs o;
    o.c = const_cast<char*>(element_ptr(args.c, p_.c, batch, 0, 0));
    o.c_dtype = p_.c.dtype;
    o.c_rs = p_.c.row_stride;
    o.c_cs = p_.c.col_stride;
    o.alpha = alpha_;
    o.col_scale = col_scale_.empty() ? nullptr : col_scale_.data();
    if (p_.bias == BiasKind::row) {
      o.row_bias = row_bias_.data() + (p_.bias_desc.batch_stride == 0 ? 0 : batch * p_.n);
    } else if (p_.bias == BiasKind::full) {
      o.full_bias = element_ptr(args.bias, p_.bias_desc, batch, 0, 0);
      o.full_bias_dtype = p_.bias_desc.dtype;
      o.bias_rs = p_.bias_desc.row_stride;
      o.bias_cs = p_.bias_desc.col_stride;
      o.beta = static_cast<float>(p_.beta);
    }
    o.act = p_.activation;
    o.plain = o.c_dtype == acc_dtype_ && o.c_cs == 1 && o.alpha == 1.0f && o.col_scale == nullptr &&
              o.row_bias == nullptr && o.full_bias == nullptr && o.act == Activation::none;
    return o;
  }

  void run_thread(int thread, const GemmArgs& args) {
    const int grid = cfg_.tm * cfg_.tn;
    const int batch_slot = thread / grid, cell = thread % grid;
    const int m_slot = cell / cfg_.tn, n_slot = cell % cfg_.tn;
    const Range rows{m_slot * rows_per_thread_, std::min(p_.m, (m_slot + 1) * rows_per_thread_)};
    const Range cols{n_slot * cols_per_thread_, std::min(p_.n, (n_slot + 1) * cols_per_thread_)};
    if (rows.empty() || cols.empty()) return;
    Workspace ws;
    if (per_thread_bytes_ > 0) {
      char* base = workspace_.data() + static_cast<std::size_t>(thread) * per_thread_bytes_;
      ws.a = base;
      ws.b = base + a_bytes_;
      ws.comp = comp_bytes_ ? reinterpret_cast<std::int32_t*>(base + a_bytes_ + b_bytes_) : nullptr;
      ws.partial = partial_bytes_ ? base + a_bytes_ + b_bytes_ + comp_bytes_ : nullptr;
    }
    for (std::int64_t batch = batch_slot; batch < p_.batch; batch += cfg_.tb) {
      const OutputArgs out = output_for_batch(args, batch);
      if (cfg_.path == Path::direct) direct_region(args, batch, rows, cols, out, ws);
      else if (cfg_.path == Path::dot) dot_region(args, batch, rows, cols, out, ws);
      else packed_region(args, batch, rows, cols, out, ws);
    }
  }

  // Where a tile with K split into blocks keeps its partial sums (no-op when
  // K is one block): in the output itself when it has the accumulators'
  // dtype and unit column stride, else in the thread's workspace, a buffer
  // nc_ columns wide whose row 0 is the region's first row `region_row0`
  // and where the tile starts at column `buffer_col`.
  void place_partial(TileTarget& t, const OutputArgs& out, std::int64_t region_row0, std::int64_t buffer_col,
                     const Workspace& ws) const {
    if (partial_in_output_) {
      t.partial = static_cast<char*>(out.c) + (t.row0 * p_.c.row_stride + t.col0 * p_.c.col_stride) *
                                                  static_cast<std::int64_t>(dtype_size(p_.c.dtype));
      t.ld_partial = p_.c.row_stride;
    } else if (needs_partial_) {
      t.partial = ws.partial + ((t.row0 - region_row0) * nc_ + buffer_col) * 4;
      t.ld_partial = nc_;
    }
  }

  void packed_region(const GemmArgs& args, std::int64_t batch, Range rows, Range cols, const OutputArgs& out,
                     const Workspace& ws) const {
    const int mr = cfg_.mr, nr = cfg_.nr;
    for (std::int64_t jc = cols.begin; jc < cols.end; jc += nc_) {
      const std::int64_t ncur = std::min(nc_, cols.end - jc);
      for (std::int64_t kb = 0; kb < k_blocks_; ++kb) {
        const std::int64_t pc = kb * kc_;
        const std::int64_t kcur = std::max<std::int64_t>(0, std::min(kc_, p_.k - pc));
        const std::int64_t groups = ceil_div(kcur, group_);
        const std::int64_t panel_bytes_per_lane = groups * group_ * elem_bytes_;
        if (kcur > 0) {
          const PanelSource b{element_ptr(args.b, p_.b, batch, pc, jc), p_.b.dtype, p_.b.col_stride,
                              p_.b.row_stride};
          tile_.pack_b(b, ncur, kcur, ws.b, ws.comp);
        }
        for (std::int64_t ic = rows.begin; ic < rows.end; ic += mc_) {
          const std::int64_t mcur = std::min(mc_, rows.end - ic);
          if (kcur > 0) {
            const PanelSource a{element_ptr(args.a, p_.a, batch, ic, pc), p_.a.dtype, p_.a.row_stride,
                                p_.a.col_stride};
            tile_.pack_a(a, mcur, kcur, ws.a, nullptr);
          }
          TileTask t;
          t.k_groups = groups;
          t.accumulate = kb > 0;
          t.finish = kb == k_blocks_ - 1;
          for (std::int64_t jr = 0; jr < ncur; jr += nr) {
            t.b = ws.b + jr * panel_bytes_per_lane;
            t.cols = static_cast<int>(std::min<std::int64_t>(nr, ncur - jr));
            t.col0 = jc + jr;
            t.column_comp = ws.comp && kcur > 0 ? ws.comp + jr : nullptr;
            for (std::int64_t ir = 0; ir < mcur; ir += mr) {
              t.a = ws.a + ir * panel_bytes_per_lane;
              t.rows = static_cast<int>(std::min<std::int64_t>(mr, mcur - ir));
              t.row0 = ic + ir;
              place_partial(t, out, rows.begin, jr, ws);
              tile_.tile(t, out);
            }
          }
        }
      }
    }
  }

  // A small problem's time goes mostly to cache misses when its inputs come
  // from DRAM: ask for every line a thread will touch (its rows of A, its
  // columns of B, its part of C) before computing, so the misses overlap
  // instead of arriving one strip at a time.
  void prefetch_small_region(const GemmArgs& args, std::int64_t batch, Range rows, Range cols) const {
    constexpr std::int64_t kMaxBytes = 128 * 1024;
    const std::int64_t nrows = rows.end - rows.begin, ncols = cols.end - cols.begin;
    const std::int64_t bytes = (nrows * p_.k + p_.k * ncols + nrows * ncols) * 4;
    if (bytes > kMaxBytes || p_.k == 0) return;
    auto lines = [](const char* start, std::int64_t length) {
      for (std::int64_t off = 0; off < length; off += 64) __builtin_prefetch(start + off, 0, 3);
    };
    if (p_.a.col_stride == 1)
      for (std::int64_t i = rows.begin; i < rows.end; ++i) lines(element_ptr(args.a, p_.a, batch, i, 0), p_.k * 4);
    for (std::int64_t kk = 0; kk < p_.k; ++kk) lines(element_ptr(args.b, p_.b, batch, kk, cols.begin), ncols * 4);
    if (p_.c.col_stride == 1 && dtype_size(p_.c.dtype) == 4)
      for (std::int64_t i = rows.begin; i < rows.end; ++i) {
        const char* row = element_ptr(args.c, p_.c, batch, i, cols.begin);
        for (std::int64_t off = 0; off < ncols * 4; off += 64) __builtin_prefetch(row + off, 1, 3);
      }
  }

  void direct_region(const GemmArgs& args, std::int64_t batch, Range rows, Range cols, const OutputArgs& out,
                     const Workspace& ws) const {
    const int mr = cfg_.mr, nr = cfg_.nr;
    prefetch_small_region(args, batch, rows, cols);
    DirectTask t;
    for (std::int64_t kb = 0; kb < k_blocks_; ++kb) {
      const std::int64_t k0 = kb * kc_;
      t.k = std::max<std::int64_t>(0, std::min(kc_, p_.k - k0));
      t.accumulate = kb > 0;
      t.finish = kb == k_blocks_ - 1;
      const bool pack_a = direct_packs_a_ && t.k > 0;
      if (pack_a) {
        const PanelSource a{element_ptr(args.a, p_.a, batch, rows.begin, k0), p_.a.dtype, p_.a.row_stride,
                            p_.a.col_stride};
        tile_.pack_a(a, rows.end - rows.begin, t.k, ws.a, nullptr);
      }
      // A packed panel holds MR rows per K step: element (i, kk) at kk * MR + i.
      t.a_rs = pack_a ? 1 : p_.a.row_stride;
      t.a_cs = pack_a ? mr : p_.a.col_stride;
      t.b_rs = p_.b.row_stride;
      // One row tile: a single call sweeps every strip (B streams by rows).
      // Several: strip by strip, so each strip of B is reused from L1/L2 by
      // all row tiles before the next one is read.
      const std::int64_t chunk = rows.end - rows.begin <= mr ? std::min<std::int64_t>(cols.end - cols.begin, 1 << 30) : nr;
      for (std::int64_t jr = cols.begin; jr < cols.end; jr += chunk) {
        t.cols = static_cast<int>(std::min<std::int64_t>(chunk, cols.end - jr));
        t.col0 = jr;
        t.b = t.k > 0 ? reinterpret_cast<const float*>(element_ptr(args.b, p_.b, batch, k0, jr)) : nullptr;
        for (std::int64_t ir = rows.begin; ir < rows.end; ir += mr) {
          t.rows = static_cast<int>(std::min<std::int64_t>(mr, rows.end - ir));
          t.row0 = ir;
          if (t.k == 0) t.a = nullptr;
          else if (pack_a) t.a = reinterpret_cast<const float*>(ws.a) + (ir - rows.begin) * t.k;
          else t.a = reinterpret_cast<const float*>(element_ptr(args.a, p_.a, batch, ir, k0));
          place_partial(t, out, rows.begin, jr - cols.begin, ws);
          tile_.direct(t, out);
        }
      }
    }
  }

  // Dot path: K blocks of all columns. One row tile: a single call sweeps
  // every column (B streams once, column after column, each next tile's
  // columns prefetched). Several: strips of 16 columns, each read from
  // memory by the first row tile (which prefetches the next strip) and from
  // cache by the others.
  void dot_region(const GemmArgs& args, std::int64_t batch, Range rows, Range cols, const OutputArgs& out,
                  const Workspace& ws) const {
    const int mr = cfg_.mr;
    DotTask t;
    t.a_rs = p_.a.row_stride;
    t.b_cs = p_.b.col_stride;
    const bool single = rows.end - rows.begin <= mr;  // one row tile
    const std::int64_t chunk = single ? cols.end - cols.begin : kDotStrip;
    const std::int64_t row_tiles = ceil_div(rows.end - rows.begin, mr);
    for (std::int64_t kb = 0; kb < k_blocks_; ++kb) {
      const std::int64_t k0 = kb * kc_;
      t.k = std::max<std::int64_t>(0, std::min(kc_, p_.k - k0));
      t.accumulate = kb > 0;
      t.finish = kb == k_blocks_ - 1;
      for (std::int64_t jr = cols.begin; jr < cols.end; jr += chunk) {
        t.cols = static_cast<int>(std::min<std::int64_t>(chunk, cols.end - jr));
        t.col0 = jr;
        t.b = t.k > 0 ? element_ptr(args.b, p_.b, batch, k0, jr) : nullptr;
        const std::int64_t next_begin = jr + chunk, next_count = std::min(chunk, cols.end - next_begin);
        const std::int64_t share = ceil_div(next_count, row_tiles);
        for (std::int64_t ir = rows.begin; ir < rows.end; ir += mr) {
          // One row tile: each tile of columns prefetches the next one's.
          // Several: each row tile prefetches its share of the next chunk,
          // so the next chunk streams in while all of them compute.
          const std::int64_t tile = (ir - rows.begin) / mr;
          const std::int64_t skip = single ? cfg_.nr : next_begin - jr + tile * share;
          const std::int64_t count = single ? t.cols - cfg_.nr : std::min(share, next_count - tile * share);
          t.next_cols = t.k > 0 && count > 0 ? static_cast<int>(count) : 0;
          t.next_step = single ? cfg_.nr : static_cast<int>(ceil_div(std::max<std::int64_t>(count, 1), ceil_div(t.cols, cfg_.nr)));
          t.b_next = t.next_cols > 0 ? element_ptr(args.b, p_.b, batch, k0, jr + skip) : nullptr;
          t.rows = static_cast<int>(std::min<std::int64_t>(mr, rows.end - ir));
          t.row0 = ir;
          t.a = t.k > 0 ? element_ptr(args.a, p_.a, batch, ir, k0) : nullptr;
          place_partial(t, out, rows.begin, jr - cols.begin, ws);
          dot_(t, out);
        }
      }
    }
  }

  // Columns per dot call when several row tiles share them: 16 columns of a
  // K block stay in L1/L2 for all row tiles.
  static constexpr std::int64_t kDotStrip = 16;

  const Problem p_;
  const KernelConfig cfg_;
  const TileKernel tile_;
  const DotFn dot_;
  const int group_, elem_bytes_;
  const DType acc_dtype_;  // of the tiles' sums and partial sums: i32 for int8, else f32
  std::int64_t rows_per_thread_ = 0, cols_per_thread_ = 0;
  std::int64_t kc_ = 0, mc_ = 0, nc_ = 0, k_blocks_ = 1;
  bool needs_partial_ = false, partial_in_output_ = false;
  bool direct_packs_a_ = false;
  std::size_t a_bytes_ = 0, b_bytes_ = 0, comp_bytes_ = 0, partial_bytes_ = 0, per_thread_bytes_ = 0;
  AlignedBuffer workspace_;
  std::vector<float> row_bias_, col_scale_;
  float alpha_ = 1.0f;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> make_gemm_kernel(const Problem& problem, const KernelConfig& config,
                                                   const TileKernel& tile) {
  auto kernel = std::make_unique<GemmKernel>(problem, config, tile);
  if (Status s = kernel->allocate(); !s) return s.error();
  return std::unique_ptr<Kernel>(std::move(kernel));
}

Expected<std::unique_ptr<Kernel>> make_dot_kernel(const Problem& problem, const KernelConfig& config, DotFn dot) {
  auto kernel = std::make_unique<GemmKernel>(problem, config, TileKernel{}, dot);
  if (Status s = kernel->allocate(); !s) return s.error();
  return std::unique_ptr<Kernel>(std::move(kernel));
}

}  // namespace gemmtune::backends::cpp
