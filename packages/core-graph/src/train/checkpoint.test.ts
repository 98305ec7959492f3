import * as tf from '@tensorflow/tfjs';
import { Executor } from '../exec/executor';
import { adapterPolicy, fullFineTunePolicy } from '../exec/policy';
import { WeightStore } from '../exec/weights';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { registerReferenceFusedKernels } from '../testing/fused-reference';
import { failForwardOnce } from '../testing/heap-exhaustion';
import { makeBatch, disposeBatch } from './batches';
import type { TrainExample } from './batches';
import { checkpointedForward, layerBoundaries } from './checkpoint';
import { crossEntropy } from './loss';
import { train } from './trainer';

// Checkpointed training against the plain tape: the same weights after several steps, bit for bit (the recomputed
// forward runs the same kernels in the same order, with the same dropout masks), for full fine-tuning and for a
// policy that trains only some parameters, with and without a frozen prefix fed as constants.
const config = { vocabSize: 30, hiddenSize: 16, numLayers: 3, numHeads: 2, intermediateSize: 32, maxPositions: 16, hiddenDropout: 0.1, attentionDropout: 0.1 };
const graph = addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' });

const examples: TrainExample[] = Array.from({ length: 12 }, (_z, i) => ({
  inputIds: [1, ...Array.from({ length: 3 + (i % 5) }, (_y, j) => 6 + ((i * 7 + j * 3) % 20)), 2],
  label: i % 2,
}));

function weightsAfter(checkpointLayers: boolean, policy = fullFineTunePolicy, withConstants = false): Map<string, Float32Array> {
  const store = WeightStore.create(graph, 5);
  const boundary = graph.site('layer.0.output').exit;
  train({
    graph, store, output: 'task.logits', train: examples, policy, maxSteps: 3, batchSize: 6, seed: 11, checkpointLayers,
    ...(withConstants ? {
      skipLayers: () => 1,
      constants: ({ executor, feeds, seed }) => new Map([[boundary, executor.run(feeds, { nodes: [boundary], outputs: [], training: true, seed, skipLayers: 1 })[boundary] as tf.Tensor]]),
    } : {}),
  });
  const out = new Map([...graph.params.keys()].map((k) => [k, store.get(k).dataSync() as Float32Array]));
  store.dispose();
  return out;
}

function expectSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  for (const [k, v] of a) expect([k, Buffer.from(b.get(k)!.buffer).equals(Buffer.from(v.buffer))]).toEqual([k, true]);
}

