/*
 * @adapters/backend-native: OpenBLAS kernels that compute directly on the tfjs wasm backend's heap.
 *
 * JS hands over the wasm heap's ArrayBuffer plus byte offsets of the operands (tensors already allocated by
 * the wasm backend, output included) and this file calls cblas_sgemm on that memory: no copies, no
 * allocation. Every access is bounds-checked against the buffer length before any BLAS call, so a wrong
 * offset from JS throws a RangeError instead of corrupting memory.
 *
 * Exports:
 *   gemm(heap, aOff, bOff, cOff, batch, m, n, k, transA, transB, aStride, bStride, aIndex?, bIndex?)
 *     For i in [0, batch): C_i[m,n] = op(A_ai)·op(B_bi), row-major, float32, with
 *       ai = aIndex ? aIndex[i] : i * aStride   (aStride 0 broadcasts one matrix; in matrices, not bytes)
 *       bi = bIndex ? bIndex[i] : i * bStride
 *     op(A) is [m,k]; A is stored [m,k] (transA false) or [k,m] (transA true). Likewise B: [k,n] or [n,k].
 *   biasAct(heap, cOff, rows, n, biasOff|-1, act, alpha)
 *     In place on C[rows,n]: C += bias (broadcast over rows) then activation
 *     (0 linear, 1 relu, 2 relu6, 4 leakyrelu(alpha), 5 sigmoid, 6 elu), tfjs-wasm's FusableActivation codes.
 *   reduceSum(heap, xOff, outOff, outer, reduce, inner)
 *     out[o,j] = Σ_r x[o,r,j] over a float32 [outer, reduce, inner] block, accumulated in double.
 *   transpose32(heap, xOff, outOff, batch, rows, cols)
 *     [batch, rows, cols] -> [batch, cols, rows] for 4-byte elements (float32/int32), cache-tiled.
 *   transposeBlocks32(heap, xOff, outOff, batch, rows, cols, inner)
 *     [batch, rows, cols, inner] -> [batch, cols, rows, inner] for 4-byte elements (blocks of inner copied whole)
 *   gather32(heap, xOff, idxOff, outOff, outer, n, inner, count)
 *     out[o,i,:] = x[o,idx[i],:] (GatherV2 with batchDims 0) for 4-byte elements; throws on an index outside [0, n).
 *   geluFwd(heap, xOff, yOff, count)                     y = x·Φ(x), Φ(x) = 0.5·(1 + erf(x/√2))
 *   geluGrad(heap, dyOff, xOff, dxOff, count)            dx = dy·(Φ(x) + x·exp(-x²/2)/√(2π))
 *   softmaxGrad(heap, dyOff, yOff, dxOff, rows, n)       dx = y·(dy - Σ_n dy·y) per row of n (double sum)
 *   layerNorm(heap, xOff, gammaOff, betaOff, yOff, meanOff, rstdOff, rows, n, epsilon)
 *     per row: mean, biased variance (double), rstd = 1/√(var + ε), y = (x - mean)·rstd·γ + β
 *   layerNormGrad(heap, dyOff, xOff, gammaOff, meanOff, rstdOff, dxOff, dgammaOff, dbetaOff, rows, n)
 *     x̂ = (x - mean)·rstd, g = dy·γ, dx = rstd·(g - mean_n(g) - x̂·mean_n(g·x̂)), dγ = Σ_rows dy·x̂, dβ = Σ_rows dy
 *   adamW(heap, pOff, gOff, mOff, vOff, pOutOff, mOutOff, vOutOff, count, lr, beta1, beta2, epsilon, weightDecay, step)
 *     one AdamW step into three outputs; bias corrections 1 - β^step computed in double
 *   bottleneck(heap, hOff, xOff, wdOff, bdOff, wuOff, buOff, gammaOff, betaOff, preGammaOff|-1, preBetaOff|-1, yOff,
 *              rows, w, m, act, scale, epsilon, preEpsilon)
 *     the fused sequential bottleneck adapter at inference (bottleneck.h), rows split over threads
 *   attention(heap, qOff, kOff, vOff, maskOff|-1, pkOff|-1, pvOff|-1, outOff, batch, seq, heads, dh, prefix, scale)
 *     fused multi-head attention at inference (attention.h), (batch, head) pairs split over threads
 *   attentionTrain(heap, qOff, kOff, vOff, maskOff|-1, pkOff|-1, pvOff|-1, outOff, probsOff, batch, seq, heads, dh,
 *                  prefix, perExample, scale, k1, k2, threshold, keepScale)
 *   attentionGrad(heap, dyOff, qOff, kOff, vOff, pkOff|-1, pvOff|-1, probsOff, dqOff, dkOff, dvOff, dpkOff|-1, dpvOff|-1,
 *                 batch, seq, heads, dh, prefix, perExample, scale, k1, k2, threshold, keepScale)
 *     attention for training with dropout on the probabilities and optional prefix rows, and its backward
 *     (attention_train.h)
 *   binary32(heap, op, aOff, aKind, bOff, bKind, outOff, rows, n)
 *     out[rows,n] = a + b / a - b / a * b (op 0/1/2); kind 0 full, 1 one row [n] broadcast, 2 one value
 *   parallelThreads() -> threads of the element-wise kernels' pool (parallel.h), set along with setNumThreads
 *   setParallelThreads(n)   the pool's threads alone (1..16)
 *   info() -> { config, corename, threads, library, libraryError }
 *     library: the CBLAS loaded from ADAPTERS_BLAS_LIBRARY ("" = the linked OpenBLAS), libraryError: why not
 *   setNumThreads(n)   the BLAS's threads, the bottleneck/attention kernels' and the element-wise pool's
 *   setPanelWidth(w)   the attention/bottleneck kernels' panels: 1 v16, 0 v8, -1 the CPU's choice (attention.h)
 *
 * GELU, GELU grad, softmax grad, LayerNorm (+grad), add+LayerNorm, AdamW, the dropout mask and binary32 split their
 * rows/elements over the persistent pool of parallel.h, in chunks fixed by the problem size: same bits for any
 * thread count.
 *
 * The BLAS entry points come from blas_select.c (the linked OpenBLAS, or a CBLAS named by ADAPTERS_BLAS_LIBRARY);
 * its prototypes are declared there rather than included: Debian ships cblas.h under several alternative paths,
 * and the ABI (row-major/trans enums as int, 32-bit int) is the same for OpenBLAS and MKL's LP64 interface.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attention.h"
#include "attention_train.h"
#include "blas_select.h"
#include "bottleneck.h"
#include "external.h"
#include "parallel.h"

enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };

#define MAX_ARGS 14
#define INT_LIMIT 2147483647LL

#define CHECK(env, call)                                                                                     \
  do {                                                                                                     \
    if ((call) != napi_ok) {                                                                               \
      napi_throw_error((env), NULL, "backend-native: N-API call failed: " #call);                          \
      return NULL;                                                                                         \
    }                                                                                                      \
  } while (0)

static napi_value undefined_value(napi_env env);

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

/* Reads an integral JS number in [lo, hi]; returns 0 and throws otherwise. */
static int get_int(napi_env env, napi_value v, int64_t lo, int64_t hi, int64_t *out, const char *name) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= (double)lo && d <= (double)hi) || d != floor(d)) {
    char msg[160];
    snprintf(msg, sizeof msg, "backend-native: argument '%s' must be an integer in [%lld, %lld]", name,
             (long long)lo, (long long)hi);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static int get_bool(napi_env env, napi_value v, int *out) {
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    napi_throw_type_error(env, NULL, "backend-native: transpose flags must be booleans");
    return 0;
  }
  *out = b ? 1 : 0;
  return 1;
}

/* The wasm heap: an ArrayBuffer (tfjs-wasm's non-threaded builds; a SharedArrayBuffer is rejected). */
static int get_heap(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_ab = false;
  if (napi_is_arraybuffer(env, v, &is_ab) != napi_ok || !is_ab) {
    napi_throw_type_error(env, NULL, "backend-native: heap must be an ArrayBuffer (the wasm memory buffer)");
    return 0;
  }
  void *p = NULL;
  if (napi_get_arraybuffer_info(env, v, &p, len) != napi_ok) {
    napi_throw_error(env, NULL, "backend-native: cannot read the heap ArrayBuffer");
    return 0;
  }
  *data = (uint8_t *)p;
  return 1;
}

