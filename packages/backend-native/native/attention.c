/*
 * AdaptersAttention: see attention.h. Each (batch, head) task packs its keys transposed (Kt [dh, T]) and its values
 * (V [T, dhp]) into per-thread scratch, zero-padded to multiples of 16, then walks the queries in blocks of rows:
 * a [rows, T] score block (register-blocked FMAs), the bias and the softmax while it is in L1, and the [rows, dh]
 * context block, written straight into the output's head columns. Against the composed kernels (scale,
 * split/transposes, batched matmul, mask add, softmax, batched matmul, merge transpose) this reads q, k, v once,
 * writes the context once and never materialises the [batch, heads, seq, T] scores.
 *
 * Two block shapes: on AVX-512 CPUs 8 query rows with 16-wide vectors (16 zmm accumulators) and a 16-wide softmax;
 * elsewhere 4 rows with 8-wide vectors. At MiniLM size (16 × 128, 12 heads of 32) the wide path took a call from
 * ~13-17 ms to ~8 ms on one core (gcc; scripts/fused-bench.ts measures it in the engine).
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

#include "attention_rows.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__AVX512F__)
#define BLOCK_FN __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BLOCK_FN
#endif

#define QROWS 4
_Static_assert(QROWS == 4, "the narrow blocks use the 4-row panels of attention_rows.h");
/* Query rows per block of the AVX-512 path: 8 rows × 2 v16 = 16 zmm accumulators (of 32), so each key/value load
 * feeds 8 FMAs and the FMA latency is covered. */
#define WROWS 8

static int64_t round16(int64_t n) { return (n + 15) & ~(int64_t)15; }

typedef struct {
  float *kt, *vc, *s, *o, *qb, *bias;
} scratch_t;

/*
 * The AVX-512 path's score block: s[r][j0 .. j0 + 16·nc) for WROWS rows, nc (1 or 2) v16 accumulators per row. The
 * queries are read in place (qr[r]: row r's head columns, or a zero row past the last query).
 */
INLINE void score_block16(const float *const *qr, const float *restrict kt, float *restrict s, int64_t dh, int64_t tp, int64_t j0,
                          const int nc) {
  v16 acc[WROWS][2];
  for (int r = 0; r < WROWS; r++) acc[r][0] = acc[r][1] = (v16){0};
  for (int64_t d = 0; d < dh; d++) {
    const v16 k0 = load16(kt + d * tp + j0), k1 = nc > 1 ? load16(kt + d * tp + j0 + 16) : (v16){0};
    for (int r = 0; r < WROWS; r++) {
      const float qv = qr[r][d];
      acc[r][0] += qv * k0;
      if (nc > 1) acc[r][1] += qv * k1;
    }
  }
  for (int r = 0; r < WROWS; r++) {
    store16(s + r * tp + j0, acc[r][0]);
    if (nc > 1) store16(s + r * tp + j0 + 16, acc[r][1]);
  }
}

/*
 * The AVX-512 path's context block: o[r][c0 .. c0 + 16·nc) = Σ_j p[r][j]·vc[j][c0 ..] over the t real keys; o[r] is
 * the output row itself when dh is a multiple of 16 (no copy), else a scratch row.
 */
INLINE void context_block16(const float *restrict p, const float *restrict vc, float *const *o, int64_t t, int64_t tp, int64_t dhp,
                            int64_t c0, const int nc) {
  v16 acc[WROWS][2];
  for (int r = 0; r < WROWS; r++) acc[r][0] = acc[r][1] = (v16){0};
  for (int64_t j = 0; j < t; j++) {
    const v16 v0 = load16(vc + j * dhp + c0), v1 = nc > 1 ? load16(vc + j * dhp + c0 + 16) : (v16){0};
    for (int r = 0; r < WROWS; r++) {
      const float pv = p[r * tp + j];
      acc[r][0] += pv * v0;
      if (nc > 1) acc[r][1] += pv * v1;
    }
  }
  for (int r = 0; r < WROWS; r++) {
    store16(o[r] + c0, acc[r][0]);
    if (nc > 1) store16(o[r] + c0 + 16, acc[r][1]);
  }
}

