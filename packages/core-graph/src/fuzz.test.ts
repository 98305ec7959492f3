// Issue 18: the fuzz suite that found the holes, bounded (fixed seeds and run counts; the whole file takes seconds).
// Mutated safetensors files, adapter/head directories, model directories and run manifests (labels.json) go through
// the real loaders; every case is classified and counted:
//   clean   - refused with an AdapterGraphError (a clear error naming the file/field)
//   crash   - any other exception (a TypeError deep inside, a RangeError from an allocation, ...)
//   hang    - took longer than HANG_MS
//   silent  - loaded although it should not have: content differs from the original and the change is not a valid
//             value of the same type (for safetensors: an independent spec check disagrees with our reader)
//   partial - a failed load changed the weight store
//   same    - loaded with exactly the original's content (e.g. a field the loader ignores, JSON whitespace)
//   variant - loaded a different but valid file (e.g. a tensor renamed by a byte flip, dropout 1.5 → -1 refused but
//             dropout 0.1 → 1.5 is not a number change we can call wrong); the format has no checksums
// The test asserts zero crashes, hangs, silent accepts and partial writes, and prints the counts.
import * as fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync, readdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAdapter, saveAdapter } from './checkpoint/adapterhub';
import { loadPretrained } from './checkpoint/load-pretrained';
import { AdapterGraphError } from './errors';
import { WeightStore } from './exec/weights';
import type { Graph } from './graph/graph';
import { decodeSafetensors, decodeSafetensorsRaw, encodeSafetensors, ITEM_SIZE } from './io/safetensors';
import type { SafetensorsDtype } from './io/safetensors';
import { addHead } from './model/heads';
import { applyPlacements } from './rewrite/apply-placements';
import { adapter } from './rewrite/composition';
import { toyRegistry } from './testing/run-helpers';
import { writeTinyModelDir } from './testing/fixtures';
import { jsonMutationArb } from './testing/json-mutations';
import type { Json } from './testing/json-mutations';

const HANG_MS = 3000;
type Outcome = 'clean' | 'crash' | 'hang' | 'silent' | 'partial' | 'same' | 'variant';
const BAD: readonly Outcome[] = ['crash', 'hang', 'silent', 'partial'];

class Tally {
  readonly counts: Record<Outcome, number> = { clean: 0, crash: 0, hang: 0, silent: 0, partial: 0, same: 0, variant: 0 };
  tried = 0;
  readonly failures: string[] = [];

  add(outcome: Outcome, what: string): void {
    this.tried += 1;
    this.counts[outcome] += 1;
    if (BAD.includes(outcome) && this.failures.length < 5) this.failures.push(`${outcome}: ${what}`);
    if (process.env['FUZZ_DEBUG'] !== undefined && (outcome === 'same' || outcome === 'variant')) console.log(outcome, what);
  }

  line(name: string): string {
    const c = this.counts;
    return `${name}: tried ${this.tried} / clean error ${c.clean} / crash ${c.crash} / hang ${c.hang} / silent accept ${c.silent} / partial write ${c.partial} (accepted unchanged ${c.same}, accepted valid variant ${c.variant})`;
  }
}

const report: string[] = [];
afterAll(() => console.log(`fuzz outcomes\n${report.join('\n')}`));

function expectNoBadOutcomes(name: string, tally: Tally): void {
  report.push(tally.line(name));
  expect({ name, failures: tally.failures, crash: tally.counts.crash, hang: tally.counts.hang, silent: tally.counts.silent, partial: tally.counts.partial }).toEqual({ name, failures: [], crash: 0, hang: 0, silent: 0, partial: 0 });
}

// ---------------------------------------------------------------------------------------------
// safetensors bytes

