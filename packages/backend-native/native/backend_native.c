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
 *   gather32(heap, xOff, idxOff, outOff, outer, n, inner, count)
 *     out[o,i,:] = x[o,idx[i],:] (GatherV2 with batchDims 0) for 4-byte elements; throws on an index outside [0, n).
 *   info() -> { config, corename, threads }
 *   setNumThreads(n)
 *
 * OpenBLAS's prototypes are declared here rather than included: Debian ships cblas.h under several
 * alternative paths, and the ABI (row-major/trans enums as int, 32-bit blasint) is what we link against.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
extern void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                        int lda, const float *b, int ldb, float beta, float *c, int ldc);
extern void openblas_set_num_threads(int n);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

#define MAX_ARGS 14
#define INT_LIMIT 2147483647LL

#define CHECK(env, call)                                                                                     \
  do {                                                                                                     \
    if ((call) != napi_ok) {                                                                               \
      napi_throw_error((env), NULL, "backend-native: N-API call failed: " #call);                          \
      return NULL;                                                                                         \
    }                                                                                                      \
  } while (0)

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
  if (!get_int(env, argv[1], 0, (int64_t)len, &a_off, "aOff") || !get_int(env, argv[2], 0, (int64_t)len, &b_off, "bOff") ||
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
  if (!in_heap(c_off, batch * c_size, len) || !in_heap(a_off, (a_max + 1) * a_size, len) ||
      !in_heap(b_off, (b_max + 1) * b_size, len)) {
    return throw_range(env, "backend-native: gemm operand lies outside the wasm heap (or is misaligned)");
  }

  float *c = (float *)(heap + c_off);
  if (k == 0) { /* empty sum: zeros (BLAS may return early without touching C) */
    memset(c, 0, (size_t)(batch * c_size) * sizeof(float));
    return undef;
  }
  const float *a = (const float *)(heap + a_off);
  const float *b = (const float *)(heap + b_off);
  const int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n), ldc = (int)n;
  for (int64_t i = 0; i < batch; i++) {
    const int64_t ai = a_idx ? a_idx[i] : i * a_stride;
    const int64_t bi = b_idx ? b_idx[i] : i * b_stride;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, a + ai * a_size, lda > 0 ? lda : 1, b + bi * b_size, ldb > 0 ? ldb : 1, 0.0f, c + i * c_size,
                ldc > 0 ? ldc : 1);
  }
  return undef;
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
  float *c = (float *)(heap + c_off);
  const float *bias = bias_off >= 0 ? (const float *)(heap + bias_off) : NULL;
  const float al = (float)alpha;
  for (int64_t r = 0; r < rows; r++) {
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
  if (!get_int(env, argv[1], 0, (int64_t)len, &x_off, "xOff") || !get_int(env, argv[2], 0, (int64_t)len, &out_off, "outOff") ||
      !get_int(env, argv[3], 0, INT_LIMIT, &batch, "batch") || !get_int(env, argv[4], 0, INT_LIMIT, &rows, "rows") ||
      !get_int(env, argv[5], 0, INT_LIMIT, &cols, "cols")) {
    return NULL;
  }
  if (!in_heap(out_off, batch * rows * cols, len) || !in_heap(x_off, batch * rows * cols, len)) {
    return throw_range(env, "backend-native: transpose32 operand lies outside the wasm heap (or is misaligned)");
  }
  /* Each tile is read row by row into an L1-resident buffer and written out row by row, so both sides stream
   * whole cache lines; transposing straight from x to y thrashes when rows*4 is a large power of two. */
  enum { TILE = 32 };
  uint32_t tile[TILE][TILE + 1];
  for (int64_t b = 0; b < batch; b++) {
    const uint32_t *x = (const uint32_t *)(heap + x_off) + b * rows * cols;
    uint32_t *y = (uint32_t *)(heap + out_off) + b * rows * cols;
    for (int64_t r0 = 0; r0 < rows; r0 += TILE) {
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
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  return undef;
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
  if (!get_int(env, argv[1], 0, (int64_t)len, &x_off, "xOff") || !get_int(env, argv[2], 0, (int64_t)len, &idx_off, "idxOff") ||
      !get_int(env, argv[3], 0, (int64_t)len, &out_off, "outOff") || !get_int(env, argv[4], 0, INT_LIMIT, &outer, "outer") ||
      !get_int(env, argv[5], 0, INT_LIMIT, &n, "n") || !get_int(env, argv[6], 0, INT_LIMIT, &inner, "inner") ||
      !get_int(env, argv[7], 0, INT_LIMIT, &count, "count")) {
    return NULL;
  }
  if (!in_heap(x_off, outer * n * inner, len) || !in_heap(idx_off, count, len) ||
      !in_heap(out_off, outer * count * inner, len)) {
    return throw_range(env, "backend-native: gather32 operand lies outside the wasm heap (or is misaligned)");
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
  const uint32_t *x = (const uint32_t *)(heap + x_off);
  uint32_t *out = (uint32_t *)(heap + out_off);
  const size_t row_bytes = (size_t)inner * 4u;
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < count; i++) {
      memcpy(out + (o * count + i) * inner, x + (o * n + idx[i]) * inner, row_bytes);
    }
  }
  napi_value undef;
  CHECK(env, napi_get_undefined(env, &undef));
  return undef;
}

static napi_value info_fn(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  CHECK(env, napi_create_object(env, &obj));
  const char *config = openblas_get_config();
  const char *core = openblas_get_corename();
  CHECK(env, napi_create_string_utf8(env, config ? config : "", NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, obj, "config", v));
  CHECK(env, napi_create_string_utf8(env, core ? core : "", NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, obj, "corename", v));
  CHECK(env, napi_create_int32(env, openblas_get_num_threads(), &v));
  CHECK(env, napi_set_named_property(env, obj, "threads", v));
  return obj;
}

static napi_value set_num_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t n;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], 1, 1024, &n, "threads")) return NULL;
  openblas_set_num_threads((int)n);
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
      {"info", NULL, info_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNumThreads", NULL, set_num_threads, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