/* Optional Int32Array of matrix indices (length >= batch); NULL when the argument is undefined/null. */
static int get_index(napi_env env, napi_value v, int64_t batch, const int32_t **out, const char *name) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_undefined || t == napi_null) {
    *out = NULL;
    return 1;
  }
  bool is_ta = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      (int64_t)length < batch) {
    char msg[128];
    snprintf(msg, sizeof msg, "backend-native: '%s' must be an Int32Array of at least batch entries", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  *out = (const int32_t *)data;
  return 1;
}

/* Largest matrix index used by operand X, or -1 if none; checks indices are >= 0. */
static int max_index(const int32_t *idx, int64_t stride, int64_t batch, int64_t *out) {
  if (batch == 0) {
    *out = -1;
    return 1;
  }
  if (idx == NULL) {
    *out = (batch - 1) * stride;
    return 1;
  }
  int64_t mx = 0;
  for (int64_t i = 0; i < batch; i++) {
    if (idx[i] < 0) return 0;
    if (idx[i] > mx) mx = idx[i];
  }
  *out = mx;
  return 1;
}

/* Whether [off, off + count*4) lies inside a heap of len bytes and off is float-aligned. */
static int in_heap(int64_t off, int64_t count, size_t len) {
  if (off < 0 || (off & 3) != 0) return 0;
  if (count == 0) return 1;
  return (uint64_t)off + (uint64_t)count * 4u <= (uint64_t)len;
}

static napi_value gemm(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 12) return throw_range(env, "backend-native: gemm expects at least 12 arguments");
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  for (size_t i = argc; i < MAX_ARGS; i++) argv[i] = undef;

  uint8_t *heap;
  size_t len;
  int64_t a_off, b_off, c_off, batch, m, n, k, a_stride, b_stride;
  int ta, tb;
  const int32_t *a_idx, *b_idx;
  if (!get_heap(env, argv[0], &heap, &len)) return NULL;
  if (!get_int(env, argv[1], 0, EXTERNAL_OFFSET_LIMIT, &a_off, "aOff") || !get_int(env, argv[2], 0, EXTERNAL_OFFSET_LIMIT, &b_off, "bOff") ||
      !get_int(env, argv[3], 0, (int64_t)len, &c_off, "cOff") || !get_int(env, argv[4], 0, INT_LIMIT, &batch, "batch") ||
      !get_int(env, argv[5], 0, INT_LIMIT, &m, "m") || !get_int(env, argv[6], 0, INT_LIMIT, &n, "n") ||
      !get_int(env, argv[7], 0, INT_LIMIT, &k, "k") || !get_bool(env, argv[8], &ta) || !get_bool(env, argv[9], &tb) ||
      !get_int(env, argv[10], 0, INT_LIMIT, &a_stride, "aStride") ||
      !get_int(env, argv[11], 0, INT_LIMIT, &b_stride, "bStride") || !get_index(env, argv[12], batch, &a_idx, "aIndex") ||
      !get_index(env, argv[13], batch, &b_idx, "bIndex")) {
    return NULL;
  }
  if (batch == 0 || m == 0 || n == 0) return undef;

  const int64_t a_size = m * k, b_size = k * n, c_size = m * n;
  int64_t a_max, b_max;
  if (!max_index(a_idx, a_stride, batch, &a_max) || !max_index(b_idx, b_stride, batch, &b_max)) {
    return throw_range(env, "backend-native: negative matrix index");
  }
  /* Offsets are below 4 GiB and sizes below 2^31 elements, so these products fit easily in int64. */
  /* A and B may also lie in an external region (frozen weights mapped from a file, external.h). */
  const float *a = external_or_heap(heap, len, a_off, (a_max + 1) * a_size);
  const float *b = external_or_heap(heap, len, b_off, (b_max + 1) * b_size);
  if (!in_heap(c_off, batch * c_size, len) || a == NULL || b == NULL) {
    return throw_range(env, "backend-native: gemm operand lies outside the wasm heap and external regions (or is misaligned)");
  }

  float *c = (float *)(heap + c_off);
  if (k == 0) { /* empty sum: zeros (BLAS may return early without touching C) */
    memset(c, 0, (size_t)(batch * c_size) * sizeof(float));
    return undef;
  }
  const int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n), ldc = (int)n;
  for (int64_t i = 0; i < batch; i++) {
    const int64_t ai = a_idx ? a_idx[i] : i * a_stride;
    const int64_t bi = b_idx ? b_idx[i] : i * b_stride;
    blas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, a + ai * a_size, lda > 0 ? lda : 1, b + bi * b_size, ldb > 0 ? ldb : 1, 0.0f, c + i * c_size,
                ldc > 0 ? ldc : 1);
  }
  return undef;
}

/* C += bias, then the activation, on rows [r0, r1) (no flush: the same float ops as the stock kernel's epilogue). */
typedef struct {
  float *c;
  const float *bias;
  int64_t n;
  int act;
  float alpha;
} bias_act_ctx;

static void bias_act_chunk(void *p, int64_t chunk, int64_t r0, int64_t r1) {
  (void)chunk;
  const bias_act_ctx *ctx = p;
  float *c = ctx->c;
  const float *bias = ctx->bias;
  const int64_t n = ctx->n;
  const int act = ctx->act;
  const float al = ctx->alpha;
  for (int64_t r = r0; r < r1; r++) {
    float *row = c + r * n;
    if (bias) {
      for (int64_t j = 0; j < n; j++) row[j] += bias[j];
    }
    switch (act) {
      case 1:
        for (int64_t j = 0; j < n; j++) row[j] = row[j] > 0.0f ? row[j] : 0.0f;
        break;
      case 2:
        for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.0f ? 0.0f : (row[j] > 6.0f ? 6.0f : row[j]);
        break;
      case 4:
        for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.0f ? al * row[j] : row[j];
        break;
      case 5:
        for (int64_t j = 0; j < n; j++) row[j] = 1.0f / (1.0f + expf(-row[j]));
        break;
      case 6:
        for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.0f ? expm1f(row[j]) : row[j];
        break;
      default:
        break;
    }
  }
}

static napi_value bias_act(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) return throw_range(env, "backend-native: biasAct expects 7 arguments");
  uint8_t *heap;
  size_t len;
  int64_t c_off, rows, n, bias_off, act;
  double alpha;
  if (!get_heap(env, argv[0], &heap, &len)) return NULL;
  if (!get_int(env, argv[1], 0, (int64_t)len, &c_off, "cOff") || !get_int(env, argv[2], 0, INT_LIMIT, &rows, "rows") ||
      !get_int(env, argv[3], 0, INT_LIMIT, &n, "n") || !get_int(env, argv[4], -1, (int64_t)len, &bias_off, "biasOff") ||
      !get_int(env, argv[5], 0, 6, &act, "act")) {
    return NULL;
  }
  CHECK(env, napi_get_value_double(env, argv[6], &alpha));
  if (!in_heap(c_off, rows * n, len) || (bias_off >= 0 && !in_heap(bias_off, n, len))) {
    return throw_range(env, "backend-native: biasAct operand lies outside the wasm heap (or is misaligned)");
  }
  const bias_act_ctx ctx = {(float *)(heap + c_off), bias_off >= 0 ? (const float *)(heap + bias_off) : NULL, n, (int)act,
                            (float)alpha};
  par_for(rows, n > 0 && n < 32768 ? 32768 / n : 1, 0, bias_act_chunk, (void *)&ctx);
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  return undef;
}

/* reduceSum(heap, xOff, outOff, outer, reduce, inner): out[o,j] = Σ_r x[o,r,j], float32 in, double accumulation. */
static napi_value reduce_sum(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_range(env, "backend-native: reduceSum expects 6 arguments");
  uint8_t *heap;
  size_t len;
  int64_t x_off, out_off, outer, reduce, inner;
  if (!get_heap(env, argv[0], &heap, &len)) return NULL;
  if (!get_int(env, argv[1], 0, (int64_t)len, &x_off, "xOff") || !get_int(env, argv[2], 0, (int64_t)len, &out_off, "outOff") ||
      !get_int(env, argv[3], 0, INT_LIMIT, &outer, "outer") || !get_int(env, argv[4], 0, INT_LIMIT, &reduce, "reduce") ||
      !get_int(env, argv[5], 0, INT_LIMIT, &inner, "inner")) {
    return NULL;
  }
  if (!in_heap(out_off, outer * inner, len) || !in_heap(x_off, outer * reduce * inner, len)) {
    return throw_range(env, "backend-native: reduceSum operand lies outside the wasm heap (or is misaligned)");
  }
  const float *x = (const float *)(heap + x_off);
  float *out = (float *)(heap + out_off);
  enum { BLOCK = 512 };
  double acc[BLOCK];
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * reduce * inner;
    if (inner == 1) {
      double s = 0.0;
      for (int64_t r = 0; r < reduce; r++) s += xo[r];
      out[o] = (float)s;
      continue;
    }
    for (int64_t j0 = 0; j0 < inner; j0 += BLOCK) {
      const int64_t bl = inner - j0 < BLOCK ? inner - j0 : BLOCK;
      for (int64_t j = 0; j < bl; j++) acc[j] = 0.0;
      for (int64_t r = 0; r < reduce; r++) {
        const float *row = xo + r * inner + j0;
        for (int64_t j = 0; j < bl; j++) acc[j] += row[j];
      }
      for (int64_t j = 0; j < bl; j++) out[o * inner + j0 + j] = (float)acc[j];
    }
  }
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  return undef;
}

/*
 * Each tile is read row by row into an L1-resident buffer and written out row by row, so both sides stream
 * whole cache lines; transposing straight from x to y thrashes when rows*4 is a large power of two. The pool's
 * items are strips of TILE input rows of one matrix (disjoint outputs: any split gives the same bytes).
 */
#define TRANSPOSE_TILE 32

typedef struct {
  const uint32_t *x;
  uint32_t *y;
  int64_t rows, cols, strips; /* strips per matrix */
} transpose_ctx;

static void transpose_chunk(void *p, int64_t chunk, int64_t s0, int64_t s1) {
  (void)chunk;
  const transpose_ctx *t = p;
  enum { TILE = TRANSPOSE_TILE };
  uint32_t tile[TILE][TILE + 1];
  const int64_t rows = t->rows, cols = t->cols;
  for (int64_t s = s0; s < s1; s++) {
    const int64_t b = s / t->strips, r0 = (s - b * t->strips) * TILE;
    const uint32_t *x = t->x + b * rows * cols;
    uint32_t *y = t->y + b * rows * cols;
    const int64_t nr = rows - r0 < TILE ? rows - r0 : TILE;
    for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
      const int64_t nc = cols - c0 < TILE ? cols - c0 : TILE;
      for (int64_t r = 0; r < nr; r++) {
        const uint32_t *src = x + (r0 + r) * cols + c0;
        for (int64_t c = 0; c < nc; c++) tile[c][r] = src[c];
      }
      for (int64_t c = 0; c < nc; c++) {
        uint32_t *dst = y + (c0 + c) * rows + r0;
        for (int64_t r = 0; r < nr; r++) dst[r] = tile[c][r];
      }
    }
  }
}

