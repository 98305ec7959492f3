// `adapters nmt-train` / `nmt-eval` / `translate` end to end, in-process, on tiny TSVs: a base from scratch, language
// adapters on it composed for a direction never trained (zero-shot), translation from a file, and bad input refused
// with one clear message (nothing written).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';
import type { RunOptions } from '@adapters/core-graph';
import { failForwardOnce } from '@adapters/core-graph/testing';

const EN = ['the house', 'a dog', 'the big dog', 'a small house', 'the cat', 'a big cat'];
const FR = ['la maison', 'un chien', 'le grand chien', 'une petite maison', 'le chat', 'un grand chat'];
const DE = ['das Haus', 'ein Hund', 'der große Hund', 'ein kleines Haus', 'die Katze', 'eine große Katze'];
const tsv = (a: string[], b: string[]) => `${a.map((x, i) => `${x}\t${b[i]}`).join('\n')}\n`;

describe('adapters nmt-train / nmt-eval / translate', () => {
  let tmp: string;
  const cli = (argv: string[]) => runCliIn(tmp, argv);
  const ok = async (argv: string[]) => {
    const r = await cli(argv);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    return r;
  };
  // Whole-model forward passes are fed only the inputs (`inputs.*`); checkpointed ones ask for a node or are fed layer outputs.
  const plain = (o: RunOptions) => o.training === true && o.nodes === undefined && [...(o.constants?.keys() ?? [])].every((k) => k.startsWith('inputs.'));
  const TINY = ['--d-model', '16', '--layers', '1', '--heads', '2', '--ffn', '32', '--max-length', '16', '--vocab-size', '60', '--batch-size', '4'];
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nmt-cli-'));
    writeFileSync(path.join(tmp, 'en-fr.tsv'), tsv(EN, FR));
    writeFileSync(path.join(tmp, 'fr-en.tsv'), tsv(FR, EN));
    writeFileSync(path.join(tmp, 'en-de.tsv'), tsv(EN, DE));
    writeFileSync(path.join(tmp, 'fr-de.tsv'), tsv(FR, DE));
    writeFileSync(path.join(tmp, 'bad.tsv'), 'one\ttwo\nno tab here\n');
    writeFileSync(path.join(tmp, 'input.txt'), 'la maison\nun chien\n');
    linkAdapterPackages(tmp, [path.resolve(__dirname, '..')]);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('base → language adapters → zero-shot fr-de eval and translate', async () => {
    const pairs = ['--pair', 'en-fr=en-fr.tsv', '--pair', 'fr-en=fr-en.tsv', '--pair', 'en-de=en-de.tsv'];
    await ok(['nmt-train', '--recipe', 'base', ...pairs, ...TINY, '--steps', '3', '--out', 'base']);
    const base = JSON.parse(readFileSync(path.join(tmp, 'base', 'run.json'), 'utf8'));
    expect(base).toMatchObject({ model: 'model', adapters: [], extras: { nmt: { recipe: 'base', pairs: ['en-fr', 'fr-en', 'en-de'], steps: 3 } } });
    expect(existsSync(path.join(tmp, 'base', 'model', 'tokenizer.bpe.json'))).toBe(true);

    const lang = await ok(['nmt-train', '--recipe', 'language', '--model', 'base', ...pairs, '--reduction-factor', '4', '--batch-size', '4', '--steps', '3', '--out', 'lang']);
    expect(lang.out).toMatch(/language: 900 trainable parameters/); // 5 adapters × 1 layer × (LN 32 + 16·4 + 4 + 4·16 + 16 = 180)
    const run = JSON.parse(readFileSync(path.join(tmp, 'lang', 'run.json'), 'utf8'));
    expect(run.adapters.map((a: { name: string }) => a.name)).toEqual(['src_en', 'src_fr', 'tgt_de', 'tgt_en', 'tgt_fr']);

    const ev = await ok(['nmt-eval', '--run', 'lang', '--pair', 'fr-de=fr-de.tsv', '--pair', 'en-fr=en-fr.tsv']);
    expect(ev.out).toMatch(/fr-de: BLEU [\d.]+ {2}chrF [\d.]+ {2}\(6 sentences; src_fr \+ tgt_de; 360 parameters for this direction; zero-shot\)/);
    expect(ev.out).toMatch(/en-fr: .*src_en \+ tgt_fr; 360 parameters for this direction\)/);
    const saved = JSON.parse(readFileSync(path.join(tmp, 'lang', 'nmt_eval.json'), 'utf8'));
    expect(saved.results['fr-de']).toMatchObject({ adapters: ['src_fr', 'tgt_de'], trainedPair: false, sentences: 6 });
    expect(saved.results['fr-de'].hypotheses).toHaveLength(6);

    const tr = await ok(['translate', '--run', 'lang', '--src', 'fr', '--tgt', 'de', '--input', 'input.txt', '--beams', '2']);
    expect(tr.out.trimEnd().split('\n')).toHaveLength(2);
  }, 120_000);

  test('a step that runs out of wasm heap: nmt-train goes on checkpointed and says so in one line', async () => {
    const undo = failForwardOnce(2, plain);
    let r;
    try {
      r = await ok(['nmt-train', '--recipe', 'base', '--pair', 'en-fr=en-fr.tsv', ...TINY, '--steps', '3', '--out', 'heap']);
    } finally {
      undo();
    }
    expect(r.err.split('\n').filter((l) => l.includes('wasm heap'))).toEqual(['step 2 ran out of wasm heap: it and the rest of the run used gradient checkpointing (one more forward per layer, far less activation memory)']);
    expect(JSON.parse(readFileSync(path.join(tmp, 'heap', 'run.json'), 'utf8'))).toMatchObject({ extras: { nmt: { steps: 3 } } });
  }, 120_000);

  test('--gradient-checkpointing on checkpoints from the first step; off lets the heap error end the run', async () => {
    const undo = failForwardOnce(Infinity, plain);
    try {
      const on = await ok(['nmt-train', '--recipe', 'base', '--pair', 'en-fr=en-fr.tsv', ...TINY, '--steps', '2', '--gradient-checkpointing', 'on', '--out', 'ckpt-on']);
      expect(on.err).not.toContain('wasm heap');
      const off = await cli(['nmt-train', '--recipe', 'base', '--pair', 'en-fr=en-fr.tsv', ...TINY, '--steps', '2', '--gradient-checkpointing', 'off', '--out', 'ckpt-off']);
      expect(off.code).not.toBe(0);
      expect(off.err).toMatch(/wasm heap/);
      expect(existsSync(path.join(tmp, 'ckpt-off'))).toBe(false);
    } finally {
      undo();
    }
  }, 120_000);

  test('bad input: one clear error, nothing written', async () => {
    const bad = await cli(['nmt-train', '--recipe', 'base', '--pair', 'en-fr=bad.tsv', ...TINY, '--steps', '1', '--out', 'never']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/bad\.tsv:2: expected source<TAB>target, found 1 column/);
    expect(existsSync(path.join(tmp, 'never'))).toBe(false);
    const pair = await cli(['nmt-train', '--recipe', 'pair', '--model', 'base', '--pair', 'english-fr=en-fr.tsv', '--out', 'never']);
    expect(pair.err).toMatch(/expected SRC-TGT/);
    const recipe = await cli(['nmt-train', '--recipe', 'lora', '--pair', 'en-fr=en-fr.tsv', '--out', 'never']);
    expect(recipe.err).toMatch(/--recipe must be one of base, full, pair, language, domain/);
    const domain = await cli(['nmt-train', '--recipe', 'domain', '--model', 'base', '--pair', 'en-fr=en-fr.tsv', '--out', 'never']);
    expect(domain.err).toMatch(/--recipe domain needs --domain NAME/);
    const missing = await cli(['nmt-eval', '--run', 'base', '--pair', 'de-fr=fr-de.tsv']);
    expect(missing.code).toBe(0); // base and full models serve every direction (through the target tag)
    const noAdapter = await cli(['nmt-eval', '--run', 'lang', '--pair', 'de-it=fr-de.tsv']);
    expect(noAdapter.err).toMatch(/has no adapter 'src_de' for de-it \(adapters: src_en, src_fr, tgt_de, tgt_en, tgt_fr\)/);
    expect(existsSync(path.join(tmp, 'never'))).toBe(false);
  }, 120_000);
});
