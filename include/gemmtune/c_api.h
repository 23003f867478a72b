/* gemmtune's C API: a small, plain-C surface over the tuner, for callers
 * that cannot use C++ (Python through ctypes, other languages' FFIs).
 *
 * Built as the shared library libgemmtune_c.so. Handles are opaque; strings
 * name the enums exactly as the CLI spells them ("bf16", "addmm", "row",
 * "gelu", "cuda:0"). Every function that can fail returns a status code and
 * leaves a message for gemmtune_last_error() (and the typed error as JSON
 * for gemmtune_last_error_json()) on the calling thread.
 *
 * Threads: every function may be called from any thread. A tuner takes one
 * call at a time (threads sharing one wait for each other in
 * gemmtune_select/gemmtune_explain; give each thread its own tuner to tune in
 * parallel), and so does a selection (runs through one handle take turns;
 * one selection per thread runs in parallel).
 *
 * Stability: the ABI is versioned (gemmtune_abi_version()). Within one
 * version, functions and enum values are only ever added, and the structs
 * below keep their layout; a change to a struct's layout or to a function's
 * meaning increments GEMMTUNE_C_ABI_VERSION. Callers check it at load time.
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
  const char* activation;  /* "none", "relu", "gelu", "gelu_tanh", "silu" */
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

/* The ABI version this header describes, and the one the loaded library
 * implements: a caller built for another version must not use the library. */
#define GEMMTUNE_C_ABI_VERSION 2
GEMMTUNE_C_EXPORT int gemmtune_abi_version(void);

/* The message of the last failed call on this thread ("" if none). The
 * pointer stays valid until the next failing call on this thread. */
GEMMTUNE_C_EXPORT const char* gemmtune_last_error(void);

/* The last failure on this thread as a JSON object, typed like the C++
 * exceptions ("" if none):
 *   {"type": "NoValidChoicesError" | "ConfigError" | "InvalidProblemError" |
 *            "KernelRunError" | "StoreError" | "BackendUnavailableError" |
 *            "Error",
 *    "status": <the status code returned>, "message": <as gemmtune_last_error>,
 *    "field": <InvalidProblemError: what is wrong, e.g. "b.row_stride">,
 *    "record": <NoValidChoicesError: the tuning record, every backend's and
 *               every choice's outcome with "stage", "reason", "message">,
 *    "hints": <NoValidChoicesError: [{"backend", "choices_offered"}] of the
 *              disabled backends that would serve the problem>}
 * Valid until the next failing call on this thread. */
GEMMTUNE_C_EXPORT const char* gemmtune_last_error_json(void);

/* One line per built-in backend: "NAME<TAB>available|unavailable<TAB>why". */
GEMMTUNE_C_EXPORT const char* gemmtune_backends(void);

/* Every tuner option, as a JSON array of objects with "name" (the key
 * below, Python's keyword), "flag" (the CLI's), "env" (the GEMMTUNE_*
 * variable), "capi_key" (an older key also accepted), "value_name",
 * "switch_value", "expects", "default", "help" and "process_wide" (read
 * from the environment only). One table serves the CLI, the environment,
 * this API and Python. Unset options take their variable, then the default. */
GEMMTUNE_C_EXPORT const char* gemmtune_option_table(void);

/* A set of tuner options, by name. gemmtune_options_set checks the value
 * with the option's parser: an unknown name or a malformed value returns
 * GEMMTUNE_INVALID with a ConfigError naming it. Setting a name again
 * replaces its value. */
typedef struct gemmtune_options gemmtune_options;
GEMMTUNE_C_EXPORT gemmtune_options* gemmtune_options_create(void);
GEMMTUNE_C_EXPORT int gemmtune_options_set(gemmtune_options* options, const char* name, const char* value);
GEMMTUNE_C_EXPORT void gemmtune_options_destroy(gemmtune_options* options);

/* A tuner with these options (NULL: none set). Returns NULL on error (an
 * unknown backend, a malformed GEMMTUNE_* variable; see gemmtune_last_error). */
