/*
 * AdaptersAttentionTrain / AdaptersAttentionGrad: see attention_train.h. Each (batch, head) task packs its keys and
 * values into per-thread scratch (zero-padded to multiples of 32) and walks the queries in blocks of QROWS rows, so a
 * [QROWS, seq] block of scores, probabilities and their gradients stays in L1 while it is used. Compared with the
 * composed ops (scale, head split transposes, two batched products, mask add, softmax, dropout mask and multiply, merge
 * transpose, and the backward of each), the [batch, heads, seq, seq] tensors other than the probabilities are never
 * stored, the dropout mask is recomputed from its hash in both passes, and both cores work on every step.
 *
 * The summation order inside a task does not depend on the thread count, so results are the same with 1 or N threads.
 */
#define _GNU_SOURCE
#include "attention_train.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

#include "attention.h"
#include "attention_rows.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__AVX512F__)
#define TASK_FN __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TASK_FN
#endif

/* Query rows per block (scores, probabilities and their gradients stay in L1); products work on 4-row slices. */
#define QROWS 8
#define SLICE 4
_Static_assert(SLICE == 4, "the narrow panels are the 4-row ones of attention_rows.h");

/* Keys and head columns are padded to multiples of 32: every product works on 32-column (2 × 16-float) panels. */
static int64_t round32(int64_t n) { return (n + 31) & ~(int64_t)31; }

/* s[r][j0 .. j0+32) = Σ_{d<len} rows[r·stride + d]·bt[d·tp + j0 ..] for SLICE rows. */
INLINE void rows_times_bt(const float *restrict rows, int64_t stride, const float *restrict bt, float *restrict s, int64_t len,
                          int64_t tp, int64_t j0) {
  v16 acc[SLICE][2];
  for (int r = 0; r < SLICE; r++) acc[r][0] = acc[r][1] = (v16){0};
  for (int64_t d = 0; d < len; d++) {
    const v16 b0 = load16(bt + d * tp + j0), b1 = load16(bt + d * tp + j0 + 16);
    for (int r = 0; r < SLICE; r++) {
      const float x = rows[r * stride + d];
      acc[r][0] += x * b0;
      acc[r][1] += x * b1;
    }
  }
  for (int r = 0; r < SLICE; r++) {
    store16(s + r * tp + j0, acc[r][0]);
    store16(s + r * tp + j0 + 16, acc[r][1]);
  }
}

/* o[r][c0 .. c0+32) = Σ_{j<t} p[r·tp + j]·m[j·dhp + c0 ..] for SLICE rows. */
INLINE void block_times_rows(const float *restrict p, const float *restrict m, float *restrict o, int64_t t, int64_t tp,
                             int64_t dhp, int64_t c0) {
  v16 acc[SLICE][2];
  for (int r = 0; r < SLICE; r++) acc[r][0] = acc[r][1] = (v16){0};
  for (int64_t j = 0; j < t; j++) {
    const v16 m0 = load16(m + j * dhp + c0), m1 = load16(m + j * dhp + c0 + 16);
    for (int r = 0; r < SLICE; r++) {
      const float x = p[r * tp + j];
      acc[r][0] += x * m0;
      acc[r][1] += x * m1;
    }
  }
  for (int r = 0; r < SLICE; r++) {
    store16(o + r * dhp + c0, acc[r][0]);
    store16(o + r * dhp + c0 + 16, acc[r][1]);
  }
}

/*
 * acc[j][:] += Σ_r p[r·tp + j]·x[r·dhp + :] over the QROWS rows, for j < t: the transposed products (dv, dk),
 * accumulated over query blocks. The [QROWS, 32] panel of x stays in registers while j walks the keys.
 */
INLINE void accumulate_transposed(float *restrict acc, const float *restrict p, const float *restrict x, int64_t t, int64_t tp,
                                  int64_t dhp) {
  for (int64_t c0 = 0; c0 < dhp; c0 += 32) {
    v16 xr[QROWS][2];
    for (int r = 0; r < QROWS; r++) {
      xr[r][0] = load16(x + r * dhp + c0);
      xr[r][1] = load16(x + r * dhp + c0 + 16);
    }
    for (int64_t j = 0; j < t; j++) {
      float *row = acc + j * dhp + c0;
      v16 a0 = load16(row), a1 = load16(row + 16);
      for (int r = 0; r < QROWS; r++) {
        const float w = p[r * tp + j];
        a0 += w * xr[r][0];
        a1 += w * xr[r][1];
      }
      store16(row, a0);
      store16(row + 16, a1);
    }
  }
}

