// End to end through the `adapters` entry point, in-process: a tiny random BERT (WordPiece vocab), tiny CoNLL-U
// treebanks in three toy "languages", a synthetic typology file in a temporary cache (no network).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';
import { parseTreebanks } from './cli';
import { typologyFile } from './typology-fetch';
import { URIEL_DIM } from './config';
import { typologyNpz } from './__tests__/npz';

const WORDS = ['the', 'dog', 'runs', 'der', 'hund', 'läuft', 'le', 'chien', 'court', 'de', 'het', 'loopt'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS];

function writeConllu(file: string, words: string[], n: number): void {
  // det → noun ← root verb
  const block = (i: number) => [`# sent_id = s${i}`, ...words.map((w, j) => [j + 1, w, w, 'X', '_', '_', [2, 3, 0][j], ['det', 'nsubj', 'root'][j], '_', '_'].join('\t')), ''].join('\n');
  writeFileSync(file, `${Array.from({ length: n }, (_v, i) => block(i)).join('\n')}\n`);
}

describe('adapters udapter-* commands', () => {
  let tmp: string;
  let oldCache: string | undefined;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'udapter-cli-'));
    writeTinyModelDir(path.join(tmp, 'tiny-bert'), VOCAB);
    writeConllu(path.join(tmp, 'en.conllu'), ['the', 'dog', 'runs'], 6);
    writeConllu(path.join(tmp, 'de.conllu'), ['der', 'hund', 'läuft'], 6);
    writeConllu(path.join(tmp, 'fr.conllu'), ['le', 'chien', 'court'], 6);
    writeConllu(path.join(tmp, 'nl.conllu'), ['de', 'hund', 'loopt'], 3);
    oldCache = process.env['ADAPTERS_CACHE'];
    process.env['ADAPTERS_CACHE'] = path.join(tmp, 'cache');
    const file = typologyFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const feats = Array.from({ length: URIEL_DIM }, (_v, j) => `F_${j}`);
    writeFileSync(file, typologyNpz(['eng', 'deu', 'fra', 'nld'], feats, (i, j) => ((i + 1) * (j + 3)) % 2));
    linkAdapterPackages(tmp, [path.resolve(__dirname, '..')]);
  });
  afterAll(() => {
    if (oldCache === undefined) delete process.env['ADAPTERS_CACHE'];
    else process.env['ADAPTERS_CACHE'] = oldCache;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses Spanish and Portuguese as training treebanks', () => {
    expect(() => parseTreebanks('en=a.conllu,es=b.conllu')).toThrow(/es is reserved/);
    expect(() => parseTreebanks('por=b.conllu')).toThrow(/por is reserved/);
    expect(() => parseTreebanks('en=a,eng=b')).toThrow(/given twice/);
    expect(parseTreebanks('en=a.conllu,DE=b.conllu')).toEqual([['en', 'a.conllu'], ['de', 'b.conllu']]);
  });

  it('trains on three treebanks, resumes, evaluates in-language and zero-shot, exports an adapter', async () => {
    const train = ['udapter-train', '--model', 'tiny-bert', '--treebank', 'en=en.conllu,de=de.conllu,fr=fr.conllu', '--batch-size', '4', '--max-length', '16', '--save-every', '2', '--seed', '1', '--out', 'run'];
    const first = await runCliIn(tmp, [...train, '--steps', '2']);
    expect({ code: first.code, err: first.code === 0 ? '' : first.err }).toEqual({ code: 0, err: '' });
    const second = await runCliIn(tmp, [...train, '--steps', '4']);
    expect(second.code).toBe(0);
    expect(second.err).toMatch(/resuming .* at step 2/);
    expect(JSON.parse(readFileSync(path.join(tmp, 'run', 'udapter_config.json'), 'utf8'))).toMatchObject({ steps: 4, trainedOn: { en: 'eng', de: 'deu', fr: 'fra' } });

    const inLang = await runCliIn(tmp, ['udapter-eval', '--run', 'run', '--lang', 'de', '--data', 'de.conllu']);
    expect(inLang.code).toBe(0);
    expect(JSON.parse(inLang.out)).toMatchObject({ lang: 'de', zeroShot: false, sentences: 6, words: 18 });
    const zero = await runCliIn(tmp, ['udapter-eval', '--run', 'run', '--lang', 'nl', '--data', 'nl.conllu']);
    expect(zero.code).toBe(0);
    const z = JSON.parse(zero.out) as { zeroShot: boolean; uas: number; las: number };
    expect(z.zeroShot).toBe(true);
    expect(z.uas).toBeGreaterThanOrEqual(0);
    expect(z.las).toBeLessThanOrEqual(z.uas);

    const exported = await runCliIn(tmp, ['udapter-export', '--run', 'run', '--lang', 'nl', '--out', 'nl-adapter']);
    expect(exported.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(tmp, 'nl-adapter', 'adapter_config.json'), 'utf8'))).toMatchObject({ name: 'udapter_nl' });
  });

  it('sets the generator rank and language MLP width, and takes the same number of sentences per language', async () => {
    const args = ['udapter-train', '--model', 'tiny-bert', '--treebank', 'en=en.conllu,de=de.conllu,nl=nl.conllu', '--batch-size', '2', '--max-length', '16', '--steps', '1', '--out', 'run-k'];
    const r = await runCliIn(tmp, [...args, '--language-dim', '3', '--language-hidden', '5', '--per-language', '3']);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    for (const lang of ['en', 'de', 'nl']) expect(r.err).toContain(`${lang}: 3 sentences (0 longer than 16 pieces skipped)`);
    expect(JSON.parse(readFileSync(path.join(tmp, 'run-k', 'udapter_config.json'), 'utf8'))).toMatchObject({ spec: { config: { language_dim: 3, language_hidden: 5, generate: true } } });
    const short = await runCliIn(tmp, [...args.slice(0, -1), 'run-k2', '--per-language', '4']);
    expect(short.code).not.toBe(0);
    expect(short.err).toMatch(/--per-language 4: .*nl\.conllu has only 3 sentences of ≤ 16 pieces/);
  });

  it('udapter-fetch: refuses unknown treebanks, bad splits and --from with several treebanks', async () => {
    const unknown = await runCliIn(tmp, ['udapter-fetch', '--treebank', 'es-ancora', '--out', 'ud']);
    expect(unknown.err).toMatch(/--treebank: unknown 'es-ancora'; known: en-ewt, de-gsd, fr-gsd, it-isdt/);
    const split = await runCliIn(tmp, ['udapter-fetch', '--treebank', 'it-isdt', '--splits', 'dev,valid', '--out', 'ud']);
    expect(split.err).toMatch(/--splits: 'valid' is not train, dev or test/);
    const two = await runCliIn(tmp, ['udapter-fetch', '--treebank', 'it-isdt,en-ewt', '--from', 'x', '--out', 'ud']);
    expect(two.err).toMatch(/--from: give exactly one --treebank/);
    for (const r of [unknown, split, two]) expect(r.code).not.toBe(0);
    expect(existsSync(path.join(tmp, 'ud'))).toBe(false);
  });

  const shared = path.resolve(__dirname, '../../../../shared/datasets/ud-fr-gsd');
  (existsSync(shared) ? it : it.skip)('udapter-fetch --from a local folder checks the pinned sha256 and notes the licence', async () => {
    const r = await runCliIn(tmp, ['udapter-fetch', '--treebank', 'fr-gsd', '--from', shared, '--out', 'ud-real']);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    expect(r.out.trim()).toBe(path.join(tmp, 'ud-real', 'ud-fr-gsd'));
    expect(readFileSync(path.join(tmp, 'ud-real', 'README.md'), 'utf8')).toMatch(/\| ud-fr-gsd \| .* \| CC BY-SA 4\.0 \|/);
  });
});
