import * as tf from '@tensorflow/tfjs';
import { buildEncoder } from './model/encoder';
import { addHead } from './model/heads';
import { WeightStore } from './exec/weights';
import { Executor } from './exec/executor';
import { defineAdapter } from './plugin/define-adapter';
import { createRegistry } from './plugin/registry';
import { applyPlacements } from './rewrite/apply-placements';
import { adapter, Stack, Parallel, Average, BatchSplit } from './rewrite/composition';

const lin = defineAdapter<{ size: number }>({
  name: 'lin', description: 'toy', modes: ['after', 'before', 'parallel', 'wrap', 'tap'], defaults: { size: 4 },
  schema: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } }, additionalProperties: false },
  defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
  build(ctx) {
    const down = ctx.scope.dense('down', ctx.input, ctx.config.size);
    const up = ctx.scope.dense('up', ctx.scope.act('relu', 'act', down), ctx.width);
    if (ctx.mode === 'tap') return { output: up, outputs: { out: ctx.scope.op('sum', 'all', [...(ctx.taps ?? [])]) } };
    return { output: ctx.scope.add('res', up, ctx.input), up };
  },
});

test('smoke', () => {
  const base = addHead(buildEncoder({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 20 }), { type: 'classification', name: 'cls', numLabels: 3 });
  const reg = createRegistry([lin]);
  for (const rules of [
    [{ adapter: adapter('lin', 'a') }],
    [{ adapter: Stack(adapter('lin', 'a'), adapter('lin', 'b')) }],
    [{ adapter: Parallel(adapter('lin', 'a'), adapter('lin', 'b')), mode: 'after' as const, select: { kinds: ['output'] } }],
    [{ adapter: Average(undefined, adapter('lin', 'a'), adapter('lin', 'b')), mode: 'parallel' as const, select: { glob: 'layer.*.attention' } }],
    [{ adapter: BatchSplit([1, 1], adapter('lin', 'a'), adapter('lin', 'b')), mode: 'before' as const, select: { names: 'ffn', suffix: true } }],
    [{ adapter: adapter('lin', 'k'), mode: 'tap' as const, select: { kinds: ['output'] } }],
  ]) {
    const { graph: g, report } = applyPlacements(base, rules, reg);
    const w = WeightStore.create(g, 1);
    const ex = new Executor(g, w);
    const before = tf.memory().numTensors;
    const out = ex.run({ input_ids: [[1, 2, 3], [4, 5, 6]] });
    const out2 = ex.run({ input_ids: [[1, 2, 3], [4, 5, 6]] }, { skipLayers: 2 });
    const b0 = new Executor(base, w).run({ input_ids: [[1, 2, 3], [4, 5, 6]] });
    console.log(report.map((r) => `${r.site}:${r.mode}:${r.composition}:${r.params}`).join(' '), Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.shape])),
      tf.max(tf.abs(tf.sub(out2['last_hidden_state']!.slice(0, 2), b0['last_hidden_state']!))).dataSync()[0], tf.max(tf.abs(tf.sub(out['last_hidden_state']!.slice(0, 2), b0['last_hidden_state']!))).dataSync()[0]);
    [...Object.values(out), ...Object.values(out2), ...Object.values(b0)].forEach((t) => t.dispose());
    void before;
  }
});