/*
 * The narrow path (CPUs without AVX-512): the same three products on 4-row, 16-column panels held as two v8 per row
 * (rows4_times_panel16 of attention_rows.h for two of them, accumulate_transposed16 below). There gcc
 * moves a v16's two halves through the stack, and the 32-column panels' accumulators do not fit in 16 registers.
 * Each output element is summed in the same order as by the wide versions, so the bits are the same.
 */
/* accumulate_transposed on [SLICE, 16] panels: acc rows are reloaded per slice, so the sum over r keeps its order. */
INLINE void accumulate_transposed16(float *restrict acc, const float *restrict p, const float *restrict x, int64_t t, int64_t tp,
                                    int64_t dhp) {
  for (int64_t c0 = 0; c0 < dhp; c0 += 16) {
    for (int r0 = 0; r0 < QROWS; r0 += SLICE) {
      v8 xr[SLICE][2];
      for (int r = 0; r < SLICE; r++) {
        xr[r][0] = load8(x + (r0 + r) * dhp + c0);
        xr[r][1] = load8(x + (r0 + r) * dhp + c0 + 8);
      }
      for (int64_t j = 0; j < t; j++) {
        float *row = acc + j * dhp + c0;
        v8 a0 = load8(row), a1 = load8(row + 8);
        for (int r = 0; r < SLICE; r++) {
          const float w = p[(r0 + r) * tp + j];
          a0 += w * xr[r][0];
          a1 += w * xr[r][1];
        }
        store8(row, a0);
        store8(row + 8, a1);
      }
    }
  }
}

/* lowbias32 (Wellons), as dropout-mask.ts and the AdaptersDropoutMask kernel. */
INLINE uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}

/* row[j] *= mask entry (base + j) for j < t: 0 or keep_scale, bit for bit the AdaptersDropoutMask value. */
INLINE void apply_dropout(float *restrict row, const dropout_keys *dk, uint32_t base, int64_t t) {
  const uint32_t t32 = (uint32_t)dk->threshold, scale_bits = bits_of(dk->keep_scale);
  for (int64_t j = 0; j < t; j++) {
    const uint32_t h = lowbias32(lowbias32((base + (uint32_t)j) ^ dk->k1) + dk->k2);
    row[j] *= float_of(scale_bits & (0u - (uint32_t)(h < t32)));
  }
}

/* Copies `rows` rows of dh floats at src (row stride `hidden`) into dst (row stride `stride`); the rest stays zero. */
INLINE void gather_rows(float *restrict dst, int64_t stride, const float *restrict src, int64_t hidden, int64_t rows,
                        int64_t dh) {
  for (int64_t r = 0; r < QROWS; r++) {
    if (r < rows) memcpy(dst + r * stride, src + r * hidden, (size_t)dh * sizeof(float));
    else memset(dst + r * stride, 0, (size_t)dh * sizeof(float));
  }
}

/* Row j of the keys (or values) of batch bi, head columns of hd: prefix rows first, then the sequence's. */
INLINE const float *key_row(const float *seq_rows, const float *pre_rows, const prefix_rows *pre, int64_t bi, int64_t j,
                            int64_t seq, int64_t hidden, int64_t col) {
  return j < pre->prefix ? pre_rows + bi * pre->stride + j * hidden + col : seq_rows + (bi * seq + j - pre->prefix) * hidden + col;
}

typedef struct {
  float *kt, *vc, *s, *o, *qb, *bias;
} fwd_scratch;

static size_t fwd_floats(int64_t keys, int64_t dh) {
  const int64_t tp = round32(keys), dhp = round32(dh);
  return (size_t)(dh * tp + tp * dhp + QROWS * tp + QROWS * dhp + QROWS * dh + tp);
}

