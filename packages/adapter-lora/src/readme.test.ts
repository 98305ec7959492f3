// The README's example, run as written: the code between the markers is the README's ts block, character for character
// (with the package's own name where this file, inside the package, imports './index').
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

const EXAMPLE_START = '  // README:begin';
const EXAMPLE_END = '  // README:end';

test('the README example is this file, and it runs', async () => {
  // README:begin
  const { adapter, applyPlacements, buildEncoder, createRegistry, Executor, WeightStore } = await import('@adapters/core-graph');
  const { lora, mergeLora, unmergeLora } = await import('./index');

  const registry = createRegistry([lora]);
  const base = buildEncoder({ vocabSize: 100, hiddenSize: 32, numLayers: 2, numHeads: 4, intermediateSize: 64 });
  // AdapterHub's LoRAConfig(r=8, alpha=16): query and value of every layer; PEFT-style: { target_modules: ['query', 'value'] }
  const { graph, report } = applyPlacements(base, [{ adapter: adapter('lora', 'task', { r: 8, alpha: 16 }) }], registry);
  const store = WeightStore.create(graph, 42);
  // ... train with core-graph's train({ graph, store, policy: adaptersOnlyPolicy, ... }) ...
  const merged = mergeLora(graph, store); // W += (alpha/r)·A·B in every adapted layer; merged.graph is the base graph
  const out = new Executor(merged.graph, store).run({ input_ids: [[2, 5, 7, 3]] });
  const adapted = unmergeLora(merged, store); // W back to within two float32 roundings; returns `graph`
  // README:end

  expect(report.map((r) => r.site)).toEqual(['layer.0.attention.self.query', 'layer.0.attention.self.value', 'layer.1.attention.self.query', 'layer.1.attention.self.value']);
  expect(merged.graph.nodes).toEqual(base.nodes);
  expect(adapted).toBe(graph);
  expect((out['last_hidden_state'] as tf.Tensor).shape).toEqual([1, 4, 32]);
  tf.dispose(Object.values(out));
  store.dispose();

  const source = readFileSync(__filename, 'utf8');
  const region = source.slice(source.lastIndexOf(EXAMPLE_START) + EXAMPLE_START.length, source.lastIndexOf(EXAMPLE_END)).split('\n').slice(1, -1).map((l) => l.slice(2).replace("import('./index')", "import('@adapters/adapter-lora')"));
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]?.trimEnd().split('\n');
  expect(block).toEqual(region);
});
