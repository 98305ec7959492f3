// Integration: the real all-MiniLM-L6-v2 with a Pfeiffer (seq_bn) adapter beats the majority class on the
// SST-2 dev set after a short run. Skips, saying why, only when the model or the data can't be obtained.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TrainExample } from '@adapters/core-graph';
import { adapter, adaptersOnlyPolicy, applyPlacements, createRegistry, evaluate, Executor, isModelDirComplete, LabelVocab, loadPretrained, loadTokenizer, modelCacheDir, mulberry32, readExamples, selectBackend, train } from '@adapters/core-graph';
import { bottleneck } from './plugin';

const SST2 = resolve(__dirname, '../../../../shared/datasets/glue-sst2');

describe('all-MiniLM-L6-v2 + seq_bn on SST-2', () => {
  let modelDir: string | undefined;
  beforeAll(async () => {
    // Use the OpenBLAS kernels when @adapters/backend-native is built: this test trains a real model.
    await selectBackend({ prefer: 'wasm', env: {} });
    if (!existsSync(SST2)) return console.log(`skipping: SST-2 not found at ${SST2}`);
    // The model cache is filled by `npx adapters fetch-model --model all-MiniLM-L6-v2` (@adapters/cli, which depends
    // on this package, so this test cannot import its fetcher).
    const dir = modelCacheDir('all-MiniLM-L6-v2');
    if (await isModelDirComplete(dir)) modelDir = dir;
    else console.log(`skipping: all-MiniLM-L6-v2 is not in the model cache (${dir}); run npx adapters fetch-model --model all-MiniLM-L6-v2`);
  });

  test('beats the majority class on the dev set after 60 steps', async () => {
    if (!modelDir) return;
    const tok = await loadTokenizer(modelDir);
    const read = (file: string) => readExamples(resolve(SST2, file), { text: 'sentence', label: 'label' });
    const [trainRows, devRows] = [await read('train.tsv'), await read('dev.tsv')];
    const labels = LabelVocab.fromExamples(trainRows);
    const encode = (rows: typeof trainRows): TrainExample[] =>
      rows.map((r) => {
        const e = tok.encode(r.text, undefined, { maxLength: 48 });
        return { inputIds: e.inputIds, tokenTypeIds: e.tokenTypeIds, label: labels.id(r.label as string) };
      });
    const rand = mulberry32(17);
    const sample = Array.from({ length: 960 }, () => trainRows[Math.floor(rand() * trainRows.length)] as (typeof trainRows)[number]);
    const { graph: base, store } = await loadPretrained(modelDir, { heads: [{ type: 'classification', name: 'sst2', numLabels: labels.size, pooling: 'mean' }] });
    const { graph } = applyPlacements(base, [{ adapter: adapter(bottleneck, 'sst2', { config: 'seq_bn' }) }], createRegistry([bottleneck]));
    store.sync(graph, 1);
    const dev = encode(devRows);
    train({ graph, store, output: 'sst2.logits', train: encode(sample), policy: adaptersOnlyPolicy, maxSteps: 60, batchSize: 16, learningRate: 2e-3, seed: 3, padId: tok.padId });
    const result = evaluate(new Executor(graph, store), 'sst2.logits', dev, { padId: tok.padId });
    const counts = new Map<number, number>();
    for (const e of dev) counts.set(e.label as number, (counts.get(e.label as number) ?? 0) + 1);
    const majority = Math.max(...counts.values()) / dev.length;
    console.log(`SST-2 dev accuracy ${(100 * result.accuracy).toFixed(1)}% vs majority ${(100 * majority).toFixed(1)}% (${dev.length} sentences)`);
    expect(result.accuracy).toBeGreaterThan(majority);
    store.dispose();
  }, 900_000);
});