/* transpose32(heap, xOff, outOff, batch, rows, cols): out[b][c][r] = x[b][r][c] for 4-byte elements, 32×32 tiles. */
static napi_value transpose32(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_range(env, "backend-native: transpose32 expects 6 arguments");
  uint8_t *heap;
  size_t len;
  int64_t x_off, out_off, batch, rows, cols;
  if (!get_heap(env, argv[0], &heap, &len)) return NULL;
  if (!get_int(env, argv[1], 0, EXTERNAL_OFFSET_LIMIT, &x_off, "xOff") || !get_int(env, argv[2], 0, (int64_t)len, &out_off, "outOff") ||
      !get_int(env, argv[3], 0, INT_LIMIT, &batch, "batch") || !get_int(env, argv[4], 0, INT_LIMIT, &rows, "rows") ||
      !get_int(env, argv[5], 0, INT_LIMIT, &cols, "cols")) {
    return NULL;
  }
  const float *x = external_or_heap(heap, len, x_off, batch * rows * cols); /* external: a mapped weight stored transposed */
  if (!in_heap(out_off, batch * rows * cols, len) || x == NULL) {
    return throw_range(env, "backend-native: transpose32 operand lies outside the wasm heap and external regions (or is misaligned)");
  }
  const transpose_ctx ctx = {(const uint32_t *)x, (uint32_t *)(heap + out_off), rows, cols,
                             (rows + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE};
  const int64_t strip = TRANSPOSE_TILE * (cols > 0 ? cols : 1);
  par_for(batch * ctx.strips, strip < 32768 ? 32768 / strip : 1, 0, transpose_chunk, (void *)&ctx);
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  return undef;
}

/*
 * transposeBlocks32(heap, xOff, outOff, batch, rows, cols, inner): out[b][c][r][:] = x[b][r][c][:], blocks of inner
 * 4-byte elements (a [0,2,1,3] permutation, e.g. attention's head split and merge). One memcpy per block; the pool's
 * items are input rows (disjoint outputs).
 */
typedef struct {
  const uint32_t *x;
  uint32_t *y;
  int64_t rows, cols, inner;
} blocks_ctx;

static void transpose_blocks_chunk(void *p, int64_t chunk, int64_t i0, int64_t i1) {
  (void)chunk;
  const blocks_ctx *t = p;
  const int64_t rows = t->rows, cols = t->cols, inner = t->inner;
  for (int64_t i = i0; i < i1; i++) { /* i = b * rows + r */
    const int64_t b = i / rows, r = i - b * rows;
    const uint32_t *src = t->x + i * cols * inner;
    uint32_t *dst = t->y + (b * cols * rows + r) * inner;
    for (int64_t c = 0; c < cols; c++) memcpy(dst + c * rows * inner, src + c * inner, (size_t)inner * 4u);
  }
}

static napi_value transpose_blocks32(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) return throw_range(env, "backend-native: transposeBlocks32 expects 7 arguments");
  uint8_t *heap;
  size_t len;
  int64_t x_off, out_off, batch, rows, cols, inner;
  if (!get_heap(env, argv[0], &heap, &len) || !get_int(env, argv[1], 0, (int64_t)len, &x_off, "xOff") ||
      !get_int(env, argv[2], 0, (int64_t)len, &out_off, "outOff") || !get_int(env, argv[3], 0, INT_LIMIT, &batch, "batch") ||
      !get_int(env, argv[4], 0, INT_LIMIT, &rows, "rows") || !get_int(env, argv[5], 0, INT_LIMIT, &cols, "cols") ||
      !get_int(env, argv[6], 0, INT_LIMIT, &inner, "inner")) {
    return NULL;
  }
  if ((double)batch * (double)rows * (double)cols * (double)inner > (double)INT_LIMIT) {
    return throw_range(env, "backend-native: transposeBlocks32 operand is too large");
  }
  const int64_t total = batch * rows * cols * inner;
  if (!in_heap(out_off, total, len) || !in_heap(x_off, total, len)) {
    return throw_range(env, "backend-native: transposeBlocks32 operand lies outside the wasm heap (or is misaligned)");
  }
  if (total == 0) return undefined_value(env);
  const blocks_ctx ctx = {(const uint32_t *)(heap + x_off), (uint32_t *)(heap + out_off), rows, cols, inner};
  const int64_t row = cols * inner;
  par_for(batch * rows, row < 32768 ? 32768 / row : 1, 0, transpose_blocks_chunk, (void *)&ctx);
  return undefined_value(env);
}

/* Output slices [s0, s1) of gather32 (slice s = o·count + i), one memcpy each; the pool splits the slices. */
typedef struct {
  const uint32_t *x;
  const int32_t *idx;
  uint32_t *out;
  int64_t n, inner, count;
} gather_ctx;

static void gather_chunk(void *p, int64_t chunk, int64_t s0, int64_t s1) {
  (void)chunk;
  const gather_ctx *g = p;
  for (int64_t s = s0; s < s1; s++) {
    const int64_t o = s / g->count, i = s - o * g->count;
    memcpy(g->out + s * g->inner, g->x + (o * g->n + g->idx[i]) * g->inner, (size_t)g->inner * 4u);
  }
}

/* gather32(heap, xOff, idxOff, outOff, outer, n, inner, count): out[o,i,:] = x[o,idx[i],:], 4-byte elements. */
static napi_value gather32(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) return throw_range(env, "backend-native: gather32 expects 8 arguments");
  uint8_t *heap;
  size_t len;
  int64_t x_off, idx_off, out_off, outer, n, inner, count;
  if (!get_heap(env, argv[0], &heap, &len)) return NULL;
  if (!get_int(env, argv[1], 0, EXTERNAL_OFFSET_LIMIT, &x_off, "xOff") || !get_int(env, argv[2], 0, (int64_t)len, &idx_off, "idxOff") ||
      !get_int(env, argv[3], 0, (int64_t)len, &out_off, "outOff") || !get_int(env, argv[4], 0, INT_LIMIT, &outer, "outer") ||
      !get_int(env, argv[5], 0, INT_LIMIT, &n, "n") || !get_int(env, argv[6], 0, INT_LIMIT, &inner, "inner") ||
      !get_int(env, argv[7], 0, INT_LIMIT, &count, "count")) {
    return NULL;
  }
  const float *x = external_or_heap(heap, len, x_off, outer * n * inner); /* an embedding table may be external */
  if (x == NULL || !in_heap(idx_off, count, len) || !in_heap(out_off, outer * count * inner, len)) {
    return throw_range(env, "backend-native: gather32 operand lies outside the wasm heap and external regions (or is misaligned)");
  }
  const int32_t *idx = (const int32_t *)(heap + idx_off);
  for (int64_t i = 0; i < count; i++) {
    if (idx[i] < 0 || idx[i] >= n) { /* same check and wording as tfjs-wasm's GatherV2 */
      char msg[128];
      snprintf(msg, sizeof msg, "GatherV2: the index value %d is not in [0, %lld]", (int)idx[i], (long long)(n - 1));
      napi_throw_error(env, NULL, msg);
      return NULL;
    }
  }
  const gather_ctx ctx = {(const uint32_t *)x, idx, (uint32_t *)(heap + out_off), n, inner, count};
  par_for(outer * count, inner > 0 && inner < 32768 ? 32768 / inner : 1, 0, gather_chunk, (void *)&ctx);
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  return undef;
}

#include "fused_math.h"

/* y = x·Φ(x) */
FUSED_FN CONTRACT static void gelu_loop(const float *restrict x, float *restrict y, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    const float v = x[i];
    const float e = exp_nonpos(-0.5f * v * v);
    y[i] = v * phi_from(v, e);
  }
}

/* dx = dy·(Φ(x) + x·φ(x)), φ(x) = exp(-x²/2)/√(2π) */
FUSED_FN CONTRACT static void gelu_grad_loop(const float *restrict dy, const float *restrict x, float *restrict dx,
                                             int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    const float v = x[i];
    const float e = exp_nonpos(-0.5f * v * v);
    dx[i] = dy[i] * (phi_from(v, e) + v * e * 0.39894228040143268f);
  }
}

FUSED_FN static void softmax_grad_loop(const float *restrict dy, const float *restrict y, float *restrict dx,
                                       int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++) {
    const float *dyr = dy + r * n, *yr = y + r * n;
    float *dxr = dx + r * n;
    const float s = (float)dot_d(dyr, yr, n);
    for (int64_t j = 0; j < n; j++) dxr[j] = yr[j] * (dyr[j] - s);
  }
}

FUSED_FN static void layer_norm_loop(const float *restrict x, const float *restrict gamma, const float *restrict beta,
                                     float *restrict y, float *restrict mean, float *restrict rstd, int64_t rows,
                                     int64_t n, double eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * n;
    float *yr = y + r * n;
    /* Two passes over the (cache-resident) row: exact-ish mean, then the biased variance around it. */
    const double mu = dot_d(xr, NULL, n) / (double)n;
    const double var = sq_dev_d(xr, mu, n) / (double)n;
    const float m = (float)mu, rs = (float)(1.0 / sqrt(var + eps));
    mean[r] = m;
    rstd[r] = rs;
    for (int64_t j = 0; j < n; j++) yr[j] = (xr[j] - m) * rs * gamma[j] + beta[j];
  }
}

