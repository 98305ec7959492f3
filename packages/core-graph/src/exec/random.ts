import { ConfigError } from '../errors';

/** Seeds are 32-bit: the generators below use `seed >>> 0`, so larger seeds would silently collide (1 and 2^32+1). */
export const MAX_SEED = 2 ** 32 - 1;

/** Refuses seeds the generators would truncate, naming the field. */
export function checkSeed(seed: number, path = 'seed'): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) throw new ConfigError(path, `must be an integer in 0..${MAX_SEED} (seeds are 32-bit), got ${seed}`);
  return seed;
}

/** Deterministic PRNG (mulberry32): weight init must not depend on backend or on tfjs's global RNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the string, mixed with a seed: each parameter gets its own stream, independent of the others. */
export function hashSeed(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Standard normal samples by Box-Muller. */
export function normalSampler(uniform: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** A copy of `items` in a seeded random order (Fisher-Yates, drawing from `rand` from the last position down). */
export function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
