/* A C program built against an installed gemmtune only (through
 * find_package's gemmtune::c or pkg-config's gemmtune-c): tunes a GEMM
 * through the C API, runs the winner on its own buffers and checks the
 * answer; an unknown backend name is refused with a message.
 *   tune_c */
#include <gemmtune/c_api.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "FAIL: %s (%s)\n", what, gemmtune_last_error());
    exit(1);
  }
  printf("ok: %s\n", what);
}

int main(void) {
  enum { M = 33, N = 17, K = 25 };
  float* a = malloc(sizeof(float) * M * K);
  float* b = malloc(sizeof(float) * K * N);
  float* c = calloc(M * N, sizeof(float));
  for (int i = 0; i < M * K; ++i) a[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
  for (int i = 0; i < K * N; ++i) b[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;

  printf("gemmtune %s\n", gemmtune_version());
  check(strstr(gemmtune_backends(), "BLAS\t") != NULL, "BLAS is listed among the backends");

  gemmtune_tuner* bad = gemmtune_tuner_create("NO_SUCH_BACKEND", "cache=0");
  check(bad == NULL && strstr(gemmtune_last_error(), "BLAS") != NULL,
        "an unknown backend is refused and the message lists the valid ones");

  gemmtune_tuner* tuner = gemmtune_tuner_create("BLAS", "cache=0;budget_ms=2");
  check(tuner != NULL, "tuner created");
  gemmtune_problem p;
  gemmtune_problem_init(&p);
  p.op = "mm";
  p.m = M;
  p.n = N;
  p.k = K;
  check(gemmtune_problem_dense(&p, "f32", "nn") == GEMMTUNE_OK, "dense f32 problem");
  gemmtune_selection* s = NULL;
  check(gemmtune_select(tuner, &p, &s) == GEMMTUNE_OK, "selected");
  printf("winner: %s %s\n", gemmtune_selection_backend(s), gemmtune_selection_choice(s));
  gemmtune_args args = {a, b, c, NULL, NULL, NULL};
  check(gemmtune_run(s, &args, NULL) == GEMMTUNE_OK, "ran");

  double worst = 0;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double sum = 0;
      for (int q = 0; q < K; ++q) sum += (double)a[i * K + q] * b[q * N + j];
      double err = fabs(c[i * N + j] - sum);
      if (err > worst) worst = err;
    }
  check(worst < 1e-5, "the selected kernel computes A.B");

  gemmtune_selection_destroy(s);
  gemmtune_tuner_destroy(tuner);
  free(a);
  free(b);
  free(c);
  printf("all checks passed\n");
  return 0;
}
