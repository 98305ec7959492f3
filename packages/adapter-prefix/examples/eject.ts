// Prefix tuning with AdapterHub's defaults, ejected to a flat prefix for inference (run by pack-check).
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { adapter, applyPlacements, buildEncoder, createRegistry, Executor, selectBackend, WeightStore } from '@adapters/core-graph';
import { ejectPrefix, prefixTuning } from '@adapters/adapter-prefix';

async function main(): Promise<void> {
  await selectBackend();
  // #region eject
  const registry = createRegistry([prefixTuning]);
  const base = buildEncoder({ vocabSize: 100, hiddenSize: 32, numLayers: 2, numHeads: 4, intermediateSize: 64 });
  // AdapterHub's PrefixTuningConfig(): 30 key/value rows per layer from an MLP (bottleneck 512, tanh)
  const { graph, report } = applyPlacements(base, [{ adapter: adapter('prefix_tuning', 'task') }], registry);
  const store = WeightStore.create(graph, 42);
  // ... train with core-graph's train({ graph, store, policy: adaptersOnlyPolicy, ... }) ...
  const flat = ejectPrefix(graph, store, 'task'); // the MLP's output stored as the prefix: no MLP at inference
  const out = new Executor(flat, store).run({ input_ids: [[2, 5, 7, 3]] });
  // #endregion

  assert.deepEqual(report.map((r) => r.site), ['layer.0.attention.self', 'layer.1.attention.self']);
  assert.deepEqual((out['last_hidden_state'] as tf.Tensor).shape, [1, 4, 32]);
  tf.dispose(Object.values(out));
  store.dispose();
  console.log(`prefix tuning on ${report.length} layers, ejected to a flat prefix`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