GEMMTUNE_C_EXPORT gemmtune_tuner* gemmtune_tuner_create_with_options(const gemmtune_options* options);

/* backends: comma-separated names (case-insensitive), or NULL/"" for the
 * environment or default enabled set. options: NULL or "key=value;..." with
 * the keys of gemmtune_option_table() (names or C API keys: search_space,
 * cache, db, cache_dir, verify, fallback, threads, compile_threads, warmup,
 * budget_ms, min_repeats, max_repeats, cold_cache, cuda_graph, noise_margin,
 * ...). Returns NULL on error (see gemmtune_last_error). */
GEMMTUNE_C_EXPORT gemmtune_tuner* gemmtune_tuner_create(const char* backends, const char* options);
GEMMTUNE_C_EXPORT void gemmtune_tuner_destroy(gemmtune_tuner* tuner);

/* The enabled set as resolved ("BLAS,CPP"), and the results database in use
 * ("" when the cache is off). Valid as long as the tuner. */
GEMMTUNE_C_EXPORT const char* gemmtune_tuner_enabled(const gemmtune_tuner* tuner);
GEMMTUNE_C_EXPORT const char* gemmtune_tuner_db_path(const gemmtune_tuner* tuner);

/* The choices and rejections of every enabled backend for a problem, nothing
 * built or timed: *json_out is {"record": ..., "disabled_would_serve":
 * [{"backend", "choices_offered"}]}, valid until the next call of this
 * function on this thread. */
GEMMTUNE_C_EXPORT int gemmtune_explain(gemmtune_tuner* tuner, const gemmtune_problem* problem, const char** json_out);

/* Tunes each of `count` problems once, spread over `devices` ("cuda:0,cuda:1",
 * or "all" for every available GPU), one tuner with `options` (NULL: none
 * set) and one measuring worker per device, all at once; each problem is
 * tuned on whichever device takes it (its device field is overridden).
 * Identical devices share stored results. A device that fails is listed and
 * its problems go to the others. *json_out is {"results": [{"device",
 * "tuned", "cache_hit", "error", "record"}, ...] in the problems' order,
 * "failed_devices": ["cuda:1 failed: ...", ...]}, valid until the next call
 * of this function on this thread. Returns GEMMTUNE_OK when every problem
 * got a winner, GEMMTUNE_NO_VALID_CHOICES when some did not (see the JSON),
 * GEMMTUNE_INVALID for a bad device list, option or problem. */
GEMMTUNE_C_EXPORT int gemmtune_tune_on_devices(const gemmtune_options* options, const gemmtune_problem* problems,
                                               size_t count, const char* devices, const char** json_out);

/* Every record of a results database, newest first, as the JSON export
 * file's form ({"format", "version", "records": [...]}); valid until the
 * next call of this function on this thread. A path that does not exist is
 * GEMMTUNE_INVALID (nothing is created). */
GEMMTUNE_C_EXPORT int gemmtune_database_records(const char* db_path, const char** json_out);

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

/* gemmtune_run with the pointers as arguments, for FFIs where building a
 * struct per call costs more than the call (Python's ctypes): the operands
 * are raw device (or host) pointers laid out with the strides of the
 * selection's problem; NULL where unused. */
GEMMTUNE_C_EXPORT int gemmtune_selection_run(const gemmtune_selection* selection, const void* a, const void* b, void* c,
                                             const void* bias, const float* scale_a, const float* scale_b,
                                             void* stream);

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
/* The whole tuning record as JSON (the store's form: problem, enabled set,
 * every backend's and choice's outcome and timing, winner, fallback). */
GEMMTUNE_C_EXPORT const char* gemmtune_selection_record_json(const gemmtune_selection* selection);
GEMMTUNE_C_EXPORT void gemmtune_selection_destroy(gemmtune_selection* selection);

#ifdef __cplusplus
}
#endif

#endif /* GEMMTUNE_C_API_H */
