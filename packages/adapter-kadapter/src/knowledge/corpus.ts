// A knowledge corpus from WordNet (Lauscher et al. 2020 verbalise ConceptNet; WordNet is what can be had offline):
// relations as sentences (synonymy, hypernymy, meronymy, antonymy, glosses) plus random walks over the graph, with a
// seeded held-out split of synsets. Facts touching a held-out synset never reach the training corpus; the cloze probe
// asks for the object of facts both seen in the corpus and held out.
import { ConfigError, mulberry32, shuffled } from '@adapters/core-graph';
import type { Synset, WordNet } from './wordnet';

export type KnowledgeRelation = 'synonym' | 'hypernym' | 'instance' | 'part' | 'member' | 'substance' | 'antonym' | 'gloss';
export const KNOWLEDGE_RELATIONS: readonly KnowledgeRelation[] = ['synonym', 'hypernym', 'instance', 'part', 'member', 'substance', 'antonym', 'gloss'];

/** One relation instance; its sentence ends with the object, so the object can be masked for a cloze probe. */
export interface Fact {
  readonly relation: KnowledgeRelation;
  readonly subject: string;
  readonly object: string;
  /** The synsets it touches (subject's first). */
  readonly synsets: readonly string[];
  /** Lemmas that also answer the cloze (the object synset's lemmas; for glosses, none). */
  readonly answers: readonly string[];
}

/** The sentence for a fact; `object` replaced (e.g. by `[MASK]`) for a cloze. */
export function verbalise(fact: Fact, object: string = fact.object, pos?: string): string {
  const s = fact.subject;
  switch (fact.relation) {
    case 'synonym': return `${s} means the same as ${object} .`;
    case 'hypernym': return pos === 'v' ? `to ${s} is a way to ${object} .` : `${s} is a kind of ${object} .`;
    case 'instance': return `${s} is an instance of ${object} .`;
    case 'part': return `${s} is part of ${object} .`;
    case 'member': return `${s} is a member of ${object} .`;
    case 'substance': return `${s} is made of ${object} .`;
    case 'antonym': return `${s} is the opposite of ${object} .`;
    case 'gloss': return `${s} means ${object} .`;
  }
}

/** Pointer symbols → relation; meronyms read from the whole's side (`%p` on X pointing to Y: Y is part of X). */
const POINTER_RELATION: Readonly<Record<string, KnowledgeRelation>> = { '@': 'hypernym', '@i': 'instance', '%p': 'part', '%m': 'member', '%s': 'substance', '!': 'antonym' };

/** Every fact of the given relations in synset order (deterministic), at most `maxSynonyms` synonym pairs per synset. */
export function wordNetFacts(wn: WordNet, relations: readonly KnowledgeRelation[] = KNOWLEDGE_RELATIONS, maxSynonyms = 2): Fact[] {
  const want = new Set(relations);
  const facts: Fact[] = [];
  const first = (s: Synset) => s.lemmas[0] as string;
  for (const s of wn.values()) {
    if (want.has('synonym')) {
      for (const other of s.lemmas.slice(1, 1 + maxSynonyms)) facts.push({ relation: 'synonym', subject: first(s), object: other, synsets: [s.id], answers: s.lemmas.slice(1) });
    }
    if (want.has('gloss') && s.gloss !== '') facts.push({ relation: 'gloss', subject: first(s), object: s.gloss, synsets: [s.id], answers: [] });
    for (const p of s.pointers) {
      const relation = POINTER_RELATION[p.symbol];
      if (relation === undefined || !want.has(relation)) continue;
      const t = wn.get(p.target);
      if (t === undefined) continue;
      if (relation === 'antonym') {
        const a = p.sourceWord > 0 ? s.lemmas[p.sourceWord - 1] : first(s);
        const b = p.targetWord > 0 ? t.lemmas[p.targetWord - 1] : first(t);
        if (a !== undefined && b !== undefined) facts.push({ relation, subject: a, object: b, synsets: [s.id, t.id], answers: [b] });
      } else if (relation === 'part' || relation === 'member') {
        facts.push({ relation, subject: first(t), object: first(s), synsets: [t.id, s.id], answers: s.lemmas });
      } else {
        facts.push({ relation, subject: first(s), object: first(t), synsets: [s.id, t.id], answers: t.lemmas });
      }
    }
  }
  return facts;
}

export interface CorpusOptions {
  /** Share of synsets held out (their facts never reach the corpus); default 0.05. */
  readonly heldOut?: number;
  readonly seed?: number;
  readonly relations?: readonly KnowledgeRelation[];
  /** Random walks over hypernym / meronym / antonym edges, each `walkLength` sentences joined; default 0. */
  readonly walks?: number;
  readonly walkLength?: number;
  /** Cap on the corpus's relation sentences (a seeded sample); default all. */
  readonly maxSentences?: number;
  /** Cloze items per split (seen, held out); default 500. */
  readonly probeItems?: number;
}