/* y = LayerNorm(a + b [+ c]) per row, the sum written into y first and normalised there (inference: no statistics out). */
FUSED_FN static void add_layer_norm_loop(const float *restrict a, const float *restrict b, const float *restrict c,
                                         const float *restrict gamma, const float *restrict beta, float *restrict y,
                                         int64_t rows, int64_t n, double eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float *ar = a + r * n, *br = b + r * n;
    float *yr = y + r * n;
    if (c) {
      const float *cr = c + r * n;
      for (int64_t j = 0; j < n; j++) yr[j] = (ar[j] + br[j]) + cr[j];
    } else {
      for (int64_t j = 0; j < n; j++) yr[j] = ar[j] + br[j];
    }
    const double mu = dot_d(yr, NULL, n) / (double)n;
    const double var = sq_dev_d(yr, mu, n) / (double)n;
    const float m = (float)mu, rs = (float)(1.0 / sqrt(var + eps));
    for (int64_t j = 0; j < n; j++) yr[j] = (yr[j] - m) * rs * gamma[j] + beta[j];
  }
}

/* Caller-provided scratch: acc_g/acc_b double[n] (this range's Σ dy·x̂ and Σ dy), gs/xhs float[n] for one row's g and x̂. */
FUSED_FN static void layer_norm_grad_loop(const float *restrict dy, const float *restrict x, const float *restrict gamma,
                                          const float *restrict mean, const float *restrict rstd, float *restrict dx,
                                          double *restrict acc_g,
                                          double *restrict acc_b, float *restrict gs, float *restrict xhs, int64_t rows,
                                          int64_t n) {
  for (int64_t j = 0; j < n; j++) acc_g[j] = acc_b[j] = 0.0;
  for (int64_t r = 0; r < rows; r++) {
    const float *dyr = dy + r * n, *xr = x + r * n;
    float *dxr = dx + r * n;
    const float m = mean[r], rs = rstd[r];
    for (int64_t j = 0; j < n; j++) {
      const float xh = (xr[j] - m) * rs;
      xhs[j] = xh;
      gs[j] = dyr[j] * gamma[j];
      acc_g[j] += (double)dyr[j] * (double)xh;
      acc_b[j] += (double)dyr[j];
    }
    const float ma = (float)(dot_d(gs, NULL, n) / (double)n), mb = (float)(dot_d(gs, xhs, n) / (double)n);
    for (int64_t j = 0; j < n; j++) dxr[j] = rs * ((gs[j] - ma) - xhs[j] * mb);
  }
}

/*
 * One AdamW step, the same float32 operations in the same order as the composed tfjs reference
 * (m' = m·β1 + g·(1-β1); v' = v·β2 + g²·(1-β2); u = (m'/c1)/(√(v'/c2) + ε); p' = p·(1-lr·wd) - u·lr), with the
 * scalars rounded to float32 as tfjs does; no fp-contract here, so results match it to the last bit barring
 * sqrt/div implementation differences. The loop vectorises only with -fno-math-errno (binding.gyp): otherwise
 * gcc keeps a scalar errno path for sqrtf of negatives (gcc ignores that flag in optimize attributes).
 */
FUSED_FN static void adamw_loop(const float *restrict p, const float *restrict g, const float *restrict m,
                                const float *restrict v, float *restrict p_out, float *restrict m_out,
                                float *restrict v_out, int64_t count, float b1, float omb1, float b2, float omb2,
                                float c1, float c2, float eps, float decay, float lr) {
  for (int64_t i = 0; i < count; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * omb1;
    const float vi = v[i] * b2 + (gi * gi) * omb2;
    const float u = (mi / c1) / (sqrtf(vi / c2) + eps);
    m_out[i] = mi;
    v_out[i] = vi;
    p_out[i] = p[i] * decay - u * lr;
  }
}

/* Reads argv[first..first+count) as heap byte offsets (each in [0, len]). */
static int get_offsets(napi_env env, napi_value *argv, size_t len, int count, int64_t *out, const char *const *names) {
  for (int i = 0; i < count; i++) {
    if (!get_int(env, argv[i], 0, (int64_t)len, &out[i], names[i])) return 0;
  }
  return 1;
}

static napi_value undefined_value(napi_env env) {
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  return undef;
}

/*
 * Threaded drivers (parallel.h). Grains are in elements (or rows): ~10–25 µs of work each, about what waking a
 * parked worker costs, so anything up to one grain stays on the calling thread (scripts/parallel-grain.js times
 * 1 vs 2 threads around each grain; the gain just above it depends on how busy the other core is). They depend
 * only on the problem size, never on the thread count, and every chunk's output is independent of the thread that
 * computes it.
 */
#define GRAIN_GELU 16384      /* ~25 µs of GELU */
#define GRAIN_ROWS_ELEMS 32768 /* row kernels: rows per chunk = this / n (at least 1) */
#define GRAIN_ADAMW 32768
#define GRAIN_MASK 65536

static int64_t row_grain(int64_t n) { return n > 0 && n < GRAIN_ROWS_ELEMS ? GRAIN_ROWS_ELEMS / n : 1; }

typedef struct {
  const float *a, *b;
  float *c;
} ew_ctx;

static void gelu_chunk(void *p, int64_t chunk, int64_t b, int64_t e) {
  (void)chunk;
  const ew_ctx *c = p;
  gelu_loop(c->a + b, (float *)c->b + b, e - b);
}

static void gelu_grad_chunk(void *p, int64_t chunk, int64_t b, int64_t e) {
  (void)chunk;
  const ew_ctx *c = p;
  gelu_grad_loop(c->a + b, c->b + b, c->c + b, e - b);
}

/* geluFwd(heap, xOff, yOff, count) / geluGrad(heap, dyOff, xOff, dxOff, count) */
static napi_value gelu_common(napi_env env, napi_callback_info info, int grad) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  const int nOff = grad ? 3 : 2;
  if (argc < (size_t)(nOff + 2)) return throw_range(env, "backend-native: gelu expects heap, offsets and count");
  static const char *const fwd_names[] = {"xOff", "yOff"};
  static const char *const grad_names[] = {"dyOff", "xOff", "dxOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[3], count;
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, nOff, off, grad ? grad_names : fwd_names) ||
      !get_int(env, argv[1 + nOff], 0, INT_LIMIT, &count, "count")) {
    return NULL;
  }
  for (int i = 0; i < nOff; i++) {
    if (!in_heap(off[i], count, len)) {
      return throw_range(env, "backend-native: gelu operand lies outside the wasm heap (or is misaligned)");
    }
  }
  const ew_ctx ctx = {(const float *)(heap + off[0]), (const float *)(heap + off[1]), grad ? (float *)(heap + off[2]) : NULL};
  par_for(count, GRAIN_GELU, 1, grad ? gelu_grad_chunk : gelu_chunk, (void *)&ctx);
  return undefined_value(env);
}

static napi_value gelu_fwd(napi_env env, napi_callback_info info) { return gelu_common(env, info, 0); }
static napi_value gelu_grad(napi_env env, napi_callback_info info) { return gelu_common(env, info, 1); }

/* Row kernels: operand pointers of the whole tensors, chunks are row ranges. */
typedef struct {
  const float *a, *b, *c, *gamma, *beta, *mean, *rstd;
  float *y, *mean_out, *rstd_out;
  int64_t n;
  double eps;
  double *partials; /* layerNormGrad: per chunk, dγ then dβ (2n doubles) */
  int failed;       /* __atomic: a chunk could not allocate its scratch */
} rows_ctx;

static void softmax_grad_chunk(void *p, int64_t chunk, int64_t b, int64_t e) {
  (void)chunk;
  const rows_ctx *c = p;
  softmax_grad_loop(c->a + b * c->n, c->b + b * c->n, c->y + b * c->n, e - b, c->n);
}

static void layer_norm_chunk(void *p, int64_t chunk, int64_t b, int64_t e) {
  (void)chunk;
  const rows_ctx *c = p;
  layer_norm_loop(c->a + b * c->n, c->gamma, c->beta, c->y + b * c->n, c->mean_out + b, c->rstd_out + b, e - b, c->n, c->eps);
}

static void add_layer_norm_chunk(void *p, int64_t chunk, int64_t b, int64_t e) {
  (void)chunk;
  const rows_ctx *c = p;
  add_layer_norm_loop(c->a + b * c->n, c->b + b * c->n, c->c ? c->c + b * c->n : NULL, c->gamma, c->beta, c->y + b * c->n,
                      e - b, c->n, c->eps);
}

/* dx for rows [b, e) and this chunk's Σ dy·x̂ and Σ dy into its slot of partials (summed in chunk order later). */
static void layer_norm_grad_chunk(void *p, int64_t chunk, int64_t b, int64_t e) {
  rows_ctx *c = p;
  const int64_t n = c->n;
  float *rowbuf = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof(float));
  if (rowbuf == NULL) {
    __atomic_store_n(&c->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  double *acc = c->partials + chunk * 2 * n;
  layer_norm_grad_loop(c->a + b * n, c->b + b * n, c->gamma, c->mean + b, c->rstd + b, c->y + b * n, acc, acc + n, rowbuf,
                       rowbuf + n, e - b, n);
  free(rowbuf);
}

/* softmaxGrad(heap, dyOff, yOff, dxOff, rows, n): dx = y·(dy - Σ_n dy·y) per row */
static napi_value softmax_grad(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_range(env, "backend-native: softmaxGrad expects 6 arguments");
  static const char *const names[] = {"dyOff", "yOff", "dxOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[3], rows, n;
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, 3, off, names) ||
      !get_int(env, argv[4], 0, INT_LIMIT, &rows, "rows") || !get_int(env, argv[5], 0, INT_LIMIT, &n, "n")) {
    return NULL;
  }
  for (int i = 0; i < 3; i++) {
    if (!in_heap(off[i], rows * n, len)) {
      return throw_range(env, "backend-native: softmaxGrad operand lies outside the wasm heap (or is misaligned)");
    }
  }
  const rows_ctx ctx = {.a = (const float *)(heap + off[0]), .b = (const float *)(heap + off[1]), .y = (float *)(heap + off[2]), .n = n};
  par_for(rows, row_grain(n), 1, softmax_grad_chunk, (void *)&ctx);
  return undefined_value(env);
}