static void fwd_layout(float *mem, int64_t keys, int64_t dh, fwd_scratch *w) {
  const int64_t tp = round32(keys), dhp = round32(dh);
  w->kt = mem;
  w->vc = w->kt + dh * tp;
  w->s = w->vc + tp * dhp;
  w->o = w->s + QROWS * tp;
  w->qb = w->o + QROWS * dhp;
  w->bias = w->qb + QROWS * dh;
}

TASK_FN CONTRACT static void forward_task(const attention_train_args *a, int64_t task, const fwd_scratch *w, int wide) {
  const int64_t bi = task / a->heads, hd = task % a->heads;
  const int64_t dh = a->dh, hidden = a->heads * dh, s = a->seq, p = a->pre.prefix, t = p + s;
  const int64_t tp = round32(t), dhp = round32(dh);
  for (int64_t j = 0; j < t; j++) {
    const float *kr = key_row(a->k, a->pre.pk, &a->pre, bi, j, s, hidden, hd * dh);
    for (int64_t d = 0; d < dh; d++) w->kt[d * tp + j] = kr[d];
    memcpy(w->vc + j * dhp, key_row(a->v, a->pre.pv, &a->pre, bi, j, s, hidden, hd * dh), (size_t)dh * sizeof(float));
  }
  for (int64_t j = 0; j < t; j++) w->bias[j] = j < p || !a->mask ? 0.0f : (1.0f - a->mask[bi * s + j - p]) * MASKED_SCORE;
  const int dropout = a->drop.threshold <= 0xffffffffull;
  for (int64_t i0 = 0; i0 < s; i0 += QROWS) {
    const int64_t rows = s - i0 < QROWS ? s - i0 : QROWS;
    const int64_t row0 = bi * s + i0; /* first query row in [batch·seq] */
    gather_rows(w->qb, dh, a->q + row0 * hidden + hd * dh, hidden, rows, dh);
    for (int64_t r0 = 0; r0 < rows; r0 += SLICE) {
      if (wide) {
        for (int64_t j0 = 0; j0 < tp; j0 += 32) rows_times_bt(w->qb + r0 * dh, dh, w->kt, w->s + r0 * tp, dh, tp, j0);
      } else {
        for (int64_t j0 = 0; j0 < tp; j0 += 16) rows4_times_panel16(w->qb + r0 * dh, dh, w->kt + j0, tp, w->s + r0 * tp + j0, tp, dh);
      }
    }
    for (int64_t r = 0; r < rows; r++) {
      float *row = w->s + r * tp;
      if (wide) softmax_row16(row, w->bias, t, tp, a->scale);
      else softmax_row8x2(row, w->bias, t, tp, a->scale);
      const int64_t flat = (task * s + i0 + r) * t; /* index of p[bi, hd, i0 + r, 0] */
      memcpy(a->probs + flat, row, (size_t)t * sizeof(float));
      if (dropout) apply_dropout(row, &a->drop, (uint32_t)flat, t);
    }
    for (int64_t r0 = 0; r0 < rows; r0 += SLICE) {
      if (wide) {
        for (int64_t c0 = 0; c0 < dhp; c0 += 32) block_times_rows(w->s + r0 * tp, w->vc, w->o + r0 * dhp, t, tp, dhp, c0);
      } else {
        for (int64_t c0 = 0; c0 < dhp; c0 += 16) rows4_times_panel16(w->s + r0 * tp, tp, w->vc + c0, dhp, w->o + r0 * dhp + c0, dhp, t);
      }
    }
    for (int64_t r = 0; r < rows; r++) {
      memcpy(a->out + (row0 + r) * hidden + hd * dh, w->o + r * dhp, (size_t)dh * sizeof(float));
    }
  }
}

typedef struct {
  float *vt, *kc, *dk, *dv, *dpd, *pd, *ds, *o, *dob, *qb;
} bwd_scratch;

static size_t bwd_floats(int64_t keys, int64_t dh) {
  const int64_t tp = round32(keys), dhp = round32(dh);
  return (size_t)(dh * tp + 3 * tp * dhp + 3 * QROWS * tp + 3 * QROWS * dhp);
}

