// MAD-X zero-shot cross-lingual UPOS tagging on real data (run: npm run zero-shot -w @adapters/adapter-madx).
// English → German / French with the real all-MiniLM-L6-v2 (an English-only, uncased WordPiece vocabulary: German
// and French words fall apart into many sub-words or [UNK]; it's the model we have, not a multilingual one).
// 1. a language adapter (+ NICE invertible adapter) per language, masked-LM on the UD dev sentences of that language;
// 2. a task adapter stacked on the English adapter, UPOS tagging on English-EWT dev;
// 3. zero-shot: UPOS accuracy on each language's UD test sentences with the target-language adapter swapped in,
//    with the English adapter kept, and with the task adapter alone (no language adapter).
// Sizes come from the environment (MLM_STEPS, TAG_STEPS, BATCH, MAX_LEN (tagging), MLM_MAX_LEN, EVAL_SENTENCES,
// MLM_SENTENCES, SEED).
import * as path from 'node:path';
import type { Sentence, TrainRecord, WeightStore } from '@adapters/core-graph';
import { applyPlacements, Executor, evaluate, loadPretrained, loadTokenizer, readConllu, selectBackend } from '@adapters/core-graph';
import { ensureModel } from '@adapters/cli';
import type { MadxModel } from '@adapters/adapter-madx';
import { buildMadx, madxRegistry, sentenceIds, swapLanguageAdapter, taskAdapterRule, UPOS_TAGS, uposExamples } from '@adapters/adapter-madx';
import { evaluateTask, trainLanguageAdapter, trainTaskAdapter } from '@adapters/adapter-madx/recipes';

const num = (key: string, fallback: number): number => {
  const v = process.env[key];
  return v === undefined || v === '' ? fallback : Number(v);
};
const MLM_STEPS = num('MLM_STEPS', 300);
const TAG_STEPS = num('TAG_STEPS', 400);
const BATCH = num('BATCH', 8);
const MAX_LEN = num('MAX_LEN', 64);
const MLM_MAX_LEN = num('MLM_MAX_LEN', 64);
const EVAL_SENTENCES = num('EVAL_SENTENCES', 1000);
const MLM_SENTENCES = num('MLM_SENTENCES', 2000);
const SEED = num('SEED', 1);
const DATA = process.env['DATASETS'] ?? path.resolve(__dirname, '../../../../shared/datasets');

const log = (s: string): void => {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
};

function progress(label: string, every = 25): (r: TrainRecord) => void {
  let sum = 0;
  let n = 0;
  return (r) => {
    if (r.type !== 'step') return;
    sum += r.loss;
    n += 1;
    if (r.step % every === 0 || r.step === r.totalSteps) {
      log(`${label} step ${r.step}/${r.totalSteps} loss(mean of last ${n}) ${(sum / n).toFixed(3)} ${r.seconds.toFixed(0)}s`);
      sum = 0;
      n = 0;
    }
  };
}