/* layerNorm(heap, xOff, gammaOff, betaOff, yOff, meanOff, rstdOff, rows, n, epsilon) */
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 10) return throw_range(env, "backend-native: layerNorm expects 10 arguments");
  static const char *const names[] = {"xOff", "gammaOff", "betaOff", "yOff", "meanOff", "rstdOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[6], rows, n;
  double eps;
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, 6, off, names) ||
      !get_int(env, argv[7], 0, INT_LIMIT, &rows, "rows") || !get_int(env, argv[8], 0, INT_LIMIT, &n, "n")) {
    return NULL;
  }
  CHECK(env, napi_get_value_double(env, argv[9], &eps));
  const int64_t counts[6] = {rows * n, n, n, rows * n, rows, rows};
  for (int i = 0; i < 6; i++) {
    if (!in_heap(off[i], counts[i], len)) {
      return throw_range(env, "backend-native: layerNorm operand lies outside the wasm heap (or is misaligned)");
    }
  }
  const rows_ctx ctx = {.a = (const float *)(heap + off[0]), .gamma = (const float *)(heap + off[1]),
                        .beta = (const float *)(heap + off[2]), .y = (float *)(heap + off[3]), .mean_out = (float *)(heap + off[4]),
                        .rstd_out = (float *)(heap + off[5]), .n = n, .eps = eps};
  par_for(rows, row_grain(n), 1, layer_norm_chunk, (void *)&ctx);
  return undefined_value(env);
}

/* layerNormGrad(heap, dyOff, xOff, gammaOff, meanOff, rstdOff, dxOff, dgammaOff, dbetaOff, rows, n) */
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 11) return throw_range(env, "backend-native: layerNormGrad expects 11 arguments");
  static const char *const names[] = {"dyOff", "xOff", "gammaOff", "meanOff", "rstdOff", "dxOff", "dgammaOff", "dbetaOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[8], rows, n;
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, 8, off, names) ||
      !get_int(env, argv[9], 0, INT_LIMIT, &rows, "rows") || !get_int(env, argv[10], 0, INT_LIMIT, &n, "n")) {
    return NULL;
  }
  const int64_t counts[8] = {rows * n, rows * n, n, rows, rows, rows * n, n, n};
  for (int i = 0; i < 8; i++) {
    if (!in_heap(off[i], counts[i], len)) {
      return throw_range(env, "backend-native: layerNormGrad operand lies outside the wasm heap (or is misaligned)");
    }
  }
  const int64_t grain = row_grain(n), chunks = par_chunks(rows, grain);
  double *partials = (double *)calloc((size_t)(chunks > 0 ? chunks : 1) * (size_t)(n > 0 ? n : 1) * 2, sizeof(double));
  if (partials == NULL) {
    napi_throw_error(env, NULL, "backend-native: layerNormGrad: out of memory");
    return NULL;
  }
  rows_ctx ctx = {.a = (const float *)(heap + off[0]), .b = (const float *)(heap + off[1]), .gamma = (const float *)(heap + off[2]),
                  .mean = (const float *)(heap + off[3]), .rstd = (const float *)(heap + off[4]), .y = (float *)(heap + off[5]),
                  .n = n, .partials = partials};
  par_for(rows, grain, 1, layer_norm_grad_chunk, &ctx);
  if (ctx.failed) {
    free(partials);
    napi_throw_error(env, NULL, "backend-native: layerNormGrad: out of memory");
    return NULL;
  }
  /* dγ, dβ: the chunks' double partials added in chunk order (fixed by rows and n, not by the thread count). */
  float *dgamma = (float *)(heap + off[6]), *dbeta = (float *)(heap + off[7]);
  for (int64_t j = 0; j < n; j++) {
    double g = 0.0, bsum = 0.0;
    for (int64_t c = 0; c < chunks; c++) {
      g += partials[c * 2 * n + j];
      bsum += partials[c * 2 * n + n + j];
    }
    dgamma[j] = (float)g;
    dbeta[j] = (float)bsum;
  }
  free(partials);
  return undefined_value(env);
}

typedef struct {
  const float *in[4]; /* p, g, m, v */
  float *out[3];      /* p', m', v' */
  float h[9];         /* b1, 1-b1, b2, 1-b2, c1, c2, eps, decay, lr */
} adamw_ctx;

static void adamw_chunk(void *p, int64_t chunk, int64_t b, int64_t e) {
  (void)chunk;
  const adamw_ctx *c = p;
  adamw_loop(c->in[0] + b, c->in[1] + b, c->in[2] + b, c->in[3] + b, c->out[0] + b, c->out[1] + b, c->out[2] + b, e - b,
             c->h[0], c->h[1], c->h[2], c->h[3], c->h[4], c->h[5], c->h[6], c->h[7], c->h[8]);
}

/* adamW(heap, pOff, gOff, mOff, vOff, pOutOff, mOutOff, vOutOff, count, lr, beta1, beta2, epsilon, weightDecay, step) */
static napi_value adamw(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value argv[15];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 15) return throw_range(env, "backend-native: adamW expects 15 arguments");
  static const char *const names[] = {"pOff", "gOff", "mOff", "vOff", "pOutOff", "mOutOff", "vOutOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[7], count;
  double h[6]; /* lr, beta1, beta2, epsilon, weightDecay, step */
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, 7, off, names) ||
      !get_int(env, argv[8], 0, INT_LIMIT, &count, "count")) {
    return NULL;
  }
  for (int i = 0; i < 6; i++) CHECK(env, napi_get_value_double(env, argv[9 + i], &h[i]));
  for (int i = 0; i < 7; i++) {
    if (!in_heap(off[i], count, len)) {
      return throw_range(env, "backend-native: adamW operand lies outside the wasm heap (or is misaligned)");
    }
  }
  const double lr = h[0], b1 = h[1], b2 = h[2], eps = h[3], wd = h[4], step = h[5];
  const double c1 = 1.0 - pow(b1, step), c2 = 1.0 - pow(b2, step);
  const adamw_ctx ctx = {{(const float *)(heap + off[0]), (const float *)(heap + off[1]), (const float *)(heap + off[2]),
                          (const float *)(heap + off[3])},
                         {(float *)(heap + off[4]), (float *)(heap + off[5]), (float *)(heap + off[6])},
                         {(float)b1, (float)(1.0 - b1), (float)b2, (float)(1.0 - b2), (float)c1, (float)c2, (float)eps,
                          (float)(1.0 - lr * wd), (float)lr}};
  /* No flush: AdamW mirrors tfjs's float32 ops bit for bit, subnormal moments included. */
  par_for(count, GRAIN_ADAMW, 0, adamw_chunk, (void *)&ctx);
  return undefined_value(env);
}

/* lowbias32 (Wellons): 32-bit integer hash; unsigned arithmetic wraps exactly like Math.imul in JS. */
static inline uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}

/*
 * Dropout mask, counter-based: out[i] = h(i) < threshold ? scale : 0 with h(i) = lowbias32(lowbias32(i ^ k1) + k2).
 * Bit-identical to @adapters/core-graph's JS fallback (same hash, same 32-bit index), and vectorisable because
 * no entry depends on another. The select is done with a mask so the loop has no branch.
 */
FUSED_FN static void dropout_mask_loop(float *restrict out, int64_t first, int64_t count, uint32_t k1, uint32_t k2,
                                       uint64_t threshold, float scale) {
  const uint32_t scale_bits = bits_of(scale);
  if (threshold > 0xffffffffull) { /* rate 0: keep everything */
    for (int64_t i = 0; i < count; i++) out[i] = scale;
    return;
  }
  const uint32_t t = (uint32_t)threshold;
  for (int64_t i = 0; i < count; i++) {
    const uint32_t h = lowbias32(lowbias32((uint32_t)(first + i) ^ k1) + k2);
    const uint32_t keep = 0u - (uint32_t)(h < t);
    out[i] = float_of(scale_bits & keep);
  }
}

typedef struct {
  float *out;
  uint32_t k1, k2;
  uint64_t threshold;
  float scale;
} mask_ctx;

/* out[b..e) with the global indices b..e-1 hashed: chunking leaves every entry unchanged. */
static void dropout_mask_chunk(void *p, int64_t chunk, int64_t b, int64_t e) {
  (void)chunk;
  const mask_ctx *c = p;
  dropout_mask_loop(c->out + b, b, e - b, c->k1, c->k2, c->threshold, c->scale);
}

/* dropoutMask(heap, outOff, count, k1, k2, threshold, scale) */
static napi_value dropout_mask(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) return throw_range(env, "backend-native: dropoutMask expects 7 arguments");
  uint8_t *heap;
  size_t len;
  int64_t out_off, count, k1, k2, threshold;
  double scale;
  if (!get_heap(env, argv[0], &heap, &len) || !get_int(env, argv[1], 0, (int64_t)len, &out_off, "outOff") ||
      !get_int(env, argv[2], 0, INT_LIMIT, &count, "count") || !get_int(env, argv[3], 0, 0xffffffffLL, &k1, "k1") ||
      !get_int(env, argv[4], 0, 0xffffffffLL, &k2, "k2") || !get_int(env, argv[5], 0, 0x100000000LL, &threshold, "threshold")) {
    return NULL;
  }
  CHECK(env, napi_get_value_double(env, argv[6], &scale));
  if (!in_heap(out_off, count, len)) {
    return throw_range(env, "backend-native: dropoutMask output lies outside the wasm heap (or is misaligned)");
  }
  const mask_ctx ctx = {(float *)(heap + out_off), (uint32_t)k1, (uint32_t)k2, (uint64_t)threshold, (float)scale};
  par_for(count, GRAIN_MASK, 0, dropout_mask_chunk, (void *)&ctx);
  return undefined_value(env);
}