/* Queries [rows of block i0 .. i0 + nb) of this task's head, zero rows after `rows`. */
INLINE void load_queries(const attention_args *a, int64_t bi, int64_t hd, int64_t i0, int64_t rows, int nb, float *restrict qb) {
  const int64_t dh = a->dh, hidden = a->heads * dh;
  for (int64_t r = 0; r < nb; r++) {
    if (r < rows) copy_floats(qb + r * dh, a->q + (bi * a->seq + i0 + r) * hidden + hd * dh, dh);
    else for (int64_t d = 0; d < dh; d++) qb[r * dh + d] = 0.0f;
  }
}

/*
 * Asks for the q, k, v and output rows [i0, i1) of task `next` (this thread's next (batch, head) pair) to be brought
 * into L2.
 * A task's rows are 3·seq short strided pieces: loaded on demand they cost ~25% of the kernel in cache misses.
 */
INLINE void prefetch_rows(const attention_args *a, int64_t next, int64_t i0, int64_t i1) {
  if (next < 0) return;
  const int64_t bi = next / a->heads, hd = next % a->heads, dh = a->dh, hidden = a->heads * dh;
  for (int64_t i = i0; i < i1 && i < a->seq; i++) {
    const int64_t off = (bi * a->seq + i) * hidden + hd * dh;
    for (int64_t d = 0; d < dh; d += 16) {
      __builtin_prefetch(a->q + off + d, 0, 2);
      __builtin_prefetch(a->k + off + d, 0, 2);
      __builtin_prefetch(a->v + off + d, 0, 2);
      __builtin_prefetch(a->out + off + d, 1, 2); /* for writing: the output rows' ownership, or their stores stall */
    }
  }
}

/*
 * wide: the AVX-512 block sizes (v16 microkernels, WROWS query rows); otherwise the 8-wide ones (QROWS rows).
 * next: the task this thread runs after this one (or -1); its rows are prefetched a few per query block.
 */
BLOCK_FN CONTRACT static void attention_task(const attention_args *a, int64_t task, const scratch_t *w, int wide, int64_t next) {
  const int64_t bi = task / a->heads, hd = task % a->heads;
  const int64_t dh = a->dh, hidden = a->heads * dh, p = a->prefix, t = p + a->seq;
  const int64_t tp = round16(t), dhp = round16(dh);
  /* Keys transposed and values, prefix rows first; padding stays zero (set once per scratch). */
  for (int64_t j = 0; j < t; j++) {
    const float *kr = j < p ? a->pk + j * hidden + hd * dh : a->k + ((bi * a->seq) + (j - p)) * hidden + hd * dh;
    const float *vr = j < p ? a->pv + j * hidden + hd * dh : a->v + ((bi * a->seq) + (j - p)) * hidden + hd * dh;
    for (int64_t d = 0; d < dh; d++) w->kt[d * tp + j] = kr[d];
    copy_floats(w->vc + j * dhp, vr, dh);
  }
  for (int64_t j = 0; j < t; j++) {
    w->bias[j] = j < p || !a->mask ? 0.0f : (1.0f - a->mask[bi * a->seq + (j - p)]) * MASKED_SCORE;
  }
  const int nb = wide ? WROWS : QROWS;
  for (int64_t i0 = 0; i0 < a->seq; i0 += nb) {
    const int64_t rows = a->seq - i0 < nb ? a->seq - i0 : nb;
    prefetch_rows(a, next, i0, i0 + nb);
    const float *qr[WROWS];
    float *orow[WROWS];
    if (wide) {
      /* qb's first row is zero in the wide path (never written): the queries past the last one. */
      for (int r = 0; r < WROWS; r++) {
        const int64_t off = (bi * a->seq + i0 + r) * hidden + hd * dh;
        qr[r] = r < rows ? a->q + off : w->qb;
        orow[r] = r < rows && dh == dhp ? a->out + off : w->o + r * dhp;
      }
      int64_t j0 = 0;
      for (; j0 + 32 <= tp; j0 += 32) score_block16(qr, w->kt, w->s, dh, tp, j0, 2);
      if (j0 < tp) score_block16(qr, w->kt, w->s, dh, tp, j0, 1);
    } else {
      load_queries(a, bi, hd, i0, rows, nb, w->qb);
      for (int64_t j0 = 0; j0 < tp; j0 += 16) rows4_times_panel16(w->qb, dh, w->kt + j0, tp, w->s + j0, tp, dh);
    }
    if (wide) {
      for (int64_t r = 0; r < rows; r++) softmax_row16(w->s + r * tp, w->bias, t, tp, a->scale);
    } else {
      for (int64_t r = 0; r < rows; r++) softmax_row(w->s + r * tp, w->bias, t, a->scale);
    }
    if (wide) {
      /* Rows past `rows` hold the zero queries' scores; their context is computed and dropped. */
      int64_t c0 = 0;
      for (; c0 + 32 <= dhp; c0 += 32) context_block16(w->s, w->vc, orow, t, tp, dhp, c0, 2);
      if (c0 < dhp) context_block16(w->s, w->vc, orow, t, tp, dhp, c0, 1);
      if (dh == dhp) continue; /* written in place */
    } else {
      for (int64_t c0 = 0; c0 < dhp; c0 += 16) rows4_times_panel16(w->s, tp, w->vc + c0, dhp, w->o + c0, dhp, t);
    }
    for (int64_t r = 0; r < rows; r++) {
      copy_floats(a->out + (bi * a->seq + i0 + r) * hidden + hd * dh, w->o + r * dhp, dh);
    }
  }
}

