/*
 * AdaptersBottleneck: see bottleneck.h. Rows are processed in blocks of BLOCK_ROWS: the pre-LayerNorm rows, the
 * down-projection and the activation stay in a small per-thread scratch (L1/L2), the up-projection is written
 * straight into the output rows, which then get the residuals and the final LayerNorm while still in cache.
 * Against the composed kernels (add+LN, two matmuls, bias, activation, add+add+LN) this reads h and x once and
 * writes y once, and runs the narrow products (m is w/16 for Pfeiffer) on register-blocked FMA loops instead of
 * BLAS calls that are dominated by packing and memory traffic at this shape.
 *
 * Vectors are GNU C vector types; with target_clones gcc emits an AVX-512, an AVX2 and a baseline clone of the
 * block routine and picks one at load time.
 */
#define _GNU_SOURCE
#include "bottleneck.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "fused_math.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__AVX512F__)
#define BLOCK_FN __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BLOCK_FN
#endif
#define INLINE static inline __attribute__((always_inline))

/* The helpers below are always inlined, so the vector-argument ABI that -Wpsabi warns about never applies. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
INLINE v16 load16(const float *p) { v16 v; memcpy(&v, p, sizeof v); return v; }
INLINE v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
/* Macros, not functions: a vector passed by value draws a gcc ABI note even when always inlined. */
#define store16(p, v) memcpy((p), &(v), sizeof(v16))
#define store8(p, v) memcpy((p), &(v), sizeof(v8))

#define BLOCK_ROWS 8

/* Statistics lanes as 4-double vectors (one ymm each): gcc lowers 8-double vectors on AVX2 through the stack. */
typedef double v4d __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
INLINE v4d load4d(const float *p) {
  v4 v;
  memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, v4d);
}

/*
 * In place: y = (y - mean)·rstd·γ + β with the biased variance, Σ y[j] given (summed by the pass that wrote y, while
 * in registers). Statistics in double as addLayerNorm's, in explicit 8-double vectors (gcc's auto-vectorised
 * dot_d/sq_dev_d used 4-wide ones, and the separate sum pass cost another read: together ~25% of the kernel).
 */
INLINE void normalize_row_sum(float *restrict y, double sum, const float *restrict gamma, const float *restrict beta, int64_t n,
                              double eps) {
  const double mu = sum / (double)n;
  const v4d mv = (v4d){0} + mu;
  /* 16 lanes: s[0], s[1] are lanes 0-3, 4-7 of the first 8-float half, s[2], s[3] of the second. */
  v4d s[4] = {{0}, {0}, {0}, {0}};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    for (int q = 0; q < 4; q++) {
      const v4d dq = load4d(y + j + 4 * q) - mv;
      s[q] += dq * dq;
    }
  }
  double sq = 0;
  for (int l = 0; l < 8; l++) sq += s[l / 4][l % 4] + s[2 + l / 4][l % 4];
  for (int64_t t = j; t < n; t++) sq += ((double)y[t] - mu) * ((double)y[t] - mu);
  const double var = sq / (double)n;
  const float m = (float)mu, rs = (float)(1.0 / sqrt(var + eps));
  for (j = 0; j < n; j++) y[j] = (y[j] - m) * rs * gamma[j] + beta[j];
}

/*
 * y[j] = (u[j]·s + h[j]) + x[j] (u may alias y), or h[j] + x[j] when !scaled (u unused), returning Σ y[j] in double,
 * summed in a fixed order of lanes.
 */
INLINE double residual_sum(float *y, const float *u, const float *restrict h, const float *restrict x, float s, int64_t n,
                           const int scaled) {
  v4d lanes[4] = {{0}, {0}, {0}, {0}}; /* as in normalize_row_sum */
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const v8 y0 = scaled ? (load8(u + j) * s + load8(h + j)) + load8(x + j) : load8(h + j) + load8(x + j);
    const v8 y1 = scaled ? (load8(u + j + 8) * s + load8(h + j + 8)) + load8(x + j + 8) : load8(h + j + 8) + load8(x + j + 8);
    store8(y + j, y0);
    store8(y + j + 8, y1);
    for (int q = 0; q < 4; q++) lanes[q] += load4d(y + j + 4 * q);
  }
  double sum = 0;
  for (int l = 0; l < 8; l++) sum += lanes[l / 4][l % 4] + lanes[2 + l / 4][l % 4];
  for (; j < n; j++) {
    y[j] = scaled ? (u[j] * s + h[j]) + x[j] : h[j] + x[j];
    sum += (double)y[j];
  }
  return sum;
}

