/*
 * Fused multi-head attention at inference (kernel AdaptersAttention), one pass per (batch, head):
 *   scores[i, j] = scale·q_i·k_jᵀ + bias_j,  bias_j = (1 − mask[j])·(−1e9) for sequence keys, 0 for prefix keys
 *   p = softmax_j(scores),  out_i = Σ_j p[i, j]·v_j
 * q, k, v, out: [batch, seq, heads·dh] (head hd is columns [hd·dh, (hd+1)·dh), so no transposes are needed);
 * mask: [batch, seq] or NULL; prefix keys/values pk, pv: [prefix, heads·dh] shared by the batch, prepended to k/v.
 */
#ifndef ADAPTERS_ATTENTION_H
#define ADAPTERS_ATTENTION_H

#include <stdint.h>

typedef struct {
  const float *q, *k, *v;
  const float *mask;       /* NULL: attend everywhere */
  const float *pk, *pv;    /* NULL when prefix == 0 */
  float *out;
  int64_t batch, seq, heads, dh, prefix;
  float scale;
} attention_args;

/* Splits the (batch, head) pairs over up to `threads` threads. Returns 0 when scratch memory cannot be had. */
int attention_run(const attention_args *args, int threads);

/* Whether the v16 (AVX-512) block shapes run here; ADAPTERS_ATTENTION_NARROW=1 forces the narrower ones. */
int attention_wide_vectors(void);

/* Overrides the choice for this process: 1 wide, 0 narrow, -1 back to the CPU/env choice (the addon's setPanelWidth;
 * tests use it: an environment variable set from JS under Jest never reaches getenv). */
void attention_force_width(int wide);

#endif
