// Shared helpers of the parity tests: fixture paths, the reference inputs and outputs, the backend, the error measure.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { join } from 'node:path';
import type { Graph, RunOptions, WeightStore } from '@adapters/core-graph';
import { encodeSafetensors, Executor, readSafetensorsFile } from '@adapters/core-graph';

export const FIXTURES = join(__dirname, '..', 'fixtures');
export const BASE_DIR = join(FIXTURES, 'base');
/** With PARITY_EXPORT_DIR set, the save tests keep what saveAdapter wrote in `$PARITY_EXPORT_DIR/<method>` (for check_ts_saved.py). */
export const exportDir = (method: string): string | undefined => {
  const root = process.env['PARITY_EXPORT_DIR'];
  return root ? join(root, method) : undefined;
};
/** The tolerance the parity tests hold every method to (relative, see `maxRelErr`). */
export const TOLERANCE = 1e-5;

/** The tools' jest config has no tfjs setup file: these tests pick the backend themselves (wasm, as users get). */
export async function useBackend(): Promise<void> {
  const wanted = process.env['ADAPTERS_BACKEND'] || 'wasm';
  const ok = await tf.setBackend(wanted);
  await tf.ready();
  if (!ok || tf.getBackend() !== wanted) throw new Error(`parity: backend '${wanted}' is unavailable (got '${tf.getBackend()}')`);
}

const rows = (values: ArrayLike<number>, shape: readonly number[]): number[][] => {
  const [b, s] = shape as [number, number];
  return Array.from({ length: b }, (_, i) => Array.from({ length: s }, (_, j) => values[i * s + j] as number));
};

/** The fixed batch every reference was computed on (int64 in the file). */
export async function referenceInputs(): Promise<{ input_ids: number[][]; attention_mask: number[][] }> {
  const { tensors } = await readSafetensorsFile(join(FIXTURES, 'inputs.safetensors'));
  const ids = tensors.get('input_ids');
  const mask = tensors.get('attention_mask');
  if (!ids || !mask) throw new Error('inputs.safetensors lacks input_ids or attention_mask');
  return { input_ids: rows(ids.values, ids.shape), attention_mask: rows(mask.values, mask.shape) };
}

/** AdapterHub's outputs for a method: `last_hidden_state` [2, 9, 32] and, with a head, `logits`. */
export async function referenceOutputs(method: string): Promise<Map<string, { shape: number[]; values: Float32Array }>> {
  const { tensors } = await readSafetensorsFile(join(FIXTURES, method, 'expected.safetensors'));
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [k, t] of tensors) out.set(k, { shape: [...t.shape], values: Float32Array.from(t.values) });
  return out;
}

/** Largest |got − ref| / max(1, |ref|): relative for entries of magnitude ≥ 1, absolute below (outputs are O(1) after LayerNorm). */
export function maxRelErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) return Infinity;
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs((got[i] as number) - (ref[i] as number)) / Math.max(1, Math.abs(ref[i] as number));
    if (Number.isNaN(d)) return Infinity;
    m = Math.max(m, d);
  }
  return m;
}

/** Runs the graph on the reference inputs and returns the requested outputs as Float32Arrays. */
export async function run(graph: Graph, store: WeightStore, outputs: readonly string[], options: Omit<RunOptions, 'outputs'> = {}): Promise<Record<string, Float32Array>> {
  const feeds = await referenceInputs();
  const result = new Executor(graph, store).run(feeds, { ...options, outputs });
  const values: Record<string, Float32Array> = {};
  for (const name of outputs) {
    const t = result[name];
    if (!t) throw new Error(`no output '${name}'`);
    values[name] = Float32Array.from(t.dataSync());
  }
  tf.dispose(Object.values(result));
  return values;
}

/** Compares outputs with the reference; returns the error per output (for the log) and checks the shape. */
export function compare(got: Record<string, Float32Array>, ref: Map<string, { shape: number[]; values: Float32Array }>, names: Readonly<Record<string, string>>): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const [ours, theirs] of Object.entries(names)) {
    const r = ref.get(theirs);
    const g = got[ours];
    if (!r || !g) throw new Error(`missing output ${ours} / reference ${theirs}`);
    if (g.length !== r.values.length) throw new Error(`${ours}: ${g.length} values, the reference ${theirs} [${r.shape.join(', ')}] has ${r.values.length}`);
    errors[theirs] = maxRelErr(g, r.values);
  }
  return errors;
}