const valid = encodeSafetensors(
  {
    'bert.w': { dtype: 'F32', shape: [2, 3], values: [1, 2, 3, 4, 5, 6] },
    'bert.h': { dtype: 'F16', shape: [3], values: [0.5, -1, 2] },
    'bert.i': { dtype: 'I64', shape: [2], values: [7, -7] },
    'bert.e': { dtype: 'U8', shape: [0], values: [] },
    'bert.d': { dtype: 'F64', shape: [1], values: [Math.PI] },
  },
  { format: 'pt' },
);
const headerLen = Number(new DataView(valid.buffer).getBigUint64(0, true));
const headerText = new TextDecoder().decode(valid.subarray(8, 8 + headerLen));
const dataBytes = valid.subarray(8 + headerLen);

/** A file from header text and data (length prefix recomputed, no padding). */
function fileOf(text: string, data: Uint8Array = dataBytes): Uint8Array {
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/**
 * An independent reading of the spec, written without looking at the reader: tensor entries tile the data buffer
 * exactly (sorted by begin, each starting where the previous ended), byte lengths match dtype x shape, one header
 * key per tensor (counted as `"dtype"` occurrences vs. parsed entries). Returns name → raw bytes, or undefined.
 */
function referenceRead(bytes: Uint8Array): Map<string, string> | undefined {
  if (bytes.length < 8) return undefined;
  const n = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true);
  if (n > 100_000_000n || 8n + n > BigInt(bytes.length)) return undefined;
  let header: Record<string, { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] }>;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(n)));
    header = JSON.parse(text) as typeof header;
  } catch {
    return undefined;
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return undefined;
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__');
  if ((text.match(/"dtype"/g) ?? []).length !== entries.length) return undefined;
  const data = bytes.subarray(8 + Number(n));
  let at = 0;
  const out = new Map<string, string>();
  for (const [name, e] of [...entries].sort((a, b) => a[1].data_offsets?.[0] - b[1].data_offsets?.[0] || a[1].data_offsets?.[1] - b[1].data_offsets?.[1])) {
    if (typeof e !== 'object' || e === null || !Object.hasOwn(ITEM_SIZE, e.dtype) || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) return undefined;
    const [b, end] = e.data_offsets;
    if (!e.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || !Number.isSafeInteger(b) || !Number.isSafeInteger(end)) return undefined;
    if (b !== at || end < b || end - b !== e.shape.reduce((p, d) => p * d, 1) * ITEM_SIZE[e.dtype]) return undefined;
    out.set(name, `${e.dtype}|${e.shape.join(',')}|${Buffer.from(data.subarray(b, end)).toString('hex')}`);
    at = end;
  }
  return at === data.length ? out : undefined;
}

const rawContent = (bytes: Uint8Array): Map<string, string> =>
  new Map([...decodeSafetensorsRaw(bytes).tensors].map(([k, t]) => [k, `${t.dtype}|${t.shape.join(',')}|${Buffer.from(t.data).toString('hex')}`]));
