// The bottleneck lowering (fused.ts, in the runtime through bottleneckPackage): with an AdaptersBottleneck kernel
// on the backend (here the plain-JS float64 reference), the matched subgraph runs as that one kernel and gives the
// same outputs as the nodes one by one; anything that breaks the pattern leaves the graph evaluated as written.
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import type { Activation, Graph } from '@adapters/core-graph';
import { createRuntime, Executor as CoreExecutor, FUSED_KERNELS, GraphBuilder, WeightStore } from '@adapters/core-graph';
import { registerReferenceFusedKernels } from '@adapters/core-graph/testing';
import { bottleneckPackage } from './index';

const runtime = createRuntime([bottleneckPackage]);
/** The executor with this package's lowering. */
class Executor extends CoreExecutor {
  constructor(graph: Graph, store: WeightStore) {
    super(graph, store, { runtime });
  }
}

interface Shape {
  readonly width: number;
  readonly bottleneck: number;
  readonly activation: Activation;
  /** Pfeiffer (LayerNorm(h + x) feeds the adapter) or Houlsby (h does). */
  readonly pre: boolean;
  readonly scale: number;
  /** Operand order of the residual adds (the match must not depend on it). */
  readonly swapInner: boolean;
  readonly swapOuter: boolean;
  readonly layers: number;
}

/** A stack of `layers` sublayers h = dense(x) with the adapter pattern adapter-bottleneck builds in mode 'wrap'. */
function adapted(s: Shape): Graph {
  const b = new GraphBuilder();
  let x = b.input('x', ['batch', 'seq', s.width], 'float32');
  for (let l = 0; l < s.layers; l++) {
    const sc = b.scope(`layer.${l}`, 'base', l);
    const h = sc.dense('sublayer', x, s.width);
    const norm = b.node(sc.layerNorm('base_norm', sc.add('base_residual', h, x), 1e-12)).params as { weight: string; bias: string };
    const a = s.pre ? sc.layerNorm('pre_norm', sc.add('pre_residual', h, x), 1e-12, norm) : h;
    const ad = b.scope(`layer.${l}.adapter`, 'adapter:a', l);
    const up = ad.dense('up', ad.act(s.activation, 'act', ad.dense('down', a, s.bottleneck)), s.width);
    const scaled = s.scale === 1 ? up : ad.op('scale', 'scaling', [up], { attrs: { factor: s.scale } });
    const inner = s.swapInner ? ad.add('residual', h, scaled) : ad.add('residual', scaled, h);
    const outer = s.swapOuter ? ad.add('post_residual', x, inner) : ad.add('post_residual', inner, x);
    x = ad.layerNorm('post_norm', outer, 1e-12, norm);
  }
  b.output('out', x);
  return b.build();
}

const shapeArb: fc.Arbitrary<Shape> = fc.record({
  // Width ≥ 4: a LayerNorm over 2 values maps them to ±1 and amplifies rounding without bound as they meet.
  width: fc.integer({ min: 4, max: 20 }),
  bottleneck: fc.integer({ min: 1, max: 9 }),
  activation: fc.constantFrom<Activation>('relu', 'swish', 'gelu', 'identity'),
  pre: fc.boolean(),
  scale: fc.constantFrom(1, 0.5, 2),
  swapInner: fc.boolean(),
  swapOuter: fc.boolean(),
  layers: fc.integer({ min: 1, max: 3 }),
});

const PFEIFFER: Shape = { width: 8, bottleneck: 3, activation: 'relu', pre: true, scale: 1, swapInner: false, swapOuter: false, layers: 2 };

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

async function bottleneckCalls(run: () => void): Promise<number> {
  return (await tf.profile(run)).kernels.filter((k) => k.name === FUSED_KERNELS.bottleneck).length;
}

