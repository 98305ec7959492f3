// Encoder-decoder parity: tiny random MarianMTModel / MBartForConditionalGeneration / BartForConditionalGeneration
// (transformers 4.57.6) and AdapterHub 1.3.0 bottleneck adapters on BART (encoder, decoder and cross-attention).
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRegistry, Executor, loadAdapter, readSafetensorsFile } from '@adapters/core-graph';
import { plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import type { PretrainedSeq2Seq } from '@adapters/adapter-nmt';
import { generate, loadSeq2Seq, seq2seqForward } from '@adapters/adapter-nmt';
import { FIXTURES, maxRelErr, TOLERANCE, useBackend } from './harness';

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

describe.each(['marian', 'mbart', 'bart'])('%s generate()', (model) => {
  it.each([
    ['greedy', true],
    ['greedy', false],
    ['beam', true],
    ['beam', false],
  ] as const)('%s (cache %s) gives the token ids of transformers', async (kind, useCache) => {
    const m = await loadSeq2Seq(join(DIR, model, 'base'));
    const meta = JSON.parse(readFileSync(join(DIR, model, 'meta.json'), 'utf8')) as {
      ids: { pad: number; eos: number; start: number; bos: number | null };
      generation: { max_length: number; num_beams: number; length_penalty: number };
      greedy: number[][];
      beam: number[][];
    };
    const inputs = await tensorsOf(join(DIR, model, 'inputs.safetensors'));
    const rows = (k: string) => {
      const t = inputs.get(k) as { shape: number[]; values: Float64Array };
      const [b, s] = t.shape as [number, number];
      return Array.from({ length: b }, (_v, i) => Array.from(t.values.subarray(i * s, (i + 1) * s)));
    };
    const before = tf.memory().numTensors;
    const out = generate(new Executor(m.graph, m.store), rows('input_ids'), rows('attention_mask'), {
      maxLength: meta.generation.max_length,
      numBeams: kind === 'beam' ? meta.generation.num_beams : 1,
      ...(kind === 'beam' ? { lengthPenalty: meta.generation.length_penalty } : {}),
      decoderStartTokenId: meta.ids.start,
      eosTokenId: meta.ids.eos,
      padTokenId: meta.ids.pad,
      ...(meta.ids.bos === null ? {} : { forcedBosTokenId: meta.ids.bos }),
      useCache,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(out).toEqual(meta[kind]);
    m.store.dispose();
  });
});
