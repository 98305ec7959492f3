// Turns an E5S1 file plus its tokenizer.json into an ordinary model folder (config.json, model.safetensors,
// tokenizer.json), and trims a model folder's vocabulary to the pieces a corpus uses.
import { encodeSafetensors, type EncodableTensor } from '@adapters/core-graph';
import { promises as fs } from 'fs';
import * as path from 'path';
import { E5S1FormatError, e5s1HfConfig, hfNameOf, readE5S1, type E5S1Model } from './e5s1';

type Json = Record<string, unknown>;

/** fp32 Hugging Face tensors of an E5S1 model (no `bert.` prefix: the loader accepts both). */
export function e5s1Tensors(m: E5S1Model): Record<string, EncodableTensor> {
  const out: Record<string, EncodableTensor> = {};
  for (const [name, t] of m.tensors) out[hfNameOf(name)] = { dtype: 'F32', shape: [...t.shape], values: t.values };
  return out;
}

/** The tokenizer.json must hold the E5S1 pieces under the same ids (checked piece by piece). */
export function checkTokenizerMatches(m: E5S1Model, tok: Json, source: string): void {
  const model = tok['model'] as Json | undefined;
  const vocab = model?.['vocab'];
  if (model?.['type'] !== 'Unigram' || !Array.isArray(vocab)) throw new E5S1FormatError(source, 'expected a Unigram tokenizer.json (model.type "Unigram" with a vocab list)');
  if (vocab.length !== m.pieces.length) throw new E5S1FormatError(source, `has ${vocab.length} pieces, the E5S1 file ${m.pieces.length}`);
  for (let i = 0; i < vocab.length; i++) {
    const entry = vocab[i] as unknown;
    if (!Array.isArray(entry) || entry[0] !== m.pieces[i]) throw new E5S1FormatError(source, `piece ${i} is ${JSON.stringify(Array.isArray(entry) ? entry[0] : entry)}, the E5S1 file has ${JSON.stringify(m.pieces[i])}`);
  }
}

async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}

export interface BuiltModel {
  readonly dir: string;
  readonly vocabSize: number;
  readonly parameters: number;
}

/** Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json into `outDir` (created). */
export async function buildE5S1ModelDir(binFile: string, tokenizerFile: string, outDir: string): Promise<BuiltModel> {
  const model = readE5S1(new Uint8Array(await fs.readFile(binFile)), binFile);
  const tok = JSON.parse(await fs.readFile(tokenizerFile, 'utf8')) as Json;
  checkTokenizerMatches(model, tok, tokenizerFile);
  await fs.mkdir(outDir, { recursive: true });
  const tensors = e5s1Tensors(model);
  let parameters = 0;
  for (const t of model.tensors.values()) parameters += t.values.length;
  await writeAtomic(path.join(outDir, 'tokenizer.json'), JSON.stringify(tok));
  await writeAtomic(path.join(outDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig(model.header.maxPositions), null, 2));
  await writeAtomic(path.join(outDir, 'config.json'), JSON.stringify(e5s1HfConfig(model), null, 2));
  // Last, so a folder with weights is a complete folder.
  await writeAtomic(path.join(outDir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt', source: 'E5S1 dequantised to fp32' }));
  return { dir: outDir, vocabSize: model.header.vocab, parameters };
}

function tokenizerConfig(maxLength: number): Json {
  return { model_max_length: maxLength, bos_token: '<s>', eos_token: '</s>', cls_token: '<s>', sep_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', mask_token: '<mask>' };
}