describe('gradient checkpointing (train option checkpointLayers)', () => {
  it('finds one boundary per layer; Executor.constantsRead names the given values a node needs', () => {
    const bounds = layerBoundaries(graph);
    expect(bounds).toEqual([0, 1, 2].map((i) => graph.site(`layer.${i}.output`).exit));
    const store = WeightStore.create(graph, 5);
    const executor = new Executor(graph, store);
    const given = (ids: readonly string[]) => ({ constants: new Map(ids.map((id) => [id, tf.zeros([1])] as const)) });
    const read = (target: string, ids: readonly string[]) => {
      const options = given(ids);
      const out = [...executor.constantsRead([target], options)];
      tf.dispose([...options.constants.values()]);
      return out;
    };
    // Layer 2 reads layer 1's output only (not layer 0's, which is behind it); a given target reads itself.
    expect(read(bounds[2]!, [bounds[0]!, bounds[1]!])).toEqual([bounds[1]]);
    expect(read(bounds[1]!, [bounds[0]!])).toEqual([bounds[0]]);
    expect(read(bounds[0]!, [bounds[0]!, bounds[2]!])).toEqual([bounds[0]]);
    expect(read(bounds[0]!, [bounds[2]!])).toEqual([]);
    store.dispose();
  });

  it.each([
    ['full fine-tuning', fullFineTunePolicy, false],
    ['LayerNorms and head only', adapterPolicy, false],
    ['with a frozen first layer fed as a constant', fullFineTunePolicy, true],
  ] as const)('%s: the weights after 3 steps equal the non-checkpointed ones bit for bit', (_name, policy, withConstants) => {
    expectSameWeights(weightsAfter(false, policy, withConstants), weightsAfter(true, policy, withConstants));
  });

  it('equals the plain gradient with the fused reference kernels registered too', () => {
    const unregister = registerReferenceFusedKernels();
    try {
      expectSameWeights(weightsAfter(false), weightsAfter(true));
    } finally {
      unregister();
    }
  });

  it('holds fewer bytes at the peak of the step, and leaks none', async () => {
    // Activations well above the weights' size: 4 layers, 8 × 60 tokens.
    const big = addHead(buildEncoder({ ...config, hiddenSize: 32, intermediateSize: 128, numLayers: 4, maxPositions: 64 }), { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' });
    const store = WeightStore.create(big, 5);
    const executor = new Executor(big, store);
    const batch = makeBatch(Array.from({ length: 8 }, (_z, i) => ({ inputIds: Array.from({ length: 60 }, (_y, j) => 3 + ((i + j) % 25)), label: i % 2 })), 0);
    store.applyPolicy(big, fullFineTunePolicy);
    const vars = [...big.params.keys()].map((k) => store.get(k));
    const step = (checkpoint: boolean) => () => {
      const { value, grads } = tf.variableGrads(() => {
        const options = { outputs: ['task.logits'], training: true, seed: 3 };
        const out = checkpoint ? checkpointedForward(executor, batch.feeds, options, () => true) : executor.forward(batch.feeds, options);
        return crossEntropy(out['task.logits']!, batch.labels);
      }, vars);
      tf.dispose([value, ...Object.values(grads)]);
    };
    // tf.profile hands back one shared record, so read each run's numbers before the next. Bytes held after each
    // kernel: the tape's saved activations make the difference.
    const peak = async (f: () => void) => Math.max(...(await tf.profile(f)).kernels.map((k) => k.totalBytesSnapshot));
    const before = tf.memory().numTensors;
    const plain = await peak(step(false));
    const ckpt = await peak(step(true));
    expect(tf.memory().numTensors).toBe(before);
    expect(ckpt).toBeLessThan(plain);
    disposeBatch(batch);
    store.dispose();
  });

  describe("checkpointLayers 'auto' (the default): checkpointing from the step that ran out of wasm heap", () => {
    it('retries that step with checkpointing: the same weights as an uninterrupted run, no leaked tensors', () => {
      const expected = weightsAfter(false);
      const store = WeightStore.create(graph, 5);
      const undo = failForwardOnce(2);
      const before = tf.memory().numTensors;
      let result: ReturnType<typeof train>;
      try {
        result = train({ graph, store, output: 'task.logits', train: examples, policy: fullFineTunePolicy, maxSteps: 3, batchSize: 6, seed: 11 });
      } finally {
        undo();
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(result.checkpointedFrom).toBe(2);
      expect(result.history.filter((r) => r.type === 'step')).toHaveLength(2); // 12 examples, batches of 6, one epoch
      expectSameWeights(expected, new Map([...graph.params.keys()].map((k) => [k, store.get(k).dataSync() as Float32Array])));
      store.dispose();
    });

    it('lets the error through with checkpointLayers false, and when checkpointing already runs', () => {
      for (const checkpointLayers of [false, true]) {
        const store = WeightStore.create(graph, 5);
        const undo = failForwardOnce(Infinity, () => true);
        try {
          expect(() => train({ graph, store, output: 'task.logits', train: examples, policy: fullFineTunePolicy, maxSteps: 2, batchSize: 6, seed: 11, checkpointLayers }))
            .toThrow(expect.objectContaining({ code: 'E_WASM_HEAP' }) as Error);
        } finally {
          undo();
          store.dispose();
        }
      }
    });

    it("lets the error through at once when the graph has nothing to checkpoint (one layer): a retry would compute the same", () => {
      const one = addHead(buildEncoder({ ...config, numLayers: 1 }), { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' });
      const store = WeightStore.create(one, 5);
      const undo = failForwardOnce(Infinity);
      const forward = jest.spyOn(Executor.prototype, 'forward');
      try {
        expect(() => train({ graph: one, store, output: 'task.logits', train: examples, maxSteps: 1, batchSize: 6 })).toThrow(expect.objectContaining({ code: 'E_WASM_HEAP' }) as Error);
        expect(forward).toHaveBeenCalledTimes(1);
      } finally {
        forward.mockRestore();
        undo();
        store.dispose();
      }
    });

    it("rejects a value other than true, false or 'auto', naming the option", () => {
      const store = WeightStore.create(graph, 5);
      expect(() => train({ graph, store, output: 'task.logits', train: examples, maxSteps: 1, checkpointLayers: 'on' as unknown as boolean })).toThrow(/checkpointLayers.*'auto', got "on"/);
      store.dispose();
    });
  });
});
