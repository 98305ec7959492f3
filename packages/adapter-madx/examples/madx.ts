// The README's MAD-X recipe as one program: language adapters by masked-LM, a task adapter stacked on the source
// language's, zero-shot transfer by swapping the language adapter. Usage: node madx.js MODEL_DIR (a BERT folder;
// pack-check passes a tiny random one). The data here are tiny made-up id sequences: this shows the calls, not accuracy.
import { loadPretrained, loadTokenizer, selectBackend, type TrainExample } from '@adapters/core-graph';
import { buildMadx, swapLanguageAdapter } from '@adapters/adapter-madx';
import { trainLanguageAdapter, trainTaskAdapter, evaluateTask } from '@adapters/adapter-madx/recipes';

async function main(): Promise<void> {
  await selectBackend();
  const dir = process.argv[2] ?? 'model';
  const tokenizer = await loadTokenizer(dir);
  const sentences: Record<string, string[]> = { en: ['a great film', 'the plot is dull'], de: ['a lovely film', 'the acting is a mess'] };
  const idsOf: Record<string, number[][]> = Object.fromEntries(Object.entries(sentences).map(([l, ts]) => [l, ts.map((t) => tokenizer.encode(t).inputIds)]));
  const { maskId, vocabSize } = tokenizer;
  const specialIds = [tokenizer.clsId, tokenizer.sepId, tokenizer.padId];
  // One tag per token (17 UPOS-like classes), -100 on [CLS]/[SEP]: made-up labels.
  const tagging = (ids: number[][]): TrainExample[] => ids.map((inputIds) => ({ inputIds, label: inputIds.map((id, i) => (i === 0 || i === inputIds.length - 1 ? -100 : id % 17)) }));
  const englishTagging = tagging(idsOf['en']!);
  const germanTagging = tagging(idsOf['de']!);

  // #region recipe
  const { graph: base, store } = await loadPretrained(dir, { heads: [{ type: 'maskedLM', name: 'mlm' }, { type: 'tokenClassification', name: 'upos', numLabels: 17 }] });

  // 1. a language adapter (+ invertible adapter) per language, masked-LM on unlabelled text of that language
  for (const lang of ['en', 'de']) {
    const model = buildMadx(base, { language: lang });          // lang adapters in every layer + NICE + inverse
    store.sync(model.graph);
    trainLanguageAdapter({ model, store, head: 'mlm', texts: idsOf[lang]!, masking: { maskId, vocabSize, specialIds }, maxSteps: 4 });
  }
  // 2. the task adapter, stacked on the source language's adapter (base and language adapter frozen)
  const english = buildMadx(base, { language: 'en', task: 'pos' });   // Stack(en, pos) in every layer
  store.sync(english.graph);
  trainTaskAdapter({ model: english, store, head: 'upos', train: englishTagging, maxSteps: 4 });
  // 3. zero-shot: swap in the target language's adapter; the task adapter is untouched
  const german = swapLanguageAdapter(english, store, 'de');
  const accuracy = evaluateTask(german, store, 'upos', germanTagging).accuracy;
  // #endregion
  console.log(`zero-shot tagging accuracy on the made-up German data: ${accuracy.toFixed(3)}`);
  store.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
