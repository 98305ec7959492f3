/*
 * Multi-head attention for training (kernels AdaptersAttentionTrain / AdaptersAttentionGrad), one pass per
 * (batch, head), no prefix:
 *   forward:  p = softmax_j(scale·q_i·k_jᵀ + bias_j), bias_j = (1 − mask[j])·(−1e9);  out_i = Σ_j (p[i, j]·m[i, j])·v_j
 *             and the probabilities p themselves ([batch, heads, seq, seq], before dropout) for the backward pass;
 *   backward: with pd = p·m, dpd_ij = dy_i·v_jᵀ, dp = dpd·m, ds_ij = scale·p_ij·(dp_ij − Σ_l dp_il·p_il):
 *             dv_j = Σ_i pd_ij·dy_i,  dq_i = Σ_j ds_ij·k_j,  dk_j = Σ_i ds_ij·q_i.
 * m is the inverted-dropout mask of @adapters/core-graph's dropout-mask.ts over the [batch, heads, seq, seq] index
 * space (0 or 1/(1 − rate); all ones when rate is 0), recomputed from its keys instead of stored.
 * q, k, v, out, dy, dq, dk, dv: [batch, seq, heads·dh] (head hd is columns [hd·dh, (hd+1)·dh)); mask [batch, seq] or NULL.
 */
#ifndef ADAPTERS_ATTENTION_TRAIN_H
#define ADAPTERS_ATTENTION_TRAIN_H

#include <stdint.h>

typedef struct {
  uint32_t k1, k2;
  uint64_t threshold; /* keep when hash < threshold; > 0xffffffff keeps everything (rate 0) */
  float keep_scale;   /* 1/(1 − rate) rounded to float32 */
} dropout_keys;

typedef struct {
  const float *q, *k, *v, *mask;
  float *out, *probs;
  int64_t batch, seq, heads, dh;
  float scale;
  dropout_keys drop;
} attention_train_args;

typedef struct {
  const float *dy, *q, *k, *v, *probs;
  float *dq, *dk, *dv;
  int64_t batch, seq, heads, dh;
  float scale;
  dropout_keys drop;
} attention_grad_args;

/* Both split the (batch, head) pairs over up to `threads` threads; 0 when scratch memory cannot be had. */
int attention_train_run(const attention_train_args *args, int threads);
int attention_grad_run(const attention_grad_args *args, int threads);

#endif