async function main(): Promise<void> {
  const backend = await selectBackend({ log });
  void backend;
  const dir = await ensureModel('all-MiniLM-L6-v2', { log });
  const tokenizer = await loadTokenizer(dir);
  const { graph: base, store } = await loadPretrained(dir, {
    heads: [{ type: 'maskedLM', name: 'mlm' }, { type: 'tokenClassification', name: 'upos', numLabels: UPOS_TAGS.length }],
    seed: SEED,
  });
  const read = (p: string): Promise<Sentence[]> => readConllu(path.join(DATA, p));
  const data = {
    en: { mlm: await read('ud-en-ewt/en_ewt-ud-dev.conllu'), test: await read('ud-en-ewt/en_ewt-ud-test.conllu') },
    de: { mlm: await read('ud-de-gsd/de_gsd-ud-dev.conllu'), test: await read('ud-de-gsd/de_gsd-ud-test.conllu') },
    fr: { mlm: await read('ud-fr-gsd/fr_gsd-ud-dev.conllu'), test: await read('ud-fr-gsd/fr_gsd-ud-test.conllu') },
  };
  const languages = ['en', 'de', 'fr'] as const;
  const masking = { maskId: tokenizer.maskId, vocabSize: tokenizer.vocabSize, specialIds: [tokenizer.clsId, tokenizer.sepId, tokenizer.padId] };
  const train = { batchSize: BATCH, padId: tokenizer.padId, seed: SEED, warmupRatio: 0.1, clipNorm: 1.0 };
  log(`MiniLM-L6 (d=384, vocab ${tokenizer.vocabSize}); MLM ${MLM_STEPS} steps/language (max length ${MLM_MAX_LEN}), tagging ${TAG_STEPS} steps (max length ${MAX_LEN}), batch ${BATCH}`);

  // Step 1: language adapters (+ invertible adapters) with masked-LM. MiniLM ships without an MLM head, so the head's
  // transform trains together with the first (English) adapter and stays frozen for the others.
  const mlmLoss: Record<string, { first: number; last: number }> = {};
  for (const lang of languages) {
    const model = buildMadx(base, { language: lang });
    store.sync(model.graph, SEED);
    const texts = sentenceIds(data[lang].mlm.slice(0, MLM_SENTENCES), tokenizer, MLM_MAX_LEN);
    const result = trainLanguageAdapter({
      model, store, head: 'mlm', texts, masking, trainHead: lang === 'en', ...train,
      maxSteps: MLM_STEPS, learningRate: 1e-3, onRecord: progress(`mlm[${lang}]`),
    });
    const losses = result.history.flatMap((r) => (r.type === 'step' ? [r.loss] : []));
    const k = Math.min(20, losses.length);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    mlmLoss[lang] = { first: mean(losses.slice(0, k)), last: mean(losses.slice(-k)) };
    log(`mlm[${lang}] ${texts.length} sentences, ${result.steps} steps, ${result.seconds.toFixed(0)}s; loss first ${k} ${mlmLoss[lang].first.toFixed(3)} → last ${k} ${mlmLoss[lang].last.toFixed(3)}`);
  }

  // Step 2: the task adapter on English UPOS, stacked on the frozen English adapter.
  const english = buildMadx(base, { language: 'en', task: 'pos' });
  store.sync(english.graph, SEED);
  const enTrain = uposExamples(data.en.mlm, tokenizer, MAX_LEN);
  const tagResult = trainTaskAdapter({ model: english, store, head: 'upos', train: enTrain, ...train, maxSteps: TAG_STEPS, learningRate: 1e-3, onRecord: progress('upos[en]') });
  log(`upos[en] ${enTrain.length} sentences, ${tagResult.steps} steps, ${tagResult.seconds.toFixed(0)}s`);

  // Step 3: zero-shot evaluation.
  const taskOnly = applyPlacements(base, [taskAdapterRule('pos')], madxRegistry()).graph;
  const rows: Array<{ language: string; setup: string; accuracy: number; tokens: number }> = [];
  const evalWith = (m: MadxModel | undefined, s: WeightStore, lang: string, setup: string) => {
    const examples = uposExamples(data[lang as 'en'].test.slice(0, EVAL_SENTENCES), tokenizer, MAX_LEN);
    const r = m ? evaluateTask(m, s, 'upos', examples, { padId: tokenizer.padId }) : evaluate(new Executor(taskOnly, s), 'upos.logits', examples, { padId: tokenizer.padId });
    rows.push({ language: lang, setup, accuracy: r.accuracy, tokens: r.count });
    log(`eval ${lang} ${setup}: UPOS accuracy ${(100 * r.accuracy).toFixed(2)}% over ${r.count} words`);
  };
  for (const lang of languages) {
    if (lang !== 'en') evalWith(swapLanguageAdapter(english, store, lang), store, lang, `Stack(${lang}, pos)  [target adapter]`);
    evalWith(english, store, lang, 'Stack(en, pos)  [source adapter]');
    evalWith(undefined, store, lang, 'pos alone  [no language adapter]');
  }
  process.stdout.write(`\nRESULTS ${JSON.stringify({ mlmSteps: MLM_STEPS, tagSteps: TAG_STEPS, batch: BATCH, maxLength: MAX_LEN, mlmMaxLength: MLM_MAX_LEN, evalSentences: EVAL_SENTENCES, mlmLoss, rows })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
