// Fetches lang2vec's feature_predictions.npz once into the cache (pip download of the lang2vec wheel, which is
// a zip), checks its sha256 and reads it. The wheel's data is CC BY-SA 4.0 (URIEL); nothing is committed.
import { cacheRoot } from '@adapters/core-graph';
import { execFile } from 'child_process';
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TypologyTable } from './typology';
import { readTypology, readZip, TypologyError } from './typology';

export const LANG2VEC = { pipPackage: 'lang2vec', version: '1.1.2', file: 'lang2vec/data/feature_predictions.npz', sha256: '0e8af1bdb29e1bd71343d495d4fd4e1cd523e934e6d5fa42b72262ca8d8151b8' } as const;

/** Path of the cached npz (`$ADAPTERS_CACHE/typology/lang2vec-1.1.2/feature_predictions.npz`). */
export const typologyFile = (root = cacheRoot()): string => path.join(root, 'typology', `lang2vec-${LANG2VEC.version}`, 'feature_predictions.npz');

function pipDownload(python: string, spec: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-q', '-d', dest, spec], { maxBuffer: 16 * 1024 * 1024 }, (err, _o, stderr) => {
      if (err === null) return resolve();
      const why = String(stderr).trim().split('\n').filter((l) => l.trim() !== '').pop() ?? err.message;
      reject(new TypologyError(`could not download ${spec} from PyPI (${why}); put feature_predictions.npz at ${typologyFile()} by hand`));
    });
  });
}

/** The typology table, downloading lang2vec once if the cache lacks it. */
export async function ensureTypology(options: { root?: string; python?: string; log?: (s: string) => void } = {}): Promise<TypologyTable> {
  const target = typologyFile(options.root);
  const cached = await fs.readFile(target).catch(() => undefined);
  if (cached !== undefined) return readTypology(new Uint8Array(cached), target);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lang2vec-'));
  try {
    const spec = `${LANG2VEC.pipPackage}==${LANG2VEC.version}`;
    options.log?.(`pip download ${spec} (URIEL typology, CC BY-SA 4.0)`);
    await pipDownload(options.python ?? process.env['ADAPTERS_PYTHON'] ?? 'python3', spec, tmp);
    const wheel = (await fs.readdir(tmp)).find((f) => f.endsWith('.whl'));
    if (wheel === undefined) throw new TypologyError(`pip download ${spec} produced no wheel`);
    const npz = readZip(new Uint8Array(await fs.readFile(path.join(tmp, wheel))), wheel).get(LANG2VEC.file);
    if (npz === undefined) throw new TypologyError(`${wheel} has no ${LANG2VEC.file}; the package layout changed`);
    const digest = createHash('sha256').update(npz).digest('hex');
    if (digest !== LANG2VEC.sha256) throw new TypologyError(`${LANG2VEC.file} has sha256 ${digest}, expected ${LANG2VEC.sha256}: do not trust it`);
    const table = readTypology(npz, LANG2VEC.file);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(`${target}.tmp`, npz);
    await fs.rename(`${target}.tmp`, target);
    return table;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