/*
 * d[r][j0 .. j0 + 16·n16 + 8·n8) = bd + Σ_k a[r][k]·Wd[k][j] for BLOCK_ROWS rows: up to 2 v16 + 1 v8 accumulators
 * per row (16 + 8 registers at most), each Wd load shared by all rows. n16/n8 are constants at every call site.
 */
INLINE void down_columns(const float *const *a, const float *restrict wd, const float *restrict bd, float *restrict d,
                         int64_t w, int64_t m, int64_t j0, int n16, int n8) {
  v16 acc[BLOCK_ROWS][2];
  v8 acc8[BLOCK_ROWS];
  for (int r = 0; r < BLOCK_ROWS; r++) {
    for (int c = 0; c < n16; c++) acc[r][c] = load16(bd + j0 + 16 * c);
    if (n8) acc8[r] = load8(bd + j0 + 16 * n16);
  }
  for (int64_t k = 0; k < w; k++) {
    const float *wk = wd + k * m + j0;
    v16 wv[2];
    v8 wv8 = {0};
    for (int c = 0; c < n16; c++) wv[c] = load16(wk + 16 * c);
    if (n8) wv8 = load8(wk + 16 * n16);
    for (int r = 0; r < BLOCK_ROWS; r++) {
      const float ak = a[r][k];
      for (int c = 0; c < n16; c++) acc[r][c] += ak * wv[c];
      if (n8) acc8[r] += ak * wv8;
    }
  }
  for (int r = 0; r < BLOCK_ROWS; r++) {
    for (int c = 0; c < n16; c++) store16(d + r * m + j0 + 16 * c, acc[r][c]);
    if (n8) store8(d + r * m + j0 + 16 * n16, acc8[r]);
  }
}

/*
 * y[r][j0 .. j0 + 16·nc) = bu + Σ_k d[r][k]·Wu[k][j] for all BLOCK_ROWS rows (nc = 1 or 2: up to 16 accumulators),
 * each Wu load shared by the 8 rows (2-row blocks spent a load on every two FMAs: ~15% slower overall).
 */
INLINE void up_rows(const float *restrict d, const float *restrict wu, const float *restrict bu, float *const *y, int64_t w,
                    int64_t m, int64_t j0, const int nc) {
  v16 acc[BLOCK_ROWS][2];
  const v16 b0 = load16(bu + j0), b1 = nc > 1 ? load16(bu + j0 + 16) : (v16){0};
  for (int r = 0; r < BLOCK_ROWS; r++) {
    acc[r][0] = b0;
    acc[r][1] = b1;
  }
  for (int64_t k = 0; k < m; k++) {
    const float *wk = wu + k * w + j0;
    const v16 w0 = load16(wk), w1 = nc > 1 ? load16(wk + 16) : (v16){0};
    for (int r = 0; r < BLOCK_ROWS; r++) {
      const float dk = d[r * m + k];
      acc[r][0] += dk * w0;
      if (nc > 1) acc[r][1] += dk * w1;
    }
  }
  for (int r = 0; r < BLOCK_ROWS; r++) {
    store16(y[r] + j0, acc[r][0]);
    if (nc > 1) store16(y[r] + j0 + 16, acc[r][1]);
  }
}

/*
 * out[r][j0 .. j0 + 8·nv) = bias + Σ_{k<len} x[r][k]·wt[k·ldw + j0 ..] for 4 rows × nv (1..3) v8 columns: the narrow
 * path's panels (and the wide path's 8-column rest). 12 accumulators at most, so each k costs nv weight loads and 4
 * broadcasts for 4·nv FMAs (8 × 8 panels spent 9 loads on 8 FMAs). Every output is the bias plus the products over k
 * in order, so the bits are those of the wide panels.
 */
INLINE void rows4_panel(const float *const *x, const float *restrict wt, int64_t ldw, const float *restrict bias, float *const *out,
                        int64_t len, int64_t j0, const int nv) {
  v8 acc[4][3];
  for (int r = 0; r < 4; r++) {
    for (int c = 0; c < nv; c++) acc[r][c] = load8(bias + j0 + 8 * c);
  }
  for (int64_t k = 0; k < len; k++) {
    const float *wk = wt + k * ldw + j0;
    v8 wv[3];
    for (int c = 0; c < nv; c++) wv[c] = load8(wk + 8 * c);
    for (int r = 0; r < 4; r++) {
      const float xk = x[r][k];
      for (int c = 0; c < nv; c++) acc[r][c] += xk * wv[c];
    }
  }
  for (int r = 0; r < 4; r++) {
    for (int c = 0; c < nv; c++) store8(out[r] + j0 + 8 * c, acc[r][c]);
  }
}

