// FewRel 1.0 (Han et al. 2018) for factual-adapter pre-training: `{relation: [{tokens, h: [name, id,
// [[positions]]], t: [...]}]}`. FewRel's validation files are split by relation (few-shot), so a supervised
// run makes its own train/eval split inside each relation. Entities are marked in the text with marker tokens
// ([E1] … [/E1], [E2] … [/E2]); the relation head pools the representation at the two start markers.
import { readFile } from 'node:fs/promises';
import type { TextTokenizer, TrainExample } from '@adapters/core-graph';
import { ConfigError, mulberry32, shuffled } from '@adapters/core-graph';

export interface FewRelEntity {
  readonly name: string;
  readonly id: string;
  /** Token indices of each mention (the first is used). */
  readonly positions: readonly (readonly number[])[];
}

export interface FewRelInstance {
  readonly tokens: readonly string[];
  readonly head: FewRelEntity;
  readonly tail: FewRelEntity;
}

export type FewRelData = ReadonlyMap<string, readonly FewRelInstance[]>;

function entityOf(v: unknown, where: string): FewRelEntity {
  if (!Array.isArray(v) || v.length < 3 || typeof v[0] !== 'string' || !Array.isArray(v[2])) throw new ConfigError(where, 'must be [name, id, [[positions]]]');
  const positions = (v[2] as unknown[]).map((p, i) => {
    if (!Array.isArray(p) || p.length === 0 || !p.every((x) => Number.isInteger(x) && (x as number) >= 0)) throw new ConfigError(`${where}[2][${i}]`, 'must be a non-empty list of token indices');
    return p as number[];
  });
  if (positions.length === 0) throw new ConfigError(`${where}[2]`, 'has no mention');
  return { name: v[0], id: String(v[1]), positions };
}

