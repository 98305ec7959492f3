/*
 * The fused sequential bottleneck adapter at inference (kernel AdaptersBottleneck), in one pass over the rows:
 *   a = pre ? LayerNorm(h + x; pre_gamma, pre_beta, pre_eps) : h
 *   y = LayerNorm(((act(a·Wd + bd)·Wu + bu)·scale + h) + x; gamma, beta, eps)
 * h, x, y: [rows, w]; Wd [w, m]; bd [m]; Wu [m, w]; bu, gamma, beta, pre_*: [w]. LayerNorm statistics are
 * accumulated in double (as addLayerNorm); the products in float32 with fused multiply-adds.
 */
#ifndef ADAPTERS_BOTTLENECK_H
#define ADAPTERS_BOTTLENECK_H

#include <stdint.h>

enum { BN_ACT_IDENTITY = 0, BN_ACT_RELU = 1, BN_ACT_SWISH = 2, BN_ACT_GELU = 3 };

typedef struct {
  const float *h, *x, *wd, *bd, *wu, *bu, *gamma, *beta;
  const float *pre_gamma, *pre_beta; /* both NULL: no pre-LayerNorm (a = h) */
  float *y;
  int64_t rows, w, m;
  double eps, pre_eps;
  int act;
  float scale;
} bottleneck_args;

/* Splits the rows over up to `threads` threads (the caller's included). Returns 0 when scratch memory cannot be had. */
int bottleneck_run(const bottleneck_args *args, int threads);

#endif