/*
 * scatterAddRows(heap, dyOff, idsOff, outOff, count, width, rows): out[rows,width] = 0, then
 * out[ids[i], :] += dy[i, :] for i in [0, count), in order (so sums match a sequential JS loop bit for bit).
 * The embedding table's gradient; throws before writing anything if an id is outside [0, rows).
 */
static napi_value scatter_add_rows(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) return throw_range(env, "backend-native: scatterAddRows expects 7 arguments");
  uint8_t *heap;
  size_t len;
  int64_t dy_off, ids_off, out_off, count, width, rows;
  if (!get_heap(env, argv[0], &heap, &len) || !get_int(env, argv[1], 0, (int64_t)len, &dy_off, "dyOff") ||
      !get_int(env, argv[2], 0, (int64_t)len, &ids_off, "idsOff") || !get_int(env, argv[3], 0, (int64_t)len, &out_off, "outOff") ||
      !get_int(env, argv[4], 0, INT_LIMIT, &count, "count") || !get_int(env, argv[5], 0, INT_LIMIT, &width, "width") ||
      !get_int(env, argv[6], 0, INT_LIMIT, &rows, "rows")) {
    return NULL;
  }
  if (!in_heap(dy_off, count * width, len) || !in_heap(ids_off, count, len) || !in_heap(out_off, rows * width, len)) {
    return throw_range(env, "backend-native: scatterAddRows operand lies outside the wasm heap (or is misaligned)");
  }
  const float *dy = (const float *)(heap + dy_off);
  const int32_t *ids = (const int32_t *)(heap + ids_off);
  float *out = (float *)(heap + out_off);
  for (int64_t i = 0; i < count; i++) {
    if (ids[i] < 0 || ids[i] >= rows) {
      char msg[160];
      snprintf(msg, sizeof msg, "backend-native: scatterAddRows id %d at position %lld is outside [0, %lld)", ids[i],
               (long long)i, (long long)rows);
      return throw_range(env, msg);
    }
  }
  memset(out, 0, (size_t)(rows * width) * sizeof(float));
  for (int64_t i = 0; i < count; i++) {
    float *restrict dst = out + (int64_t)ids[i] * width;
    const float *restrict src = dy + i * width;
    for (int64_t j = 0; j < width; j++) dst[j] += src[j];
  }
  return undefined_value(env);
}

/* addLayerNorm(heap, aOff, bOff, cOff|-1, gammaOff, betaOff, yOff, rows, n, epsilon): y = LayerNorm(a + b [+ c]) */
static napi_value add_layer_norm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 10) return throw_range(env, "backend-native: addLayerNorm expects 10 arguments");
  static const char *const names[] = {"aOff", "bOff"};
  static const char *const rest[] = {"gammaOff", "betaOff", "yOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[2], c_off, tail[3], rows, n;
  double eps;
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, 2, off, names) ||
      !get_int(env, argv[3], -1, (int64_t)len, &c_off, "cOff") || !get_offsets(env, argv + 4, len, 3, tail, rest) ||
      !get_int(env, argv[7], 0, INT_LIMIT, &rows, "rows") || !get_int(env, argv[8], 0, INT_LIMIT, &n, "n")) {
    return NULL;
  }
  CHECK(env, napi_get_value_double(env, argv[9], &eps));
  if (!in_heap(off[0], rows * n, len) || !in_heap(off[1], rows * n, len) || (c_off >= 0 && !in_heap(c_off, rows * n, len)) ||
      !in_heap(tail[0], n, len) || !in_heap(tail[1], n, len) || !in_heap(tail[2], rows * n, len)) {
    return throw_range(env, "backend-native: addLayerNorm operand lies outside the wasm heap (or is misaligned)");
  }
  const rows_ctx ctx = {.a = (const float *)(heap + off[0]), .b = (const float *)(heap + off[1]),
                        .c = c_off >= 0 ? (const float *)(heap + c_off) : NULL, .gamma = (const float *)(heap + tail[0]),
                        .beta = (const float *)(heap + tail[1]), .y = (float *)(heap + tail[2]), .n = n, .eps = eps};
  par_for(rows, row_grain(n), 1, add_layer_norm_chunk, (void *)&ctx);
  return undefined_value(env);
}

/*
 * binary32(heap, op, aOff, aKind, bOff, bKind, outOff, rows, n): out[r,j] = a ∘ b over a float32 [rows, n] output,
 * op 0 add, 1 subtract, 2 multiply; each operand's kind says how it is read: 0 full [rows, n], 1 one row [n]
 * broadcast over the rows (a bias), 2 one value. One IEEE float32 operation per element, as tfjs-wasm's kernels,
 * so the results are the same bits; no flush (subnormals stay, as in the stock kernels).
 */
typedef struct {
  const float *a, *b;
  float *out;
  int64_t n;
  int op, ak, bk;
} binary_ctx;

#define BINARY_LOOP(EXPR)                                                                                      \
  for (int64_t j = 0; j < cnt; j++) o[j] = (EXPR)

FUSED_FN static void binary_range(const binary_ctx *c, int64_t b, int64_t e) {
  /* Elements [b, e) of the flat output, split at row ends so a row operand is read contiguously. */
  while (b < e) {
    const int64_t r = c->n > 0 ? b / c->n : 0, j0 = b - r * c->n;
    const int64_t row_end = (r + 1) * c->n, stop = row_end < e ? row_end : e, cnt = stop - b;
    const float *restrict x = c->ak == 0 ? c->a + b : c->ak == 1 ? c->a + j0 : c->a;
    const float *restrict y = c->bk == 0 ? c->b + b : c->bk == 1 ? c->b + j0 : c->b;
    float *restrict o = c->out + b;
    const int xs = c->ak != 2, ys = c->bk != 2; /* 0: one value */
    if (xs && ys) {
      if (c->op == 0) BINARY_LOOP(x[j] + y[j]);
      else if (c->op == 1) BINARY_LOOP(x[j] - y[j]);
      else BINARY_LOOP(x[j] * y[j]);
    } else if (xs) {
      const float v = y[0];
      if (c->op == 0) BINARY_LOOP(x[j] + v);
      else if (c->op == 1) BINARY_LOOP(x[j] - v);
      else BINARY_LOOP(x[j] * v);
    } else if (ys) {
      const float v = x[0];
      if (c->op == 0) BINARY_LOOP(v + y[j]);
      else if (c->op == 1) BINARY_LOOP(v - y[j]);
      else BINARY_LOOP(v * y[j]);
    } else {
      const float v = c->op == 0 ? x[0] + y[0] : c->op == 1 ? x[0] - y[0] : x[0] * y[0];
      BINARY_LOOP(v);
    }
    b = stop;
  }
}

static void binary_chunk(void *p, int64_t chunk, int64_t b, int64_t e) {
  (void)chunk;
  binary_range(p, b, e);
}

#define GRAIN_BINARY 65536 /* ~20 µs of a memory-bound add */

static napi_value binary32(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) return throw_range(env, "backend-native: binary32 expects 9 arguments");
  uint8_t *heap;
  size_t len;
  int64_t op, a_off, ak, b_off, bk, out_off, rows, n;
  if (!get_heap(env, argv[0], &heap, &len) || !get_int(env, argv[1], 0, 2, &op, "op") ||
      !get_int(env, argv[2], 0, (int64_t)len, &a_off, "aOff") || !get_int(env, argv[3], 0, 2, &ak, "aKind") ||
      !get_int(env, argv[4], 0, (int64_t)len, &b_off, "bOff") || !get_int(env, argv[5], 0, 2, &bk, "bKind") ||
      !get_int(env, argv[6], 0, (int64_t)len, &out_off, "outOff") || !get_int(env, argv[7], 0, INT_LIMIT, &rows, "rows") ||
      !get_int(env, argv[8], 0, INT_LIMIT, &n, "n")) {
    return NULL;
  }
  const int64_t total = rows * n;
  if (total > INT_LIMIT) return throw_range(env, "backend-native: binary32 output is too large");
  const int64_t a_count = ak == 0 ? total : ak == 1 ? n : 1, b_count = bk == 0 ? total : bk == 1 ? n : 1;
  if (!in_heap(out_off, total, len) || (total > 0 && (!in_heap(a_off, a_count, len) || !in_heap(b_off, b_count, len)))) {
    return throw_range(env, "backend-native: binary32 operand lies outside the wasm heap (or is misaligned)");
  }
  const binary_ctx ctx = {(const float *)(heap + a_off), (const float *)(heap + b_off), (float *)(heap + out_off), n, (int)op,
                          (int)ak, (int)bk};
  par_for(total, GRAIN_BINARY, 0, binary_chunk, (void *)&ctx);
  return undefined_value(env);
}

/*
 * bottleneck(heap, hOff, xOff, wdOff, bdOff, wuOff, buOff, gammaOff, betaOff, preGammaOff|-1, preBetaOff|-1, yOff,
 *            rows, w, m, act, scale, epsilon, preEpsilon): the fused sequential bottleneck adapter of bottleneck.h.
 */
static int row_threads = 1;

