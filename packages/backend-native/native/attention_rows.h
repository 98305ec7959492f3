/*
 * Row helpers shared by the attention kernels (attention.c at inference, attention_train.c for training): generic
 * 8- and 16-float vectors, the masked softmax of one score row (8-lane and 16-lane forms) and short row copies.
 * Everything is static inline; each file's target clones compile their own copy.
 */
#ifndef ADAPTERS_ATTENTION_ROWS_H
#define ADAPTERS_ATTENTION_ROWS_H

#include <stdint.h>
#include <string.h>

#include "fused_math.h"

#define INLINE static inline __attribute__((always_inline))
#define MASKED_SCORE (-1e9f)

#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));
INLINE v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
INLINE v16 load16(const float *p) { v16 v; memcpy(&v, p, sizeof v); return v; }
#define store8(p, v) memcpy((p), &(v), sizeof(v8))
#define store16(p, v) memcpy((p), &(v), sizeof(v16))

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

typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));
#define splat16(x) ((v16){0} + (x))
/* m ? a : b per lane (m all ones or zeros): a macro, as vector arguments draw gcc ABI notes. */
#define select16(m, a, b) ((v16)((((v16i)(a)) & (m)) | (((v16i)(b)) & ~(m))))

/*
 * exp_nonpos (fused_math.h) on a vector of floats: the same operations in the same order, so each lane gets the bits
 * of the 16-lane and of the 8-lane form alike (one body for both; argument by pointer: a vector argument draws a gcc
 * ABI note).
 */
#define DEFINE_EXP_NONPOS(NAME, VF, VI, VU)                                         \
  INLINE VF NAME(const VF *arg) {                                                 \
    VF a = *arg;                                                                  \
    const VU lim = (VU){0} + 0xC2AE0000u;                                         \
    const VI above = (VI)((VU)a > lim);                                           \
    a = (VF)((((VI)lim) & above) | (((VI)a) & ~above));                           \
    const VF magic = (VF){0} + 12582912.0f;                                       \
    const VF n = (a * 1.44269504088896341f + magic) - magic;                      \
    VF r = a - n * 0.693359375f;                                                  \
    r = r - n * -2.12194440e-4f;                                                  \
    VF q = (VF){0} + 1.9875691500e-4f;                                            \
    q = q * r + 1.3981999507e-3f;                                                 \
    q = q * r + 8.3334519073e-3f;                                                 \
    q = q * r + 4.1665795894e-2f;                                                 \
    q = q * r + 1.6666665459e-1f;                                                 \
    q = q * r + 5.0000001201e-1f;                                                 \
    q = q * r * r + r + 1.0f;                                                     \
    return q * (VF)((__builtin_convertvector(n, VI) + 127) << 23);                \
  }

DEFINE_EXP_NONPOS(exp_nonpos16, v16, v16i, v16u)

/*
 * softmax_row on 16 lanes for rows padded to tp (a multiple of 16): lanes at or past t are left out of the maximum
 * and the sum and get probability 0. The sum is 16 float lane sums (each over ≤ t/16 terms) added in double.
 */
INLINE void softmax_row16(float *restrict row, const float *restrict bias, int64_t t, int64_t tp, float scale) {
  const v16i iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const v16 ninf = splat16(-INFINITY);
  v16 mx = ninf;
  for (int64_t j = 0; j < tp; j += 16) {
    v16 x = load16(row + j) * scale + load16(bias + j);
    x = select16(iota + (int32_t)j < (int32_t)t, x, ninf);
    store16(row + j, x);
    mx = select16(x > mx, x, mx);
  }
  float m = mx[0];
  for (int l = 1; l < 16; l++) m = mx[l] > m ? mx[l] : m;
  const v16 mv = splat16(m);
  const v16u cut = (v16u){0} + 0xC2AE0000u;
  v16 sum = {0};
  for (int64_t j = 0; j < tp; j += 16) {
    const v16 d = load16(row + j) - mv;
    /* As in softmax_row: d below −87 gives exactly 0 (the −∞ padding too). */
    const v16 e = (v16)((v16i)exp_nonpos16(&d) & (v16i)((v16u)d <= cut));
    store16(row + j, e);
    sum += e;
  }
  double total = 0;
  for (int l = 0; l < 16; l++) total += (double)sum[l];
  const v16 inv = splat16((float)(1.0 / total));
  for (int64_t j = 0; j < tp; j += 16) {
    const v16 e = load16(row + j) * inv;
    store16(row + j, e);
  }
}

typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));
#define splat8(x) ((v8){0} + (x))
#define select8(m, a, b) ((v8)((((v8i)(a)) & (m)) | (((v8i)(b)) & ~(m))))

DEFINE_EXP_NONPOS(exp_nonpos8, v8, v8i, v8u)

/*
 * softmax_row16 with each 16-lane vector held as two 8-lane halves, for CPUs without AVX-512: gcc splits a v16 there
 * but moves the halves through the stack. Lane l of the halves is lane l (or 8 + l) of softmax_row16's vectors, the
 * maximum and the sum visit the lanes in the same order, so the result has the same bits.
 */
INLINE void softmax_row8x2(float *restrict row, const float *restrict bias, int64_t t, int64_t tp, float scale) {
  const v8i iota = {0, 1, 2, 3, 4, 5, 6, 7};
  const v8 ninf = splat8(-INFINITY);
  v8 mx[2] = {ninf, ninf};
  for (int64_t j = 0; j < tp; j += 16) {
    for (int h = 0; h < 2; h++) {
      const int64_t at = j + 8 * h;
      v8 x = load8(row + at) * scale + load8(bias + at);
      x = select8(iota + (int32_t)at < (int32_t)t, x, ninf);
      store8(row + at, x);
      mx[h] = select8(x > mx[h], x, mx[h]);
    }
  }
  float m = mx[0][0];
  for (int l = 1; l < 16; l++) m = mx[l / 8][l % 8] > m ? mx[l / 8][l % 8] : m;
  const v8 mv = splat8(m);
  const v8u cut = (v8u){0} + 0xC2AE0000u;
  v8 sum[2] = {{0}, {0}};
  for (int64_t j = 0; j < tp; j += 16) {
    for (int h = 0; h < 2; h++) {
      const v8 d = load8(row + j + 8 * h) - mv;
      const v8 e = (v8)((v8i)exp_nonpos8(&d) & (v8i)((v8u)d <= cut));
      store8(row + j + 8 * h, e);
      sum[h] += e;
    }
  }
  double total = 0;
  for (int l = 0; l < 16; l++) total += (double)sum[l / 8][l % 8];
  const v8 inv = splat8((float)(1.0 / total));
  for (int64_t j = 0; j < tp; j += 8) {
    const v8 e = load8(row + j) * inv;
    store8(row + j, e);
  }
}

/*
 * out[r·ldo + 0 .. 16) = Σ_{k<len} x[r·ldx + k]·b[k·ldb + 0 .. 16) for 4 rows, on two v8 per row (8 ymm accumulators:
 * CPUs without AVX-512). Shared by the inference and training attention: scores (query rows × transposed keys),
 * contexts (probabilities × values) and the backward's dp and dq.
 */
INLINE void rows4_times_panel16(const float *restrict x, int64_t ldx, const float *restrict b, int64_t ldb, float *restrict out,
                                int64_t ldo, int64_t len) {
  v8 acc[4][2];
  for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = (v8){0};
  for (int64_t k = 0; k < len; k++) {
    const v8 b0 = load8(b + k * ldb), b1 = load8(b + k * ldb + 8);
    for (int r = 0; r < 4; r++) {
      const float xv = x[r * ldx + k];
      acc[r][0] += xv * b0;
      acc[r][1] += xv * b1;
    }
  }
  for (int r = 0; r < 4; r++) {
    store8(out + r * ldo, acc[r][0]);
    store8(out + r * ldo + 8, acc[r][1]);
  }
}

/*
 * n floats, 16 at a time. The rows here are short (dh floats) and gcc makes a libc memmove call of a memcpy or a
 * plain copy loop (~20% of the kernel); the empty asm (a compiler barrier) in the body keeps the loop a loop.
 */
INLINE void copy_floats(float *restrict dst, const float *restrict src, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const v16 x = load16(src + i);
    store16(dst + i, x);
    __asm__ __volatile__("" ::: "memory");
  }
  for (; i < n; i++) {
    dst[i] = src[i];
    __asm__ __volatile__("" ::: "memory");
  }
}

#endif
