// TEMPORARY timing probe (deleted before hand-off).
import { selectBackend, describeBackend, ensureModel, loadTokenizer, readExamples, LabelVocab, demoSentimentFiles, createRegistry, applyPlacements, adapter } from '../packages/core-graph/src/index';
import { loadPretrained } from '../packages/core-graph/src/checkpoint/load-pretrained';
import { adaptersOnlyPolicy } from '../packages/core-graph/src/exec/policy';
import { train } from '../packages/core-graph/src/train/trainer';
import { toyAdapter } from '../packages/core-graph/src/testing/toy-adapter';
async function main() {
  await selectBackend(); console.log(describeBackend());
  const dir = await ensureModel('all-MiniLM-L6-v2');
  const tok = await loadTokenizer(dir);
  const files = demoSentimentFiles();
  const n = Number(process.env.N ?? 320), steps = Number(process.env.STEPS ?? 10), bs = Number(process.env.BS ?? 32), ml = Number(process.env.ML ?? 64);
  const tr = (await readExamples(files.train, { text: 'sentence', label: 'label' })).slice(0, n);
  const dev = (await readExamples(files.dev, { text: 'sentence', label: 'label' })).slice(0, Number(process.env.DEV ?? 200));
  const vocab = LabelVocab.fromExamples(tr);
  const enc = (e: typeof tr) => e.map((x) => { const r = tok.encode(x.text, undefined, { maxLength: ml }); return { inputIds: r.inputIds, tokenTypeIds: r.tokenTypeIds, label: vocab.id(x.label!) }; });
  const pooling = (process.env.POOL ?? 'mean') as 'mean';
  const pre = await loadPretrained(dir, { heads: [{ type: 'classification', name: 'sentiment', numLabels: 2, pooling }] });
  const { graph } = applyPlacements(pre.graph, [{ adapter: adapter(toyAdapter, 'a', { size: 24, zeroInit: true }), ...(process.env.LAYERS ? { select: { kinds: ['ffn' as const], layers: process.env.LAYERS.split(',').map(Number) }, mode: 'wrap' as const } : {}) }], createRegistry([toyAdapter]));
  pre.store.sync(graph, 0);
  const t0 = Date.now();
  const res = train({ graph, store: pre.store, output: 'sentiment.logits', train: enc(tr), eval: enc(dev), maxSteps: steps, epochs: 100, batchSize: bs, learningRate: Number(process.env.LR ?? 1e-3), evalEvery: Number(process.env.EE ?? 1000), seed: 1, ...(process.env.POLICY === 'only' ? { policy: adaptersOnlyPolicy } : {}),
    onRecord: (r) => console.log(JSON.stringify(r)) });
  console.log('total', (Date.now() - t0) / 1000, res.best);
}
main().catch((e) => { console.error(e); process.exit(1); });
