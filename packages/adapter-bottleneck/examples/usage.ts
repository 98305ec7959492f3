// The README's examples as one program: placements, AdapterDrop per call, schedules, training with a frozen prefix.
import * as tf from '@tensorflow/tfjs';
import {
  addHead, adapter, adapterPolicy, adaptersOnlyPolicy, applyPlacements, buildEncoder, createRegistry, Executor,
  parameterSummary, selectBackend, train, WeightStore, type Feeds, type TrainExample,
} from '@adapters/core-graph';
import {
  adapterDropSchedule, bottleneck, bottleneckRule, computeFrozenPrefix, disposeConstants, frozenPrefixConstants,
} from '@adapters/adapter-bottleneck';

async function main(): Promise<void> {
  await selectBackend();
  // #region placements
  const registry = createRegistry([bottleneck]);
  const encoder = buildEncoder({ numLayers: 12, hiddenSize: 96, numHeads: 4, intermediateSize: 384 });
  const base = addHead(encoder, { type: 'classification', name: 'sst2', numLabels: 2 });

  // Houlsby adapters with m = 96 / 12 = 8, placed where the config says (attention and FFN of every layer, mode wrap).
  const { graph, report } = applyPlacements(base, [bottleneckRule('sst2', 'double_seq_bn', { reduction_factor: 12 })], registry);

  // The same through the registry by name, with a per-layer reduction factor and the top layer left out:
  applyPlacements(base, [{ adapter: adapter('bottleneck', 'pf', { config: 'seq_bn', reduction_factor: { default: 16, '0': 8 }, leave_out: [11] }) }], registry);

  // Parallel adapter, or one placed somewhere else than its default:
  applyPlacements(base, [bottleneckRule('he', 'par_bn')], registry);
  applyPlacements(base, [bottleneckRule('he', 'par_bn', { mh_adapter: true, output_adapter: false }, { select: { kinds: ['attention'] }, mode: 'wrap' })], registry);

  console.log(parameterSummary(graph, adapterPolicy).trainable); // adapters + LayerNorms + head
  const store = WeightStore.create(graph, 0);
  for (const spec of graph.params.values()) store.get(spec.key).trainable = adapterPolicy(spec);
  const executor = new Executor(graph, store);
  // #endregion
  console.log(`${report.length} splices`);

  const feeds: Feeds = { input_ids: [[101, 7, 8, 9, 102], [101, 10, 11, 102, 0]], attention_mask: [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]] };
  tf.tidy(() => {
    // #region skip-layers
    executor.run(feeds, { skipLayers: 5 });        // adapters of layers 0..4 bypassed
    executor.run(feeds, { skipLayers: [0, 3] });   // only these layers
    // #endregion
  });

  const step = 3;
  tf.tidy(() => {
    // #region schedules
    const specialized = adapterDropSchedule({ mode: 'specialized', n: 5 });          // n = 5 in training and inference
    const robust = adapterDropSchedule({ mode: 'robust', numLayers: 12, seed: 1 });  // n ~ U{0..11} per step
    const robust2 = adapterDropSchedule({ mode: 'robust', range: [0, 6], seed: 1 });
    executor.forward(feeds, { training: true, ...robust.runOptions(step) });
    // #endregion
    console.log(`specialized n = ${specialized.at(step)}, robust n = ${robust.at(step)}, robust in [0, 6]: ${robust2.at(step)}`);
  });

  const schedule = adapterDropSchedule({ mode: 'specialized', n: 5 });
  const examples: TrainExample[] = [{ inputIds: [101, 7, 8, 102], label: 1 }, { inputIds: [101, 9, 102], label: 0 }];
  const output = 'sst2.logits';
  // #region train
  train({ graph, store, output, train: examples, policy: adaptersOnlyPolicy,
    skipLayers: (step) => schedule.at(step), constants: frozenPrefixConstants() });
  // #endregion

  const vars = [...graph.params.values()].filter((p) => adaptersOnlyPolicy(p)).map((p) => store.get(p.key));
  const loss = (out: Record<string, tf.Tensor>): tf.Scalar => tf.mean(tf.square(out[output]!));
  // #region by-hand
  const n = schedule.at(step);
  const constants = computeFrozenPrefix(executor, feeds, n, { training: true, seed: step });
  const { value, grads } = tf.variableGrads(() => loss(executor.forward(feeds, { training: true, seed: step, skipLayers: n, constants })), vars);
  disposeConstants(constants);
  // #endregion
  console.log(`loss ${value.dataSync()[0]!.toFixed(4)}, ${Object.keys(grads).length} gradients`);
  tf.dispose([value, ...Object.values(grads)]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
