import * as tf from '@tensorflow/tfjs';
import { adapter, applyPlacements, createRegistry, ensureModel, Executor } from '@adapters/core-graph';
import { loadPretrainedEncoder } from './pretrained';
import { kadapter } from './plugin';
import { addKnowledgeHead } from './heads';
import { makeBatch, maskedCrossEntropy } from './train';

it('profile', async () => {
  const dir = await ensureModel('all-MiniLM-L6-v2');
  const m = await loadPretrainedEncoder(dir);
  let g = applyPlacements(m.graph, [{ adapter: adapter(kadapter, 'f', { config: 'kadapter_small', adapter_transformer_layers: 1 }) }], createRegistry([kadapter])).graph;
  g = addKnowledgeHead(g, { type: 'relation', name: 'rc', input: 'f.output', numLabels: 5, subjectMarker: 1, objectMarker: 3 });
  m.store.sync(g, 0);
  const ex = Array.from({ length: 16 }, (_v, i) => ({ inputIds: Array.from({ length: 50 }, (_w, j) => (i * 7 + j * 13) % 30000 + 1), label: i % 5 }));
  const batch = makeBatch(ex);
  const exec = new Executor(g, m.store);
  const t0 = Date.now();
  for (let i = 0; i < 3; i++) { const o = exec.run(batch.feeds, { outputs: ['last_hidden_state'] }); await o['last_hidden_state']!.data(); tf.dispose(Object.values(o)); }
  const t1 = Date.now();
  for (let i = 0; i < 3; i++) { const o = exec.run(batch.feeds, { outputs: ['rc.logits'] }); await o['rc.logits']!.data(); tf.dispose(Object.values(o)); }
  const t2 = Date.now();
  m.store.applyPolicy(g, (p) => p.owner !== 'base');
  const vars = [...g.params.values()].filter((p) => p.owner !== 'base').map((p) => m.store.get(p.key));
  for (let i = 0; i < 3; i++) {
    const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(exec.forward(batch.feeds, { outputs: ['rc.logits'], training: true })['rc.logits']!, batch.labels), vars);
    value.dataSync(); tf.dispose([value, ...Object.values(grads)]);
  }
  const t3 = Date.now();
  console.log(`base fwd ${(t1 - t0) / 3} ms; full fwd ${(t2 - t1) / 3} ms; grad step ${(t3 - t2) / 3} ms; backend ${tf.getBackend()}`);
}, 600000);
it('load timing', async () => {
  const t0 = Date.now();
  const dir = await ensureModel('all-MiniLM-L6-v2');
  const t1 = Date.now();
  const m = await loadPretrainedEncoder(dir);
  const t2 = Date.now();
  console.log(`ensure ${t1 - t0} ms; load ${t2 - t1} ms`);
  m.store.dispose();
}, 600000);