const original = rawContent(valid);
const sameMap = (a: Map<string, string>, b: Map<string, string>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

interface Mutation {
  readonly kind: string;
  readonly bytes: Uint8Array;
  /** True when no correct reader may accept the result (structural damage); false for byte flips in the header. */
  readonly mustReject: boolean;
}

const entryNames = [...original.keys()];
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat({ max: valid.length - 1 }).map((k) => ({ kind: `truncate to ${k}`, bytes: valid.slice(0, k), mustReject: true })),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((extra) => ({ kind: `append ${extra.length}`, bytes: Uint8Array.from([...valid, ...extra]), mustReject: true })),
  fc.oneof(fc.integer({ min: -16, max: 16 }).filter((k) => k !== 0).map(BigInt), fc.constantFrom(-1n, 2n ** 63n, 2n ** 64n - 1n - BigInt(headerLen), 100_000_001n)).map((k) => {
    const bytes = valid.slice();
    new DataView(bytes.buffer).setBigUint64(0, (BigInt(headerLen) + k) & (2n ** 64n - 1n), true);
    return { kind: `header length ${k >= 0 ? '+' : ''}${k}`, bytes, mustReject: true };
  }),
  fc.record({ pos: fc.nat({ max: 8 + headerLen - 1 }), xor: fc.integer({ min: 1, max: 255 }) }).map(({ pos, xor }) => {
    const bytes = valid.slice();
    bytes[pos] = (bytes[pos] as number) ^ xor;
    return { kind: `flip byte ${pos}`, bytes, mustReject: pos < 8 };
  }),
  fc.constantFrom(...entryNames).map((name) => {
    const header = JSON.parse(headerText) as Record<string, unknown>;
    const text = JSON.stringify(header).replace(/}$/, `,${JSON.stringify(name)}:${JSON.stringify(header[name])}}`);
    return { kind: `duplicate key ${name}`, bytes: fileOf(text), mustReject: true };
  }),
  fc.record({ name: fc.constantFrom(...entryNames), shift: fc.integer({ min: -8, max: 8 }).filter((s) => s !== 0), both: fc.boolean() }).map(({ name, shift, both }) => {
    const header = JSON.parse(headerText) as Record<string, { data_offsets: [number, number] }>;
    const e = header[name]!;
    e.data_offsets = [e.data_offsets[0] + shift, e.data_offsets[1] + (both ? shift : 0)];
    return { kind: `offsets of ${name} ${both ? 'shifted' : 'begin moved'} by ${shift}`, bytes: fileOf(JSON.stringify(header)), mustReject: true };
  }),
  fc.record({ a: fc.constantFrom(...entryNames), b: fc.constantFrom(...entryNames) }).filter(({ a, b }) => a !== b).map(({ a, b }) => {
    const header = JSON.parse(headerText) as Record<string, { data_offsets: [number, number] }>;
    header[b]!.data_offsets = [...header[a]!.data_offsets];
    return { kind: `offsets of ${b} copied from ${a}`, bytes: fileOf(JSON.stringify(header)), mustReject: true };
  }),
  fc.record({ pos: fc.integer({ min: 8, max: 8 + headerLen - 1 }), insert: fc.boolean(), byte: fc.integer({ min: 0, max: 255 }) }).map(({ pos, insert, byte }) => ({
    kind: `${insert ? 'insert' : 'delete'} byte at ${pos}`,
    bytes: insert ? Uint8Array.from([...valid.subarray(0, pos), byte, ...valid.subarray(pos)]) : Uint8Array.from([...valid.subarray(0, pos), ...valid.subarray(pos + 1)]),
    mustReject: true,
  })),
);

function classifyBytes(m: Mutation): Outcome {
  const started = Date.now();
  let accepted: Map<string, string> | undefined;
  try {
    decodeSafetensors(m.bytes, 'fuzz.safetensors');
    accepted = rawContent(m.bytes);
  } catch (e) {
    if (Date.now() - started > HANG_MS) return 'hang';
    return e instanceof AdapterGraphError && (e as Error).message.length < 1200 ? 'clean' : 'crash';
  }
  if (Date.now() - started > HANG_MS) return 'hang';
  if (sameMap(accepted, original)) return 'same';
  if (m.mustReject) return 'silent';
  const reference = referenceRead(m.bytes);
  return reference !== undefined && sameMap(reference, accepted) ? 'variant' : 'silent';
}

describe('fuzz: safetensors reader', () => {
  it('mutated valid files: truncations, header length ±k, flipped bytes, duplicate keys, overlapping/shifted offsets, inserted/deleted bytes', () => {
    const tally = new Tally();
    fc.assert(fc.property(mutationArb, (m) => {
      tally.add(classifyBytes(m), m.kind);
    }), { numRuns: 3000, seed: 18 });
    expectNoBadOutcomes('safetensors', tally);
    expect(tally.counts.clean).toBeGreaterThan(2000);
  });
});

// ---------------------------------------------------------------------------------------------
// JSON files: adapter_config.json, head_config.json, config.json, labels.json


// ---------------------------------------------------------------------------------------------
// adapter / head / model directories and labels.json

