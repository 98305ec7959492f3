/*
 * AdaptersAttention: see attention.h. Each (batch, head) task packs its keys transposed (Kt [dh, T]) and its values
 * (V [T, dhp]) into per-thread scratch, zero-padded to multiples of 16, then walks the queries in blocks of 4 rows:
 * a [4, T] score block (register-blocked FMAs), the bias and the softmax while it is in L1, and the [4, dh] context
 * block, written straight into the output's head columns. Against the composed kernels (scale, split/transposes,
 * batched matmul, mask add, softmax, batched matmul, merge transpose) this reads q, k, v once, writes the context once
 * and never materialises the [batch, heads, seq, T] scores.
 *
 * Summation order inside a task does not depend on the thread count, so results are the same with 1 or N threads.
 */
#define _GNU_SOURCE
#include "attention.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

#include "fused_math.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__AVX512F__)
#define BLOCK_FN __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BLOCK_FN
#endif
#define INLINE static inline __attribute__((always_inline))

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float v8 __attribute__((vector_size(32)));
INLINE v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
#define store8(p, v) memcpy((p), &(v), sizeof(v8))

#define QROWS 4
#define MASKED_SCORE (-1e9f)

static int64_t round16(int64_t n) { return (n + 15) & ~(int64_t)15; }

typedef struct {
  float *kt, *vc, *s, *o, *qb, *bias;
} scratch_t;

/* s[r][j0 .. j0+16) = Σ_d qb[r][d]·kt[d][j0 ..], for the QROWS rows, two 8-wide accumulators per row. */
INLINE void score_block(const float *restrict qb, const float *restrict kt, float *restrict s, int64_t dh, int64_t tp, int64_t j0) {
  v8 acc[QROWS][2];
  for (int r = 0; r < QROWS; r++) acc[r][0] = acc[r][1] = (v8){0};
  for (int64_t d = 0; d < dh; d++) {
    const v8 k0 = load8(kt + d * tp + j0), k1 = load8(kt + d * tp + j0 + 8);
    for (int r = 0; r < QROWS; r++) {
      const float qv = qb[r * dh + d];
      acc[r][0] += qv * k0;
      acc[r][1] += qv * k1;
    }
  }
  for (int r = 0; r < QROWS; r++) {
    store8(s + r * tp + j0, acc[r][0]);
    store8(s + r * tp + j0 + 8, acc[r][1]);
  }
}

/* o[r][c0 .. c0+16) = Σ_j p[r][j]·vc[j][c0 ..] over the t real keys. */
INLINE void context_block(const float *restrict p, const float *restrict vc, float *restrict o, int64_t t, int64_t tp, int64_t dhp,
                          int64_t c0) {
  v8 acc[QROWS][2];
  for (int r = 0; r < QROWS; r++) acc[r][0] = acc[r][1] = (v8){0};
  for (int64_t j = 0; j < t; j++) {
    const v8 v0 = load8(vc + j * dhp + c0), v1 = load8(vc + j * dhp + c0 + 8);
    for (int r = 0; r < QROWS; r++) {
      const float pv = p[r * tp + j];
      acc[r][0] += pv * v0;
      acc[r][1] += pv * v1;
    }
  }
  for (int r = 0; r < QROWS; r++) {
    store8(o + r * dhp + c0, acc[r][0]);
    store8(o + r * dhp + c0 + 8, acc[r][1]);
  }
}

/*
 * In place over t entries: softmax of scale·row + bias (max subtracted; exp of a non-positive argument). Arguments
 * below −87 give exactly 0 (as expf does for masked keys) instead of exp_nonpos's clamped 1.6e-38: normalised, that
 * would be a subnormal probability, and subnormal products made the context pass ~20× slower.
 */
