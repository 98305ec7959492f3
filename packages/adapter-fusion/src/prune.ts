// Fusion pruning (AdapterDrop, Rücklé et al. 2021, Sec. 5): keep only the k adapters per fusion layer that
// receive the most attention on a dataset, and drop the fusion (and its adapters) from the first n layers.
// The result is a FusionSpec with per-site `layers`; Q, K and V are d×d whatever the number of fused adapters,
// so the pruned graph reads the trained weights under the same keys.
import { ConfigError } from '@adapters/core-graph';
import type { FusionAttention } from './introspect';
import type { FusionSpec } from './model';
import { fusionNameOf } from './model';

export interface FusionPruneOptions {
  /** Keep the k adapters with the highest mean attention in each layer (ties: the earlier adapter). Default: all. */
  readonly topK?: number;
  /** Remove the fusion layers (with their adapters) of layers 0..n-1. Default 0. */
  readonly dropFirst?: number;
}

/** The k names with the highest mean weight, in their original order. */
export function topAdapters(adapters: readonly string[], mean: readonly number[], k: number): string[] {
  const ranked = adapters.map((name, i) => ({ name, i, w: mean[i] as number })).sort((a, b) => b.w - a.w || a.i - b.i);
  const keep = new Set(ranked.slice(0, k).map((r) => r.name));
  return adapters.filter((a) => keep.has(a));
}

/**
 * A pruned copy of `spec` from measured attention (see `fusionAttention`): per site the top-k adapters, and no
 * fusion below layer `dropFirst`. Sites without a layer index (e.g. embeddings) are kept unless pruned by top-k.
 */
export function pruneFusion(spec: FusionSpec, attention: FusionAttention, options: FusionPruneOptions): FusionSpec {
  if (attention.name !== fusionNameOf(spec)) throw new ConfigError('attention', `was measured for fusion '${attention.name}', the spec is '${fusionNameOf(spec)}'`);
  const k = options.topK ?? Infinity;
  const n = options.dropFirst ?? 0;
  if (!(k >= 1)) throw new ConfigError('topK', `must be >= 1, got ${k}`);
  if (!(Number.isInteger(n) && n >= 0)) throw new ConfigError('dropFirst', `must be a non-negative integer, got ${n}`);
  const layers: Record<string, string[]> = {};
  for (const l of attention.layers) {
    if (l.layer !== undefined && l.layer < n) continue;
    layers[l.site] = topAdapters(l.adapters, l.mean, k);
  }
  if (Object.keys(layers).length === 0) throw new ConfigError('dropFirst', `drops every fusion layer (${attention.layers.length})`);
  return { ...spec, layers };
}
