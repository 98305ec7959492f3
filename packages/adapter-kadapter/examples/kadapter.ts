// The README's K-Adapter examples as one program: knowledge adapters on a graph, the factual (FewRel) and linguistic
// (UD) pre-training recipes, and a downstream task on the frozen base. Usage: node kadapter.js MODEL_DIR (a BERT
// folder whose vocabulary has [unused0]..[unused3]; pack-check passes a tiny random one). The FewRel and CoNLL-U
// files written here are a few made-up lines in those formats: this shows the calls, not accuracy.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapter, applyPlacements, buildEncoder, createRegistry, Executor, loadPretrained, loadTokenizer, selectBackend, train, WeightStore, type TrainExample } from '@adapters/core-graph';
import { combineKnowledgeAdapters, addKnowledgeHead, frozenFeatureHooks, plugins } from '@adapters/adapter-kadapter';
import { attachKnowledgeAdapters, pretrainFactualAdapter, pretrainLinguisticAdapter } from '@adapters/adapter-kadapter/recipes';

const WORDS = ['a', 'the', 'film', 'plot', 'acting', 'great', 'dull', 'witty', 'mess'];

/** `n` FewRel instances of one relation: subject at position 1, object at position 3 of a 5-token sentence. */
const fewrelInstances = (n: number, offset: number) => Array.from({ length: n }, (_v, i) => {
  const tokens = Array.from({ length: 5 }, (_w, j) => WORDS[(i + j + offset) % WORDS.length]!);
  return { tokens, h: [tokens[1], 'Q1', [[1]]], t: [tokens[3], 'Q2', [[3]]] };
});

/** A CoNLL-U sentence of four words whose heads form a chain to the root. */
const conlluSentence = (i: number): string => {
  const words = Array.from({ length: 4 }, (_w, j) => WORDS[(i + j) % WORDS.length]!);
  return [`# text = ${words.join(' ')}`, ...words.map((w, j) => `${j + 1}\t${w}\t${w}\tNOUN\t_\t_\t${j === 0 ? 0 : j}\t${j === 0 ? 'root' : 'dep'}\t_\t_`), ''].join('\n');
};

async function main(): Promise<void> {
  await selectBackend();
  const modelDir = process.argv[2] ?? 'model';
  const data = await mkdtemp(join(tmpdir(), 'kadapter-data-'));
  const fewrelFile = join(data, 'val_wiki.json');
  await writeFile(fewrelFile, JSON.stringify(Object.fromEntries(['P1', 'P2', 'P3'].map((r, k) => [r, fewrelInstances(8, k)]))));
  const conlluFile = join(data, 'dev.conllu');
  await writeFile(conlluFile, `${Array.from({ length: 12 }, (_v, i) => conlluSentence(i)).join('\n')}\n`);
  const out = await mkdtemp(join(tmpdir(), 'kadapter-out-'));
  const tokenizer = await loadTokenizer(modelDir);
  const labelled = (rows: Array<[string, number]>): TrainExample[] => rows.map(([t, label]) => ({ inputIds: tokenizer.encode(t).inputIds, label }));
  const trainSet = labelled([['a great film', 1], ['a dull mess', 0], ['witty acting', 1], ['the plot is a mess', 0]]);
  const evalSet = trainSet.slice(0, 2);

  {
    // #region graph
    const registry = createRegistry(plugins);
    let graph = buildEncoder({ hiddenSize: 384, numLayers: 6, numHeads: 12, intermediateSize: 1536 });
    // Default placement: taps layer.{0,3,5}.output (first, middle, last) in tap mode.
    graph = applyPlacements(graph, [{ adapter: adapter('kadapter', 'factual', { config: 'kadapter_small' }) }], registry).graph;
    graph = applyPlacements(graph, [{ adapter: adapter('kadapter', 'linguistic', { config: 'kadapter_small', adapter_list: [0, 5] }) }], registry).graph;
    graph = combineKnowledgeAdapters(graph, ['factual', 'linguistic'], { mode: 'concat' }); // output `kadapter.combined`
    graph = addKnowledgeHead(graph, { type: 'classification', name: 'sst2', numLabels: 2 });  // reads `kadapter.combined`
    const store = WeightStore.create(graph, 0);
    const out = new Executor(graph, store).run({ input_ids: [[101, 2023, 102]] }, { outputs: ['sst2.logits', 'factual.output'] });
    // #endregion
    console.log(`logits ${out['sst2.logits']!.shape.join('x')}, factual.output ${out['factual.output']!.shape.join('x')}`);
    store.dispose();
  }
  {
    // #region factual
    const r = await pretrainFactualAdapter({
      modelDir, fewrelFile, // {relation: [{tokens, h, t}]}
      relations: 3, trainPerRelation: 6, evalPerRelation: 2, // own split inside each relation
      config: { config: 'kadapter_small', adapter_transformer_layers: 1 },
      epochs: 1, learningRate: 1e-3, maxLength: 16, outDir: join(out, 'factual'),
    });
    console.log(r.eval.accuracy, r.chance);
    // #endregion
    r.store.dispose();
  }
  {
    // #region linguistic
    const r = await pretrainLinguisticAdapter({
      modelDir, conlluFile,
      trainSentences: 8, evalSentences: 4, maxLength: 16,
      config: { config: 'kadapter_small' }, epochs: 1, outDir: join(out, 'linguistic'),
    });
    // #endregion
    console.log(`linguistic: head accuracy ${r.eval.accuracy.toFixed(3)}`);
    r.store.dispose();
  }
  // #region downstream
  const { graph: base, store } = await loadPretrained(modelDir);
  const task = await attachKnowledgeAdapters({
    graph: base, store, adapters: [join(out, 'factual'), join(out, 'linguistic')], mode: 'concat',
    head: { type: 'classification', name: 'sst2', numLabels: 2 },
  });
  const cached = frozenFeatureHooks({ graph: task.graph, store, output: task.output, policy: task.policy, examples: [...trainSet, ...evalSet] });
  train({ graph: task.graph, store, output: task.output, train: trainSet, eval: evalSet, policy: task.policy, constants: cached.constants, evalConstants: cached.evalConstants });
  // #endregion
  console.log(`downstream trained on ${trainSet.length} examples`);
  store.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
