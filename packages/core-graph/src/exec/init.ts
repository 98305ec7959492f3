import { ConfigError } from '../errors';
import type { ParamSpec } from '../graph/types';
import { hashSeed, mulberry32, normalSampler } from './random';

/** Fan-in / fan-out as PyTorch computes them; kernels are [in, out]. */
function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) return [shape[0] ?? 1, shape[0] ?? 1];
  return [shape[0] as number, shape[1] as number];
}

/** Draws a parameter's initial values from its Init, seeded by (seed, key) so results are reproducible. */
export function initialValues(spec: ParamSpec, seed: number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  const uniform = mulberry32(hashSeed(seed, spec.key));
  const normal = normalSampler(uniform);
  const init = spec.init;
  switch (init.kind) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'constant':
      return out.fill(init.value);
    case 'normal':
      for (let i = 0; i < size; i++) out[i] = (init.mean ?? 0) + init.std * normal();
      return out;
    case 'truncatedNormal':
      for (let i = 0; i < size; i++) {
        let z = normal();
        while (Math.abs(z) > init.bound) z = normal();
        out[i] = init.std * z;
      }
      return out;
    case 'uniform':
      for (let i = 0; i < size; i++) out[i] = init.low + (init.high - init.low) * uniform();
      return out;
    case 'kaimingUniform': {
      const gain = Math.sqrt(2 / (1 + init.a * init.a));
      const bound = gain * Math.sqrt(3 / fans(spec.shape)[0]);
      for (let i = 0; i < size; i++) out[i] = (2 * uniform() - 1) * bound;
      return out;
    }
    case 'glorotUniform': {
      const [fanIn, fanOut] = fans(spec.shape);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < size; i++) out[i] = (2 * uniform() - 1) * limit;
      return out;
    }
    case 'identity': {
      const [rows, cols] = spec.shape;
      if (spec.shape.length !== 2 || rows !== cols) throw new ConfigError(`params.${spec.key}.init`, `identity needs a square 2-D shape`);
      out.fill(init.offDiagonal ?? 0);
      for (let i = 0; i < (rows as number); i++) out[i * (rows as number) + i] = 1;
      return out;
    }
  }
}
