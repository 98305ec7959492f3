/*
 * GEMM micro-benchmark over the shapes of one MiniLM-size (16 × 128, width 384, FFN 1536, 12 heads of 32)
 * training step, against any CBLAS library loaded with dlopen. Built and driven by scripts/blas-compare.js,
 * which runs one process per library and repetition, interleaved (A/B/A/B), and reports medians.
 *
 *   blas-compare <library.so> <symbol prefix or -> <threads> <iterations>
 *
 * Prints one JSON line per shape: {"shape", "ms"} (best of `iterations` after a warm-up: on a shared machine
 * the minimum is the least disturbed run; the driver takes the median over processes).
 * Threads are set through the library's own setter when it has one (openblas_set_num_threads,
 * MKL_Set_Num_Threads, bli_thread_set_num_threads); the driver also sets the usual environment variables.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

struct shape {
  const char *name;
  int batch, m, n, k, ta, tb;
};

/* Y = X·W for X [2048, K], W [K, N]; the gradients are dX = dY·Wᵀ (NT) and dW = Xᵀ·dY (TN). */
static const struct shape SHAPES[] = {
    {"qkvo  [2048x384]x[384x384]", 1, 2048, 384, 384, 0, 0},
    {"up    [2048x384]x[384x1536]", 1, 2048, 1536, 384, 0, 0},
    {"down  [2048x1536]x[1536x384]", 1, 2048, 384, 1536, 0, 0},
    {"qkvo dX  [2048x384]x[384x384]T", 1, 2048, 384, 384, 0, 1},
    {"up dX    [2048x1536]x[384x1536]T", 1, 2048, 384, 1536, 0, 1},
    {"down dX  [2048x384]x[1536x384]T", 1, 2048, 1536, 384, 0, 1},
    {"qkvo dW  [2048x384]Tx[2048x384]", 1, 384, 384, 2048, 1, 0},
    {"up dW    [2048x384]Tx[2048x1536]", 1, 384, 1536, 2048, 1, 0},
    {"down dW  [2048x1536]Tx[2048x384]", 1, 1536, 384, 2048, 1, 0},
    {"scores 192x[128x32]x[128x32]T", 192, 128, 128, 32, 0, 1},
    {"context 192x[128x128]x[128x32]", 192, 128, 32, 128, 0, 0},
    {"adapter down [2048x384]x[384x24]", 1, 2048, 24, 384, 0, 0},
    {"adapter up   [2048x24]x[24x384]", 1, 2048, 384, 24, 0, 0},
};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *sym(void *lib, const char *prefix, const char *name) {
  char full[128];
  snprintf(full, sizeof full, "%s%s", prefix, name);
  return dlsym(lib, full);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s library.so prefix|- threads iterations\n", argv[0]);
    return 2;
  }
  const char *prefix = strcmp(argv[2], "-") == 0 ? "" : argv[2];
  const int threads = atoi(argv[3]);
  const int iters = atoi(argv[4]);
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  sgemm_fn sgemm = (sgemm_fn)sym(lib, prefix, "cblas_sgemm");
  if (sgemm == NULL) {
    fprintf(stderr, "no %scblas_sgemm in %s\n", prefix, argv[1]);
    return 1;
  }
  void (*set_int)(int) = (void (*)(int))sym(lib, prefix, "openblas_set_num_threads");
  if (set_int == NULL) set_int = (void (*)(int))sym(lib, prefix, "MKL_Set_Num_Threads");
  if (set_int != NULL) set_int(threads);
  void (*bli_set)(long) = (void (*)(long))sym(lib, prefix, "bli_thread_set_num_threads");
  if (bli_set != NULL) bli_set(threads);
  char *(*corename)(void) = (char *(*)(void))sym(lib, prefix, "openblas_get_corename");
  fprintf(stderr, "%s: core %s\n", argv[1], corename ? corename() : "-");

  size_t most = 0;
  for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
    const struct shape *p = &SHAPES[s];
    size_t need = (size_t)p->batch * ((size_t)p->m * p->k + (size_t)p->k * p->n + (size_t)p->m * p->n);
    if (need > most) most = need;
  }
  float *mem = aligned_alloc(64, (most * 4 + 63) / 64 * 64);
  for (size_t i = 0; i < most; i++) mem[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;

  for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
    const struct shape *p = &SHAPES[s];
    const size_t sa = (size_t)p->m * p->k, sb = (size_t)p->k * p->n, sc = (size_t)p->m * p->n;
    float *a = mem, *b = mem + (size_t)p->batch * sa, *c = b + (size_t)p->batch * sb;
    const int lda = p->ta ? p->m : p->k, ldb = p->tb ? p->k : p->n;
    double best = 1e30;
    for (int it = -2; it < iters; it++) {
      const double t0 = now();
      for (int i = 0; i < p->batch; i++) {
        sgemm(RowMajor, p->ta ? Trans : NoTrans, p->tb ? Trans : NoTrans, p->m, p->n, p->k, 1.0f, a + i * sa, lda,
              b + i * sb, ldb, 0.0f, c + i * sc, p->n);
      }
      const double dt = now() - t0;
      if (it >= 0 && dt < best) best = dt;
    }
    const double flops = 2.0 * p->batch * p->m * p->n * (double)p->k;
    printf("{\"shape\":\"%s\",\"ms\":%.4f,\"gflops\":%.1f}\n", p->name, best * 1e3, flops / best / 1e9);
    fflush(stdout);
  }
  return 0;
}