describe('bottleneck adapter fusion at inference', () => {
  const feedsFor = (width: number, seed: number) => ({ x: tf.randomNormal([2, 3, width], 0, 1, 'float32', seed) });

  it('runs one kernel per adapter and gives the outputs of the unfused graph (fast-check over shapes, activations, operand orders)', async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb, fc.integer({ min: 1, max: 1000 }), async (s, seed) => {
        const g = adapted(s);
        const store = WeightStore.create(g, seed);
        const ex = new Executor(g, store);
        const feeds = feedsFor(s.width, seed);
        const plain = ex.run(feeds)['out'] as tf.Tensor;
        const unregister = registerReferenceFusedKernels(undefined, [FUSED_KERNELS.bottleneck]);
        try {
          const fused = ex.run(feeds)['out'] as tf.Tensor;
          // The reference kernel computes in float64, the nodes in float32: LayerNorm-ed outputs agree to float32
          // rounding times the rows' rstd (~1e-6 typically; 5e-5 allows a poorly spread row).
          expect(maxDiff(fused, plain)).toBeLessThan(5e-5);
          fused.dispose();
          expect(await bottleneckCalls(() => tf.dispose(Object.values(ex.run(feeds))))).toBe(s.layers);
          const before = tf.memory().numTensors;
          tf.dispose(Object.values(ex.run(feeds)));
          expect(tf.memory().numTensors).toBe(before);
        } finally {
          unregister();
          tf.dispose([plain, feeds.x]);
          store.dispose();
        }
      }),
      { numRuns: 40, seed: 4242 },
    );
  });

  it('leaves the adapter unfused when an intermediate is requested, under a possible gradient tape (forward), and for activations outside the kernel', async () => {
    const unregister = registerReferenceFusedKernels(undefined, [FUSED_KERNELS.bottleneck]);
    const g = adapted(PFEIFFER);
    const store = WeightStore.create(g, 3);
    const ex = new Executor(g, store);
    const feeds = feedsFor(PFEIFFER.width, 5);
    try {
      expect(await bottleneckCalls(() => tf.dispose(Object.values(ex.run(feeds))))).toBe(2);
      // Someone reads layer 0's down-projection: that layer's adapter must run node by node (and the value is there).
      const down = 'layer.0.adapter.down';
      expect(await bottleneckCalls(() => tf.dispose(Object.values(ex.run(feeds, { nodes: [down] }))))).toBe(1);
      const withDown = ex.run(feeds, { nodes: [down] });
      expect(withDown[down]!.shape).toEqual([2, 3, PFEIFFER.bottleneck]);
      tf.dispose(Object.values(withDown));
      // run() keeps no gradient tape, so it fuses with dropout on too (a frozen prefix before a training step);
      // forward() may be under a tape and never fuses.
      expect(await bottleneckCalls(() => tf.dispose(Object.values(ex.run(feeds, { training: true }))))).toBe(2);
      expect(await bottleneckCalls(() => tf.dispose(Object.values(tf.tidy(() => ex.forward(feeds, { training: true })))))).toBe(0);
      expect(await bottleneckCalls(() => tf.dispose(Object.values(tf.tidy(() => ex.forward(feeds)))))).toBe(0);
      const tanh = adapted({ ...PFEIFFER, activation: 'tanh' });
      const tanhStore = WeightStore.create(tanh, 3);
      expect(await bottleneckCalls(() => tf.dispose(Object.values(new Executor(tanh, tanhStore).run(feeds))))).toBe(0);
      tanhStore.dispose();
    } finally {
      unregister();
      store.dispose();
      feeds.x.dispose();
    }
  });

  it('falls back to the nodes when the pre-LayerNorm reads something other than h + x', async () => {
    // a = LayerNorm(h + h): same ops, wrong operands; the match must not take it for the adapter's input.
    const b = new GraphBuilder();
    const x = b.input('x', ['batch', 'seq', 6], 'float32');
    const sc = b.scope('l', 'base', 0);
    const h = sc.dense('sublayer', x, 6);
    const a = sc.layerNorm('pre_norm', sc.add('pre_residual', h, h), 1e-12);
    const up = sc.dense('up', sc.act('relu', 'act', sc.dense('down', a, 2)), 6);
    b.output('out', sc.layerNorm('post_norm', sc.add('post_residual', sc.add('residual', up, h), x), 1e-12));
    const g = b.build();
    const store = WeightStore.create(g, 9);
    const ex = new Executor(g, store);
    const feeds = feedsFor(6, 11);
    const plain = ex.run(feeds)['out'] as tf.Tensor;
    const unregister = registerReferenceFusedKernels(undefined, [FUSED_KERNELS.bottleneck]);
    try {
      expect(await bottleneckCalls(() => tf.dispose(Object.values(ex.run(feeds))))).toBe(0);
      const again = ex.run(feeds)['out'] as tf.Tensor;
      expect(maxDiff(again, plain)).toBe(0);
      again.dispose();
    } finally {
      unregister();
      tf.dispose([plain, feeds.x]);
      store.dispose();
    }
  });
});