describe('fuzz: adapter, head and model directories', () => {
  let tmp: string;
  let modelDir: string;
  let adapterDir: string;
  let base: Graph;
  const registry = toyRegistry();
  const files: Record<string, Uint8Array> = {};

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'fuzz-'));
    modelDir = join(tmp, 'model');
    writeTinyModelDir(modelDir, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'b'], { hiddenSize: 8, numLayers: 2 });
    const pre = await loadPretrained(modelDir);
    base = pre.graph;
    const placed = addHead(applyPlacements(pre.graph, [{ adapter: adapter('toy', 'ad', { size: 3 }), select: { kinds: ['ffn'] }, mode: 'wrap' }], registry).graph, { type: 'classification', name: 'ad', numLabels: 2, pooling: 'mean' });
    pre.store.sync(placed, 3);
    adapterDir = join(tmp, 'adapter');
    await saveAdapter(adapterDir, placed, pre.store, 'ad', { head: 'ad', registry });
    pre.store.dispose();
    for (const f of readdirSync(adapterDir)) files[f] = readFileSync(join(adapterDir, f));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** Loads `dir` into a fresh store; returns the loaded values, or throws. On failure checks the store is unchanged. */
  async function loadInto(dir: string): Promise<{ values: Map<string, string>; meta: string } | { error: unknown; partial: boolean }> {
    const store = WeightStore.create(base, 5);
    const before = store.snapshot([...base.params.keys()]);
    try {
      const r = await loadAdapter(dir, base, store, registry);
      const keys = [...r.graph.params.values()].filter((p) => p.owner !== 'base').map((p) => p.key).sort();
      const values = new Map(keys.map((k) => [k, Buffer.from(new Float32Array(store.get(k).dataSync()).buffer).toString('hex')]));
      return { values, meta: JSON.stringify([r.name, r.head, r.graph.meta['adapters'], r.graph.meta['heads']]) };
    } catch (error) {
      const after = store.snapshot([...base.params.keys()]);
      const partial = store.keys().length !== base.params.size || [...before].some(([k, v]) => Buffer.compare(Buffer.from(v.buffer), Buffer.from((after.get(k) as Float32Array).buffer)) !== 0);
      return { error, partial };
    } finally {
      store.dispose();
    }
  }

  it('adapter directories (adapter_config.json, head_config.json, both safetensors files)', async () => {
    const baseline = await loadInto(adapterDir);
    if (!('values' in baseline)) throw baseline.error;
    const tally = new Tally();
    const caseDir = join(tmp, 'case');
    const adapterConfig = JSON.parse(Buffer.from(files['adapter_config.json']!).toString()) as Json;
    const headConfig = JSON.parse(Buffer.from(files['head_config.json']!).toString()) as Json;
    const stMutation = (name: string) => mutationArb.filter((m) => m.mustReject).map((m) => {
      // Reuse the byte mutators on this file: rebuild each mutation kind on the real file's bytes.
      const real = files[name]!;
      const n = Number(new DataView(real.buffer, real.byteOffset).getBigUint64(0, true));
      const bytes = m.kind.startsWith('truncate') ? real.slice(0, Math.min(real.length - 1, m.bytes.length)) : m.kind.startsWith('append') ? Uint8Array.from([...real, 0]) : (() => {
        const b = Uint8Array.from(real);
        new DataView(b.buffer).setBigUint64(0, BigInt(n + (m.kind.includes('+') ? 1 : -1)), true);
        return b;
      })();
      return { file: name, bytes, kind: `${name}: ${m.kind.split(' ')[0]}`, maybeValid: false };
    });
    const arb = fc.oneof(
      jsonMutationArb(adapterConfig).map((m) => ({ file: 'adapter_config.json', bytes: Buffer.from(m.text), kind: `adapter_config.json: ${m.kind}`, maybeValid: m.maybeValid })),
      jsonMutationArb(headConfig).map((m) => ({ file: 'head_config.json', bytes: Buffer.from(m.text), kind: `head_config.json: ${m.kind}`, maybeValid: m.maybeValid })),
      stMutation('adapter.safetensors'),
      stMutation('model_head.safetensors'),
    );
    const cases = fc.sample(arb, { numRuns: 160, seed: 1818 });
    for (const c of cases) {
      rmSync(caseDir, { recursive: true, force: true });
      mkdirSync(caseDir);
      for (const f of Object.keys(files)) copyFileSync(join(adapterDir, f), join(caseDir, f));
      writeFileSync(join(caseDir, c.file), c.bytes);
      const started = Date.now();
      const r = await loadInto(caseDir);
      const slow = Date.now() - started > HANG_MS;
      if (slow) tally.add('hang', c.kind);
      else if ('error' in r) tally.add(r.partial ? 'partial' : r.error instanceof AdapterGraphError ? 'clean' : 'crash', `${c.kind}: ${String(r.error).slice(0, 200)}`);
      else if (r.meta === baseline.meta && sameMap(r.values, baseline.values)) tally.add('same', c.kind);
      else tally.add(c.maybeValid && sameMap(r.values, baseline.values) ? 'variant' : 'silent', c.kind);
    }
    expectNoBadOutcomes('adapter/head directories', tally);
  });

  it('model directories (config.json, model.safetensors)', async () => {
    const tally = new Tally();
    const caseDir = join(tmp, 'model-case');
    const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Json;
    const weights = readFileSync(join(modelDir, 'model.safetensors'));
    const baseline = await loadPretrained(modelDir);
    const baseValues = new Map([...baseline.graph.params.keys()].map((k) => [k, Buffer.from(new Float32Array(baseline.store.get(k).dataSync()).buffer).toString('hex')]));
    const baseConfig = JSON.stringify(baseline.config);
    baseline.store.dispose();
    const sizeFields = ['num_hidden_layers', 'hidden_size', 'vocab_size', 'intermediate_size', 'max_position_embeddings', 'num_attention_heads', 'type_vocab_size'];
    const arb = fc.oneof(
      jsonMutationArb(config).map((m) => ({ file: 'config.json', bytes: Buffer.from(m.text), kind: m.kind, maybeValid: m.maybeValid })),
      // The head count is the one size no tensor shape reveals: a divisor of hidden_size is a valid (different) model.
      fc.record({ field: fc.constantFrom(...sizeFields), value: fc.constantFrom(0, 1, 3, 7, 64, 1000000, 2 ** 31) }).map(({ field, value }) => ({ file: 'config.json', bytes: Buffer.from(JSON.stringify({ ...(config as object), [field]: value })), kind: `${field} = ${value}`, maybeValid: field === 'num_attention_heads' })),
      fc.nat({ max: weights.length - 1 }).map((k) => ({ file: 'model.safetensors', bytes: weights.subarray(0, k), kind: `model.safetensors truncated to ${k}`, maybeValid: false })),
    );
    for (const c of fc.sample(arb, { numRuns: 60, seed: 1819 })) {
      rmSync(caseDir, { recursive: true, force: true });
      mkdirSync(caseDir);
      for (const f of readdirSync(modelDir)) copyFileSync(join(modelDir, f), join(caseDir, f));
      writeFileSync(join(caseDir, c.file), c.bytes);
      const started = Date.now();
      try {
        const loaded = await loadPretrained(caseDir);
        const values = new Map([...loaded.graph.params.keys()].map((k) => [k, Buffer.from(new Float32Array(loaded.store.get(k).dataSync()).buffer).toString('hex')]));
        loaded.store.dispose();
        if (Date.now() - started > HANG_MS) tally.add('hang', c.kind);
        else if (sameMap(values, baseValues) && JSON.stringify(loaded.config) === baseConfig) tally.add('same', c.kind);
        else tally.add(c.maybeValid && sameMap(values, baseValues) ? 'variant' : 'silent', c.kind);
      } catch (e) {
        tally.add(Date.now() - started > HANG_MS ? 'hang' : e instanceof AdapterGraphError ? 'clean' : 'crash', `${c.kind}: ${String(e).slice(0, 200)}`);
      }
    }
    expectNoBadOutcomes('model directories', tally);
  });
});