static void bwd_layout(float *mem, int64_t keys, int64_t dh, bwd_scratch *w) {
  const int64_t tp = round32(keys), dhp = round32(dh);
  w->vt = mem;
  w->kc = w->vt + dh * tp;
  w->dk = w->kc + tp * dhp;
  w->dv = w->dk + tp * dhp;
  w->dpd = w->dv + tp * dhp;
  w->pd = w->dpd + QROWS * tp;
  w->ds = w->pd + QROWS * tp;
  w->o = w->ds + QROWS * tp;
  w->dob = w->o + QROWS * dhp;
  w->qb = w->dob + QROWS * dhp;
}

TASK_FN CONTRACT static void backward_task(const attention_grad_args *a, int64_t task, const bwd_scratch *w, int wide) {
  const int64_t bi = task / a->heads, hd = task % a->heads;
  const int64_t dh = a->dh, hidden = a->heads * dh, s = a->seq, p = a->pre.prefix, t = p + s;
  const int64_t tp = round32(t), dhp = round32(dh);
  for (int64_t j = 0; j < t; j++) {
    const float *vr = key_row(a->v, a->pre.pv, &a->pre, bi, j, s, hidden, hd * dh);
    for (int64_t d = 0; d < dh; d++) w->vt[d * tp + j] = vr[d];
    memcpy(w->kc + j * dhp, key_row(a->k, a->pre.pk, &a->pre, bi, j, s, hidden, hd * dh), (size_t)dh * sizeof(float));
  }
  memset(w->dk, 0, (size_t)(tp * dhp) * sizeof(float));
  memset(w->dv, 0, (size_t)(tp * dhp) * sizeof(float));
  const int dropout = a->drop.threshold <= 0xffffffffull;
  for (int64_t i0 = 0; i0 < s; i0 += QROWS) {
    const int64_t rows = s - i0 < QROWS ? s - i0 : QROWS;
    const int64_t row0 = bi * s + i0;
    gather_rows(w->dob, dhp, a->dy + row0 * hidden + hd * dh, hidden, rows, dh);
    gather_rows(w->qb, dhp, a->q + row0 * hidden + hd * dh, hidden, rows, dh);
    for (int64_t r0 = 0; r0 < rows; r0 += SLICE) {
      if (wide) {
        for (int64_t j0 = 0; j0 < tp; j0 += 32) rows_times_bt(w->dob + r0 * dhp, dhp, w->vt, w->dpd + r0 * tp, dh, tp, j0);
      } else {
        for (int64_t j0 = 0; j0 < tp; j0 += 16) rows4_times_panel16(w->dob + r0 * dhp, dhp, w->vt + j0, tp, w->dpd + r0 * tp + j0, tp, dh);
      }
    }
    for (int64_t r = 0; r < QROWS; r++) {
      float *pd = w->pd + r * tp, *ds = w->ds + r * tp, *dp = w->dpd + r * tp;
      memset(pd, 0, (size_t)tp * sizeof(float));
      memset(ds, 0, (size_t)tp * sizeof(float));
      if (r >= rows) continue;
      const int64_t flat = (task * s + i0 + r) * t;
      const float *p = a->probs + flat;
      memcpy(pd, p, (size_t)t * sizeof(float));
      if (dropout) { /* pd = p·m and dp = dpd·m, the mask drawn once into ds */
        for (int64_t j = 0; j < t; j++) ds[j] = 1.0f;
        apply_dropout(ds, &a->drop, (uint32_t)flat, t);
        for (int64_t j = 0; j < t; j++) {
          pd[j] *= ds[j];
          dp[j] *= ds[j];
        }
      }
      const float rowdot = (float)dot_d(dp, p, t);
      for (int64_t j = 0; j < t; j++) ds[j] = a->scale * (p[j] * (dp[j] - rowdot));
    }
    for (int64_t r0 = 0; r0 < rows; r0 += SLICE) {
      if (wide) {
        for (int64_t c0 = 0; c0 < dhp; c0 += 32) block_times_rows(w->ds + r0 * tp, w->kc, w->o + r0 * dhp, t, tp, dhp, c0);
      } else {
        for (int64_t c0 = 0; c0 < dhp; c0 += 16) rows4_times_panel16(w->ds + r0 * tp, tp, w->kc + c0, dhp, w->o + r0 * dhp + c0, dhp, t);
      }
    }
    for (int64_t r = 0; r < rows; r++) {
      memcpy(a->dq + (row0 + r) * hidden + hd * dh, w->o + r * dhp, (size_t)dh * sizeof(float));
    }
    if (wide) {
      accumulate_transposed(w->dv, w->pd, w->dob, t, tp, dhp);
      accumulate_transposed(w->dk, w->ds, w->qb, t, tp, dhp);
    } else {
      accumulate_transposed16(w->dv, w->pd, w->dob, t, tp, dhp);
      accumulate_transposed16(w->dk, w->ds, w->qb, t, tp, dhp);
    }
  }
  /* Prefix rows go to this example's slice of dpk/dpv (per-example sums, reduced by the caller), the rest to dk/dv. */
  for (int64_t j = 0; j < t; j++) {
    const int64_t at = j < p ? (bi * p + j) * hidden + hd * dh : (bi * s + j - p) * hidden + hd * dh;
    memcpy((j < p ? a->dpv : a->dv) + at, w->dv + j * dhp, (size_t)dh * sizeof(float));
    memcpy((j < p ? a->dpk : a->dk) + at, w->dk + j * dhp, (size_t)dh * sizeof(float));
  }
}

