// The NMT recipes on a tiny model: where each recipe's adapters sit, what trains (bit for bit), zero-shot composition
// of language adapters, and save → load of a run giving the same logits exactly.
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { applyPlacements, Executor } from '@adapters/core-graph';
import { BpeTokenizer } from './bpe';
import { trainTranslation } from './loop';
import { translate } from './translate';
import { loadNmtModel, readNmtRun, saveNmtModel, writeNmtRun } from './nmt-run';
import type { NmtRecipe } from './recipes';
import { languageRules, nmtAdapterRegistry, pairAdapterName, parsePair, recipeGraph, recipePolicy } from './recipes';
import { disposeSeq2SeqBatch, makeSeq2SeqBatch } from './train';
import { seq2seqForward } from './run';
import { randomIds, tinyModel } from './__tests__/helpers';

const enFr = parsePair('en-fr');
const frEn = parsePair('fr-en');
const deFr = parsePair('de-fr');
const enDe = parsePair('en-de');

const sitesOf = (g: Graph, name: string) => g.splices.filter((s) => s.adapters.includes(name)).map((s) => `${s.site}:${s.mode}`).sort();
const task = (name: string, graph: Graph, seed: number) => {
  const src = randomIds(6, 4, 24, seed);
  return { name, graph, sources: src, targets: src.map((r) => [...r].reverse()) };
};

function logitsOf(graph: Graph, store: WeightStore): Float32Array {
  const batch = makeSeq2SeqBatch(graph.meta.seq2seq!, randomIds(2, 5, 24, 11), randomIds(2, 4, 24, 12));
  const out = tf.tidy(() => seq2seqForward(new Executor(graph, store), batch)['logits']!.dataSync() as Float32Array);
  disposeSeq2SeqBatch(batch);
  return out;
}

