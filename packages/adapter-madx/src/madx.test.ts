// MAD-X composition: Stack(lang, task) per layer matches a float64 reference of lang → task (and the reversed
// order is a different function that matches the reversed reference); swapping the language adapter changes only
// the language adapter's parameters in the graph and the store.
import { applyPlacements, ConfigError, GraphError, Stack } from '@adapters/core-graph';
import { bottleneckParamCount, bottleneckConfig } from '@adapters/adapter-bottleneck';
import { niceDims, niceParamCount } from './invertible';
import { buildMadx, invertibleRules, languageAdapter, madxRegistry, taskAdapter } from './madx';
import { swapLanguageAdapter } from './hub';
import { baseStore, changedKeys, FEEDS, IDS, MASK, maxAbsDiff, maxRelDiff, randomize, runValues, tinyBase } from './__tests__/helpers';
import { refMadx } from './__tests__/reference';

const base = tinyBase();

describe('MAD-X placement', () => {
  test('every layer gets Stack(lang, task) after the FFN (wrap); the embeddings and the MLM decoder input get the invertible block', () => {
    const { graph, report } = buildMadx(base, { language: 'en', task: 'pos' });
    const byRule = report.map((r) => `${r.site} ${r.mode} ${r.composition}`);
    expect(byRule).toEqual([
      'layer.0.ffn wrap Stack(en, pos)',
      'layer.1.ffn wrap Stack(en, pos)',
      'embeddings after en',
      'heads.mlm.decoder_input after en',
    ]);
    // Language adapters: reduction factor 2 (m = 8 at d = 16); task adapters: 16 (m = 1); NICE: 8 → 4 → 8 twice.
    expect(graph.param('layer.0.ffn.adapters.en.adapter_down.0.weight').shape).toEqual([16, 8]);
    expect(graph.param('layer.0.ffn.adapters.pos.adapter_down.0.weight').shape).toEqual([16, 1]);
    expect(graph.param('invertible_adapters.en.F.0.weight').shape).toEqual([8, 4]);
    const owned = (owner: string) => [...graph.params.values()].filter((p) => p.owner === owner).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    const lang = bottleneckParamCount(bottleneckConfig('seq_bn', { reduction_factor: 2 }), 16, 0);
    expect(owned('adapter:en')).toBe(2 * lang + niceParamCount(niceDims(16, 2)));
    expect(owned('adapter:pos')).toBe(2 * bottleneckParamCount(bottleneckConfig('seq_bn', { reduction_factor: 16 }), 16, 0));
    // The inverse declares no parameters of its own: it reads the forward's.
    expect(report.find((r) => r.site === 'heads.mlm.decoder_input')?.params).toBe(0);
    expect(graph.meta['adapters']).toMatchObject({ en: { plugin: 'bottleneck_inv' }, pos: { plugin: 'bottleneck' } });
  });

  test('Stack(lang, task) matches the float64 reference of lang → task; Stack(task, lang) is a different function matching the reversed reference', () => {
    const { graph } = buildMadx(base, { language: 'en', task: 'pos' });
    const { store, ref } = baseStore(graph, 9);
    randomize(graph, store, 'adapter:en', 1);
    randomize(graph, store, 'adapter:pos', 2);
    randomize(graph, store, 'head:mlm', 3, 0.1);
    const out = runValues(graph, store, FEEDS, { outputs: ['last_hidden_state', 'mlm.logits'] });
    const expected = refMadx(graph, store, ref, IDS, MASK, 'en', ['en', 'pos']);
    expect(maxRelDiff(out['last_hidden_state'] as Float32Array, expected.hidden, 1)).toBeLessThanOrEqual(1e-5);
    expect(maxRelDiff(out['mlm.logits'] as Float32Array, expected.mlm, 1)).toBeLessThanOrEqual(1e-5);

    const lang = languageAdapter('en');
    const reversed = applyPlacements(base, [{ adapter: Stack(taskAdapter('pos'), lang) }, ...invertibleRules(base, lang)], madxRegistry()).graph;
    const rev = runValues(reversed, store, FEEDS, { outputs: ['last_hidden_state'] });
    const expectedRev = refMadx(graph, store, ref, IDS, MASK, 'en', ['pos', 'en']);
    expect(maxRelDiff(rev['last_hidden_state'] as Float32Array, expectedRev.hidden, 1)).toBeLessThanOrEqual(1e-5);
    // Order matters: the two orders differ by far more than the tolerance.
    expect(maxAbsDiff(rev['last_hidden_state'] as Float32Array, out['last_hidden_state'] as Float32Array)).toBeGreaterThan(1e-2);
    store.dispose();
  });

  test('without a task adapter (step 1) the model is the language adapter alone; bad specs are errors', () => {
    const { graph, report } = buildMadx(base, { language: 'en' });
    expect(report.map((r) => r.composition)).toEqual(['en', 'en', 'en', 'en']);
    const { store, ref } = baseStore(graph, 4);
    randomize(graph, store, 'adapter:en', 6);
    const out = runValues(graph, store, FEEDS, { outputs: ['mlm.logits'] });
    expect(maxRelDiff(out['mlm.logits'] as Float32Array, refMadx(graph, store, ref, IDS, MASK, 'en', ['en']).mlm, 1)).toBeLessThanOrEqual(1e-5);
    store.dispose();
    expect(() => buildMadx(base, { language: 'en', task: 'en' })).toThrow(ConfigError);
    expect(() => buildMadx(graph, { language: 'de' })).toThrow(/already has adapters/);
    expect(() => buildMadx(base, { language: 'en', languageConfig: { inv_adapter: 'glow' } })).toThrow(/en\.config\.inv_adapter: must be one of "nice"/);
  });
});

