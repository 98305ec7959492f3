import { ensureModel } from '@adapters/core-graph';
import { pretrainFactualAdapter } from './recipes';
import { join } from 'node:path';

it('profile recipe', async () => {
  const t0 = Date.now();
  const dir = await ensureModel('all-MiniLM-L6-v2');
  let last = Date.now();
  const res = await pretrainFactualAdapter({
    modelDir: dir, fewrelFile: join(__dirname, '../../../../shared/datasets/fewrel/val_wiki.json'), relations: 5, trainPerRelation: 60, evalPerRelation: 20,
    config: { config: 'kadapter_small', adapter_transformer_layers: 1, dropout: 0, attention_dropout: 0 }, maxLength: 64, maxSteps: 20, batchSize: 16, learningRate: 1e-3,
    onRecord: (r) => { const now = Date.now(); if (r.type === 'step' && (r.step === 1 || r.step % 5 === 0)) console.log(`step ${r.step} at ${now - t0} ms (+${now - last})`); last = now; },
  });
  console.log(`done ${Date.now() - t0} ms acc ${res.eval.accuracy}`);
}, 900000);
