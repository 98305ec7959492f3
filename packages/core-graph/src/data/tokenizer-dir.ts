// A model folder's tokenizer from disk (Node); loadTokenizerFrom reads any FileSource (browsers too).
import type { FileSource } from '../io/file-source';
import { sourceOf } from '../io/dir-source';
import type { TextTokenizer } from './tokenizer';
import { loadTokenizerFrom } from './tokenizer';

/** Loads the tokenizer of a model dir: tokenizer.json if present, else vocab.txt (BERT WordPiece). */
export async function loadTokenizer(dir: string | FileSource): Promise<TextTokenizer> {
  return loadTokenizerFrom(sourceOf(dir));
}
