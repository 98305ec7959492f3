// A short factual-adapter run on real data: frozen all-MiniLM-L6-v2 + a small K-Adapter + relation head,
// FewRel val_wiki, 5 relations × 60 train / 20 eval (own split inside each relation). Must beat chance (20%).
// Skips with a printed reason only when the model or the data cannot be obtained.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureModel } from '@adapters/cli';
import { pretrainFactualAdapter } from './recipes';

const FEWREL = join(__dirname, '../../../../shared/datasets/fewrel/val_wiki.json');

async function modelDir(): Promise<string | undefined> {
  try {
    return await ensureModel('all-MiniLM-L6-v2');
  } catch (e) {
    console.warn(`SKIP factual FewRel run: all-MiniLM-L6-v2 unavailable (${(e as Error).message})`);
    return undefined;
  }
}

describe('factual adapter on FewRel (real MiniLM, frozen base)', () => {
  it('relation classification over 5 relations beats chance clearly', async () => {
    if (!existsSync(FEWREL)) {
      console.warn(`SKIP factual FewRel run: ${FEWREL} not found`);
      return;
    }
    const dir = await modelDir();
    if (dir === undefined) return;
    const log: string[] = [];
    const started = Date.now();
    const result = await pretrainFactualAdapter({
      modelDir: dir,
      fewrelFile: FEWREL,
      relations: 5,
      trainPerRelation: 60,
      evalPerRelation: 20,
      config: { config: 'kadapter_small', adapter_transformer_layers: 1, dropout: 0 , attention_dropout: 0 },
      maxLength: 64,
      epochs: 6,
      evalEvery: 38,
      batchSize: 16,
      learningRate: 1e-3,
      seed: 0,
      onRecord: (r) => {
        if (r.type === 'eval') log.push(`eval@${r.step} (${((Date.now() - started) / 1000).toFixed(0)} s): acc ${r.accuracy.toFixed(3)} loss ${r.loss.toFixed(3)}`);
      },
    });
    const { eval: ev, chance, labels, train } = result;
    console.log(
      `FewRel factual adapter: relations ${labels.join(', ')}; ${result.trainCount} train / ${result.evalCount} eval; ` +
        `${train.steps} steps; eval accuracy ${(ev.accuracy * 100).toFixed(1)}% vs chance ${(chance * 100).toFixed(1)}%; ${log.join('; ')}`,
    );
    expect(ev.count).toBe(100);
    expect(ev.accuracy).toBeGreaterThan(chance + 0.3);
    result.store.dispose();
  }, 300_000);
});