/** Parses FewRel JSON; `file` labels errors. */
export function parseFewRel(text: string, file = '<fewrel>'): Map<string, FewRelInstance[]> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, `is not valid JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(file, 'must be an object {relation: [instances]}');
  const out = new Map<string, FewRelInstance[]>();
  for (const [relation, list] of Object.entries(json as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw new ConfigError(`${file}: ${relation}`, 'must be a list of instances');
    out.set(relation, list.map((raw, i) => {
      const where = `${file}: ${relation}[${i}]`;
      const r = raw as Record<string, unknown>;
      if (!Array.isArray(r['tokens']) || !r['tokens'].every((t) => typeof t === 'string')) throw new ConfigError(`${where}.tokens`, 'must be a list of strings');
      const tokens = r['tokens'] as string[];
      const head = entityOf(r['h'], `${where}.h`);
      const tail = entityOf(r['t'], `${where}.t`);
      for (const e of [head, tail]) {
        if ((e.positions[0] as number[]).some((p) => p >= tokens.length)) throw new ConfigError(where, `entity '${e.name}' points past the ${tokens.length} tokens`);
      }
      return { tokens, head, tail };
    }));
  }
  return out;
}

export async function readFewRel(file: string): Promise<Map<string, FewRelInstance[]>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, `cannot read: ${(e as Error).message}`);
  }
  return parseFewRel(text, file);
}

export interface FewRelSplitOptions {
  /** Relation ids to use, or how many (the first N in file order); default all. */
  readonly relations?: readonly string[] | number;
  readonly trainPerRelation: number;
  readonly evalPerRelation: number;
  readonly seed?: number;
}

export interface FewRelSplit {
  /** Label id → relation id. */
  readonly labels: readonly string[];
  readonly train: readonly { readonly instance: FewRelInstance; readonly label: number }[];
  readonly eval: readonly { readonly instance: FewRelInstance; readonly label: number }[];
}

/** A seeded, disjoint train/eval split inside each relation (FewRel's files are split by relation). */
export function splitFewRel(data: FewRelData, options: FewRelSplitOptions): FewRelSplit {
  const all = [...data.keys()];
  const labels = typeof options.relations === 'number' ? all.slice(0, options.relations) : options.relations ? [...options.relations] : all;
  if (labels.length < 2) throw new ConfigError('relations', `needs at least 2 relations, got ${labels.length}`);
  const rand = mulberry32(options.seed ?? 0);
  const train: { instance: FewRelInstance; label: number }[] = [];
  const evalSet: { instance: FewRelInstance; label: number }[] = [];
  labels.forEach((relation, label) => {
    const instances = data.get(relation);
    if (!instances) throw new ConfigError('relations', `unknown relation '${relation}' (known: ${all.join(', ')})`);
    const need = options.trainPerRelation + options.evalPerRelation;
    if (instances.length < need) throw new ConfigError('trainPerRelation', `relation '${relation}' has ${instances.length} instances, ${need} requested`);
    const order = shuffled(instances, rand);
    order.slice(0, options.trainPerRelation).forEach((instance) => train.push({ instance, label }));
    order.slice(options.trainPerRelation, need).forEach((instance) => evalSet.push({ instance, label }));
  });
  return { labels, train: shuffled(train, rand), eval: evalSet };
}

/** Marker token ids: subject start/end, object start/end. */
export interface EntityMarkers {
  readonly subjectStart: number;
  readonly subjectEnd: number;
  readonly objectStart: number;
  readonly objectEnd: number;
}

/** BERT vocabularies' unused tokens as markers: [unused0] … [unused3]. */
export const DEFAULT_MARKER_TOKENS = ['[unused0]', '[unused1]', '[unused2]', '[unused3]'] as const;

/** Looks the marker tokens up in the tokenizer's vocabulary (a ConfigError names a missing one). */
export function entityMarkers(tokenizer: TextTokenizer, tokens: readonly [string, string, string, string] = DEFAULT_MARKER_TOKENS): EntityMarkers {
  const ids = tokens.map((t) => {
    const id = tokenizer.tokenToId(t);
    if (id === undefined) throw new ConfigError('markers', `token '${t}' is not in the vocabulary; pass marker tokens the tokenizer has`);
    return id;
  });
  return { subjectStart: ids[0] as number, subjectEnd: ids[1] as number, objectStart: ids[2] as number, objectEnd: ids[3] as number };
}

/**
 * Word pieces of the instance with the entity markers inserted, as `[CLS] … [SEP]` ids. Longer than
 * `maxLength`: a window that keeps both start markers (centred on the entities) is cut out.
 */
export function encodeRelationInstance(tokenizer: TextTokenizer, instance: FewRelInstance, markers: EntityMarkers, maxLength = 128): number[] {
  const h = instance.head.positions[0] as readonly number[];
  const t = instance.tail.positions[0] as readonly number[];
  const [hStart, hEnd, tStart, tEnd] = [Math.min(...h), Math.max(...h), Math.min(...t), Math.max(...t)];
  const ids: number[] = [];
  instance.tokens.forEach((word, i) => {
    if (i === hStart) ids.push(markers.subjectStart);
    if (i === tStart) ids.push(markers.objectStart);
    const pieces = tokenizer.tokenize(word).map((p) => tokenizer.tokenToId(p) ?? tokenizer.unkId);
    ids.push(...(pieces.length > 0 ? pieces : [tokenizer.unkId]));
    if (i === hEnd) ids.push(markers.subjectEnd);
    if (i === tEnd) ids.push(markers.objectEnd);
  });
  return [tokenizer.clsId, ...fitAroundMarkers(ids, markers, maxLength), tokenizer.sepId];
}

/**
 * Body ids (no [CLS]/[SEP]) cut to `maxLength - 2`: longer, a window that keeps both start markers (centred on
 * the entities) is cut out; when they are too far apart, the first marker and what follows.
 */
export function fitAroundMarkers(ids: readonly number[], markers: EntityMarkers, maxLength: number): number[] {
  const budget = Math.max(4, maxLength - 2);
  if (ids.length <= budget) return [...ids];
  const a = ids.indexOf(markers.subjectStart);
  const b = ids.indexOf(markers.objectStart);
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const centre = Math.floor((lo + hi) / 2);
  let start = Math.max(0, Math.min(centre - Math.floor(budget / 2), ids.length - budget));
  if (hi - lo >= budget) start = lo;
  return ids.slice(start, start + budget);
}

/** Tokenised relation-classification examples (labels = relation index). */
export function relationExamples(tokenizer: TextTokenizer, items: FewRelSplit['train'], markers: EntityMarkers, maxLength = 128): TrainExample[] {
  return items.map(({ instance, label }) => ({ inputIds: encodeRelationInstance(tokenizer, instance, markers, maxLength), label }));
}

/** A FewRel instance as plain text with `<e1>…</e1>` (head entity) and `<e2>…</e2>` (tail entity) tags. */
export function markedText(instance: FewRelInstance): string {
  const h = instance.head.positions[0] as readonly number[];
  const t = instance.tail.positions[0] as readonly number[];
  const [hStart, hEnd, tStart, tEnd] = [Math.min(...h), Math.max(...h), Math.min(...t), Math.max(...t)];
  const words: string[] = [];
  instance.tokens.forEach((word, i) => {
    let w = word.replace(/\s+/g, ' ').trim();
    if (i === hStart) w = `<e1>${w}`;
    if (i === tStart) w = `<e2>${w}`;
    if (i === hEnd) w = `${w}</e1>`;
    if (i === tEnd) w = `${w}</e2>`;
    if (w !== '') words.push(w);
  });
  return words.join(' ');
}

export interface RelationTaskOptions {
  /** Relations the task must not use (e.g. those a factual adapter was pre-trained on). */
  readonly exclude?: readonly string[];
  /** How many of the remaining relations to draw (seeded); default all remaining. */
  readonly relations?: number;
  readonly trainPerRelation: number;
  readonly testPerRelation: number;
  readonly seed?: number;
}

export interface RelationTask {
  /** The task's relations (label strings), sorted. */
  readonly labels: readonly string[];
  readonly train: readonly { readonly text: string; readonly label: string }[];
  readonly test: readonly { readonly text: string; readonly label: string }[];
}

/**
 * A downstream relation-classification task from FewRel relations disjoint from `exclude`: a seeded draw of
 * relations, then a seeded, disjoint train/test split inside each; sentences carry `<e1>`/`<e2>` tags.
 * Entity pairs whose tokens overlap (head and tail sharing a word) are skipped, since the tags cannot nest.
 */
export function buildRelationTask(data: FewRelData, options: RelationTaskOptions): RelationTask {
  const excluded = new Set(options.exclude ?? []);
  const unknown = [...excluded].filter((r) => !data.has(r));
  if (unknown.length > 0) throw new ConfigError('exclude', `unknown relation(s) ${unknown.join(', ')}`);
  const remaining = [...data.keys()].filter((r) => !excluded.has(r)).sort();
  const rand = mulberry32(options.seed ?? 0);
  const count = options.relations ?? remaining.length;
  if (!(Number.isInteger(count) && count >= 2)) throw new ConfigError('relations', `needs at least 2 relations, got ${count}`);
  if (count > remaining.length) throw new ConfigError('relations', `${count} requested but only ${remaining.length} relations remain after excluding ${excluded.size}`);
  const labels = shuffled(remaining, rand).slice(0, count).sort();
  const train: { text: string; label: string }[] = [];
  const test: { text: string; label: string }[] = [];
  const need = options.trainPerRelation + options.testPerRelation;
  for (const relation of labels) {
    const usable = (data.get(relation) as readonly FewRelInstance[]).filter((x) => {
      const h = x.head.positions[0] as readonly number[];
      const t = x.tail.positions[0] as readonly number[];
      return Math.max(...h) < Math.min(...t) || Math.max(...t) < Math.min(...h);
    });
    if (usable.length < need) throw new ConfigError('trainPerRelation', `relation '${relation}' has ${usable.length} usable instances, ${need} requested`);
    const order = shuffled(usable, rand);
    order.slice(0, options.trainPerRelation).forEach((x) => train.push({ text: markedText(x), label: relation }));
    order.slice(options.trainPerRelation, need).forEach((x) => test.push({ text: markedText(x), label: relation }));
  }
  return { labels, train: shuffled(train, rand), test };
}
