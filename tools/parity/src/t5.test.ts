// T5 parity: tiny random T5ForConditionalGeneration models (transformers 4.57.6; make_t5_fixtures.py) loaded with
// adapter-nmt's loadT5: decoder logits within 1e-5 relative (or 4× torch's float32-vs-float64 error when larger: the
// gated model's float32 logits are ~1e-3 from exact in torch too), and generate() giving transformers' token ids (greedy and
// beam, with and without the key/value cache). `t5`: ReLU, tied LM head; `t5_v1_1`: gated GELU, separate LM head.
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Executor, readSafetensorsFile } from '@adapters/core-graph';
import { generate, loadT5, seq2seqForward } from '@adapters/adapter-nmt';
import { FIXTURES, maxRelErr, TOLERANCE, useBackend } from './harness';

const DIR = join(FIXTURES, 't5');
const VARIANTS = ['t5', 't5_v1_1'];

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

describe.each(VARIANTS)('%s', (variant) => {
  it("decoder logits (teacher forcing) match transformers within 1e-5, or 4× torch's own float32 error when that is larger", async () => {
    const m = await loadT5(join(DIR, variant, 'base'));
    const rows = await rowsOf(variant);
    const inputs = {
      inputIds: tf.tensor2d(rows['input_ids'] as number[][], undefined, 'int32'),
      attentionMask: tf.tensor2d(rows['attention_mask'] as number[][], undefined, 'float32'),
      decoderInputIds: tf.tensor2d(rows['decoder_input_ids'] as number[][], undefined, 'int32'),
    };
    const got = tf.tidy(() => Float32Array.from((seq2seqForward(new Executor(m.graph, m.store), inputs)['logits'] as tf.Tensor).dataSync()));
    const { tensors } = await readSafetensorsFile(join(DIR, variant, 'expected.safetensors'));
    const ref = (tensors.get('logits') as { values: Float32Array }).values;
    const exact = (tensors.get('logits_float64') as { values: Float32Array }).values;
    const err = maxRelErr(got, ref);
    // torch's own float32 error (against its float64 pass) bounds how close two float32 implementations can be.
    const refErr = maxRelErr(ref, exact);
    const oursErr = maxRelErr(got, exact);
    console.log(`parity ${variant} logits: ${err.toExponential(2)} vs float32 torch; ${oursErr.toExponential(2)} vs float64 (torch float32: ${refErr.toExponential(2)})`);
    expect(err).toBeLessThanOrEqual(Math.max(TOLERANCE, 4 * refErr));
    expect(oursErr).toBeLessThanOrEqual(Math.max(TOLERANCE, 4 * refErr));
    tf.dispose(Object.values(inputs));
    m.store.dispose();
  });

  it.each([true, false])('generate() (cache %s) gives the token ids of transformers for greedy and beam settings', async (useCache) => {
    const m = await loadT5(join(DIR, variant, 'base'));
    const rows = await rowsOf(variant);
    const meta = JSON.parse(readFileSync(join(DIR, variant, 'meta.json'), 'utf8')) as Meta;
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
