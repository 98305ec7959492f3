// The executor's inference peephole: layerNorm(add(a, b)) runs as one AdaptersAddLayerNorm kernel when the
// backend has it. Checked with the plain-JS reference kernels: same outputs, the kernel really runs, and
// the sum is still computed separately when someone else reads it.
import * as tf from '@tensorflow/tfjs';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { registerReferenceFusedKernels } from '../testing/fused-reference';
import { FUSED_KERNELS } from '../ops/fused';
import { GraphBuilder } from '../graph/builder';
import { evaluate } from '../train/evaluate';
import { Executor } from './executor';
import { WeightStore } from './weights';

const config = { vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16 };
const graph = addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 3 });
const ids = [[1, 5, 9, 2], [1, 7, 3, 2]];

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

describe('add + LayerNorm fusion at inference', () => {
  let store: WeightStore;
  let ex: Executor;
  beforeAll(() => {
    store = WeightStore.create(graph, 4);
    ex = new Executor(graph, store);
  });
  afterAll(() => store.dispose());

  it('gives the same outputs as the unfused graph, and the fused kernel is what runs', async () => {
    const plain = ex.run({ input_ids: ids });
    const unregister = registerReferenceFusedKernels(undefined, [FUSED_KERNELS.addLayerNorm]);
    try {
      const fused = ex.run({ input_ids: ids });
      for (const name of Object.keys(plain)) expect([name, maxDiff(fused[name]!, plain[name]!) < 1e-5]).toEqual([name, true]);
      tf.dispose(Object.values(fused));
      const info = await tf.profile(() => tf.dispose(Object.values(ex.run({ input_ids: ids }))));
      const names = info.kernels.map((k) => k.name);
      // Two residual + LayerNorm pairs per layer (attention, FFN), plus the embeddings' sum + LayerNorm.
      expect(names.filter((n) => n === FUSED_KERNELS.addLayerNorm).length).toBeGreaterThanOrEqual(2 * config.numLayers);
      const before = tf.memory().numTensors;
      tf.dispose(Object.values(ex.run({ input_ids: ids })));
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      unregister();
      tf.dispose(Object.values(plain));
    }
  });

  it('leaves a sum that is also requested (or read by another node) unfused, and training untouched', async () => {
    const unregister = registerReferenceFusedKernels(undefined, [FUSED_KERNELS.addLayerNorm]);
    try {
      const residual = 'encoder.layer.0.output.residual';
      expect(graph.node(residual).op).toBe('add');
      const count = async (nodes: string[]) => (await tf.profile(() => tf.dispose(Object.values(ex.run({ input_ids: ids }, { nodes }))))).kernels.filter((k) => k.name === FUSED_KERNELS.addLayerNorm).length;
      expect(await count([residual])).toBe((await count([])) - 1);
      const out = ex.run({ input_ids: ids }, { nodes: [residual] });
      expect(out[residual]!.shape).toEqual([2, 4, 16]);
      tf.dispose(Object.values(out));
      const info = await tf.profile(() => tf.dispose(Object.values(tf.tidy(() => ex.forward({ input_ids: ids }, { training: true })))));
      expect(info.kernels.map((k) => k.name)).not.toContain(FUSED_KERNELS.addLayerNorm);
    } finally {
      unregister();
    }
  });
});

describe('evaluate()', () => {
  it('runs the inference path (fused kernels), with the same loss and predictions', async () => {
    const store = WeightStore.create(graph, 4);
    const ex = new Executor(graph, store);
    const examples = ids.map((inputIds, i) => ({ inputIds, label: i % 3 }));
    const plain = evaluate(ex, 'task.logits', examples);
    const unregister = registerReferenceFusedKernels(undefined, [FUSED_KERNELS.addLayerNorm]);
    try {
      let fused = plain;
      const info = await tf.profile(() => {
        fused = evaluate(ex, 'task.logits', examples);
      });
      expect(info.kernels.filter((k) => k.name === FUSED_KERNELS.addLayerNorm).length).toBeGreaterThanOrEqual(2 * config.numLayers);
      expect(Math.abs(fused.loss - plain.loss)).toBeLessThan(1e-5);
      expect(fused.accuracy).toBe(plain.accuracy);
    } finally {
      unregister();
      store.dispose();
    }
  });
});

describe('three summands: layerNorm(add(add(a, b), c)) and layerNorm(add(c, add(a, b)))', () => {
  it.each([false, true])('matches the unfused graph and runs one kernel (inner add second: %s)', async (innerSecond) => {
    const b = new GraphBuilder();
    const [x, y, z] = ['x', 'y', 'z'].map((n) => b.input(n, ['batch', 8], 'float32')) as [string, string, string];
    const s = b.scope('t', 'base');
    const inner = s.add('inner', x, y);
    const outer = innerSecond ? s.add('outer', z, inner) : s.add('outer', inner, z);
    b.output('y', s.layerNorm('norm', outer, 1e-5));
    const g = b.build();
    const store = WeightStore.create(g, 2);
    const ex = new Executor(g, store);
    const feeds = { x: tf.randomNormal([3, 8], 0, 1, 'float32', 1), y: tf.randomNormal([3, 8], 0, 1, 'float32', 2), z: tf.randomNormal([3, 8], 0, 1, 'float32', 3) };
    const plain = ex.run(feeds)['y']!;
    const unregister = registerReferenceFusedKernels(undefined, [FUSED_KERNELS.addLayerNorm]);
    try {
      const info = await tf.profile(() => {
        const fused = ex.run(feeds)['y']!;
        // The reference kernel sums in float32 in the graph's order and normalises in float64: close to tfjs's float32 LayerNorm.
        expect(maxDiff(fused, plain)).toBeLessThan(1e-5);
        fused.dispose();
      });
      const names = info.kernels.map((k) => k.name);
      expect(names.filter((n) => n === FUSED_KERNELS.addLayerNorm)).toHaveLength(1);
      expect(names).not.toContain('Add');
    } finally {
      unregister();
      tf.dispose([plain, ...Object.values(feeds)]);
      store.dispose();
    }
  });
});
