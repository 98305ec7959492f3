// Trims a model folder with a Unigram tokenizer.json to the pieces a corpus uses. A 250k × 384 embedding is
// 384 MB of the ~470 MB of multilingual-e5-small; a treebank uses a few thousand pieces.
// Why outputs stay the same: Unigram picks the best-scoring segmentation; removing pieces only removes
// candidates, so a text whose best segmentation uses kept pieces only is segmented the same way, and the
// gathered embedding rows give the encoder the same inputs.
import { AdapterGraphError, encodeSafetensors, loadTokenizer, readSafetensorsFile, type EncodableTensor } from '@adapters/core-graph';
import { promises as fs } from 'fs';
import * as path from 'path';

type Json = Record<string, unknown>;

export class VocabTrimError extends AdapterGraphError {
  constructor(message: string) {
    super(message, 'E_DATA');
  }
}

/** Ids of the pieces (special tokens included) the tokenizer of `dir` produces for `texts`. */
export async function corpusPieceIds(dir: string, texts: Iterable<string>): Promise<Set<number>> {
  const tok = await loadTokenizer(dir);
  const ids = new Set<number>();
  for (const t of texts) for (const id of tok.encode(t).inputIds) ids.add(id);
  return ids;
}

export interface TrimResult {
  readonly dir: string;
  /** `originalIds[newId]` = id in the source model (also written to vocab-remap.json). */
  readonly originalIds: readonly number[];
}

const WORD_EMB = 'embeddings.word_embeddings.weight';

/**
 * Writes a copy of the model folder `src` into `outDir` whose vocabulary holds the special tokens and `keep`
 * only, renumbered in their original order. Other tensors and files are copied unchanged.
 */
export async function trimVocabulary(src: string, keep: ReadonlySet<number>, outDir: string): Promise<TrimResult> {
  const tokFile = path.join(src, 'tokenizer.json');
  const tok = JSON.parse(await fs.readFile(tokFile, 'utf8')) as Json;
  const model = tok['model'] as Json | undefined;
  const vocab = model?.['vocab'];
  if (model?.['type'] !== 'Unigram' || !Array.isArray(vocab)) throw new VocabTrimError(`${tokFile}: only Unigram tokenizers can be trimmed (model.type is ${JSON.stringify(model?.['type'])})`);
  const added = (Array.isArray(tok['added_tokens']) ? tok['added_tokens'] : []) as Json[];
  const unkId = model['unk_id'];
  const kept = new Set<number>(keep);
  for (const a of added) if (typeof a['id'] === 'number') kept.add(a['id']);
  if (typeof unkId === 'number') kept.add(unkId);
  const originalIds = [...kept].sort((a, b) => a - b);
  for (const id of originalIds) if (!Number.isInteger(id) || id < 0 || id >= vocab.length) throw new VocabTrimError(`id ${id} is not in ${tokFile} (0 … ${vocab.length - 1})`);
  const newId = new Map(originalIds.map((id, i) => [id, i]));
  const remap = (id: unknown, what: string): number => {
    const n = typeof id === 'number' ? newId.get(id) : undefined;
    if (n === undefined) throw new VocabTrimError(`${tokFile}: ${what} id ${JSON.stringify(id)} has no new id`);
    return n;
  };

  const newTok: Json = { ...tok, model: { ...model, vocab: originalIds.map((id) => vocab[id]), ...(typeof unkId === 'number' ? { unk_id: remap(unkId, 'unk') } : {}) } };
  newTok['added_tokens'] = added.map((a) => ({ ...a, id: remap(a['id'], `added token ${JSON.stringify(a['content'])}`) }));
  const pp = tok['post_processor'] as Json | null | undefined;
  if (pp !== null && pp !== undefined) newTok['post_processor'] = remapPostProcessor(pp, remap);

  const weightsFile = path.join(src, 'model.safetensors');
  const { tensors, metadata } = await readSafetensorsFile(weightsFile);
  const out: Record<string, EncodableTensor> = {};
  let found = false;
  for (const [name, t] of tensors) {
    if (t.dtype !== 'F32') throw new VocabTrimError(`${weightsFile}: ${name} is ${t.dtype}; only F32 checkpoints can be trimmed`);
    if (name === WORD_EMB || name.endsWith(`.${WORD_EMB}`)) {
      found = true;
      const [rows, width] = t.shape as [number, number];
      if (rows < vocab.length) throw new VocabTrimError(`${weightsFile}: ${name} has ${rows} rows, fewer than the ${vocab.length} pieces`);
      const data = new Float32Array(originalIds.length * width);
      originalIds.forEach((id, i) => data.set((t.values as Float32Array).subarray(id * width, (id + 1) * width), i * width));
      out[name] = { dtype: 'F32', shape: [originalIds.length, width], values: data };
    } else out[name] = { dtype: 'F32', shape: [...t.shape], values: t.values };
  }
  if (!found) throw new VocabTrimError(`${weightsFile} has no ${WORD_EMB}`);
  const config = JSON.parse(await fs.readFile(path.join(src, 'config.json'), 'utf8')) as Json;
  for (const k of ['pad_token_id', 'bos_token_id', 'eos_token_id']) if (typeof config[k] === 'number') config[k] = remap(config[k], `config ${k}`);
  config['vocab_size'] = originalIds.length;

  await fs.mkdir(outDir, { recursive: true });
  for (const f of await fs.readdir(src)) {
    if (['tokenizer.json', 'config.json', 'model.safetensors'].includes(f)) continue;
    const stat = await fs.stat(path.join(src, f));
    if (stat.isFile()) await fs.copyFile(path.join(src, f), path.join(outDir, f));
  }
  await fs.writeFile(path.join(outDir, 'tokenizer.json'), JSON.stringify(newTok));
  await fs.writeFile(path.join(outDir, 'vocab-remap.json'), JSON.stringify({ source: path.resolve(src), originalIds }));
  await fs.writeFile(path.join(outDir, 'config.json'), JSON.stringify(config, null, 2));
  await fs.writeFile(path.join(outDir, 'model.safetensors'), encodeSafetensors(out, metadata));
  return { dir: outDir, originalIds };
}

/** TemplateProcessing names its special tokens with ids; Sequence post-processors nest them. */
function remapPostProcessor(pp: Json, remap: (id: unknown, what: string) => number): Json {
  if (pp['type'] === 'Sequence' && Array.isArray(pp['processors'])) return { ...pp, processors: (pp['processors'] as Json[]).map((p) => remapPostProcessor(p, remap)) };
  const special = pp['special_tokens'];
  if (pp['type'] === 'TemplateProcessing' && special !== null && typeof special === 'object') {
    const next: Json = {};
    for (const [name, s] of Object.entries(special as Record<string, Json>)) next[name] = { ...s, ids: (s['ids'] as unknown[]).map((id) => remap(id, `post-processor token ${name}`)) };
    return { ...pp, special_tokens: next };
  }
  if (pp['type'] === 'RobertaProcessing' || pp['type'] === 'BertProcessing') {
    const pair = (v: unknown, what: string): unknown => (Array.isArray(v) ? [v[0], remap(v[1], what)] : v);
    return { ...pp, sep: pair(pp['sep'], 'sep'), cls: pair(pp['cls'], 'cls') };
  }
  return pp;
}
