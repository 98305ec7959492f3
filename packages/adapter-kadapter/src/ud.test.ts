// The linguistic recipe end to end on real data: frozen all-MiniLM-L6-v2 + a small K-Adapter + dependency
// head on UD English-EWT (a short run: 160 train / 40 eval sentences). Head-position accuracy (UAS over
// word-initial pieces) must beat guessing clearly. Skips with a printed reason when model or data are missing.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureModel } from '@adapters/cli';
import { loadKAdapter } from './hub';
import { loadPretrainedEncoder } from './pretrained';
import { pretrainLinguisticAdapter } from './recipes';

const UD = join(__dirname, '../../../../shared/datasets/ud-en-ewt/en_ewt-ud-dev.conllu');

describe('linguistic adapter on UD English-EWT (real MiniLM, frozen base)', () => {
  it('dependency-head prediction beats chance; the saved adapter and head load back', async () => {
    if (!existsSync(UD)) {
      console.warn(`SKIP linguistic UD run: ${UD} not found`);
      return;
    }
    let modelDir: string;
    try {
      modelDir = await ensureModel('all-MiniLM-L6-v2');
    } catch (e) {
      console.warn(`SKIP linguistic UD run: all-MiniLM-L6-v2 unavailable (${(e as Error).message})`);
      return;
    }
    const out = await mkdtemp(join(tmpdir(), 'kadapter-ud-'));
    try {
      const r = await pretrainLinguisticAdapter({
        modelDir, conlluFile: UD, trainSentences: 160, evalSentences: 40, maxLength: 40,
        config: { config: 'kadapter_small', adapter_transformer_layers: 1, dropout: 0, attention_dropout: 0 },
        epochs: 4, batchSize: 16, learningRate: 2e-3, projectionSize: 64, seed: 0, outDir: out,
      });
      console.log(`UD linguistic adapter: ${r.trainCount} train / ${r.evalCount} eval sentences, ${r.train.steps} steps; head accuracy ${(r.eval.accuracy * 100).toFixed(1)}% over ${r.eval.count} words vs chance ${(r.chance * 100).toFixed(1)}%`);
      expect(r.eval.accuracy).toBeGreaterThan(3 * r.chance);
      r.store.dispose();
      const fresh = await loadPretrainedEncoder(modelDir);
      const loaded = await loadKAdapter(out, fresh.graph, fresh.store);
      expect(loaded.head).toBe('linguistic_dep');
      expect(Object.keys(loaded.graph.outputs)).toEqual(expect.arrayContaining(['linguistic.output', 'linguistic.chain', 'linguistic_dep.logits']));
      fresh.store.dispose();
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 300_000);
});
