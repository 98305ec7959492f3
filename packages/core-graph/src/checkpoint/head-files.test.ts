import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { WeightStore } from '../exec/weights';
import { buildEncoder } from '../model/encoder';
import type { HeadSpecBase } from '../model/head-def';
import { createHeadRegistry, defineHead } from '../model/head-def';
import { addHead, coreHeads, graphHeads } from '../model/heads';
import { HEAD_CONFIG_FILE, loadHead, saveHead } from './head-files';

const config = { vocabSize: 30, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 16 };

/** A plugin head: mean over tokens, then a scalar score per class (no encoder config needed). */
interface ProbeSpec extends HeadSpecBase { readonly type: 'probe'; readonly classes: number }
const probe = defineHead<ProbeSpec>({
  type: 'probe',
  description: 'test probe',
  build: ({ spec, scope, input }) => scope.dense('score', scope.op('maskedMean', 'mean', [input, 'inputs.attention_mask']), spec.classes, { init: { kind: 'normal', std: 0.5 } }),
});
const heads = coreHeads.with([probe]);

describe('heads as plugins', () => {
  test('a plugin head builds through addHead, is listed in graph meta, and saves → loads bit-exactly with the same registry', async () => {
    const g = addHead(buildEncoder(config), { type: 'probe', name: 'p', classes: 3 }, heads);
    expect(graphHeads(g).map((h) => h.type)).toEqual(['probe']);
    expect([...g.params.values()].filter((p) => p.owner === 'head:p').map((p) => p.key).sort()).toEqual(['heads.p.score.bias', 'heads.p.score.weight']);
    const store = WeightStore.create(g, 5);
    const dir = await mkdtemp(join(tmpdir(), 'head-files-'));
    try {
      await saveHead(dir, g, store, 'p', { heads });
      expect(JSON.parse(await readFile(join(dir, HEAD_CONFIG_FILE), 'utf8')).config).toEqual({ type: 'probe', name: 'p', classes: 3 });
      const fresh = WeightStore.create(buildEncoder(config), 9);
      // Without the plugin's head registered, the file is refused by name, and the store is unchanged.
      const keysBefore = fresh.keys().length;
      await expect(loadHead(dir, buildEncoder(config), fresh)).rejects.toThrow(/config\.type: no registered head reads type "probe"/);
      expect(fresh.keys().length).toBe(keysBefore);
      const loaded = await loadHead(dir, buildEncoder(config), fresh, { heads });
      expect(loaded.name).toBe('p');
      for (const k of ['heads.p.score.weight', 'heads.p.score.bias']) expect(Array.from(fresh.get(k).dataSync())).toEqual(Array.from(store.get(k).dataSync()));
      fresh.dispose();
    } finally {
      store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('registry errors: unknown type, a type registered twice, a bad definition', () => {
    expect(() => addHead(buildEncoder(config), { type: 'probe', name: 'p', classes: 2 })).toThrow(/unknown head type "probe" \(known: classification, tokenClassification, maskedLM\)/);
    expect(() => createHeadRegistry([probe, probe])).toThrow(ConfigError);
    expect(() => defineHead({ type: '1x', description: '', build: () => '' })).toThrow(/head type must be an identifier/);
  });
});
