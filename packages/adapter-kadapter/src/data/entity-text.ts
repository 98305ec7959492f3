// Entity markers in plain text for relation tasks: `<e1>subject</e1> … <e2>object</e2>` (either order, not nested)
// becomes the word pieces of the text with the marker tokens (K-Adapter's [unused0..3] by default) in place of the
// tags, so the relation head can pool at the two start markers.
import type { TextTokenizer } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';
import type { EntityMarkers } from './fewrel';
import { fitAroundMarkers } from './fewrel';

/** The four tags, in the order of EntityMarkers: subject start/end, object start/end. */
export const ENTITY_TAGS = ['<e1>', '</e1>', '<e2>', '</e2>'] as const;
export type EntityTagIndex = 0 | 1 | 2 | 3;

/** Text pieces and tags, in order; a tag is its index in ENTITY_TAGS. */
export type MarkedPart = string | EntityTagIndex;

const TAG_RE = /<\/?\s*e\s*\d*\s*>/gi;

/**
 * Splits `text` at its entity tags. Exactly one `<e1>…</e1>` and one `<e2>…</e2>` are required, each non-empty,
 * neither inside the other; anything else is a ConfigError naming `where` (e.g. `train.tsv: example 12`).
 */
export function parseEntityMarkup(text: string, where: string): MarkedPart[] {
  const parts: MarkedPart[] = [];
  const seen: number[] = [];
  let last = 0;
  const fail = (why: string): never => {
    const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
    throw new ConfigError(where, `${why} (expected one <e1>…</e1> and one <e2>…</e2>): "${shown}"`);
  };
  for (const m of text.matchAll(TAG_RE)) {
    const tag = m[0].replace(/\s+/g, '').toLowerCase();
    const index = (ENTITY_TAGS as readonly string[]).indexOf(tag);
    if (index < 0) fail(`unknown entity tag '${m[0]}'`);
    if (seen.includes(index)) fail(`'${tag}' appears twice`);
    const isEnd = index % 2 === 1;
    if (isEnd && !seen.includes(index - 1)) fail(`'${tag}' comes before '${ENTITY_TAGS[index - 1]}'`);
    if (!isEnd && seen.length % 2 === 1) fail(`'${tag}' opens inside the other entity`);
    const piece = text.slice(last, m.index);
    if (isEnd && piece.trim() === '') fail(`entity ${tag.slice(2, 4)} is empty`);
    if (piece !== '') parts.push(piece);
    parts.push(index as EntityTagIndex);
    seen.push(index);
    last = (m.index as number) + m[0].length;
  }
  if (seen.length === 0) fail('no entity tags');
  const missing = ENTITY_TAGS.filter((_, i) => !seen.includes(i));
  if (missing.length > 0) fail(`missing ${missing.map((t) => `'${t}'`).join(', ')}`);
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/**
 * `[CLS] … [SEP]` ids of entity-marked text with marker tokens for the tags; longer than `maxLength`, a window
 * keeping both start markers is cut out (as for FewRel instances).
 */
export function encodeMarkedText(tokenizer: TextTokenizer, text: string, markers: EntityMarkers, maxLength: number, where: string): number[] {
  const ids: number[] = [];
  const markerIds = [markers.subjectStart, markers.subjectEnd, markers.objectStart, markers.objectEnd];
  for (const part of parseEntityMarkup(text, where)) {
    if (typeof part === 'number') ids.push(markerIds[part] as number);
    else ids.push(...tokenizer.tokenize(part).map((p) => tokenizer.tokenToId(p) ?? tokenizer.unkId));
  }
  return [tokenizer.clsId, ...fitAroundMarkers(ids, markers, maxLength), tokenizer.sepId];
}
