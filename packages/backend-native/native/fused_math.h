/*
 * Shared by the fused kernels (backend_native.c) and the bottleneck kernel (bottleneck.c): compile-time
 * dispatch macros and branch-free float helpers. Everything here is static inline: each file gets its own copy.
 */
#ifndef ADAPTERS_FUSED_MATH_H
#define ADAPTERS_FUSED_MATH_H

#include <math.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------------------------
 * Fused element-wise kernels (float32). The per-element work lives in small static functions written so that
 * gcc -O3 auto-vectorises them: no branches in the inner loops (selects compile to blends), exp/erf are our own
 * branch-free approximations instead of scalar libm calls, and double reductions use 8 independent
 * accumulators (an in-order `s += ...` chain cannot be vectorised without -fassociative-math).
 *
 * FUSED_FN: on x86-64 glibc builds that are not already compiled for AVX2 (e.g. the plain `cc` fallback of
 * build-native.js) gcc emits an AVX2+FMA clone and a baseline clone, picked at load time (ifunc). fp-contract
 * is enabled only where noted (GELU polynomials), never for AdamW, which mirrors tfjs's float32 op sequence.
 * ------------------------------------------------------------------------------------------------------- */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__AVX2__)
#define FUSED_FN __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FUSED_FN
#endif
#if defined(__GNUC__) && !defined(__clang__)
#define CONTRACT __attribute__((optimize("fp-contract=fast")))
#else
#define CONTRACT
#endif

typedef union {
  float f;
  int32_t i;
} f32_bits;

/*
 * exp(a) for a <= 0 (all our callers pass -x²/2), Cephes expf: a = n·ln2 + r with |r| <= ln2/2, degree-6
 * minimax polynomial for e^r, times 2^n built from the exponent bits. Max relative error ~2 ulp (1.2e-7) on
 * [-87, 0]; a is clamped to -87 (result ~1.6e-38, a normal float) so inputs like x = ±20 stay finite and
 * NaN propagates. Round-to-nearest of a·log2(e) uses the 1.5·2^23 trick (exact for |v| < 2^22, vectorises
 * without SSE4.1).
 */
static inline uint32_t bits_of(float f) {
  f32_bits b;
  b.f = f;
  return (uint32_t)b.i;
}

static inline float float_of(uint32_t u) {
  f32_bits b;
  b.i = (int32_t)u;
  return b.f;
}

/*
 * Selects are done on the bit patterns with integer ops: a float compare-and-select (`a < c ? c : a`) is a
 * possibly trapping operation under gcc's default -ftrapping-math, which blocks if-conversion and thus
 * vectorisation of the whole loop. Integer min/and/or have no such problem.
 */
CONTRACT static inline float exp_nonpos(float a) {
  /* max(a, -87) for a <= 0 (±0 included): as unsigned bits, a < -87 exactly when bits(a) > bits(-87). */
  const uint32_t ua = bits_of(a), lim = 0xC2AE0000u; /* bits of -87.0f */
  a = float_of(ua > lim ? lim : ua);
  const float magic = 12582912.0f;
  const float n = (a * 1.44269504088896341f + magic) - magic;
  float r = a - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * float_of((uint32_t)((int32_t)n + 127) << 23);
}

/*
 * Φ(x) = 0.5·(1 + erf(x/√2)) via Abramowitz–Stegun 7.1.26 on z = |x|/√2:
 *   erfc(z) ≈ t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·exp(-z²),  t = 1/(1 + p·z),  |erf error| <= 1.5e-7,
 * so |Φ error| <= 7.5e-8 (plus float32 rounding, a few 1e-8). The x < 0 side uses Φ = erfc/2 directly (no
 * cancellation for very negative x). `e` is exp(-x²/2) = exp(-z²), shared with GeluGrad's density term.
 */
CONTRACT static inline float phi_from(float x, float e) {
  const float z = fabsf(x) * 0.70710678118654752f;
  const float t = 1.0f / (1.0f + 0.3275911f * z);
  float q = 1.061405429f;
  q = q * t - 1.453152027f;
  q = q * t + 1.421413741f;
  q = q * t - 0.284496736f;
  q = q * t + 0.254829592f;
  const float half_erfc = 0.5f * (q * t) * e;
  /* x < 0 (sign bit set) ? half_erfc : 1 - half_erfc, as a bit blend. */
  const uint32_t neg = (uint32_t)((int32_t)bits_of(x) >> 31);
  return float_of((bits_of(half_erfc) & neg) | (bits_of(1.0f - half_erfc) & ~neg));
}

/*
 * Σ a[j]·b[j] (b may be NULL: Σ a[j]) in double, 8 independent accumulators. Always inlined, so each caller's
 * target clone (and fp-contract setting) applies; the summation order is fixed by the code either way.
 */
static inline __attribute__((always_inline)) double dot_d(const float *restrict a, const float *restrict b, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  if (b) {
    for (; j + 8 <= n; j += 8) {
      for (int l = 0; l < 8; l++) acc[l] += (double)a[j + l] * (double)b[j + l];
    }
  } else {
    for (; j + 8 <= n; j += 8) {
      for (int l = 0; l < 8; l++) acc[l] += (double)a[j + l];
    }
  }
  double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < n; j++) s += b ? (double)a[j] * (double)b[j] : (double)a[j];
  return s;
}

/* Σ (a[j] - c)² in double. */
static inline __attribute__((always_inline)) double sq_dev_d(const float *restrict a, double c, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; l++) {
      const double d = (double)a[j + l] - c;
      acc[l] += d * d;
    }
  }
  double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < n; j++) {
    const double d = (double)a[j] - c;
    s += d * d;
  }
  return s;
}

#endif
