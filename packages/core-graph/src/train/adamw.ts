import * as tf from '@tensorflow/tfjs';
import { fusedAdamW } from '../ops/fused';

export interface AdamWOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  readonly weightDecay?: number;
}

/** AdamW's step count and first/second moments per weight key (flat values; shapes are the weights'). */
export interface AdamWState {
  readonly step: number;
  readonly m: ReadonlyMap<string, SlotValues>;
  readonly v: ReadonlyMap<string, SlotValues>;
}

export interface SlotValues {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter), as PyTorch's torch.optim.AdamW:
 * p ← p − lr·wd·p, then the bias-corrected Adam step. Decay applies only to the keys in `decayKeys`
 * (no decay on biases and LayerNorm parameters).
 */
export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private step = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;

  constructor(
    private readonly decayKeys: ReadonlySet<string>,
    options: AdamWOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
  }

  get steps(): number {
    return this.step;
  }

  /**
   * Applies one update; `grads` maps weight keys to gradients of the variables in `params`. `lrScale` multiplies
   * `lr` for the keys it lists (decay included, as a per-group rate in PyTorch).
   */
  apply(params: ReadonlyMap<string, tf.Variable>, grads: Readonly<Record<string, tf.Tensor>>, lr: number, lrScale?: ReadonlyMap<string, number>): void {
    this.step += 1;
    const c1 = 1 - this.beta1 ** this.step;
    const c2 = 1 - this.beta2 ** this.step;
    tf.tidy(() => {
      for (const [key, p] of params) {
        const g = grads[key];
        if (!g) continue;
        const rate = lr * (lrScale?.get(key) ?? 1);
        const m = this.slot(this.m, key, p);
        const v = this.slot(this.v, key, p);
        const decay = this.decayKeys.has(key) ? this.weightDecay : 0;
        const fused = fusedAdamW(p, g, m, v, { lr: rate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: decay, step: this.step });
        if (fused) {
          // One pass instead of ~14 kernels per tensor.
          p.assign(fused[0]);
          m.assign(fused[1]);
          v.assign(fused[2]);
          continue;
        }
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon));
        const decayed = this.decayKeys.has(key) && this.weightDecay > 0 ? tf.mul(p, 1 - rate * this.weightDecay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, rate)));
      }
    });
  }

  /** Copies of the step count and the moment slots (for checkpoints and resume). */
  state(): AdamWState {
    const copy = (slots: Map<string, tf.Variable>) => new Map([...slots].map(([k, s]) => [k, { shape: [...s.shape], values: Float32Array.from(s.dataSync() as Float32Array) }]));
    return { step: this.step, m: copy(this.m), v: copy(this.v) };
  }

  /** Replaces the step count and the slots with a saved state (slots absent from it start at zero again). */
  loadState(state: AdamWState): void {
    this.dispose();
    const load = (slots: Map<string, tf.Variable>, saved: AdamWState['m']) => {
      for (const [k, { shape, values }] of saved) {
        // The variable shares the tensor's (ref-counted) data; our handle is dropped.
        const t = tf.tensor(values, [...shape]);
        slots.set(k, tf.variable(t, false));
        t.dispose();
      }
    };
    load(this.m, state.m);
    load(this.v, state.v);
    this.step = state.step;
  }

  private slot(slots: Map<string, tf.Variable>, key: string, p: tf.Variable): tf.Variable {
    let s = slots.get(key);
    if (!s) {
      s = tf.variable(tf.zerosLike(p), false);
      slots.set(key, s);
    }
    return s;
  }

  dispose(): void {
    for (const s of [...this.m.values(), ...this.v.values()]) s.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** Linear warm-up from 0 to `peak` over `warmup` steps, then linear decay to 0 at `total`. */
export function linearSchedule(peak: number, warmup: number, total: number): (step: number) => number {
  return (step) => {
    if (warmup > 0 && step < warmup) return (peak * (step + 1)) / warmup;
    const rest = Math.max(1, total - warmup);
    return peak * Math.max(0, (total - step) / rest);
  };
}

/** Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): number {
  const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0] as number);
  if (Number.isFinite(maxNorm) && maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const [k, g] of Object.entries(grads)) {
      grads[k] = tf.mul(g, scale);
      g.dispose();
    }
  }
  return norm;
}