describe('NMT recipes', () => {
  it("pair (Bapna & Firat): one adapter after every encoder and decoder layer, with its own LayerNorm at γ = 1, β = 0", () => {
    const { graph: base, store } = tinyModel('marian');
    const g = recipeGraph(base, 'pair', enFr, 2);
    const name = pairAdapterName(enFr);
    expect(sitesOf(g, name)).toEqual(['decoder.layers.0.output:after', 'decoder.layers.1.output:after', 'encoder.layers.0.output:after', 'encoder.layers.1.output:after']);
    store.sync(g, 1);
    const norms = [...g.params.values()].filter((p) => p.owner === `adapter:${name}` && p.kind === 'norm');
    expect(norms).toHaveLength(8);
    for (const p of norms) expect(new Set(store.get(p.key).dataSync())).toEqual(new Set([p.key.endsWith('weight') ? 1 : 0]));
    store.dispose();
  });

  it('language (Philip et al.): the source adapter only in the encoder, the target adapter only in the decoder', () => {
    const { graph: base, store } = tinyModel('marian');
    const g = recipeGraph(base, 'language', deFr, 2);
    expect(sitesOf(g, 'src_de')).toEqual(['encoder.layers.0.output:after', 'encoder.layers.1.output:after']);
    expect(sitesOf(g, 'tgt_fr')).toEqual(['decoder.layers.0.output:after', 'decoder.layers.1.output:after']);
    expect(Object.keys(g.meta.adapters ?? {}).sort()).toEqual(['src_de', 'tgt_fr']);
    store.dispose();
  });

  it.each<[NmtRecipe, string]>([['pair', 'adapter'], ['domain', 'adapter'], ['full', 'base'], ['base', 'base']])('%s: only the intended tensors move, bit for bit', (recipe, owner) => {
    const { graph: base, store } = tinyModel('marian');
    const g = recipeGraph(base, recipe, enFr, 2, 'psalms');
    store.sync(g, 1);
    const before = store.snapshot([...g.params.keys()]);
    trainTranslation({ store, tasks: [task('en-fr', g, 3)], policy: recipePolicy(recipe), steps: 3, batchSize: 4, learningRate: 1e-2, seed: 5 });
    for (const p of g.params.values()) {
      const moved = !tf.util.arraysEqual(store.get(p.key).dataSync(), before.get(p.key) as Float32Array);
      const intended = owner === 'base' ? p.owner === 'base' : p.owner.startsWith('adapter:');
      // Every intended tensor gets a gradient here (no dead parameters), and nothing else changes.
      expect({ key: p.key, moved }).toEqual({ key: p.key, moved: intended });
    }
    store.dispose();
  });

  it('language training: a step on one direction touches only its source and target adapters', () => {
    const { graph: base, store } = tinyModel('marian');
    const gEnFr = recipeGraph(base, 'language', enFr, 2);
    const gFrEn = recipeGraph(base, 'language', frEn, 2);
    store.sync(gEnFr, 1);
    store.sync(gFrEn, 1);
    const keysOf = (name: string) => [...gEnFr.params.values(), ...gFrEn.params.values()].filter((p) => p.owner === `adapter:${name}`).map((p) => p.key);
    const before = store.snapshot([...keysOf('src_fr'), ...keysOf('tgt_en'), ...keysOf('src_en'), ...keysOf('tgt_fr')]);
    const moved = (name: string) => keysOf(name).some((k) => !tf.util.arraysEqual(store.get(k).dataSync(), before.get(k) as Float32Array));
    // One step: round-robin starts with the first task (en-fr).
    trainTranslation({ store, tasks: [task('en-fr', gEnFr, 3), task('fr-en', gFrEn, 4)], policy: recipePolicy('language'), steps: 1, batchSize: 4, learningRate: 1e-2, seed: 5 });
    expect({ src_en: moved('src_en'), tgt_fr: moved('tgt_fr'), src_fr: moved('src_fr'), tgt_en: moved('tgt_en') }).toEqual({ src_en: true, tgt_fr: true, src_fr: false, tgt_en: false });
    store.dispose();
  });

  it('training and translating leave no tensors behind', () => {
    const { graph: base, store } = tinyModel('marian');
    const g = recipeGraph(base, 'pair', enFr, 2);
    store.sync(g, 1);
    const tokenizer = BpeTokenizer.train(['a b c d e f g h i j'], { vocabSize: 24, minCharCount: 1 });
    const before = tf.memory().numTensors;
    trainTranslation({ store, tasks: [task('en-fr', g, 3)], policy: recipePolicy('pair'), steps: 3, batchSize: 4, learningRate: 1e-2, seed: 5 });
    const out = translate(new Executor(g, store), tokenizer, ['a b c', 'd e'], { numBeams: 2, maxLength: 6 });
    expect(out).toHaveLength(2);
    expect(tf.memory().numTensors).toBe(before);
    store.dispose();
  });

  describe('runs on disk', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nmt-recipes-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    const tokenizer = BpeTokenizer.train(['a b c d'], { vocabSize: 8 });

    it('language run → zero-shot de-fr composes src_de (from de-en) with tgt_fr (from en-fr): the logits of the direct composition, exactly', async () => {
      const { graph: base, store } = tinyModel('marian');
      await saveNmtModel(join(dir, 'base'), base, store, tokenizer);
      const graphs = [enFr, parsePair('de-en')].map((p) => recipeGraph(base, 'language', p, 2));
      for (const g of graphs) store.sync(g, 1);
      trainTranslation({ store, tasks: graphs.map((g, i) => task(`t${i}`, g, 7 + i)), policy: recipePolicy('language'), steps: 4, batchSize: 4, learningRate: 1e-2, seed: 5 });
      await writeNmtRun(join(dir, 'run'), { model: join(dir, 'base'), extras: { recipe: 'language', pairs: ['en-fr', 'de-en'], reductionFactor: 2 }, maxLength: 16, store, graphs });
      const run = await readNmtRun(join(dir, 'run'));
      const zeroShot = await loadNmtModel(run, deFr);
      expect(zeroShot.adapters).toEqual(['src_de', 'tgt_fr']);
      expect(sitesOf(zeroShot.graph, 'src_de')).toEqual(['encoder.layers.0.output:after', 'encoder.layers.1.output:after']);
      expect(sitesOf(zeroShot.graph, 'tgt_fr')).toEqual(['decoder.layers.0.output:after', 'decoder.layers.1.output:after']);
      const direct = applyPlacements(base, languageRules(deFr, 2), nmtAdapterRegistry()).graph;
      expect(logitsOf(zeroShot.graph, zeroShot.store)).toEqual(logitsOf(direct, store));
      // Each adapter is 2 layers × (LayerNorm 2·8 + down 8·4 + 4 + up 4·8 + 8) = 184 parameters.
      expect(zeroShot.pairParams).toBe(2 * 2 * (16 + 32 + 4 + 32 + 8));
      await expect(loadNmtModel(run, enDe)).rejects.toThrow(/has no adapter 'tgt_de' for en-de \(adapters: src_de, src_en, tgt_en, tgt_fr\)/);
      zeroShot.store.dispose();
      store.dispose();
    });

    it('pair and full runs: save → load gives the same logits exactly', async () => {
      const { graph: base, store } = tinyModel('marian');
      await saveNmtModel(join(dir, 'base'), base, store, tokenizer);
      const g = recipeGraph(base, 'pair', enFr, 2);
      store.sync(g, 1);
      trainTranslation({ store, tasks: [task('en-fr', g, 3)], policy: recipePolicy('pair'), steps: 2, batchSize: 4, learningRate: 1e-2, seed: 5 });
      await writeNmtRun(join(dir, 'pair'), { model: join(dir, 'base'), extras: { recipe: 'pair', pairs: ['en-fr'], reductionFactor: 2 }, maxLength: 16, store, graphs: [g] });
      const loaded = await loadNmtModel(await readNmtRun(join(dir, 'pair')), enFr);
      expect(logitsOf(loaded.graph, loaded.store)).toEqual(logitsOf(g, store));
      loaded.store.dispose();

      trainTranslation({ store, tasks: [task('en-fr', base, 3)], policy: recipePolicy('full'), steps: 2, batchSize: 4, learningRate: 1e-2, seed: 5 });
      await writeNmtRun(join(dir, 'full'), { model: '', extras: { recipe: 'full', pairs: ['en-fr'] }, maxLength: 16, store, graphs: [base], tokenizer });
      const full = await loadNmtModel(await readNmtRun(join(dir, 'full')), frEn);
      expect(full.adapters).toEqual([]);
      expect(logitsOf(full.graph, full.store)).toEqual(logitsOf(base, store));
      full.store.dispose();
      store.dispose();
    });
  });
});