static napi_value bottleneck(napi_env env, napi_callback_info info) {
  size_t argc = 19;
  napi_value argv[19];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 19) return throw_range(env, "backend-native: bottleneck expects 19 arguments");
  static const char *const names[] = {"hOff", "xOff", "wdOff", "bdOff", "wuOff", "buOff", "gammaOff", "betaOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[8], pg_off, pb_off, y_off, rows, w, m, act;
  double scale, eps, pre_eps;
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, 8, off, names) ||
      !get_int(env, argv[9], -1, (int64_t)len, &pg_off, "preGammaOff") ||
      !get_int(env, argv[10], -1, (int64_t)len, &pb_off, "preBetaOff") || !get_int(env, argv[11], 0, (int64_t)len, &y_off, "yOff") ||
      !get_int(env, argv[12], 0, INT_LIMIT, &rows, "rows") || !get_int(env, argv[13], 1, INT_LIMIT, &w, "w") ||
      !get_int(env, argv[14], 1, INT_LIMIT, &m, "m") || !get_int(env, argv[15], 0, 3, &act, "act")) {
    return NULL;
  }
  CHECK(env, napi_get_value_double(env, argv[16], &scale));
  CHECK(env, napi_get_value_double(env, argv[17], &eps));
  CHECK(env, napi_get_value_double(env, argv[18], &pre_eps));
  if ((pg_off < 0) != (pb_off < 0)) return throw_range(env, "backend-native: bottleneck needs both pre-LayerNorm offsets or neither");
  const int64_t counts[8] = {rows * w, rows * w, w * m, m, m * w, w, w, w};
  int inside = in_heap(y_off, rows * w, len) && (pg_off < 0 || (in_heap(pg_off, w, len) && in_heap(pb_off, w, len)));
  for (int i = 0; i < 8; i++) inside = inside && in_heap(off[i], counts[i], len);
  if (!inside) return throw_range(env, "backend-native: bottleneck operand lies outside the wasm heap (or is misaligned)");
  if (rows == 0) return undefined_value(env);
  const bottleneck_args args = {
      (const float *)(heap + off[0]), (const float *)(heap + off[1]), (const float *)(heap + off[2]),
      (const float *)(heap + off[3]), (const float *)(heap + off[4]), (const float *)(heap + off[5]),
      (const float *)(heap + off[6]), (const float *)(heap + off[7]),
      pg_off < 0 ? NULL : (const float *)(heap + pg_off), pb_off < 0 ? NULL : (const float *)(heap + pb_off),
      (float *)(heap + y_off), rows, w, m, eps, pre_eps, (int)act, (float)scale,
  };
  if (!bottleneck_run(&args, row_threads)) {
    napi_throw_error(env, NULL, "backend-native: bottleneck could not allocate its scratch rows");
    return NULL;
  }
  return undefined_value(env);
}

/*
 * attention(heap, qOff, kOff, vOff, maskOff|-1, pkOff|-1, pvOff|-1, outOff, batch, seq, heads, dh, prefix, scale):
 * the fused attention of attention.h.
 */
static napi_value attention(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 14) return throw_range(env, "backend-native: attention expects 14 arguments");
  static const char *const names[] = {"qOff", "kOff", "vOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[3], mask_off, pk_off, pv_off, out_off, batch, seq, heads, dh, prefix;
  double scale;
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, 3, off, names) ||
      !get_int(env, argv[4], -1, (int64_t)len, &mask_off, "maskOff") || !get_int(env, argv[5], -1, (int64_t)len, &pk_off, "pkOff") ||
      !get_int(env, argv[6], -1, (int64_t)len, &pv_off, "pvOff") || !get_int(env, argv[7], 0, (int64_t)len, &out_off, "outOff") ||
      !get_int(env, argv[8], 0, INT_LIMIT, &batch, "batch") || !get_int(env, argv[9], 0, INT_LIMIT, &seq, "seq") ||
      !get_int(env, argv[10], 1, 65536, &heads, "heads") || !get_int(env, argv[11], 1, 65536, &dh, "dh") ||
      !get_int(env, argv[12], 0, 1 << 20, &prefix, "prefix")) {
    return NULL;
  }
  CHECK(env, napi_get_value_double(env, argv[13], &scale));
  if ((prefix > 0) != (pk_off >= 0) || (pk_off >= 0) != (pv_off >= 0)) {
    return throw_range(env, "backend-native: attention needs both prefix offsets exactly when prefix > 0");
  }
  const int64_t hidden = heads * dh, tokens = batch * seq;
  if (hidden > INT_LIMIT || tokens > INT_LIMIT || (double)tokens * (double)hidden > (double)INT_LIMIT) {
    return throw_range(env, "backend-native: attention operands are too large");
  }
  int inside = in_heap(out_off, tokens * hidden, len) && (mask_off < 0 || in_heap(mask_off, tokens, len)) &&
               (pk_off < 0 || (in_heap(pk_off, prefix * hidden, len) && in_heap(pv_off, prefix * hidden, len)));
  for (int i = 0; i < 3; i++) inside = inside && in_heap(off[i], tokens * hidden, len);
  if (!inside) return throw_range(env, "backend-native: attention operand lies outside the wasm heap (or is misaligned)");
  const attention_args args = {
      (const float *)(heap + off[0]), (const float *)(heap + off[1]), (const float *)(heap + off[2]),
      mask_off < 0 ? NULL : (const float *)(heap + mask_off), pk_off < 0 ? NULL : (const float *)(heap + pk_off),
      pv_off < 0 ? NULL : (const float *)(heap + pv_off), (float *)(heap + out_off), batch, seq, heads, dh, prefix, (float)scale,
  };
  if (!attention_run(&args, row_threads)) {
    napi_throw_error(env, NULL, "backend-native: attention could not allocate its scratch memory");
    return NULL;
  }
  return undefined_value(env);
}

/*
 * Dropout keys as the JS side derives them (k1, k2, threshold in [0, 2^32]; 2^32 keeps everything) plus the keep
 * scale, from argv[0..3].
 */
static int get_dropout(napi_env env, napi_value *argv, dropout_keys *out) {
  int64_t k1, k2, threshold;
  double keep_scale;
  if (!get_int(env, argv[0], 0, 0xffffffffLL, &k1, "k1") || !get_int(env, argv[1], 0, 0xffffffffLL, &k2, "k2") ||
      !get_int(env, argv[2], 0, 0x100000000LL, &threshold, "threshold")) {
    return 0;
  }
  if (napi_get_value_double(env, argv[3], &keep_scale) != napi_ok) {
    napi_throw_type_error(env, NULL, "backend-native: keepScale must be a number");
    return 0;
  }
  out->k1 = (uint32_t)k1;
  out->k2 = (uint32_t)k2;
  out->threshold = (uint64_t)threshold;
  out->keep_scale = (float)keep_scale;
  return 1;
}

/*
 * batch, seq, heads, dh, prefix, perExample from argv[0..5]; checks that every operand, the probabilities
 * [batch, heads, seq, prefix + seq] included, indexes within int32.
 */
static int get_attention_dims(napi_env env, napi_value *argv, int64_t dims[6]) {
  int per_example;
  if (!get_int(env, argv[0], 0, INT_LIMIT, &dims[0], "batch") || !get_int(env, argv[1], 0, INT_LIMIT, &dims[1], "seq") ||
      !get_int(env, argv[2], 1, 65536, &dims[2], "heads") || !get_int(env, argv[3], 1, 65536, &dims[3], "dh") ||
      !get_int(env, argv[4], 0, 1 << 20, &dims[4], "prefix") || !get_bool(env, argv[5], &per_example)) {
    return 0;
  }
  dims[5] = per_example;
  const double tokens = (double)dims[0] * (double)(dims[1] + dims[4]);
  if (tokens * (double)(dims[2] * dims[3]) > (double)INT_LIMIT ||
      (double)dims[0] * (double)dims[1] * (double)(dims[1] + dims[4]) * (double)dims[2] > (double)INT_LIMIT) {
    throw_range(env, "backend-native: attention operands are too large");
    return 0;
  }
  return 1;
}

/* The prefix rows of an attention call: offsets pkOff, pvOff (-1 without a prefix), checked against the heap. */
static int get_prefix(napi_env env, napi_value *argv, uint8_t *heap, size_t len, const int64_t dims[6], prefix_rows *out) {
  int64_t pk_off, pv_off;
  if (!get_int(env, argv[0], -1, (int64_t)len, &pk_off, "pkOff") || !get_int(env, argv[1], -1, (int64_t)len, &pv_off, "pvOff")) return 0;
  const int64_t hidden = dims[2] * dims[3], count = dims[4] * hidden * (dims[5] ? dims[0] : 1);
  if ((dims[4] > 0) != (pk_off >= 0) || (pk_off >= 0) != (pv_off >= 0)) {
    throw_range(env, "backend-native: attention needs both prefix offsets exactly when prefix > 0");
    return 0;
  }
  if (dims[4] > 0 && (!in_heap(pk_off, count, len) || !in_heap(pv_off, count, len))) {
    throw_range(env, "backend-native: attention prefix lies outside the wasm heap (or is misaligned)");
    return 0;
  }
  out->pk = dims[4] > 0 ? (const float *)(heap + pk_off) : NULL;
  out->pv = dims[4] > 0 ? (const float *)(heap + pv_off) : NULL;
  out->prefix = dims[4];
  out->stride = dims[5] ? dims[4] * hidden : 0;
  return 1;
}

/*
 * attentionTrain(heap, qOff, kOff, vOff, maskOff|-1, pkOff|-1, pvOff|-1, outOff, probsOff, batch, seq, heads, dh, prefix,
 * perExample, scale, k1, k2, threshold, keepScale): the training forward of attention_train.h.
 */
