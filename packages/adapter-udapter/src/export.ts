// One language's generated adapter as a plain bottleneck adapter (AdapterHub layout, `bottleneck` plugin of
// @adapters/adapter-bottleneck): after every layer's output, y = z + up(relu(down(z))) — AdapterHub's
// layer-output adapter with no LayerNorms and scaling 1 — with the weights the generator makes for the typology.
import * as tf from '@tensorflow/tfjs';
import { bottleneck } from '@adapters/adapter-bottleneck';
import type { Graph } from '@adapters/core-graph';
import { adapter, applyPlacements, ConfigError, createRegistry, saveAdapter, WeightStore } from '@adapters/core-graph';
import { generateWeights } from './cpg-op';
import { udapterWidth } from './config';
import type { UdapterParser } from './parser';
import { udapterSharedPrefix } from './plugin';
import { UDAPTER_NAME } from './parser';

/** The bottleneck config equivalent to a generated adapter of this UDapter. */
export function exportedBottleneckConfig(parser: UdapterParser): Record<string, unknown> {
  const c = parser.spec.config;
  return {
    config: 'seq_bn', mh_adapter: false, output_adapter: false, layer_adapter: true, reduction_factor: c.reduction_factor, non_linearity: 'relu',
    original_ln_before: false, original_ln_after: false, residual_before_ln: true, ln_before: false, ln_after: false, scaling: 1, init_weights: 'mam_adapter',
    ...(c.leave_out.length > 0 ? { leave_out: [...c.leave_out] } : {}),
  };
}

/** The language embedding the generator reads for a typology vector. */
export function languageEmbedding(parser: UdapterParser, typology: Float32Array): tf.Tensor2D {
  const p = `${udapterSharedPrefix(UDAPTER_NAME)}language.`;
  const get = (k: string): tf.Tensor => parser.store.get(`${p}${k}`);
  return tf.tidy(() => {
    const h = tf.relu(tf.add(tf.matMul(tf.tensor2d(typology, [1, typology.length]), get('0.weight') as tf.Tensor2D), get('0.bias')));
    return tf.add(tf.matMul(h, get('1.weight') as tf.Tensor2D), get('1.bias')) as tf.Tensor2D;
  });
}

/** A graph with the plain bottleneck adapter `name` on `base` and a store holding the generated weights for `typology`. */
export function generatedBottleneck(parser: UdapterParser, base: Graph, typology: Float32Array, name: string): { graph: Graph; store: WeightStore } {
  const c = parser.spec.config;
  if (!c.generate) throw new ConfigError('config.generate', 'this UDapter has no generator: its one adapter is the same for every language');
  if (typology.length !== c.typology_dim) throw new ConfigError('typology', `has ${typology.length} features, the generator reads ${c.typology_dim}`);
  const registry = createRegistry([bottleneck]);
  const graph = applyPlacements(base, [{ adapter: adapter(bottleneck, name, exportedBottleneckConfig(parser)) }], registry).graph;
  const store = new WeightStore();
  store.sync(graph, 0);
  const e = languageEmbedding(parser, typology);
  try {
    // Generated sites by layer (their keys carry `layer.N.`), matched to the bottleneck's adapter_down/up by layer.
    const generated = parser.adapterKeys().filter((k) => k.endsWith('.down'));
    const mine = [...graph.params.values()].filter((p) => p.owner === `adapter:${name}`);
    for (const downKey of generated) {
      const layer = /layer\.(\d+)\./.exec(downKey)?.[1];
      if (layer === undefined) throw new ConfigError('graph', `cannot tell the layer of ${downKey}`);
      const prefix = downKey.slice(0, -'.down'.length);
      const params = Object.fromEntries(['down', 'down_bias', 'up', 'up_bias'].map((k) => [k, parser.store.get(`${prefix}.${k}`) as tf.Tensor]));
      const d = (params['up_bias'] as tf.Tensor).shape[1] as number;
      const m = udapterWidth(c, d);
      const w = generateWeights(e, params, d, m);
      const find = (suffix: string): string => {
        const hit = mine.find((p) => p.key.includes(`layer.${layer}.`) && p.key.endsWith(suffix));
        if (hit === undefined) throw new ConfigError('graph', `the exported adapter has no ${suffix} in layer ${layer}`);
        return hit.key;
      };
      // Fresh tensors from the values: the store's variables must not share buffers with the generator's outputs.
      const put = (suffix: string, t: tf.Tensor, shape: number[]): void => tf.tidy(() => store.assign(find(suffix), tf.tensor(t.dataSync(), shape)));
      put('adapter_down.0.weight', w.down, [d, m]);
      put('adapter_down.0.bias', w.downBias, [m]);
      put('adapter_up.weight', w.up, [m, d]);
      put('adapter_up.bias', w.upBias, [d]);
      tf.dispose([w.down, w.downBias, w.up, w.upBias]);
    }
  } finally {
    e.dispose();
  }
  return { graph, store };
}

/** Writes one language's generated adapter in AdapterHub's layout (adapter_config.json + weights). */
export async function exportLanguageAdapter(dir: string, parser: UdapterParser, base: Graph, typology: Float32Array, name: string): Promise<void> {
  const { graph, store } = generatedBottleneck(parser, base, typology, name);
  try {
    await saveAdapter(dir, graph, store, name, { registry: createRegistry([bottleneck]) });
  } finally {
    store.dispose();
  }
}
