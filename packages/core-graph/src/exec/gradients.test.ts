// Autodiff through the executor (tfjs, float32) checked against central finite differences of an
// independent float64 recomputation of the same model (reference-bert + a float64 toy adapter).
import * as tf from '@tensorflow/tfjs';
import { exportToCheckpoint } from '../checkpoint/hf-keys';
import type { Graph } from '../graph/graph';
import type { EncoderConfig } from '../model/config';
import { encoderConfig } from '../model/config';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { compareGradients, numericGradient } from '../testing/finite-differences';
import type { RefBertConfig, RefTensor, RefWeights } from '../testing/reference-bert';
import { createRefRng, refBertForward, refLinear } from '../testing/reference-bert';
import { toyRegistry } from '../testing/run-helpers';
import { Executor } from './executor';
import { WeightStore } from './weights';

const partial: Partial<EncoderConfig> = { vocabSize: 12, hiddenSize: 8, numHeads: 2, numLayers: 1, intermediateSize: 12, maxPositions: 8, typeVocabSize: 2, hiddenAct: 'gelu' };
const config = encoderConfig(partial);
const H = config.hiddenSize;
const REF: RefBertConfig = { ...partial, layerNormEps: config.layerNormEps, hiddenAct: config.hiddenAct } as RefBertConfig;
// Repeated ids (3, 7) exercise the embedding's scatter-add gradient; rows never used must get 0.
const ids = [
  [3, 7, 3, 11],
  [7, 0, 5, 7],
];
const mask = [
  [1, 1, 1, 1],
  [1, 1, 1, 0],
];
const types = [
  [0, 0, 1, 1],
  [0, 1, 1, 0],
];
const B = ids.length;
const S = 4;

/** BERT + pooler (via a classification head) + a random-init toy adapter after the encoder output. */
function buildModel(): Graph {
  const base = addHead(buildEncoder(partial), { type: 'classification', name: 'cls', numLabels: 2 });
  return applyPlacements(base, [{ adapter: adapter('toy', 't', { size: 4 }), select: { names: 'encoder.output' }, mode: 'after' }], toyRegistry()).graph;
}

const rng = createRefRng(99);
const R1 = Float64Array.from({ length: B * S * H }, () => rng.normal());
const R2 = Float64Array.from({ length: B * H }, () => rng.normal());

/** Float64 loss: Σ adapted_hidden·R1 + Σ pooler(adapted_hidden)·R2, from HF-layout weights. */
function refLoss(w: RefWeights): number {
  const get = (k: string) => (w[k] as RefTensor).values;
  const { lastHidden: h } = refBertForward(REF, w, ids, mask, types);
  // toy adapter 'after': a = h + up(relu(down(h)))
  const down = refLinear(h, H, 4, get('encoder.output.adapters.t.down.weight'), get('encoder.output.adapters.t.down.bias')).map((x) => (x > 0 ? x : 0));
  const up = refLinear(down, 4, H, get('encoder.output.adapters.t.up.weight'), get('encoder.output.adapters.t.up.bias'));
  const a = h.map((x, i) => x + (up[i] as number));
  const cls = new Float64Array(B * H);
  for (let b = 0; b < B; b++) cls.set(a.subarray(b * S * H, b * S * H + H), b * H);
  const pooled = refLinear(cls, H, H, get('pooler.dense.weight'), get('pooler.dense.bias')).map(Math.tanh);
  let loss = 0;
  a.forEach((x, i) => (loss += x * (R1[i] as number)));
  pooled.forEach((x, i) => (loss += x * (R2[i] as number)));
  return loss;
}

/** [in, out] (store layout) → [out, in] (checkpoint layout). */
function transpose(values: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
  return out;
}