export interface ClozeItem {
  readonly relation: KnowledgeRelation;
  /** The sentence with the object replaced by `[MASK]`. */
  readonly text: string;
  readonly answers: readonly string[];
}

export interface KnowledgeCorpus {
  /** Training sentences (relation sentences then walks, shuffled). */
  readonly sentences: readonly string[];
  readonly heldOutSynsets: readonly string[];
  /** Cloze items from facts in the corpus (`seen`) and from held-out facts (`heldOut`). */
  readonly probe: { readonly seen: readonly ClozeItem[]; readonly heldOut: readonly ClozeItem[] };
  /** Facts per relation in the corpus. */
  readonly counts: Readonly<Record<string, number>>;
}

const WALK_RELATIONS = new Set(['@', '@i', '%p', '%m', '!']);
const PROBE_RELATIONS = new Set<KnowledgeRelation>(['hypernym', 'instance', 'part', 'member', 'substance', 'antonym', 'synonym']);

function cloze(fact: Fact, wn: WordNet): ClozeItem {
  return { relation: fact.relation, text: verbalise(fact, '[MASK]', wn.get(fact.synsets[0] as string)?.pos), answers: [...new Set([fact.object, ...fact.answers])] };
}

/** Builds the corpus and the probe; the same WordNet and options give the same output. */
export function buildKnowledgeCorpus(wn: WordNet, options: CorpusOptions = {}): KnowledgeCorpus {
  const heldOutShare = options.heldOut ?? 0.05;
  if (!(heldOutShare >= 0 && heldOutShare < 1)) throw new ConfigError('heldOut', `must be in [0, 1), got ${heldOutShare}`);
  const walkLength = options.walkLength ?? 3;
  if (!(Number.isInteger(walkLength) && walkLength >= 1 && walkLength <= 20)) throw new ConfigError('walkLength', `must be an integer in 1..20, got ${walkLength}`);
  const relations = options.relations ?? KNOWLEDGE_RELATIONS;
  const bad = relations.find((r) => !KNOWLEDGE_RELATIONS.includes(r));
  if (bad !== undefined) throw new ConfigError('relations', `unknown relation '${bad}' (known: ${KNOWLEDGE_RELATIONS.join(', ')})`);
  const rand = mulberry32(options.seed ?? 0);
  const ids = [...wn.keys()].sort();
  const heldOut = new Set(shuffled(ids, rand).slice(0, Math.round(heldOutShare * ids.length)));
  const facts = wordNetFacts(wn, relations);
  const seen: Fact[] = [];
  const held: Fact[] = [];
  for (const f of facts) (f.synsets.some((s) => heldOut.has(s)) ? held : seen).push(f);
  const verbalised = (f: Fact) => verbalise(f, f.object, wn.get(f.synsets[0] as string)?.pos);
  let sentences = seen.map(verbalised);
  if (options.maxSentences !== undefined && sentences.length > options.maxSentences) sentences = shuffled(sentences, rand).slice(0, options.maxSentences);
  const counts: Record<string, number> = {};
  for (const f of seen) counts[f.relation] = (counts[f.relation] ?? 0) + 1;
  // Random walks: from a random kept synset, follow random kept edges; each edge is one sentence.
  const walks: string[] = [];
  const starts = ids.filter((id) => !heldOut.has(id));
  for (let w = 0; w < (options.walks ?? 0) && starts.length > 0; w++) {
    let at = wn.get(starts[Math.floor(rand() * starts.length)] as string) as Synset;
    const parts: string[] = [];
    for (let step = 0; step < walkLength; step++) {
      const edges = at.pointers.filter((p) => WALK_RELATIONS.has(p.symbol) && !heldOut.has(p.target) && wn.has(p.target));
      if (edges.length === 0) break;
      const edge = edges[Math.floor(rand() * edges.length)] as (typeof edges)[number];
      const fact = wordNetFacts(new Map([[at.id, { ...at, pointers: [edge] }], [edge.target, wn.get(edge.target) as Synset]]), ['hypernym', 'instance', 'part', 'member', 'antonym'])[0];
      if (fact) parts.push(verbalised(fact));
      at = wn.get(edge.target) as Synset;
    }
    if (parts.length > 0) walks.push(parts.join(' '));
  }
  const probeItems = options.probeItems ?? 500;
  const probeOf = (list: readonly Fact[]) => shuffled(list.filter((f) => PROBE_RELATIONS.has(f.relation)), rand).slice(0, probeItems).map((f) => cloze(f, wn));
  return { sentences: shuffled([...sentences, ...walks], rand), heldOutSynsets: [...heldOut].sort(), probe: { seen: probeOf(seen), heldOut: probeOf(held) }, counts: { ...counts, walk: walks.length } };
}