static napi_value attention_train(napi_env env, napi_callback_info info) {
  size_t argc = 20;
  napi_value argv[20];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 20) return throw_range(env, "backend-native: attentionTrain expects 20 arguments");
  static const char *const names[] = {"qOff", "kOff", "vOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[3], mask_off, out_off, probs_off, dims[6];
  double scale;
  dropout_keys drop;
  prefix_rows pre;
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, 3, off, names) ||
      !get_int(env, argv[4], -1, (int64_t)len, &mask_off, "maskOff") || !get_int(env, argv[7], 0, (int64_t)len, &out_off, "outOff") ||
      !get_int(env, argv[8], 0, (int64_t)len, &probs_off, "probsOff") || !get_attention_dims(env, argv + 9, dims) ||
      !get_prefix(env, argv + 5, heap, len, dims, &pre) || !get_dropout(env, argv + 16, &drop)) {
    return NULL;
  }
  CHECK(env, napi_get_value_double(env, argv[15], &scale));
  const int64_t tokens = dims[0] * dims[1], hidden = dims[2] * dims[3];
  int inside = in_heap(out_off, tokens * hidden, len) && in_heap(probs_off, tokens * (dims[1] + dims[4]) * dims[2], len) &&
               (mask_off < 0 || in_heap(mask_off, tokens, len));
  for (int i = 0; i < 3; i++) inside = inside && in_heap(off[i], tokens * hidden, len);
  if (!inside) return throw_range(env, "backend-native: attentionTrain operand lies outside the wasm heap (or is misaligned)");
  const attention_train_args args = {
      (const float *)(heap + off[0]), (const float *)(heap + off[1]), (const float *)(heap + off[2]),
      mask_off < 0 ? NULL : (const float *)(heap + mask_off), (float *)(heap + out_off), (float *)(heap + probs_off),
      dims[0], dims[1], dims[2], dims[3], (float)scale, drop, pre,
  };
  if (!attention_train_run(&args, row_threads)) {
    napi_throw_error(env, NULL, "backend-native: attentionTrain could not allocate its scratch memory");
    return NULL;
  }
  return undefined_value(env);
}

/*
 * attentionGrad(heap, dyOff, qOff, kOff, vOff, pkOff|-1, pvOff|-1, probsOff, dqOff, dkOff, dvOff, dpkOff|-1, dpvOff|-1,
 * batch, seq, heads, dh, prefix, perExample, scale, k1, k2, threshold, keepScale): the backward of attentionTrain; dpk,
 * dpv [batch, prefix, hidden] get each example's share of the prefix gradients.
 */
static napi_value attention_grad(napi_env env, napi_callback_info info) {
  size_t argc = 24;
  napi_value argv[24];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 24) return throw_range(env, "backend-native: attentionGrad expects 24 arguments");
  static const char *const names[] = {"dyOff", "qOff", "kOff", "vOff"};
  static const char *const out_names[] = {"probsOff", "dqOff", "dkOff", "dvOff"};
  uint8_t *heap;
  size_t len;
  int64_t off[4], outs[4], dpk_off, dpv_off, dims[6];
  double scale;
  dropout_keys drop;
  prefix_rows pre;
  if (!get_heap(env, argv[0], &heap, &len) || !get_offsets(env, argv + 1, len, 4, off, names) ||
      !get_offsets(env, argv + 7, len, 4, outs, out_names) || !get_int(env, argv[11], -1, (int64_t)len, &dpk_off, "dpkOff") ||
      !get_int(env, argv[12], -1, (int64_t)len, &dpv_off, "dpvOff") || !get_attention_dims(env, argv + 13, dims) ||
      !get_prefix(env, argv + 5, heap, len, dims, &pre) || !get_dropout(env, argv + 20, &drop)) {
    return NULL;
  }
  CHECK(env, napi_get_value_double(env, argv[19], &scale));
  const int64_t tokens = dims[0] * dims[1], hidden = dims[2] * dims[3], pre_count = dims[0] * dims[4] * hidden;
  int inside = in_heap(outs[0], tokens * (dims[1] + dims[4]) * dims[2], len) &&
               (dims[4] == 0 || (dpk_off >= 0 && dpv_off >= 0 && in_heap(dpk_off, pre_count, len) && in_heap(dpv_off, pre_count, len)));
  for (int i = 0; i < 4; i++) inside = inside && in_heap(off[i], tokens * hidden, len);
  for (int i = 1; i < 4; i++) inside = inside && in_heap(outs[i], tokens * hidden, len);
  if (!inside) return throw_range(env, "backend-native: attentionGrad operand lies outside the wasm heap (or is misaligned)");
  const attention_grad_args args = {
      (const float *)(heap + off[0]), (const float *)(heap + off[1]), (const float *)(heap + off[2]),
      (const float *)(heap + off[3]), (const float *)(heap + outs[0]), (float *)(heap + outs[1]), (float *)(heap + outs[2]),
      (float *)(heap + outs[3]), dims[4] > 0 ? (float *)(heap + dpk_off) : NULL, dims[4] > 0 ? (float *)(heap + dpv_off) : NULL,
      dims[0], dims[1], dims[2], dims[3], (float)scale, drop, pre,
  };
  if (!attention_grad_run(&args, row_threads)) {
    napi_throw_error(env, NULL, "backend-native: attentionGrad could not allocate its scratch memory");
    return NULL;
  }
  return undefined_value(env);
}

/*
 * stridedCopy32(heap, srcOff, dstOff, outer, count, srcStride, dstStride): for o in [0, outer),
 * dst[o*dstStride .. +count) = src[o*srcStride .. +count), 4-byte elements. Pack and Unpack along a middle axis
 * are one such copy per tensor (the stock kernels go through per-element strided slices).
 */
static napi_value strided_copy32(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) return throw_range(env, "backend-native: stridedCopy32 expects 7 arguments");
  uint8_t *heap;
  size_t len;
  int64_t src_off, dst_off, outer, count, src_stride, dst_stride;
  if (!get_heap(env, argv[0], &heap, &len) || !get_int(env, argv[1], 0, (int64_t)len, &src_off, "srcOff") ||
      !get_int(env, argv[2], 0, (int64_t)len, &dst_off, "dstOff") || !get_int(env, argv[3], 0, INT_LIMIT, &outer, "outer") ||
      !get_int(env, argv[4], 0, INT_LIMIT, &count, "count") || !get_int(env, argv[5], 0, INT_LIMIT, &src_stride, "srcStride") ||
      !get_int(env, argv[6], 0, INT_LIMIT, &dst_stride, "dstStride")) {
    return NULL;
  }
  if (outer > 0 && count > 0) {
    if (!in_heap(src_off, (outer - 1) * src_stride + count, len) || !in_heap(dst_off, (outer - 1) * dst_stride + count, len)) {
      return throw_range(env, "backend-native: stridedCopy32 operand lies outside the wasm heap (or is misaligned)");
    }
    const uint32_t *src = (const uint32_t *)(heap + src_off);
    uint32_t *dst = (uint32_t *)(heap + dst_off);
    for (int64_t o = 0; o < outer; o++) memcpy(dst + o * dst_stride, src + o * src_stride, (size_t)count * 4);
  }
  return undefined_value(env);
}

static napi_value info_fn(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  CHECK(env, napi_create_object(env, &obj));
  const char *config = blas_config();
  const char *core = blas_corename();
  CHECK(env, napi_create_string_utf8(env, config ? config : "", NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, obj, "config", v));
  CHECK(env, napi_create_string_utf8(env, core ? core : "", NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, obj, "corename", v));
  CHECK(env, napi_create_int32(env, blas_get_num_threads(), &v));
  CHECK(env, napi_set_named_property(env, obj, "threads", v));
  CHECK(env, napi_create_string_utf8(env, blas_library(), NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, obj, "library", v));
  CHECK(env, napi_create_string_utf8(env, blas_select_error(), NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, obj, "libraryError", v));
  return obj;
}

/* setParallelThreads(n): the element-wise pool only (setNumThreads sets it along with the BLAS's). */
static napi_value set_parallel_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t n;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], 1, PAR_MAX_THREADS, &n, "threads")) return NULL;
  par_set_threads((int)n);
  return undefined_value(env);
}

/* parallelThreads() -> threads the element-wise kernels use (the caller included). */
static napi_value parallel_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  CHECK(env, napi_create_int32(env, par_threads(), &v));
  return v;
}

/* setPanelWidth(w): the attention and bottleneck kernels' panels, 1 wide (v16), 0 narrow (v8), -1 the CPU's choice. */
static napi_value set_panel_width(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t w;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], -1, 1, &w, "width")) return NULL;
  attention_force_width((int)w);
  return undefined_value(env);
}

static napi_value set_num_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t n;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], 1, 1024, &n, "threads")) return NULL;
  blas_set_num_threads((int)n);
  row_threads = (int)n;
  par_set_threads((int)n);
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  return undef;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"biasAct", NULL, bias_act, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reduceSum", NULL, reduce_sum, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transpose32", NULL, transpose32, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gather32", NULL, gather32, NULL, NULL, NULL, napi_enumerable, NULL},
      {"geluFwd", NULL, gelu_fwd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"geluGrad", NULL, gelu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmaxGrad", NULL, softmax_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamW", NULL, adamw, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropoutMask", NULL, dropout_mask, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scatterAddRows", NULL, scatter_add_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addLayerNorm", NULL, add_layer_norm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bottleneck", NULL, bottleneck, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attention", NULL, attention, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionTrain", NULL, attention_train, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionGrad", NULL, attention_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stridedCopy32", NULL, strided_copy32, NULL, NULL, NULL, napi_enumerable, NULL},
      {"binary32", NULL, binary32, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transposeBlocks32", NULL, transpose_blocks32, NULL, NULL, NULL, napi_enumerable, NULL},
      {"parallelThreads", NULL, parallel_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setParallelThreads", NULL, set_parallel_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mapFile", NULL, external_map_file, NULL, NULL, NULL, napi_enumerable, NULL},
      {"allocRegion", NULL, external_alloc_region, NULL, NULL, NULL, napi_enumerable, NULL},
      {"externalRegions", NULL, external_regions, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, info_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNumThreads", NULL, set_num_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setPanelWidth", NULL, set_panel_width, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  /* The bottleneck kernel's row threads: one per online CPU (setNumThreads changes it along with OpenBLAS's). */
  blas_select_init();
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  row_threads = cpus > 1 ? (int)(cpus < 8 ? cpus : 8) : 1;
  par_set_threads(row_threads);
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