/*
 * Columns j0 .. n, as many as fit whole v8 panels, for all BLOCK_ROWS rows (rows4_panel; nv is a constant at each
 * call, so the panel stays in registers). Returns the first column left (fewer than 8 remain).
 */
INLINE int64_t rows_panels8(const float *const *x, const float *restrict wt, int64_t ldw, const float *restrict bias, float *const *out,
                            int64_t len, int64_t j0, int64_t n) {
  for (; j0 + 24 <= n; j0 += 24) {
    for (int h = 0; h < BLOCK_ROWS; h += 4) rows4_panel(x + h, wt, ldw, bias, out + h, len, j0, 3);
  }
  if (j0 + 16 <= n) {
    for (int h = 0; h < BLOCK_ROWS; h += 4) rows4_panel(x + h, wt, ldw, bias, out + h, len, j0, 2);
    j0 += 16;
  }
  if (j0 + 8 <= n) {
    for (int h = 0; h < BLOCK_ROWS; h += 4) rows4_panel(x + h, wt, ldw, bias, out + h, len, j0, 1);
    j0 += 8;
  }
  return j0;
}

/* x·σ(x) with σ from exp(-|x|) (no overflow): σ = 1/(1+e) for x >= 0, e/(1+e) below. */
INLINE float swish(float v) {
  const float e = exp_nonpos(-fabsf(v));
  const float s = 1.0f / (1.0f + e);
  return v * (v >= 0.0f ? s : e * s);
}

INLINE void activate(float *restrict d, int64_t count, int act) {
  switch (act) {
    case BN_ACT_RELU:
      for (int64_t i = 0; i < count; i++) d[i] = d[i] > 0.0f ? d[i] : 0.0f;
      break;
    case BN_ACT_SWISH:
      for (int64_t i = 0; i < count; i++) d[i] = swish(d[i]);
      break;
    case BN_ACT_GELU:
      for (int64_t i = 0; i < count; i++) d[i] = d[i] * phi_from(d[i], exp_nonpos(-0.5f * d[i] * d[i]));
      break;
    default:
      break;
  }
}

/* scratch: BLOCK_ROWS·w (pre-LN rows) + BLOCK_ROWS·m (bottleneck activations) + BLOCK_ROWS·w (a short block's rows). */
BLOCK_FN CONTRACT static void bottleneck_rows(const bottleneck_args *p, int64_t r0, int64_t r1, float *scratch, int wide) {
  const int64_t w = p->w, m = p->m;
  float *pre_rows = scratch, *d = scratch + BLOCK_ROWS * w, *spare = d + BLOCK_ROWS * m;
  const int pre = p->pre_gamma != NULL;
  for (int64_t rb = r0; rb < r1; rb += BLOCK_ROWS) {
    const int nr = (int)(r1 - rb < BLOCK_ROWS ? r1 - rb : BLOCK_ROWS);
    const float *a[BLOCK_ROWS];
    for (int r = 0; r < BLOCK_ROWS; r++) {
      if (r >= nr) { /* a short last block repeats its first row; those results are never stored */
        a[r] = a[0];
        continue;
      }
      const float *hr = p->h + (rb + r) * w, *xr = p->x + (rb + r) * w;
      if (!pre) {
        a[r] = hr;
        continue;
      }
      float *ar = pre_rows + r * w;
      const double sum = residual_sum(ar, NULL, hr, xr, 1.0f, w, 0);
      normalize_row_sum(ar, sum, p->pre_gamma, p->pre_beta, w, p->pre_eps);
      a[r] = ar;
    }
    /* d's rows, to write (down-projection) and then to read (up-projection). */
    float *dw[BLOCK_ROWS];
    const float *dr[BLOCK_ROWS];
    for (int r = 0; r < BLOCK_ROWS; r++) dr[r] = dw[r] = d + r * m;
    /* Narrow: 4-row panels of up to 24 columns, 12 accumulators in AVX2's 16 registers (same sums, same bits). */
    int64_t j0 = wide ? 0 : rows_panels8(a, p->wd, m, p->bd, dw, w, 0, m);
    for (; j0 + 32 <= m; j0 += 32) down_columns(a, p->wd, p->bd, d, w, m, j0, 2, 0);
    const int64_t left = m - j0;
    if (left >= 24) {
      down_columns(a, p->wd, p->bd, d, w, m, j0, 1, 1);
      j0 += 24;
    } else if (left >= 16) {
      down_columns(a, p->wd, p->bd, d, w, m, j0, 1, 0);
      j0 += 16;
    }
    if (m - j0 >= 8) {
      down_columns(a, p->wd, p->bd, d, w, m, j0, 0, 1);
      j0 += 8;
    }
    for (; j0 < m; j0++) {
      for (int r = 0; r < BLOCK_ROWS; r++) {
        float s = p->bd[j0];
        for (int64_t k = 0; k < w; k++) s += a[r][k] * p->wd[k * m + j0];
        d[r * m + j0] = s;
      }
    }
    activate(d, BLOCK_ROWS * m, p->act);
    /* The up-projection for the whole block, straight into the output rows (a short block's extra rows into spare). */
    float *yr[BLOCK_ROWS];
    for (int r = 0; r < BLOCK_ROWS; r++) yr[r] = r < nr ? p->y + (rb + r) * w : spare + r * w;
    int64_t j = 0;
    if (wide) {
      for (; j + 32 <= w; j += 32) up_rows(d, p->wu, p->bu, yr, w, m, j, 2);
      if (j + 16 <= w) {
        up_rows(d, p->wu, p->bu, yr, w, m, j, 1);
        j += 16;
      }
    }
    /* The narrow path's panels, or the wide path's 8-column rest (the scalar loop below may round differently). */
    j = rows_panels8(dr, p->wu, w, p->bu, yr, m, j, w);
    for (; j < w; j++) {
      for (int r = 0; r < BLOCK_ROWS; r++) {
        float acc = p->bu[j];
        for (int64_t k = 0; k < m; k++) acc += d[r * m + k] * p->wu[k * w + j];
        yr[r][j] = acc;
      }
    }
    for (int r = 0; r < nr; r++) {
      const int64_t row = rb + r;
      float *y = yr[r];
      const float *hr = p->h + row * w, *xr = p->x + row * w;
      const float s = p->scale;
      /* The graph's order: residual = up·s + h, then + x. */
      const double sum = residual_sum(y, y, hr, xr, s, w, 1);
      normalize_row_sum(y, sum, p->gamma, p->beta, w, p->eps);
    }
  }
}

