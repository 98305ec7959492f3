// T5 parity: tiny random T5ForConditionalGeneration models (transformers 4.57.6; make_t5_fixtures.py) loaded with
// adapter-nmt's loadT5: decoder logits within 1e-5 relative (or 4× torch's float32-vs-float64 error when larger: the
// gated model's float32 logits are ~1e-3 from exact in torch too), and generate() giving transformers' token ids (greedy and
// beam, with and without the key/value cache). `t5`: ReLU, tied LM head; `t5_v1_1`: gated GELU, separate LM head.
// The same with an AdapterHub 1.3.0 adapter (make_t5_adapter_fixtures.py: seq_bn, double_seq_bn, par_bn with
// cross_adapter, so in every encoder and decoder sublayer and the decoder's cross-attention) loaded with loadAdapter.
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph } from '@adapters/core-graph';
import { createRegistry, Executor, loadAdapter, readSafetensorsFile, saveAdapter } from '@adapters/core-graph';
import { plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import { generate, loadT5, seq2seqForward } from '@adapters/adapter-nmt';
import { expectSameFiles, FIXTURES, maxRelErr, TOLERANCE, useBackend } from './harness';

const DIR = join(FIXTURES, 't5');
const VARIANTS = ['t5', 't5_v1_1'];
const METHODS = ['seq_bn', 'double_seq_bn', 'par_bn'];
/** Base variant × adapter: fixture directory, base directory, adapter directory (undefined: the base alone). */
const CASES: Array<[string, string, string | undefined]> = [
  ...VARIANTS.map((v): [string, string, string | undefined] => [v, v, undefined]),
  ...VARIANTS.flatMap((v) => METHODS.map((m): [string, string, string | undefined] => [`${v}_${m}`, v, join(DIR, `${v}_${m}`, 'adapter')])),
];

/** The base model of `variant`, with the AdapterHub adapter in `adapterDir` when given. */
async function modelOf(variant: string, adapterDir: string | undefined): Promise<{ graph: Graph; store: Awaited<ReturnType<typeof loadT5>>['store'] }> {
  const m = await loadT5(join(DIR, variant, 'base'));
  if (adapterDir === undefined) return m;
  const loaded = await loadAdapter(adapterDir, m.graph, m.store, createRegistry(bottleneckPlugins));
  expect(loaded.graph.splices.length).toBeGreaterThanOrEqual(6);
  return { graph: loaded.graph, store: m.store };
}

async function rowsOf(variant: string): Promise<Record<string, number[][]>> {
  const { tensors } = await readSafetensorsFile(join(DIR, variant, 'inputs.safetensors'));
  const out: Record<string, number[][]> = {};
  for (const [k, t] of tensors) {
    const [b, s] = t.shape as [number, number];
    out[k] = Array.from({ length: b }, (_v, i) => Array.from(t.values).slice(i * s, (i + 1) * s).map(Number));
  }
  return out;
}

interface Meta {
  generate: Array<{ settings: { num_beams: number; max_length: number; length_penalty?: number; early_stopping?: boolean }; ids: number[][] }>;
}

beforeAll(useBackend);

describe.each(CASES)('%s', (fixture, variant, adapterDir) => {
  it("decoder logits (teacher forcing) match transformers within 1e-5, or 4× torch's own float32 error when that is larger", async () => {
    const m = await modelOf(variant, adapterDir);
    const rows = await rowsOf(variant);
    const inputs = {
      inputIds: tf.tensor2d(rows['input_ids'] as number[][], undefined, 'int32'),
      attentionMask: tf.tensor2d(rows['attention_mask'] as number[][], undefined, 'float32'),
      decoderInputIds: tf.tensor2d(rows['decoder_input_ids'] as number[][], undefined, 'int32'),
    };
    const logitsOf = (graph: Graph) => tf.tidy(() => Float32Array.from((seq2seqForward(new Executor(graph, m.store), inputs)['logits'] as tf.Tensor).dataSync()));
    const got = logitsOf(m.graph);
    const baseOnly = adapterDir === undefined ? undefined : logitsOf((await loadT5(join(DIR, variant, 'base'))).graph);
    const { tensors } = await readSafetensorsFile(join(DIR, fixture, 'expected.safetensors'));
    const ref = (tensors.get('logits') as { values: Float32Array }).values;
    const exact = (tensors.get('logits_float64') as { values: Float32Array }).values;
    const err = maxRelErr(got, ref);
    // torch's own float32 error (against its float64 pass) bounds how close two float32 implementations can be.
    const refErr = maxRelErr(ref, exact);
    const oursErr = maxRelErr(got, exact);
    console.log(`parity ${fixture} logits: ${err.toExponential(2)} vs float32 torch; ${oursErr.toExponential(2)} vs float64 (torch float32: ${refErr.toExponential(2)})`);
    expect(err).toBeLessThanOrEqual(Math.max(TOLERANCE, 4 * refErr));
    expect(oursErr).toBeLessThanOrEqual(Math.max(TOLERANCE, 4 * refErr));
    // The adapter matters: the base alone is far from AdapterHub's logits.
    if (baseOnly) expect(maxRelErr(baseOnly, ref)).toBeGreaterThan(1e-2);
    tf.dispose(Object.values(inputs));
    m.store.dispose();
  });

  it.each([true, false])('generate() (cache %s) gives the token ids of transformers for greedy and beam settings', async (useCache) => {
    const m = await modelOf(variant, adapterDir);
    const rows = await rowsOf(variant);
    const meta = JSON.parse(readFileSync(join(DIR, fixture, 'meta.json'), 'utf8')) as Meta;
    const exec = new Executor(m.graph, m.store);
    const before = tf.memory().numTensors;
    for (const run of meta.generate) {
      const s = run.settings;
      const ids = generate(exec, rows['input_ids'] as number[][], rows['attention_mask'] as number[][], {
        maxLength: s.max_length, numBeams: s.num_beams, ...(s.length_penalty === undefined ? {} : { lengthPenalty: s.length_penalty }),
        ...(s.early_stopping === undefined ? {} : { earlyStopping: s.early_stopping }), useCache,
      });
      expect({ settings: s, ids }).toEqual({ settings: s, ids: run.ids });
    }
    expect(tf.memory().numTensors).toBe(before);
    m.store.dispose();
  });
});

describe.each(VARIANTS.flatMap((v) => METHODS.map((m) => [v, m] as const)))('%s with AdapterHub %s: saveAdapter', (variant, method) => {
  it('writes the tensor names, bits and BnConfig fields AdapterHub wrote', async () => {
    const hub = join(DIR, `${variant}_${method}`, 'adapter');
    const m = await modelOf(variant, hub);
    const dir = await mkdtemp(join(tmpdir(), 'parity-t5-'));
    try {
      await saveAdapter(dir, m.graph, m.store, 'a', { registry: createRegistry(bottleneckPlugins) });
      await expectSameFiles(dir, hub);
    } finally {
      m.store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
