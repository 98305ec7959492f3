// LoRA on query and value, merged into the base weights for inference and unmerged back (run by pack-check).
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { adapter, applyPlacements, buildEncoder, createRegistry, Executor, selectBackend, WeightStore } from '@adapters/core-graph';
import { lora, mergeLora, unmergeLora } from '@adapters/adapter-lora';

async function main(): Promise<void> {
  await selectBackend();
  // #region merge
  const registry = createRegistry([lora]);
  const base = buildEncoder({ vocabSize: 100, hiddenSize: 32, numLayers: 2, numHeads: 4, intermediateSize: 64 });
  // AdapterHub's LoRAConfig(r=8, alpha=16): query and value of every layer; PEFT-style: { target_modules: ['query', 'value'] }
  const { graph, report } = applyPlacements(base, [{ adapter: adapter('lora', 'task', { r: 8, alpha: 16 }) }], registry);
  const store = WeightStore.create(graph, 42);
  // ... train with core-graph's train({ graph, store, policy: adaptersOnlyPolicy, ... }) ...
  const merged = mergeLora(graph, store); // W += (alpha/r)·A·B in every adapted layer; merged.graph is the base graph
  const out = new Executor(merged.graph, store).run({ input_ids: [[2, 5, 7, 3]] });
  const adapted = unmergeLora(merged, store); // W back to within two float32 roundings; returns `graph`
  // #endregion

  assert.deepEqual(report.map((r) => r.site), ['layer.0.attention.self.query', 'layer.0.attention.self.value', 'layer.1.attention.self.query', 'layer.1.attention.self.value']);
  assert.deepEqual(merged.graph.nodes, base.nodes);
  assert.equal(adapted, graph);
  assert.deepEqual((out['last_hidden_state'] as tf.Tensor).shape, [1, 4, 32]);
  tf.dispose(Object.values(out));
  store.dispose();
  console.log(`merged and unmerged ${report.length} LoRA layers`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
