/*
 * Same-process A/B of the inference kernels AdaptersAttention and AdaptersBottleneck: version A (compiled from a git
 * ref by kernel-ab.js, symbols renamed *_A) against version B (this tree, *_B), calls interleaved A, B, A, B, ...
 * with the caches flushed before each call (as after the matmul that produces their inputs), best of `reps`.
 * Shapes: one MiniLM layer at 16 × 128 (attention: 12 heads of 32, no padding; bottleneck: Pfeiffer, w 384, m 24,
 * pre-LayerNorm, ReLU). Also prints the largest |A − B| difference of the outputs.
 *
 *   kernel-ab THREADS REPS
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attention.h"
#include "bottleneck.h"

int attention_run_A(const attention_args *args, int threads);
int attention_run_B(const attention_args *args, int threads);
int bottleneck_run_A(const bottleneck_args *args, int threads);
int bottleneck_run_B(const bottleneck_args *args, int threads);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float *random_floats(int64_t n, float scale, unsigned *seed) {
  float *p = malloc(sizeof(float) * (size_t)n);
  if (!p) exit(2);
  for (int64_t i = 0; i < n; i++) {
    *seed = *seed * 1103515245u + 12345u;
    p[i] = ((float)((*seed >> 8) & 0xFFFF) / 65536.0f - 0.5f) * scale;
  }
  return p;
}

static double max_diff(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
  return m;
}

#define FLUSH_BYTES (64 << 20)
static char *flush_buf;
static void flush_caches(int r) { memset(flush_buf, r, FLUSH_BYTES); }

int main(int argc, char **argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 2, reps = argc > 2 ? atoi(argv[2]) : 15;
  unsigned seed = 1;
  flush_buf = malloc(FLUSH_BYTES);
  if (!flush_buf) return 2;
  const int64_t batch = 16, seq = 128, heads = 12, dh = 32, hidden = heads * dh, n = batch * seq * hidden;
  float *q = random_floats(n, 4, &seed), *k = random_floats(n, 4, &seed), *v = random_floats(n, 1, &seed);
  float *oa = malloc(sizeof(float) * (size_t)n), *ob = malloc(sizeof(float) * (size_t)n);
  attention_args at = {q, k, v, NULL, NULL, NULL, oa, batch, seq, heads, dh, 0, 1.0f / sqrtf((float)dh)};
  const int64_t rows = batch * seq, w = hidden, m = 24;
  float *h = random_floats(rows * w, 2, &seed), *x = random_floats(rows * w, 2, &seed);
  float *wd = random_floats(w * m, 0.1f, &seed), *bd = random_floats(m, 0.1f, &seed), *wu = random_floats(m * w, 0.1f, &seed);
  float *bu = random_floats(w, 0.1f, &seed), *g = random_floats(w, 1, &seed), *be = random_floats(w, 1, &seed);
  float *pg = random_floats(w, 1, &seed), *pb = random_floats(w, 1, &seed);
  float *ya = malloc(sizeof(float) * (size_t)(rows * w)), *yb = malloc(sizeof(float) * (size_t)(rows * w));
  bottleneck_args bn = {h, x, wd, bd, wu, bu, g, be, pg, pb, ya, rows, w, m, 1e-12, 1e-12, 1 /* ReLU */, 1.0f};

  double best[4] = {1e9, 1e9, 1e9, 1e9};
  for (int r = 0; r <= reps; r++) {
    double t[8];
    at.out = oa;
    flush_caches(r);
    t[0] = now();
    attention_run_A(&at, threads);
    t[1] = now();
    at.out = ob;
    flush_caches(r);
    t[2] = now();
    attention_run_B(&at, threads);
    t[3] = now();
    bn.y = ya;
    flush_caches(r);
    t[4] = now();
    bottleneck_run_A(&bn, threads);
    t[5] = now();
    bn.y = yb;
    flush_caches(r);
    t[6] = now();
    bottleneck_run_B(&bn, threads);
    t[7] = now();
    if (r == 0) continue; /* warm-up */
    for (int i = 0; i < 4; i++) best[i] = fmin(best[i], t[2 * i + 1] - t[2 * i]);
  }
  printf("threads %d, best of %d, caches flushed before each call\n", threads, reps);
  printf("attention  [16,128,384] 12 heads: A %7.2f ms  B %7.2f ms  B/A %.3f  max |A-B| %.2g\n", best[0] * 1e3,
         best[1] * 1e3, best[1] / best[0], max_diff(oa, ob, n));
  printf("bottleneck [2048,384] m 24 (Pfeiffer): A %7.2f ms  B %7.2f ms  B/A %.3f  max |A-B| %.2g\n", best[2] * 1e3,
         best[3] * 1e3, best[3] / best[2], max_diff(ya, yb, rows * w));
  return 0;
}