describe('swapping the language adapter (zero-shot transfer)', () => {
  function setup() {
    const english = buildMadx(base, { language: 'en', task: 'pos' });
    const { store } = baseStore(english.graph, 5);
    randomize(english.graph, store, 'adapter:en', 11);
    randomize(english.graph, store, 'adapter:pos', 12);
    // German adapter weights, as step 1 would leave them in the store.
    const german = buildMadx(base, { language: 'de' });
    store.sync(german.graph, 0);
    randomize(german.graph, store, 'adapter:de', 13);
    return { english, store };
  }

  test('changes only the language adapter in the graph; the store (task adapter included) stays bit-identical', () => {
    const { english, store } = setup();
    const before = store.snapshot();
    const outBefore = runValues(english.graph, store, FEEDS, { outputs: ['tag.logits'] });
    const swapped = swapLanguageAdapter(english, store, 'de');
    expect(changedKeys(before, store.snapshot())).toEqual([]);
    // Graph parameters: exactly the language adapter's keys are replaced; every other spec is identical.
    const specs = (g: typeof english.graph) => new Map([...g.params.values()].map((p) => [p.key, JSON.stringify(p)]));
    const [old, now] = [specs(english.graph), specs(swapped.graph)];
    const removed = [...old.keys()].filter((k) => !now.has(k));
    const added = [...now.keys()].filter((k) => !old.has(k));
    expect(removed.sort()).toEqual([...english.graph.params.values()].filter((p) => p.owner === 'adapter:en').map((p) => p.key).sort());
    expect(added.sort()).toEqual(removed.map((k) => k.replace(/\ben\b/, 'de')).sort());
    for (const [k, spec] of now) if (old.has(k)) expect(spec).toBe(old.get(k));
    expect(swapped.spec).toEqual({ language: 'de', task: 'pos' });
    expect(swapped.report.map((r) => r.composition)).toEqual(['Stack(de, pos)', 'Stack(de, pos)', 'de', 'de']);
    // The function changed (another language adapter) and equals the model built directly with Stack(de, pos).
    const outAfter = runValues(swapped.graph, store, FEEDS, { outputs: ['tag.logits'] });
    expect(maxAbsDiff(outAfter['tag.logits'] as Float32Array, outBefore['tag.logits'] as Float32Array)).toBeGreaterThan(1e-3);
    expect(swapped.graph.equals(buildMadx(base, { language: 'de', task: 'pos' }).graph)).toBe(true);
    // And back: the English model's outputs return bit for bit.
    const back = swapLanguageAdapter(swapped, store, 'en');
    expect(runValues(back.graph, store, FEEDS, { outputs: ['tag.logits'] })['tag.logits']).toEqual(outBefore['tag.logits']);
    store.dispose();
  });

  test('disposeOld removes only the old language adapter from the store; a language the store lacks is an error that changes nothing', () => {
    const { english, store } = setup();
    const before = store.snapshot();
    expect(() => swapLanguageAdapter(english, store, 'fr')).toThrow(GraphError);
    expect(changedKeys(before, store.snapshot())).toEqual([]);
    swapLanguageAdapter(english, store, 'de', { disposeOld: true });
    const changed = changedKeys(before, store.snapshot());
    expect(changed).toEqual([...english.graph.params.values()].filter((p) => p.owner === 'adapter:en').map((p) => p.key).sort());
    expect(changed.every((k) => !store.has(k))).toBe(true);
    store.dispose();
  });
});
