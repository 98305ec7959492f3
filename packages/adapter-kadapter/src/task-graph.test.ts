// The downstream task model: which tensors train under each setting (frozen / fine-tuned base, frozen K-Adapters,
// head alone) and at which rate (--base-lr, --head-lr through train()'s lrScale).
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { train } from '@adapters/core-graph';
import { saveKAdapter } from './hub';
import type { DownstreamPolicyOptions } from './task-graph';
import { buildTaskGraph, downstreamPolicy } from './task-graph';
import { baseStore, SMALL, tinyBase, withKAdapter } from './__tests__/helpers';

// Marker ids 5 (subject) and 7 (object) in every example.
const EXAMPLES = [
  { inputIds: [2, 5, 11, 6, 9, 7, 12, 8, 3], label: 0 },
  { inputIds: [2, 7, 13, 8, 5, 14, 6, 3], label: 1 },
  { inputIds: [2, 10, 5, 15, 6, 7, 16, 8, 20, 3], label: 2 },
  { inputIds: [2, 5, 17, 6, 7, 18, 8, 3], label: 1 },
];
const HEAD = { type: 'relation', name: 'rel', numLabels: 3, subjectMarker: 5, objectMarker: 7, dropout: 0 } as const;

let tmp: string;
let kadapterDir: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kadapter-task-'));
  const graph = withKAdapter(tinyBase(), 'factual', SMALL);
  const { store } = baseStore(graph);
  kadapterDir = path.join(tmp, 'factual');
  await saveKAdapter(kadapterDir, graph, store, 'factual');
  store.dispose();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function trainOnce(o: Omit<DownstreamPolicyOptions, 'lr'> & { kadapters?: boolean }, lr = 1e-2): Promise<{ graph: Graph; before: Map<string, Float32Array>; after: Map<string, Float32Array>; trainable: readonly string[]; store: WeightStore }> {
  const base = tinyBase();
  const { store } = baseStore(base);
  const task = await buildTaskGraph({ graph: base, store, kadapters: o.kadapters === false ? [] : [kadapterDir], mode: 'concat', head: HEAD, seed: 1 });
  const { policy, lrScale } = downstreamPolicy(task, { ...o, lr });
  const keys = [...task.graph.params.keys()];
  const before = new Map([...store.snapshot(keys)].map(([k, v]) => [k, Float32Array.from(v as Float32Array)]));
  // One step at the peak rate (no warm-up): Adam's first update is lr·g/(|g|+ε) per element, so max |Δ| ≈ the rate.
  const result = train({ graph: task.graph, store, output: task.output, train: EXAMPLES, policy, lrScale, learningRate: lr, warmupRatio: 0, maxSteps: 1, batchSize: 4, weightDecay: 0, seed: 3 });
  const after = new Map([...store.snapshot(keys)].map(([k, v]) => [k, Float32Array.from(v as Float32Array)]));
  return { graph: task.graph, before, after, trainable: result.trainableKeys, store };
}

/** Largest |after - before| over the parameters whose owner matches. */
function maxDelta(r: { graph: Graph; before: Map<string, Float32Array>; after: Map<string, Float32Array> }, owner: (o: string) => boolean): number {
  let m = 0;
  for (const p of r.graph.params.values()) {
    if (!owner(p.owner)) continue;
    const a = r.after.get(p.key) as Float32Array;
    const b = r.before.get(p.key) as Float32Array;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  }
  return m;
}

describe('downstream task model', () => {
  it('frozen base (default): base bit for bit; K-Adapter, combination and head move', async () => {
    const r = await trainOnce({});
    expect(maxDelta(r, (o) => o === 'base')).toBe(0);
    for (const owner of ['adapter:factual', 'combine:kadapter', 'head:rel']) expect({ owner, moved: maxDelta(r, (o) => o === owner) > 0 }).toEqual({ owner, moved: true });
    expect(r.trainable.some((k) => r.graph.param(k).owner === 'base')).toBe(false);
    r.store.dispose();
  });

  it('--finetune-base: every base tensor trains, at its own rate; --head-lr sets the head and combination rate', async () => {
    const lr = 1e-2;
    const r = await trainOnce({ finetuneBase: true, baseLr: 1e-4, headLr: 3e-3 }, lr);
    const rate = (owner: string) => maxDelta(r, (o) => o === owner);
    // |Δ| ≤ rate (Adam's first step) and close to it for the largest gradient; 5% slack for float32 rounding of p ± Δ.
    for (const [owner, expected] of [['base', 1e-4], ['adapter:factual', lr], ['combine:kadapter', 3e-3], ['head:rel', 3e-3]] as const) {
      expect({ owner, ok: rate(owner) <= expected * 1.05 && rate(owner) >= expected * 0.9 }).toEqual({ owner, ok: true });
    }
    // Every base tensor is trainable, and every one inside the layers moved, except the attention key biases: q·b_k is
    // the same for every key, softmax ignores it, so their gradient is exactly 0.
    const baseKeys = [...r.graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key);
    expect(baseKeys.every((k) => r.trainable.includes(k))).toBe(true);
    const layerKeys = baseKeys.filter((k) => k.includes('encoder.layer.') && !k.endsWith('attention.self.key.bias'));
    expect(layerKeys.length).toBeGreaterThan(10);
    expect(layerKeys.filter((k) => bitSame(r.before.get(k) as Float32Array, r.after.get(k) as Float32Array))).toEqual([]);
    r.store.dispose();
  });

  it('--freeze-adapters keeps the K-Adapter bit for bit; without K-Adapters only the head trains', async () => {
    const r = await trainOnce({ freezeKAdapters: true });
    expect(maxDelta(r, (o) => o === 'adapter:factual' || o === 'base')).toBe(0);
    expect(maxDelta(r, (o) => o === 'head:rel')).toBeGreaterThan(0);
    r.store.dispose();
    const h = await trainOnce({ kadapters: false });
    expect(h.trainable.every((k) => h.graph.param(k).owner === 'head:rel')).toBe(true);
    expect(maxDelta(h, (o) => o !== 'head:rel')).toBe(0);
    h.store.dispose();
  });
});

const bitSame = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
