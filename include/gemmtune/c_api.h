/* gemmtune's C API: a small, plain-C surface over the tuner, for callers
 * that cannot use C++ (Python through ctypes, other languages' FFIs).
 *
 * Built as the shared library libgemmtune_c.so. Handles are opaque; strings
 * name the enums exactly as the CLI spells them ("bf16", "addmm", "row",
 * "gelu", "cuda:0"). Every function that can fail returns a status code and
 * leaves a message for gemmtune_last_error() on the calling thread.
 *
 * Typical use (error checks left out):
 *
 *   gemmtune_tuner* t = gemmtune_tuner_create("CUBLAS,CUBLASLT", "cache=0");
 *   gemmtune_problem p;
 *   gemmtune_problem_init(&p);
 *   p.op = "mm"; p.m = 128; p.n = 4096; p.k = 4096;
 *   gemmtune_problem_dense(&p, "bf16", "nt");   // A 128x4096, B as W^T, C row-major
 *   p.device = "cuda:0";
 *   gemmtune_selection* s = NULL;
 *   gemmtune_select(t, &p, &s);                  // tunes (or reads the cache)
 *   gemmtune_args args = {a_ptr, b_ptr, c_ptr, NULL, NULL, NULL};
 *   gemmtune_run(s, &args, cuda_stream);         // the winner, on the caller's stream
 *   gemmtune_selection_destroy(s);
 *   gemmtune_tuner_destroy(t);
 */
#ifndef GEMMTUNE_C_API_H
#define GEMMTUNE_C_API_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define GEMMTUNE_C_EXPORT __attribute__((visibility("default")))
#else
#define GEMMTUNE_C_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes; they match the CLI's exit codes. */
enum {
  GEMMTUNE_OK = 0,
  GEMMTUNE_ERROR = 1,             /* internal error, kernel failure, database error */
  GEMMTUNE_INVALID = 2,           /* invalid problem, arguments or options */
  GEMMTUNE_NO_VALID_CHOICES = 3   /* no enabled backend can serve the problem */
};

typedef struct gemmtune_tuner gemmtune_tuner;
typedef struct gemmtune_selection gemmtune_selection;

/* One operand in elements: element (b, i, j) lives at
 * data + b*batch_stride + i*row_stride + j*col_stride. */
typedef struct gemmtune_matrix {
  const char* dtype; /* "f32", "f64", "f16", "bf16", "i8", "u8", "i32", "f8e4m3", "f8e5m2" */
  int64_t rows, cols;
  int64_t row_stride, col_stride, batch_stride;
} gemmtune_matrix;

/* C[b] = act(alpha * scale_a * scale_b * A[b].B[b] + beta * bias[b]);
 * A is m x k, B is k x n, C is m x n. NULL strings mean "none". */
typedef struct gemmtune_problem {
  const char* op;          /* "mm", "addmm", "bmm", "baddbmm", "int_mm", "mixed_mm", "scaled_mm" */
  int64_t batch, m, n, k;
  gemmtune_matrix a, b, c;
  const char* bias_kind;   /* "none", "row" (1 x n), "full" (m x n) */
  gemmtune_matrix bias;    /* used when bias_kind is not "none" */
  double alpha, beta;
  const char* activation;  /* "none", "relu", "gelu", "silu" */
  const char* scale_a;     /* "none", "per_tensor", "per_channel" */
  const char* scale_b;
  int allow_tf32;          /* f32 problems may use tf32 tensor cores */
  int alignment;           /* guaranteed alignment of every pointer, bytes */
  const char* device;      /* "cpu", "cuda:0", ... */
} gemmtune_problem;

/* Device (or host) pointers of one call; unused ones are NULL. */
typedef struct gemmtune_args {
  const void* a;
  const void* b;
  void* c;
  const void* bias;
  const float* scale_a;
  const float* scale_b;
} gemmtune_args;

