// Compacter and Compacter++ placed on a BERT encoder, parameter share, one forward pass (run by pack-check).
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { addHead, adapterPolicy, applyPlacements, buildEncoder, createRegistry, Executor, parameterSummary, selectBackend, WeightStore } from '@adapters/core-graph';
import { compacter, compacterRule, plugins } from '@adapters/adapter-compacter';

async function main(): Promise<void> {
  await selectBackend();
  // #region usage
  const registry = createRegistry(plugins); // or [...bottleneckPlugins, ...plugins]
  const base = addHead(buildEncoder({ numLayers: 12 }), { type: 'classification', name: 'sst2', numLabels: 2 });

  // Compacter: Houlsby placement (after attention and after the FFN), n = 4, reduction 32, shared rules.
  const { graph } = applyPlacements(base, [compacterRule('sst2', 'compacter')], registry);
  // Compacter++ (FFN only, Pfeiffer placement), 8 summands, rank 2, computing x·H through the factors:
  const pp = applyPlacements(base, [compacterRule('pp', 'compacter++', { phm_dim: 8, phm_rank: 2, phm_strategy: 'factors' })], registry);
  // By name through the registry, like any plugin:
  //   adapter('compacter', 'sst2', { config: 'compacter++', reduction_factor: 16 })

  console.log(parameterSummary(graph, adapterPolicy).trainablePercentOfBase);
  const store = WeightStore.create(graph, 0);
  const out = new Executor(graph, store).run({ input_ids: [[101, 2023, 102]] });
  // #endregion

  assert.equal(compacter.name, 'compacter');
  assert.equal(pp.report.length, 12); // one FFN site per layer
  assert.ok(parameterSummary(graph, adapterPolicy).trainablePercentOfBase < 1);
  assert.deepEqual((out['sst2.logits'] as tf.Tensor).shape, [1, 2]);
  tf.dispose(Object.values(out));
  store.dispose();
  console.log('compacter and compacter++ placed');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
