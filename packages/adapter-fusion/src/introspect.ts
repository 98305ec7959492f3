// Fusion introspection (Pfeiffer et al. 2021, Fig. 5): per fusion layer, the mean softmax weight each adapter
// receives over the real (unpadded) tokens of a dataset, as a markdown table and a heat-map spec (vega-lite; rendered
// to SVG/PNG by `./report`, on the `./cli` entry). The weights are read through the Executor's `nodes` option; the
// model path is unchanged.
import * as tf from '@tensorflow/tfjs';
import type { Graph, TrainExample, WeightStore } from '@adapters/core-graph';
import { ConfigError, disposeBatch, Executor, makeBatch } from '@adapters/core-graph';
import { fusionCatalog } from './plugin';

export interface FusionLayerAttention {
  readonly site: string;
  readonly layer?: number;
  /** The adapters fused at this site, in order. */
  readonly adapters: readonly string[];
  /** Mean softmax weight per adapter (same order); sums to 1. */
  readonly mean: readonly number[];
}

export interface FusionAttention {
  readonly name: string;
  /** All fused adapters (table and plot columns). */
  readonly adapters: readonly string[];
  readonly layers: readonly FusionLayerAttention[];
  /** Tokens averaged over. */
  readonly tokens: number;
}

/**
 * Mean fusion attention per layer and adapter over `examples` (no dropout; padding masked). Only the nodes up to
 * the fusion layers are evaluated, not the heads.
 */
export function fusionAttention(graph: Graph, store: WeightStore, name: string, examples: readonly TrainExample[], options: { batchSize?: number; padId?: number } = {}): FusionAttention {
  const record = fusionCatalog(graph)[name];
  if (!record) throw new ConfigError('fusion', `the graph has no fusion '${name}' (fusions: ${Object.keys(fusionCatalog(graph)).join(', ') || 'none'})`);
  if (examples.length === 0) throw new ConfigError('examples', 'no examples to average over');
  const sites = Object.entries(record.sites).sort(([, a], [, b]) => (a.layer ?? -1) - (b.layer ?? -1));
  const executor = new Executor(graph, store);
  const sums = sites.map(([, s]) => new Float64Array(s.children.length));
  let tokens = 0;
  const batchSize = options.batchSize ?? 32;
  for (let i = 0; i < examples.length; i += batchSize) {
    const batch = makeBatch(examples.slice(i, i + batchSize), options.padId ?? 0);
    const mask = batch.feeds['attention_mask'] as tf.Tensor;
    tokens += tf.tidy(() => tf.sum(mask).dataSync()[0] as number);
    const per = tf.tidy(() => {
      const out = executor.forward(batch.feeds, { outputs: [], nodes: sites.map(([, s]) => s.probs) });
      return sites.map(([, s]) => {
        const p = out[s.probs] as tf.Tensor;
        return tf.sum(tf.mul(p, tf.expandDims(mask, -1)), [0, 1]).dataSync() as Float32Array;
      });
    });
    per.forEach((v, j) => {
      const acc = sums[j] as Float64Array;
      for (let n = 0; n < acc.length; n++) acc[n] = (acc[n] as number) + (v[n] as number);
    });
    disposeBatch(batch);
  }
  const layers = sites.map(([site, s], j): FusionLayerAttention => ({
    site,
    ...(s.layer === undefined ? {} : { layer: s.layer }),
    adapters: s.children,
    mean: Array.from(sums[j] as Float64Array, (x) => x / Math.max(tokens, 1)),
  }));
  return { name, adapters: record.adapters, layers, tokens };
}

const layerLabel = (l: FusionLayerAttention): string => (l.layer === undefined ? l.site : `${l.layer}${l.site.endsWith('.attention') ? ' (attn)' : ''}`);

/** A markdown table: one row per fusion layer, one column per adapter ('–' where an adapter is not fused). */
export function fusionAttentionTable(a: FusionAttention, digits = 3): string {
  const head = `| layer | ${a.adapters.join(' | ')} |`;
  const rule = `|---|${a.adapters.map(() => '---:').join('|')}|`;
  const rows = a.layers.map((l) => {
    const cells = a.adapters.map((name) => {
      const i = l.adapters.indexOf(name);
      return i < 0 ? '–' : (l.mean[i] as number).toFixed(digits);
    });
    return `| ${layerLabel(l)} | ${cells.join(' | ')} |`;
  });
  return [head, rule, ...rows].join('\n') + '\n';
}

/** A vega-lite spec as plain JSON (typed loosely so this entry needs no vega-lite types). */
export type VegaLiteSpec = Readonly<Record<string, unknown>>;

/** The vega-lite spec of the heat map: layers down, adapters across, colour = mean weight in [0, 1]. */
export function fusionHeatmapSpec(a: FusionAttention, options: { title?: string } = {}): VegaLiteSpec {
  const values = a.layers.flatMap((l) => l.adapters.map((adapter, i) => ({ layer: layerLabel(l), adapter, weight: l.mean[i] as number })));
  const cell = 44;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? `AdapterFusion '${a.name}': mean attention per layer`,
    background: 'white',
    padding: 12,
    width: Math.max(cell * a.adapters.length, 120),
    height: cell * a.layers.length,
    data: { values },
    config: { font: 'sans-serif', view: { stroke: null } },
    encoding: {
      x: { field: 'adapter', type: 'nominal', sort: [...a.adapters], title: 'adapter', axis: { labelAngle: 0 } },
      y: { field: 'layer', type: 'ordinal', sort: a.layers.map(layerLabel), title: 'layer' },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'weight', type: 'quantitative', title: 'weight', scale: { domain: [0, 1], scheme: 'blues' } } } },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'weight', type: 'quantitative', format: '.2f' },
          color: { condition: { test: 'datum.weight > 0.6', value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}
