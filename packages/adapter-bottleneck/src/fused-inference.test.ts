// At inference, core-graph runs each sequential bottleneck adapter this plugin builds in mode 'wrap' (with its
// residuals and the span's LayerNorm) as one AdaptersBottleneck kernel when the backend has it. Checked with
// core-graph's float64 reference kernel: which presets fuse (and how many splices), and same outputs.
import * as tf from '@tensorflow/tfjs';
import { Executor, FUSED_KERNELS, hasFusedKernel, selectBackend } from '@adapters/core-graph';
import { registerReferenceFusedKernels } from '@adapters/core-graph/testing';
import { bottleneckRule } from './plugin';
import { adapted, baseStore, FEEDS, maxAbsDiff, randomizeAdapter, run, tinyBase } from './__tests__/helpers';

const base = tinyBase();
const LAYERS = 3;

// seq_bn (Pfeiffer: LN(h + x) feeds the adapter) and double_seq_bn (Houlsby: h does, swish, at attention and
// FFN) match; the parallel adapters, bapna_firat (mode 'after') and ln_after configs have another shape.
const CASES: readonly [string, Record<string, unknown>, number][] = [
  ['seq_bn', {}, LAYERS],
  ['double_seq_bn', {}, 2 * LAYERS],
  ['seq_bn', { non_linearity: 'gelu', scaling: 0.5 }, LAYERS],
  ['seq_bn', { leave_out: [1] }, LAYERS - 1],
  ['seq_bn', { non_linearity: 'tanh' }, 0],
  ['seq_bn', { ln_after: true }, 0],
  ['par_bn', {}, 0],
  ['bapna_firat', {}, 0],
];

describe('fused bottleneck inference', () => {
  test.each(CASES)('%s %j: %i fused splices, same outputs as node by node', async (preset, overrides, expected) => {
    const graph = adapted(base, [bottleneckRule('a', preset, overrides)]);
    const { store } = baseStore(graph, 9);
    randomizeAdapter(graph, store, 'a', 4);
    const plain = run(graph, store);
    const unregister = registerReferenceFusedKernels(undefined, [FUSED_KERNELS.bottleneck]);
    try {
      const fused = run(graph, store);
      // float64 kernel vs float32 nodes, after LayerNorm: agreement to float32 rounding.
      expect(maxAbsDiff(fused, plain)).toBeLessThan(1e-5);
      const ex = new Executor(graph, store);
      const info = await tf.profile(() => tf.dispose(Object.values(ex.run(FEEDS))));
      expect(info.kernels.filter((k) => k.name === FUSED_KERNELS.bottleneck)).toHaveLength(expected);
    } finally {
      unregister();
      store.dispose();
    }
  });
});

// Last in this file: it switches this file's tfjs to wasm (with @adapters/backend-native's kernels when built).
describe('with the native kernel (when @adapters/backend-native is built)', () => {
  test('seq_bn: the native AdaptersBottleneck equals node-by-node evaluation on the same backend', async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    if (!hasFusedKernel(FUSED_KERNELS.bottleneck)) return console.log('skipping: no native AdaptersBottleneck on this backend');
    const graph = adapted(base, [bottleneckRule('a', 'seq_bn')]);
    const { store } = baseStore(graph, 9);
    randomizeAdapter(graph, store, 'a', 4);
    try {
      // Asking for each adapter's down-projection breaks the pattern: the same graph runs node by node.
      const downs = graph.nodes.map((n) => n.id).filter((id) => id.endsWith('.adapter_down.0'));
      expect(downs).toHaveLength(LAYERS);
      const ex = new Executor(graph, store);
      const nodeByNode = ex.run(FEEDS, { nodes: downs });
      const fused = ex.run(FEEDS);
      // Both float32; the kernel's FMA products and double LayerNorm statistics differ from tfjs's in rounding only.
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(fused['last_hidden_state']!, nodeByNode['last_hidden_state']!))).dataSync()[0]!);
      expect(diff).toBeLessThan(1e-5);
      tf.dispose([...Object.values(nodeByNode), ...Object.values(fused)]);
      const info = await tf.profile(() => tf.dispose(Object.values(ex.run(FEEDS))));
      expect(info.kernels.filter((k) => k.name === FUSED_KERNELS.bottleneck)).toHaveLength(LAYERS);
    } finally {
      store.dispose();
    }
  });
});
