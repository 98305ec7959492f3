// Encoder-decoder parity: tiny random MarianMTModel / MBartForConditionalGeneration / BartForConditionalGeneration
// (transformers 4.57.6) and AdapterHub 1.3.0 bottleneck adapters on BART (encoder, decoder and cross-attention).
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRegistry, Executor, loadAdapter, readSafetensorsFile, saveAdapter } from '@adapters/core-graph';
import { plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import type { PretrainedSeq2Seq } from '@adapters/adapter-nmt';
import { generate, loadSeq2Seq, seq2seqForward } from '@adapters/adapter-nmt';
import { expectSameFiles, FIXTURES, maxRelErr, TOLERANCE, useBackend } from './harness';

const DIR = join(FIXTURES, 'seq2seq');

async function tensorsOf(file: string): Promise<Map<string, { shape: number[]; values: Float64Array }>> {
  const { tensors } = await readSafetensorsFile(file);
  return new Map([...tensors].map(([k, t]) => [k, { shape: [...t.shape], values: Float64Array.from(t.values) }]));
}

async function inputsOf(model: string): Promise<{ inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D; decoderInputIds: tf.Tensor2D }> {
  const t = await tensorsOf(join(DIR, model, 'inputs.safetensors'));
  const get = (k: string, dtype: 'int32' | 'float32') => {
    const v = t.get(k);
    if (!v) throw new Error(`inputs.safetensors lacks ${k}`);
    return tf.tensor2d(Array.from(v.values), v.shape as [number, number], dtype);
  };
  return { inputIds: get('input_ids', 'int32'), attentionMask: get('attention_mask', 'float32'), decoderInputIds: get('decoder_input_ids', 'int32') };
}

async function logitsOf(m: PretrainedSeq2Seq, model: string): Promise<Float32Array> {
  const inputs = await inputsOf(model);
  const out = tf.tidy(() => seq2seqForward(new Executor(m.graph, m.store), inputs)['logits'] as tf.Tensor);
  const values = Float32Array.from(out.dataSync());
  tf.dispose([out, inputs.inputIds, inputs.attentionMask, inputs.decoderInputIds]);
  return values;
}

beforeAll(useBackend);

describe.each(['marian', 'mbart', 'bart'])('%s base model', (model) => {
  it('decoder logits (teacher forcing) match transformers within 1e-5', async () => {
    const m = await loadSeq2Seq(join(DIR, model, 'base'));
    const ref = (await tensorsOf(join(DIR, model, 'expected.safetensors'))).get('logits');
    if (!ref) throw new Error('no reference logits');
    const got = await logitsOf(m, model);
    const err = maxRelErr(got, ref.values);
    console.log(`parity ${model} logits: ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
    m.store.dispose();
  });
});

describe.each(['seq_bn', 'double_seq_bn', 'par_bn', 'seq_bn_plain'])('BART with AdapterHub %s', (method) => {
  it('decoder logits match AdapterHub within 1e-5 (and the base alone does not)', async () => {
    const base = await loadSeq2Seq(join(DIR, 'bart', 'base'));
    const registry = createRegistry(bottleneckPlugins);
    const loaded = await loadAdapter(join(DIR, `bart_${method}`, 'adapter'), base.graph, base.store, registry);
    const ref = (await tensorsOf(join(DIR, `bart_${method}`, 'expected.safetensors'))).get('logits');
    if (!ref) throw new Error('no reference logits');
    const got = await logitsOf({ ...base, graph: loaded.graph }, 'bart');
    const baseOnly = await logitsOf(base, 'bart');
    const err = maxRelErr(got, ref.values);
    console.log(`parity bart ${method} logits: ${err.toExponential(2)} (${loaded.graph.splices.length} splices)`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
    expect(maxRelErr(baseOnly, ref.values)).toBeGreaterThan(1e-2);
    base.store.dispose();
  });
});

interface GenerationMeta {
  ids: { pad: number; eos: number; start: number; bos: number | null };
  generation: { max_length: number };
  variants: Record<string, { num_beams: number; length_penalty?: number; early_stopping?: boolean | 'never'; max_length?: number; bad_words_ids?: number[][] }>;
  outputs: Record<string, number[][]>;
}

/** Our generate() with one of make_seq2seq_fixtures.py's VARIANTS; checks that no tensor is left behind. */
async function generateLike(m: PretrainedSeq2Seq, graph: PretrainedSeq2Seq['graph'], meta: GenerationMeta, variant: string, useCache: boolean): Promise<number[][]> {
  const source = await tensorsOf(join(DIR, m.config.family, 'inputs.safetensors'));
  const rows = (k: string) => {
    const t = source.get(k) as { shape: number[]; values: Float64Array };
    const [b, s] = t.shape as [number, number];
    return Array.from({ length: b }, (_v, i) => Array.from(t.values.subarray(i * s, (i + 1) * s)));
  };
  const v = meta.variants[variant];
  if (!v) throw new Error(`no variant ${variant}`);
  const before = tf.memory().numTensors;
  const out = generate(new Executor(graph, m.store), rows('input_ids'), rows('attention_mask'), {
    maxLength: v.max_length ?? meta.generation.max_length,
    numBeams: v.num_beams,
    ...(v.length_penalty === undefined ? {} : { lengthPenalty: v.length_penalty }),
    ...(v.early_stopping === undefined ? {} : { earlyStopping: v.early_stopping }),
    ...(v.bad_words_ids === undefined ? {} : { badTokenIds: v.bad_words_ids.map(([t]) => t as number) }),
    decoderStartTokenId: meta.ids.start,
    eosTokenId: meta.ids.eos,
    padTokenId: meta.ids.pad,
    ...(meta.ids.bos === null ? {} : { forcedBosTokenId: meta.ids.bos }),
    useCache,
  });
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

const VARIANTS = ['greedy', 'beam', 'beam4_early', 'beam2_never', 'beam5_short', 'greedy_bad', 'beam3_bad'];
const readMeta = (dir: string): GenerationMeta => JSON.parse(readFileSync(join(DIR, dir, 'meta.json'), 'utf8')) as GenerationMeta;

describe.each(['marian', 'mbart', 'bart'])('%s generate()', (model) => {
  it.each(VARIANTS.flatMap((v) => [[v, true], [v, false]] as const))('%s (cache %s) gives the token ids of transformers', async (variant, useCache) => {
    const m = await loadSeq2Seq(join(DIR, model, 'base'));
    const meta = readMeta(model);
    expect(await generateLike(m, m.graph, meta, variant, useCache)).toEqual(meta.outputs[variant]);
    m.store.dispose();
  });
});

describe.each(['seq_bn', 'double_seq_bn', 'par_bn', 'seq_bn_plain'])('BART with AdapterHub %s: saveAdapter', (method) => {
  it('writes the tensor names, bits and BnConfig fields AdapterHub wrote', async () => {
    const m = await loadSeq2Seq(join(DIR, 'bart', 'base'));
    const registry = createRegistry(bottleneckPlugins);
    const hub = join(DIR, `bart_${method}`, 'adapter');
    const loaded = await loadAdapter(hub, m.graph, m.store, registry);
    const dir = await mkdtemp(join(tmpdir(), 'parity-s2s-'));
    try {
      await saveAdapter(dir, loaded.graph, m.store, 'a', { registry });
      await expectSameFiles(dir, hub);
    } finally {
      m.store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each(['seq_bn', 'double_seq_bn', 'par_bn'])('BART with AdapterHub %s: generate()', (method) => {
  it.each(VARIANTS)('%s gives the token ids of AdapterHub + transformers', async (variant) => {
    const m = await loadSeq2Seq(join(DIR, 'bart', 'base'));
    const loaded = await loadAdapter(join(DIR, `bart_${method}`, 'adapter'), m.graph, m.store, createRegistry(bottleneckPlugins));
    const meta = readMeta(`bart_${method}`);
    expect(await generateLike(m, loaded.graph, meta, variant, true)).toEqual(meta.outputs[variant]);
    m.store.dispose();
  });
});
