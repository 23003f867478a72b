// gemmtune-worker: the measuring worker for programs that embed gemmtune
// (the C API's shared library, Python, programs linked with the static
// library). Tuners start it themselves; it is found beside the library (see
// src/isolation/worker_locator.h) or through GEMMTUNE_WORKER.
#include <cstdio>

#include "isolation/worker_main.h"

int main(int argc, char** argv) {
  if (auto code = gemmtune::isolation::serve_if_worker(argc, argv)) return *code;
  std::fprintf(stderr,
               "gemmtune-worker measures choices for a gemmtune tuner, which starts it itself; it is not meant to "
               "be run by hand.\n");
  return 2;
}
