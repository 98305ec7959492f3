// MAM and UniPELT as one adapter each: placed, bypassed by name, saved in AdapterHub's union layout (run by pack-check).
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { adapter, applyPlacements, buildEncoder, createRegistry, Executor, saveAdapter, selectBackend, WeightStore } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora } from '@adapters/adapter-lora';
import { prefixTuning } from '@adapters/adapter-prefix';
import { plugins } from '@adapters/adapter-unified';

async function main(): Promise<void> {
  await selectBackend();
  const dir = await mkdtemp(join(tmpdir(), 'mam-'));
  // #region mam
  // The union's components are placed by these plugins, found by name in the registry.
  const registry = createRegistry([bottleneck, lora, prefixTuning, ...plugins]);
  const base = buildEncoder({ vocabSize: 100, hiddenSize: 32, numLayers: 2, numHeads: 4, intermediateSize: 64 });
  // AdapterHub's MAMConfig(): prefix tuning (bottleneck 800) at every self-attention + a scaled parallel FFN adapter
  const { graph, report } = applyPlacements(base, [{ adapter: adapter('union', 'mam', { config: 'mam' }) }], registry);
  const store = WeightStore.create(graph, 42);
  // ... train with core-graph's train({ graph, store, policy: adaptersOnlyPolicy, ... }): every weight is 'adapter:mam' ...
  const adapted = new Executor(graph, store).run({ input_ids: [[2, 5, 7, 3]] });
  const bypassed = new Executor(graph, store).run({ input_ids: [[2, 5, 7, 3]] }, { skipAdapters: ['mam'] }); // the base model
  await saveAdapter(dir, graph, store, 'mam', { registry }); // adapter_config.json: { architecture: "union", configs: [...] }
  // #endregion

  assert.deepEqual([...new Set(report.map((r) => `${r.site.replace(/\d+/, 'N')} ${r.mode}`))], ['layer.N.attention.self after', 'layer.N.ffn parallel']);
  const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as { config: { architecture: string; configs: unknown[] } };
  assert.equal(config.config.architecture, 'union');
  assert.equal(config.config.configs.length, 2);
  assert.deepEqual((adapted['last_hidden_state'] as tf.Tensor).shape, [1, 4, 32]);
  tf.dispose([...Object.values(adapted), ...Object.values(bypassed)]);
  store.dispose();
  await rm(dir, { recursive: true, force: true });
  console.log(`MAM: ${report.length} splices under one adapter name, saved as an AdapterHub union`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