typedef struct {
  const void *args;
  int backward, wide;
  int64_t tasks, queries, keys, dh;
  int64_t next; /* accessed with __atomic builtins */
} shared_tasks;

/* Claims (batch, head) tasks until none are left; a worker without scratch memory claims none. */
static void *run_job(void *arg) {
  shared_tasks *st = arg;
  float *mem = calloc(st->backward ? bwd_floats(st->keys, st->dh) : fwd_floats(st->keys, st->dh), sizeof(float));
  if (!mem) return NULL;
  fwd_scratch fw;
  bwd_scratch bw;
  if (st->backward) bwd_layout(mem, st->keys, st->dh, &bw);
  else fwd_layout(mem, st->keys, st->dh, &fw);
  for (;;) {
    const int64_t task = __atomic_fetch_add(&st->next, 1, __ATOMIC_RELAXED);
    if (task >= st->tasks) break;
    if (st->backward) backward_task(st->args, task, &bw, st->wide);
    else forward_task(st->args, task, &fw, st->wide);
  }
  free(mem);
  return NULL;
}

#define MAX_THREADS 8

static int run_tasks(shared_tasks *st, int threads) {
  if (st->tasks == 0 || st->queries == 0) return 1;
  int n = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
  if (st->tasks < n) n = (int)st->tasks;
  /* A thread costs ~30 µs to start: below ~64k multiply-adds per thread the caller works alone. */
  if (st->queries * st->keys * st->dh * st->tasks < 65536LL * n) n = 1;
#ifdef HAVE_MXCSR
  /* Flush subnormals while the kernel runs; new threads inherit the caller's floating-point environment. */
  const unsigned int mxcsr = _mm_getcsr();
  _mm_setcsr(mxcsr | 0x8040u);
#endif
  pthread_t ids[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int i = 1; i < n; i++) started[i] = pthread_create(&ids[i], NULL, run_job, st) == 0;
  run_job(st);
  for (int i = 1; i < n; i++) {
    if (started[i]) pthread_join(ids[i], NULL);
  }
#ifdef HAVE_MXCSR
  _mm_setcsr(mxcsr);
#endif
  return __atomic_load_n(&st->next, __ATOMIC_RELAXED) >= st->tasks;
}

int attention_train_run(const attention_train_args *args, int threads) {
  shared_tasks st = {args, 0, attention_wide_vectors(), args->batch * args->heads, args->seq, args->pre.prefix + args->seq, args->dh, 0};
  return run_tasks(&st, threads);
}

int attention_grad_run(const attention_grad_args *args, int threads) {
  shared_tasks st = {args, 1, attention_wide_vectors(), args->batch * args->heads, args->seq, args->pre.prefix + args->seq, args->dh, 0};
  return run_tasks(&st, threads);
}