typedef struct {
  const attention_args *args;
  int64_t tasks;
  int wide, threads;
  int64_t next; /* accessed with __atomic builtins */
} shared_tasks;

/* Claims (batch, head) tasks until none are left; a worker without scratch memory claims none. */
static void *run_job(void *arg) {
  shared_tasks *st = arg;
  const attention_args *a = st->args;
  const int64_t tp = round16(a->prefix + a->seq), dhp = round16(a->dh);
  const size_t floats = (size_t)(a->dh * tp + tp * dhp + WROWS * tp + WROWS * dhp + WROWS * a->dh + tp);
  float *mem = calloc(floats, sizeof(float));
  if (!mem) return NULL;
  scratch_t w;
  w.kt = mem;
  w.vc = w.kt + a->dh * tp;
  w.s = w.vc + tp * dhp;
  w.o = w.s + WROWS * tp;
  w.qb = w.o + WROWS * dhp;
  w.bias = w.qb + WROWS * a->dh;
  /* Claims one task ahead, so that its rows can be prefetched while this one runs; with few tasks per thread a
   * claimed-ahead task could leave another thread idle, so then one at a time. */
  const int ahead = st->tasks >= 4 * (int64_t)st->threads;
  int64_t task = __atomic_fetch_add(&st->next, 1, __ATOMIC_RELAXED);
  while (task < st->tasks) {
    const int64_t next = ahead ? __atomic_fetch_add(&st->next, 1, __ATOMIC_RELAXED) : -1;
    attention_task(a, task, &w, st->wide, next < st->tasks ? next : -1);
    task = ahead ? next : __atomic_fetch_add(&st->next, 1, __ATOMIC_RELAXED);
  }
  free(mem);
  return NULL;
}

#define MAX_THREADS 8

/*
 * The v16 microkernels only pay off where gcc's x86-64-v4 clone runs them (the same CPU features as that clone's
 * resolver checks); elsewhere a v16 is split into narrower registers and the 8-wide blocks are faster.
 * ADAPTERS_ATTENTION_NARROW=1 forces the 8-wide blocks; the addon's setPanelWidth forces either (tests compare both
 * on every CPU). The training attention and the bottleneck kernel choose their panel widths by the same test.
 */
static int forced_width = -1; /* attention_force_width */

void attention_force_width(int wide) { __atomic_store_n(&forced_width, wide < 0 ? -1 : wide ? 1 : 0, __ATOMIC_RELAXED); }

int attention_wide_vectors(void) {
  const int forced = __atomic_load_n(&forced_width, __ATOMIC_RELAXED);
  if (forced >= 0) return forced;
  const char *narrow = getenv("ADAPTERS_ATTENTION_NARROW");
  if (narrow && narrow[0] && strcmp(narrow, "0") != 0) return 0;
#if defined(__AVX512F__) && defined(__AVX512VL__) && defined(__AVX512BW__) && defined(__AVX512DQ__)
  return 1;
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
#else
  return 0;
#endif
}

int attention_run(const attention_args *args, int threads) {
  shared_tasks st = {args, args->batch * args->heads, attention_wide_vectors(), 1, 0};
  if (st.tasks == 0 || args->seq == 0) return 1;
  int t = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
  if (st.tasks < t) t = (int)st.tasks;
  /* A thread costs ~30 µs to start: below ~64k multiply-adds per thread the caller works alone. */
  if (args->seq * (args->seq + args->prefix) * args->dh * st.tasks < 65536LL * t) t = 1;
  st.threads = t;
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