INLINE void softmax_row(float *restrict row, const float *restrict bias, int64_t t, float scale) {
  for (int64_t j = 0; j < t; j++) row[j] = row[j] * scale + bias[j];
  /* The maximum over 8 independent lanes: one running max is a serial dependency chain (and gcc kept it in memory). */
  float m8[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t j8 = 0;
  for (; j8 + 8 <= t; j8 += 8) {
    for (int l = 0; l < 8; l++) m8[l] = row[j8 + l] > m8[l] ? row[j8 + l] : m8[l];
  }
  for (; j8 < t; j8++) m8[0] = row[j8] > m8[0] ? row[j8] : m8[0];
  float mx = m8[0];
  for (int l = 1; l < 8; l++) mx = m8[l] > mx ? m8[l] : mx;
  for (int64_t j = 0; j < t; j++) {
    const float d = row[j] - mx;
    /* d in [−87, 0] (or NaN) keeps its exp: as unsigned bits, d < −87 exactly when bits(d) > bits(−87). */
    const uint32_t keep = 0u - (uint32_t)(bits_of(d) <= 0xC2AE0000u);
    row[j] = float_of(bits_of(exp_nonpos(d)) & keep);
  }
  const float inv = (float)(1.0 / dot_d(row, NULL, t));
  for (int64_t j = 0; j < t; j++) row[j] *= inv;
}

BLOCK_FN CONTRACT static void attention_task(const attention_args *a, int64_t task, const scratch_t *w) {
  const int64_t bi = task / a->heads, hd = task % a->heads;
  const int64_t dh = a->dh, hidden = a->heads * dh, p = a->prefix, t = p + a->seq;
  const int64_t tp = round16(t), dhp = round16(dh);
  /* Keys transposed and values, prefix rows first; padding stays zero (set once per scratch). */
  for (int64_t j = 0; j < t; j++) {
    const float *kr = j < p ? a->pk + j * hidden + hd * dh : a->k + ((bi * a->seq) + (j - p)) * hidden + hd * dh;
    const float *vr = j < p ? a->pv + j * hidden + hd * dh : a->v + ((bi * a->seq) + (j - p)) * hidden + hd * dh;
    for (int64_t d = 0; d < dh; d++) w->kt[d * tp + j] = kr[d];
    memcpy(w->vc + j * dhp, vr, (size_t)dh * sizeof(float));
  }
  for (int64_t j = 0; j < t; j++) {
    w->bias[j] = j < p || !a->mask ? 0.0f : (1.0f - a->mask[bi * a->seq + (j - p)]) * MASKED_SCORE;
  }
  for (int64_t i0 = 0; i0 < a->seq; i0 += QROWS) {
    const int64_t rows = a->seq - i0 < QROWS ? a->seq - i0 : QROWS;
    for (int64_t r = 0; r < QROWS; r++) {
      if (r < rows) memcpy(w->qb + r * dh, a->q + (bi * a->seq + i0 + r) * hidden + hd * dh, (size_t)dh * sizeof(float));
      else memset(w->qb + r * dh, 0, (size_t)dh * sizeof(float));
    }
    for (int64_t j0 = 0; j0 < tp; j0 += 16) score_block(w->qb, w->kt, w->s, dh, tp, j0);
    for (int64_t r = 0; r < rows; r++) softmax_row(w->s + r * tp, w->bias, t, a->scale);
    for (int64_t c0 = 0; c0 < dhp; c0 += 16) context_block(w->s, w->vc, w->o, t, tp, dhp, c0);
    for (int64_t r = 0; r < rows; r++) {
      memcpy(a->out + (bi * a->seq + i0 + r) * hidden + hd * dh, w->o + r * dhp, (size_t)dh * sizeof(float));
    }
  }
}

typedef struct {
  const attention_args *args;
  int64_t tasks;
  int64_t next; /* accessed with __atomic builtins */
} shared_tasks;

/* Claims (batch, head) tasks until none are left; a worker without scratch memory claims none. */
static void *run_job(void *arg) {
  shared_tasks *st = arg;
  const attention_args *a = st->args;
  const int64_t tp = round16(a->prefix + a->seq), dhp = round16(a->dh);
  const size_t floats = (size_t)(a->dh * tp + tp * dhp + QROWS * tp + QROWS * dhp + QROWS * a->dh + tp);
  float *mem = calloc(floats, sizeof(float));
  if (!mem) return NULL;
  scratch_t w;
  w.kt = mem;
  w.vc = w.kt + a->dh * tp;
  w.s = w.vc + tp * dhp;
  w.o = w.s + QROWS * tp;
  w.qb = w.o + QROWS * dhp;
  w.bias = w.qb + QROWS * a->dh;
  for (;;) {
    const int64_t task = __atomic_fetch_add(&st->next, 1, __ATOMIC_RELAXED);
    if (task >= st->tasks) break;
    attention_task(a, task, &w);
  }
  free(mem);
  return NULL;
}

#define MAX_THREADS 8

int attention_run(const attention_args *args, int threads) {
  shared_tasks st = {args, args->batch * args->heads, 0};
  if (st.tasks == 0 || args->seq == 0) return 1;
  int t = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
  if (st.tasks < t) t = (int)st.tasks;
  /* A thread costs ~30 µs to start: below ~64k multiply-adds per thread the caller works alone. */
  if (args->seq * (args->seq + args->prefix) * args->dh * st.tasks < 65536LL * t) t = 1;
#ifdef HAVE_MXCSR
  /* Flush subnormals to zero while the kernel runs (tiny probabilities times values): new threads inherit the
   * caller's floating-point environment, and the caller's is restored before returning to JS. */
  const unsigned int mxcsr = _mm_getcsr();
  _mm_setcsr(mxcsr | 0x8040u);
#endif
  pthread_t ids[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int i = 1; i < t; i++) started[i] = pthread_create(&ids[i], NULL, run_job, &st) == 0;
  run_job(&st);
  for (int i = 1; i < t; i++) {
    if (started[i]) pthread_join(ids[i], NULL);
  }
#ifdef HAVE_MXCSR
  _mm_setcsr(mxcsr);
#endif
  return __atomic_load_n(&st.next, __ATOMIC_RELAXED) >= st.tasks;
}