/* "0.1.0". */
GEMMTUNE_C_EXPORT const char* gemmtune_version(void);

/* The message of the last failed call on this thread ("" if none). The
 * pointer stays valid until the next failing call on this thread. */
GEMMTUNE_C_EXPORT const char* gemmtune_last_error(void);

/* One line per built-in backend: "NAME<TAB>available|unavailable<TAB>why". */
GEMMTUNE_C_EXPORT const char* gemmtune_backends(void);

/* backends: comma-separated names (case-insensitive), or NULL/"" for the
 * environment or default enabled set. options: NULL or "key=value;..." with
 * keys search_space (default|exhaustive), cache (0|1), db (path), verify
 * (auto|full|sampled|off), fallback (0|1), threads, compile_threads, warmup, budget_ms,
 * min_repeats, max_repeats, cold_cache (0|1), cuda_graph (0|1),
 * noise_margin. Returns NULL on error (see gemmtune_last_error). */
GEMMTUNE_C_EXPORT gemmtune_tuner* gemmtune_tuner_create(const char* backends, const char* options);
GEMMTUNE_C_EXPORT void gemmtune_tuner_destroy(gemmtune_tuner* tuner);

/* Fills a problem with defaults: op "mm", batch 1, alpha 1, beta 1, no
 * bias, activation, scales; alignment 16; device "cpu". */
GEMMTUNE_C_EXPORT void gemmtune_problem_init(gemmtune_problem* problem);

/* Sets A, B, C (and a row/full bias if bias_kind is set) as dense matrices
 * from op, batch, m, n, k: A and C row-major, B row-major for layout "nn"
 * and column-major for "nt" (B = W^T with W n x k row-major: nn.Linear);
 * "tn"/"tt" make A column-major. Output dtype: as make_problem derives it
 * (bf16 for scaled_mm, i32 for int_mm, else the input dtype). */
GEMMTUNE_C_EXPORT int gemmtune_problem_dense(gemmtune_problem* problem, const char* dtype, const char* layout);

/* Tunes the problem (or takes the stored result) and builds the winner.
 * On success *out owns the selection (gemmtune_selection_destroy). */
GEMMTUNE_C_EXPORT int gemmtune_select(gemmtune_tuner* tuner, const gemmtune_problem* problem,
                                      gemmtune_selection** out);

/* Runs the selected kernel once on `stream` (a CUstream/cudaStream_t; NULL
 * is the legacy default stream; ignored for CPU problems). Asynchronous on
 * the GPU. A kernel failure is reported, never hidden by another backend. */
GEMMTUNE_C_EXPORT int gemmtune_run(const gemmtune_selection* selection, const gemmtune_args* args, void* stream);

GEMMTUNE_C_EXPORT const char* gemmtune_selection_backend(const gemmtune_selection* selection);
GEMMTUNE_C_EXPORT const char* gemmtune_selection_choice(const gemmtune_selection* selection);
/* The winner's median time as tuned, microseconds. */
GEMMTUNE_C_EXPORT double gemmtune_selection_time_us(const gemmtune_selection* selection);
GEMMTUNE_C_EXPORT double gemmtune_selection_tuning_seconds(const gemmtune_selection* selection);
GEMMTUNE_C_EXPORT int gemmtune_selection_cache_hit(const gemmtune_selection* selection);
GEMMTUNE_C_EXPORT int gemmtune_selection_fallback(const gemmtune_selection* selection);
/* Every choice of the tuning, one per line:
 * "BACKEND<TAB>choice<TAB>ok|rejected<TAB>median_us<TAB>stage/reason: message". */
GEMMTUNE_C_EXPORT const char* gemmtune_selection_report(const gemmtune_selection* selection);
GEMMTUNE_C_EXPORT void gemmtune_selection_destroy(gemmtune_selection* selection);

#ifdef __cplusplus
}
#endif

#endif /* GEMMTUNE_C_API_H */
