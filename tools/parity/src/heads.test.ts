// Heads made here, saved for AdapterHub: a head added with addHead (random weights) is saved with saveAdapter in
// AdapterHub's format, reloads here with the same logits, and — with PARITY_EXPORT_DIR set — leaves the folder and our
// own outputs (ts_expected.safetensors) for check_ts_saved.py, where AdapterHub's load_adapter(with_head=True) must
// reproduce them. Covers the variants AdapterHub names differently: one layer on the pooler, two layers with gelu on
// [CLS], and a tagging head with two layers and no activation (AdapterHub then has no act module: out Linear is 3).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { AnyHeadSpec } from '@adapters/core-graph';
import { addHead, createRegistry, encodeSafetensors, loadAdapter, loadPretrained, readSafetensorsFile, saveAdapter } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { BASE_DIR, exportDir, FIXTURES, run, useBackend } from './harness';

interface Case {
  readonly method: string;
  readonly spec: AnyHeadSpec;
  readonly labels?: readonly string[];
  /** What head_config.json's `config` must say (AdapterHub's fields). */
  readonly hub: Readonly<Record<string, unknown>>;
  readonly keys: readonly string[];
}

const CASES: readonly Case[] = [
  {
    method: 'ts_head_pooler', spec: { type: 'classification', name: 'a', numLabels: 3 }, labels: ['neg', 'neu', 'pos'],
    hub: { head_type: 'classification', layers: 1, use_pooler: true, num_labels: 3, label2id: { neg: 0, neu: 1, pos: 2 } }, keys: ['1.bias', '1.weight'],
  },
  {
    method: 'ts_head_cls_gelu', spec: { type: 'classification', name: 'a', numLabels: 4, pooling: 'cls', layers: 2, activation: 'gelu' },
    hub: { head_type: 'classification', layers: 2, activation_function: 'gelu', use_pooler: false, num_labels: 4, label2id: null }, keys: ['1.bias', '1.weight', '4.bias', '4.weight'],
  },
  {
    method: 'ts_head_tagging_linear', spec: { type: 'tokenClassification', name: 'a', numLabels: 5, layers: 2, activation: 'identity' },
    hub: { head_type: 'tagging', layers: 2, activation_function: null, num_labels: 5, dropout_prob: null }, keys: ['1.bias', '1.weight', '3.bias', '3.weight'],
  },
];

beforeAll(useBackend);

describe('heads made here load in AdapterHub (files for check_ts_saved.py)', () => {
  test.each(CASES)('$method', async ({ method, spec, labels, hub, keys }) => {
    const pre = await loadPretrained(BASE_DIR);
    const dir = exportDir(method) ?? (await mkdtemp(join(tmpdir(), 'parity-head-')));
    try {
      const registry = createRegistry([bottleneck]);
      const loaded = await loadAdapter(join(FIXTURES, 'seq_bn', 'adapter'), pre.graph, pre.store, registry, { loadHead: false });
      const graph = addHead(loaded.graph, spec);
      pre.store.sync(graph, 7);
      // Weights far from the N(0, 0.02²) init, so a wrong key or activation shows in the logits.
      const headKeys = [...graph.params.values()].filter((p) => p.owner === 'head:a').map((p) => p.key);
      headKeys.forEach((k, i) => {
        const t = tf.randomNormal([...graph.param(k).shape], 0, 0.5, 'float32', 100 + i);
        pre.store.assign(k, t);
        t.dispose();
      });
      await saveAdapter(dir, graph, pre.store, 'a', { registry, head: 'a', ...(labels ? { labels } : {}) });
      const saved = JSON.parse(await readFile(join(dir, 'head_config.json'), 'utf8')) as { config: Record<string, unknown>; model_class: string };
      expect(saved.model_class).toBe('BertAdapterModel');
      expect(saved.config).toMatchObject(hub);
      const got = await run(graph, pre.store, ['last_hidden_state', 'a.logits']);
      // Reloaded here: the same logits, bit for bit.
      const again = await loadPretrained(BASE_DIR);
      try {
        const back = await loadAdapter(dir, again.graph, again.store, registry);
        expect(back.head).toBe('a');
        const reloaded = await run(back.graph, again.store, ['a.logits']);
        expect(Buffer.from((reloaded['a.logits'] as Float32Array).buffer).equals(Buffer.from((got['a.logits'] as Float32Array).buffer))).toBe(true);
      } finally {
        again.store.dispose();
      }
      expect([...(await readSafetensorsFile(join(dir, 'model_head.safetensors'))).tensors.keys()].sort()).toEqual(keys.map((k) => `heads.a.${k}`));
      // Our outputs, the reference check_ts_saved.py holds AdapterHub to ([2, labels] or per token [2, 9, labels]).
      const logits = got['a.logits'] as Float32Array;
      const numLabels = (spec as { numLabels: number }).numLabels;
      const out = {
        last_hidden_state: { dtype: 'F32' as const, shape: [2, 9, 32], values: got['last_hidden_state'] as Float32Array },
        logits: { dtype: 'F32' as const, shape: spec.type === 'classification' ? [2, numLabels] : [2, 9, numLabels], values: logits },
      };
      await writeFile(join(dir, 'ts_expected.safetensors'), encodeSafetensors(out, { format: 'pt' }));
    } finally {
      pre.store.dispose();
      if (exportDir(method) === undefined) await rm(dir, { recursive: true, force: true });
    }
  });
});