// Store key → whether it is a kernel stored [in, out] (checkpoint layout is transposed).
const CHECKED: readonly string[] = [
  'encoder.layer.0.intermediate.dense.weight', // dense kernel
  'encoder.layer.0.attention.output.LayerNorm.weight', // LayerNorm weight
  'embeddings.word_embeddings.weight', // embedding table (custom scatter-add gradient)
  'embeddings.token_type_embeddings.weight',
  'encoder.layer.0.attention.self.query.weight', // attention query kernel
  'encoder.output.adapters.t.down.weight', // toy adapter kernel
];

describe('gradients vs finite differences', () => {
  it('runs on the backend jest.setup.js selects (wasm unless ADAPTERS_BACKEND names another)', () => {
    expect(tf.getBackend()).toBe(process.env['ADAPTERS_BACKEND'] || 'wasm');
  });

  it('tf.variableGrads through the executor matches float64 central differences', () => {
    const graph = buildModel();
    const store = WeightStore.create(graph, 21);
    try {
      const ex = new Executor(graph, store);
      const vars = CHECKED.map((k) => store.get(k));
      for (const v of vars) v.trainable = true;
      const r1 = tf.tensor(Float32Array.from(R1), [B, S, H]);
      const r2 = tf.tensor(Float32Array.from(R2), [B, H]);
      const { value, grads } = tf.variableGrads(() => {
        const out = ex.forward({ input_ids: ids, attention_mask: mask, token_type_ids: types }, { outputs: ['last_hidden_state', 'pooler_output'] });
        return tf.add(tf.sum(tf.mul(out['last_hidden_state'] as tf.Tensor, r1)), tf.sum(tf.mul(out['pooler_output'] as tf.Tensor, r2))) as tf.Scalar;
      }, vars);

      // The float64 model is built from the store's own (float32) values, in checkpoint layout.
      const hf = exportToCheckpoint(graph, store);
      const weights: RefWeights = {};
      for (const [k, t] of hf) weights[k.replace(/^bert\./, '')] = { shape: t.shape, values: Float64Array.from(t.values) };
      // Same loss in float64 and float32 (the forward itself is checked in encoder.test.ts).
      expect(Math.abs(refLoss(weights) - value.dataSync()[0]!)).toBeLessThan(1e-4);

      for (const key of CHECKED) {
        const spec = graph.param(key);
        const name = key; // base keys minus 'bert.' are the store keys; adapter keys are unchanged
        const ref = weights[name] as RefTensor;
        const numeric = numericGradient((x) => refLoss({ ...weights, [name]: { shape: ref.shape, values: x } }), ref.values, 1e-3);
        const raw = (grads[store.get(key).name] as tf.Tensor).dataSync() as Float32Array;
        const analytic = spec.kind === 'kernel' ? transpose(raw, spec.shape[0] as number, spec.shape[1] as number) : Float64Array.from(raw);
        // Float32 autodiff vs float64 differences with h = 1e-3: truncation error is O(h²) ≈ 1e-6 relative;
        // float32 rounding is ~1e-7 relative, amplified up to ~1e-4 where the embedding LayerNorm divides
        // by a small std (random weights have std 0.02). So max|error| <= 1e-3·max|g| is generous, yet far
        // below any wrong gradient (a missing term or a transposed factor is O(max|g|)).
        const scale = numeric.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
        const { maxAbsError, worstIndex } = compareGradients(analytic, numeric);
        expect({ key, ok: maxAbsError <= 1e-3 * scale + 1e-9, maxAbsError, worstIndex }).toMatchObject({ key, ok: true });
        expect(scale).toBeGreaterThan(1e-5); // the gradient is not trivially zero
      }
      // Embedding rows no id uses get exactly zero gradient (scatter-add touches only used rows).
      const wordGrad = (grads[store.get('embeddings.word_embeddings.weight').name] as tf.Tensor).arraySync() as number[][];
      for (const row of [1, 2, 4, 6, 8, 9, 10]) expect(wordGrad[row]?.every((g) => g === 0)).toBe(true);

      tf.dispose([value, r1, r2, ...Object.values(grads)]);
    } finally {
      store.dispose();
    }
  });
});