/*
 * Rows are handed out in chunks from a shared counter rather than split in fixed halves: on a shared machine a
 * thread may lose its core for a while, and the others then take its remaining chunks instead of waiting.
 * Each row's result does not depend on which thread computes it (tested bit for bit).
 */
#define CHUNK_BLOCKS 4

typedef struct {
  const bottleneck_args *args;
  int64_t blocks;
  int64_t next_block; /* accessed with __atomic builtins */
} shared_rows;

/* Claims chunks until none are left; a worker without scratch memory claims none. */
static void *run_job(void *arg) {
  shared_rows *rows = arg;
  const bottleneck_args *p = rows->args;
  float *scratch = malloc(sizeof(float) * (size_t)(BLOCK_ROWS * (2 * p->w + p->m)));
  if (!scratch) return NULL;
  const int wide = attention_wide_vectors(); /* the v16 panels pay off only where the AVX-512 clone runs */
  for (;;) {
    const int64_t b = __atomic_fetch_add(&rows->next_block, CHUNK_BLOCKS, __ATOMIC_RELAXED);
    if (b >= rows->blocks) break;
    const int64_t r0 = b * BLOCK_ROWS, r1 = (b + CHUNK_BLOCKS) * BLOCK_ROWS;
    bottleneck_rows(p, r0, r1 < p->rows ? r1 : p->rows, scratch, wide);
  }
  free(scratch);
  return NULL;
}

#define MAX_THREADS 8

int bottleneck_run(const bottleneck_args *args, int threads) {
  shared_rows rows = {args, (args->rows + BLOCK_ROWS - 1) / BLOCK_ROWS, 0};
  /* A thread costs ~30 µs to start: only worth it with several chunks for each. */
  int t = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
  const int64_t chunks = (rows.blocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS;
  if (chunks < 4 * (int64_t)t) t = (int)(chunks / 4 > 1 ? chunks / 4 : 1);
  pthread_t ids[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int i = 1; i < t; i++) started[i] = pthread_create(&ids[i], NULL, run_job, &rows) == 0;
  run_job(&rows);
  for (int i = 1; i < t; i++) {
    if (started[i]) pthread_join(ids[i], NULL);
  }
  /* Every chunk was claimed by a worker that had scratch memory, unless none could allocate any. */
  return __atomic_load_n(&rows.next_block, __ATOMIC_RELAXED) >= rows.blocks;
}