/**
 * Checks a folder our saveAdapter wrote against the one AdapterHub wrote: every AdapterHub tensor with the same
 * bits (ours may add names matching `extra`), and every field of AdapterHub's adapter_config.json `config` equal,
 * with numbers AdapterHub wrote as floats (`1.0`) written as floats too.
 */
export async function expectSameFiles(ours: string, hub: string, extra?: RegExp): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const a = (await readSafetensorsFile(join(ours, 'adapter.safetensors'))).tensors;
  const b = (await readSafetensorsFile(join(hub, 'adapter.safetensors'))).tensors;
  for (const [k, t] of b) {
    const mine = a.get(k);
    expect([k, mine?.shape]).toEqual([k, t.shape]);
    expect(Buffer.from(Float32Array.from(mine?.values ?? []).buffer).equals(Buffer.from(Float32Array.from(t.values).buffer))).toBe(true);
  }
  const added = [...a.keys()].filter((k) => !b.has(k));
  expect(added.filter((k) => !extra || !extra.test(k))).toEqual([]);
  const ourText = await readFile(join(ours, 'adapter_config.json'), 'utf8');
  const hubText = await readFile(join(hub, 'adapter_config.json'), 'utf8');
  const ourConfig = (JSON.parse(ourText) as { config: Record<string, unknown> }).config;
  const hubConfig = (JSON.parse(hubText) as { config: Record<string, unknown> }).config;
  for (const [k, v] of Object.entries(hubConfig)) expect([k, ourConfig[k]]).toEqual([k, v]);
  for (const m of hubText.matchAll(/"(\w+)": (-?\d+\.\d+)/g)) expect(ourText).toMatch(new RegExp(`"${m[1] as string}": -?\\d+\\.\\d+`));
}

/**
 * A copy of an AdapterHub folder as AdapterHub writes it when the adapters were added to a bare BertModel: every
 * `*.safetensors` key without the model prefix (`bert.`). Returns the copy's path (a new temporary folder).
 */
export async function barePrefixCopy(dir: string, prefix = 'bert.'): Promise<string> {
  const { mkdtemp, readdir, copyFile, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const out = await mkdtemp(join(tmpdir(), 'parity-bare-'));
  for (const f of await readdir(dir)) {
    if (!f.endsWith('.safetensors')) {
      await copyFile(join(dir, f), join(out, f));
      continue;
    }
    const { tensors } = await readSafetensorsFile(join(dir, f));
    const renamed: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
    for (const [k, t] of tensors) renamed[k.startsWith(prefix) ? k.slice(prefix.length) : k] = { dtype: 'F32', shape: [...t.shape], values: Float32Array.from(t.values) };
    await writeFile(join(out, f), encodeSafetensors(renamed, { format: 'pt' }));
  }
  return out;
}

/** Label names by id from an AdapterHub head_config.json's `config.label2id` (undefined when it has none). */
export async function hubLabels(dir: string): Promise<string[] | undefined> {
  const { readFile } = await import('node:fs/promises');
  const map = (JSON.parse(await readFile(join(dir, 'head_config.json'), 'utf8')) as { config: { label2id?: Record<string, number> | null } }).config.label2id;
  if (!map) return undefined;
  const labels: string[] = [];
  for (const [label, id] of Object.entries(map)) labels[id] = label;
  return labels;
}

/**
 * Checks the head our saveAdapter wrote against AdapterHub's: the same tensor names and bits, the same `config`
 * (head_type, layers, activation_function, label2id, ...) and `model_class`, `name`.
 */
export async function expectSameHeadFiles(ours: string, hub: string): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const a = (await readSafetensorsFile(join(ours, 'model_head.safetensors'))).tensors;
  const b = (await readSafetensorsFile(join(hub, 'model_head.safetensors'))).tensors;
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, t] of b) {
    const mine = a.get(k);
    expect([k, mine?.shape]).toEqual([k, t.shape]);
    expect(Buffer.from(Float32Array.from(mine?.values ?? []).buffer).equals(Buffer.from(Float32Array.from(t.values).buffer))).toBe(true);
  }
  const read = async (d: string) => JSON.parse(await readFile(join(d, 'head_config.json'), 'utf8')) as Record<string, unknown>;
  const [mine, theirs] = [await read(ours), await read(hub)];
  for (const k of ['config', 'model_class', 'name', 'model_type', 'hidden_size']) expect([k, mine[k]]).toEqual([k, theirs[k]]);
}
