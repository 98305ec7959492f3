// JSON documents with one mutation each, for fuzzing readers of JSON files (adapter_config.json, run manifests):
// the reader must either accept an equal / valid variant or throw one clear error, never crash or accept garbage.
import * as fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
/** Replacement values: wrong types, out-of-range and non-finite numbers (1e400), control characters. */
const REPLACEMENTS: readonly string[] = ['null', '-1', '1e400', '1.5', '1000000000000', '"x\\u0000y"', '[]', '{}', 'true', '""'];
const PROTO_KEYS = ['toString', 'constructor', '__proto__', 'hasOwnProperty'];

/** Every path to a value inside a JSON object (objects and arrays descended). */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** JSON text with the value at `path` replaced by raw JSON text (so 1e400 stays 1e400), or a key added to the object there. */
function mutateJson(value: Json, path: (string | number)[], raw: string, addKey?: string): string {
  const marker = '"@@fuzz-mark@@"';
  const copy = JSON.parse(JSON.stringify(value)) as Json;
  if (addKey !== undefined) {
    let target = copy;
    for (const p of path) target = (target as Record<string | number, Json>)[p] as Json;
    if (target === null || typeof target !== 'object' || Array.isArray(target)) return JSON.stringify(copy);
    Object.defineProperty(target, addKey, { value: '@@fuzz-mark@@', enumerable: true, configurable: true, writable: true });
  } else {
    let parent = copy as Record<string | number, Json>;
    for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, Json>;
    parent[path[path.length - 1] as string | number] = '@@fuzz-mark@@';
  }
  const text = JSON.stringify(copy);
  if (!text.includes(marker)) throw new Error(`fuzz: mutation marker lost in ${text}`);
  return text.replace(marker, () => raw);
}

/** Same JSON type as the original at that path (then an accepted change may be a valid variant). */
function sameType(value: Json, path: (string | number)[], raw: string): boolean {
  let v: Json = value;
  for (const p of path) v = (v as Record<string | number, Json>)[p] as Json;
  const r = JSON.parse(raw.replace('1e400', '1')) as Json;
  const t = (x: Json) => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);
  return t(v) === t(r) && raw !== '1e400';
}

export interface JsonMutation {
  readonly text: string;
  /** What changed, e.g. `labels.0 = null`. */
  readonly kind: string;
  /** Same JSON type as the original: a reader may accept it as a valid variant. */
  readonly maybeValid: boolean;
}

/** Mutations of a JSON document: a value replaced (wrong type, out of range, 1e400, control characters) or a key added (`__proto__`, `constructor`, unknown). */
export const jsonMutationArb = (value: Json): fc.Arbitrary<JsonMutation> => {
  const all = paths(value);
  const objects = [[], ...all.filter((p) => {
    let v: Json = value;
    for (const k of p) v = (v as Record<string | number, Json>)[k] as Json;
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  })];
  return fc.oneof(
    fc.record({ path: fc.constantFrom(...all), raw: fc.constantFrom(...REPLACEMENTS) }).map(({ path, raw }) => ({ text: mutateJson(value, path, raw), kind: `${path.join('.')} = ${raw}`, maybeValid: sameType(value, path, raw) })),
    fc.record({ path: fc.constantFrom(...objects), key: fc.constantFrom(...PROTO_KEYS, 'unknown_field') }).map(({ path, key }) => ({ text: mutateJson(value, path, '1', key), kind: `${[...path, key].join('.')} added`, maybeValid: false })),
  );
};
