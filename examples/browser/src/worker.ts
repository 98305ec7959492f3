// Trains a new adapter (Pfeiffer seq_bn + a classification head) on the base model for a few steps and posts each
// step's loss; the page plots them. The base stays frozen; only the adapter and the head train.
import { adapter, addHead, adaptersOnlyPolicy, applyPlacements, train, type TrainExample } from '@adapters/core-graph';
import { type BackendName, loadBase, registry, siteIndex, startBackend } from './lib';

interface Request { backend: BackendName; steps: number; root: string; cache: boolean }

self.onmessage = async (e: MessageEvent<Request>) => {
  const { backend, steps, root, cache } = e.data;
  try {
    const t0 = performance.now();
    await startBackend(backend, root);
    const base = await loadBase(root, await siteIndex(root), cache);
    const data = (await (await fetch(new URL('train.json', root))).json()) as { examples: Array<{ text: string; label: number }> };
    const examples: TrainExample[] = data.examples.map((x) => ({ inputIds: base.tokenizer.encode(x.text, undefined, { maxLength: base.maxLength }).inputIds, label: x.label }));
    const withHead = addHead(base.pretrained.graph, { type: 'classification', name: 'new_task', numLabels: 2, pooling: 'mean' });
    const { graph } = applyPlacements(withHead, [{ adapter: adapter('bottleneck', 'new_task', { config: 'seq_bn' }) }], registry);
    const store = base.pretrained.store;
    store.sync(graph, 1);
    const params = [...graph.params.values()].filter((p) => p.owner === 'adapter:new_task' || p.owner === 'head:new_task').reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    train({
      graph, store, output: 'new_task.logits', train: examples, policy: adaptersOnlyPolicy, maxSteps: steps, epochs: 100, batchSize: 8, learningRate: 1e-3, seed: 1,
      onRecord: (r) => { if (r.type === 'step') self.postMessage({ type: 'step', step: r.step, loss: r.loss }); },
    });
    self.postMessage({ type: 'done', ms: performance.now() - t0, params });
  } catch (err) {
    self.postMessage({ type: 'error', message: (err as Error).message });
  }
};
