// The CLI end to end, in-process: `adapters train --adapter lora:r=8,alpha=16` / `--adapter ia3` through plugin
// discovery, then `adapters merge` (AdapterHub and PEFT folders) whose merged model reproduces the adapted one.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { adapter, createRegistry, Executor, loadAdapter, loadPretrained } from '@adapters/core-graph';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';
import { maxRelErr } from './__tests__/helpers';
import { loadPeftLora, savePeftLora } from './peft';
import { lora } from './plugin';

const POS = ['good', 'great', 'fine', 'nice'];
const NEG = ['bad', 'awful', 'poor', 'sad'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POS, ...NEG, 'film', 'very'];
const IDS = [[2, 5, 9, 13, 3], [2, 14, 6, 3, 0]];

function hidden(graph: Graph, store: WeightStore): Float32Array {
  const r = new Executor(graph, store).run({ input_ids: IDS }, { outputs: ['last_hidden_state'] });
  const v = Float32Array.from((r['last_hidden_state'] as tf.Tensor).dataSync());
  tf.dispose(Object.values(r));
  return v;
}

describe('adapters train / merge with lora', () => {
  let tmp: string;
  const ok = async (argv: string[]) => {
    const r = await runCliIn(tmp, argv);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    return r;
  };
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'lora-cli-'));
    writeTinyModelDir(path.join(tmp, 'tiny-bert'), VOCAB);
    const rows = Array.from({ length: 16 }, (_v, i) => (i % 2 === 0 ? `very ${POS[i % 4]} film\tpos` : `${NEG[i % 4]} film\tneg`));
    writeFileSync(path.join(tmp, 'train.tsv'), `text\tlabel\n${rows.join('\n')}\n`);
    linkAdapterPackages(tmp, [path.resolve(__dirname, '..')]);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test.each([
    ['lora:r=8,alpha=16', { architecture: 'lora', r: 8, alpha: 16, composition_mode: 'add' }, 4],
    ['ia3', { architecture: 'lora', r: 1, alpha: 1, composition_mode: 'scale' }, 6],
  ])('train --adapter %s, then merge: the merged model folder reproduces the adapted model', async (spec, fields, layers) => {
    const run = `run-${spec.split(':')[0]}`;
    await ok(['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--adapter', spec, '--max-steps', '3', '--batch-size', '4', '--lr', '0.05', '--max-length', '8', '--out', run]);
    const saved = JSON.parse(readFileSync(path.join(tmp, run, 'adapter', 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown> };
    expect(saved.config).toMatchObject(fields);
    // The saved adapter (its placement names the linear sites) loads again for eval and predict.
    expect((await ok(['eval', '--adapter-dir', `${run}/adapter`, '--data', 'train.tsv'])).out).toMatch(/^accuracy: \d\.\d{4}/);
    expect((await ok(['predict', '--adapter-dir', `${run}/adapter`, '--text', 'very good film'])).out).toMatch(/pos|neg/);
    const r = await ok(['merge', '--adapter-dir', `${run}/adapter`, '--out', `${run}-merged`]);
    expect(r.out).toMatch(new RegExp(`into ${layers} dense layers .* max rel\\. difference \\d\\.\\d\\de[-+]\\d+`));
    const merge = JSON.parse(readFileSync(path.join(tmp, `${run}-merged`, 'merge.json'), 'utf8')) as { probeMaxRelDifference: number };
    expect(merge.probeMaxRelDifference).toBeLessThan(1e-5);
    // Independently: the merged folder as a plain model vs base + adapter.
    const merged = await loadPretrained(path.join(tmp, `${run}-merged`));
    const base = await loadPretrained(path.join(tmp, 'tiny-bert'));
    const loaded = await loadAdapter(path.join(tmp, run, 'adapter'), base.graph, base.store, createRegistry([lora]), { loadHead: false });
    const want = hidden(loaded.graph, base.store);
    expect(maxRelErr(hidden(merged.graph, merged.store), want)).toBeLessThan(1e-5);
    // Training moved the adapter: the merged model is not the base model.
    expect(maxRelErr(hidden(base.graph, base.store), want)).toBeGreaterThan(1e-6);
    merged.store.dispose();
    base.store.dispose();
  });

  test('list and inspect show the plugin and where it goes', async () => {
    expect((await ok(['list'])).out).toMatch(/lora/);
    const r = await ok(['inspect', '--model', 'tiny-bert', '--adapter', 'lora:r=4,intermediate_lora=true']);
    expect(r.out + r.err).toMatch(/layer\.0\.attention\.self\.query/);
    expect(r.out + r.err).toMatch(/layer\.1\.intermediate\.dense/);
  });

  test('merge reads PEFT folders; a gated adapter is refused with one clear error', async () => {
    const base = await loadPretrained(path.join(tmp, 'tiny-bert'));
    const { applyPlacements } = await import('@adapters/core-graph');
    const graph = applyPlacements(base.graph, [{ adapter: adapter(lora, 'x', { r: 2, alpha: 4, target_modules: ['query', 'dense'] }) }], createRegistry([lora])).graph;
    base.store.sync(graph, 3);
    for (const p of graph.params.values()) if (p.key.endsWith('lora_B.weight')) base.store.assign(p.key, tf.fill([...p.shape], 0.05));
    await savePeftLora(path.join(tmp, 'peft'), graph, base.store, 'x');
    const r = await ok(['merge', '--model', 'tiny-bert', '--adapter-dir', 'peft', '--out', 'peft-merged']);
    // 2 layers × (query + three dense layers) + the pooler.
    expect(r.out).toMatch(/\(PEFT layout\) into 9 dense layers/);
    const merged = await loadPretrained(path.join(tmp, 'peft-merged'));
    const fresh = await loadPretrained(path.join(tmp, 'tiny-bert'));
    const peft = await loadPeftLora(path.join(tmp, 'peft'), fresh.graph, fresh.store);
    expect(maxRelErr(hidden(merged.graph, merged.store), hidden(peft.graph, fresh.store))).toBeLessThan(1e-5);
    for (const s of [base.store, merged.store, fresh.store]) s.dispose();

    await ok(['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--adapter', 'lora:use_gating=true', '--max-steps', '1', '--batch-size', '4', '--max-length', '8', '--out', 'run-gated']);
    const bad = await runCliIn(tmp, ['merge', '--adapter-dir', 'run-gated/adapter', '--out', 'gated-merged']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/a gated LoRA \(use_gating\) depends on the input/);
  });
});
