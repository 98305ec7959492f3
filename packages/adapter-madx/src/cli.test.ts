// End-to-end tests of the madx-* commands through core-graph's `adapters` entry point (runCli), in-process: a tiny
// random BERT as a Hugging Face model directory (vocab.txt → WordPiece tokenizer), tiny plain-text and CoNLL-U files
// in two "languages"; this package is found by plugin discovery (symlinked into a temp node_modules/@adapters).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSafetensorsFile } from '@adapters/core-graph';
import { readMetrics } from '@adapters/cli';
import { failForwardOnce, writeTinyModelDir } from '@adapters/core-graph/testing';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';

// Two toy languages sharing one tag set: [word, UPOS] pairs.
const EN: Array<Array<[string, string]>> = [
  [['the', 'DET'], ['dog', 'NOUN'], ['runs', 'VERB'], ['.', 'PUNCT']],
  [['a', 'DET'], ['cat', 'NOUN'], ['sleeps', 'VERB'], ['.', 'PUNCT']],
  [['the', 'DET'], ['big', 'ADJ'], ['dog', 'NOUN'], ['sleeps', 'VERB']],
  [['she', 'PRON'], ['runs', 'VERB'], ['in', 'ADP'], ['paris', 'PROPN']],
  [['a', 'DET'], ['small', 'ADJ'], ['cat', 'NOUN'], ['runs', 'VERB'], ['.', 'PUNCT']],
  [['he', 'PRON'], ['sleeps', 'VERB'], ['.', 'PUNCT']],
];
const DE: Array<Array<[string, string]>> = [
  [['der', 'DET'], ['hund', 'NOUN'], ['läuft', 'VERB'], ['.', 'PUNCT']],
  [['eine', 'DET'], ['katze', 'NOUN'], ['schläft', 'VERB'], ['.', 'PUNCT']],
  [['sie', 'PRON'], ['läuft', 'VERB'], ['in', 'ADP'], ['paris', 'PROPN']],
  [['der', 'DET'], ['große', 'ADJ'], ['hund', 'NOUN'], ['schläft', 'VERB']],
];
const WORDS = [...new Set([...EN, ...DE].flat().map(([w]) => w))];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS];

function writeConllu(file: string, sentences: Array<Array<[string, string]>>): void {
  const block = (s: Array<[string, string]>, i: number) =>
    [`# sent_id = s${i}`, `# text = ${s.map(([w]) => w).join(' ')}`, ...s.map(([w, tag], j) => [j + 1, w, w, tag, '_', '_', j === 0 ? 0 : 1, j === 0 ? 'root' : 'dep', '_', '_'].join('\t')), ''].join('\n');
  writeFileSync(file, `${sentences.map(block).join('\n')}\n`);
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const TRAIN = ['--steps', '2', '--batch-size', '4', '--max-length', '16', '--lr', '0.01', '--seed', '1'];
const ACCURACY = /^accuracy: (\d\.\d{4}) {2}loss: (\d+\.\d{4}) {2}\((\d+) words with (.+); majority-tag baseline \d\.\d{4}\)\n$/;

describe('adapters madx-* commands', () => {
  let tmp: string;
  const run = (argv: string[]) => runCliIn(tmp, argv);
  const ok = async (argv: string[]) => {
    const r = await run(argv);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    return r;
  };

  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'madx-cli-'));
    writeTinyModelDir(path.join(tmp, 'tiny-bert'), VOCAB);
    // English text as plain lines; German text as CoNLL-U (its `# text` lines are read).
    writeFileSync(path.join(tmp, 'en.txt'), `${EN.map((s) => s.map(([w]) => w).join(' ')).join('\n')}\n\n`);
    writeConllu(path.join(tmp, 'de-text.conllu'), DE);
    writeConllu(path.join(tmp, 'en-train.conllu'), EN);
    writeConllu(path.join(tmp, 'en-dev.conllu'), EN.slice(3));
    writeConllu(path.join(tmp, 'de-test.conllu'), DE);
    writeConllu(path.join(tmp, 'bad-tag.conllu'), [[['the', 'DET'], ['dog', 'NOUNISH']]]);
    linkAdapterPackages(tmp, [path.resolve(__dirname, '..')]);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('the commands are discovered and listed in help', async () => {
    const r = await ok(['--help']);
    for (const c of ['madx-lang', 'madx-task', 'madx-eval']) expect(r.out).toContain(`  ${c} `);
    expect((await ok(['madx-lang', '--help'])).out).toContain('usage: adapters madx-lang --model DIR|NAME --text FILE --lang NAME --out DIR');
  });

  test('--gradient-checkpointing: on checkpoints from the first step, off lets a heap error end the run', async () => {
    const undo = failForwardOnce(Infinity);
    try {
      const on = await ok(['madx-lang', '--model', 'tiny-bert', '--text', 'en.txt', '--lang', 'en', ...TRAIN, '--gradient-checkpointing', 'on', '--out', 'lang-ckpt-on']);
      expect(on.err).not.toContain('wasm heap');
      const off = await run(['madx-lang', '--model', 'tiny-bert', '--text', 'en.txt', '--lang', 'en', ...TRAIN, '--gradient-checkpointing', 'off', '--out', 'lang-ckpt-off']);
      expect(off.code).not.toBe(0);
      expect(off.err).toMatch(/wasm heap/);
    } finally {
      undo();
    }
  });

  test('language adapters → task adapter on the source language → zero-shot evaluation with either language adapter', async () => {
    // Step 1: a language adapter per language (plain text and CoNLL-U input).
    const en = await ok(['madx-lang', '--model', 'tiny-bert', '--text', 'en.txt', '--lang', 'en', ...TRAIN, '--out', 'lang-en']);
    expect(en.out).toMatch(/^masked-LM loss: \d+\.\d{4} → \d+\.\d{4} \(mean of the first \/ last 1 step; 2 steps over 6 sentences\)\n/);
    expect(en.out).toContain("language adapter 'en': ");
    await ok(['madx-lang', '--model', 'tiny-bert', '--text', 'de-text.conllu', '--lang', 'de', ...TRAIN, '--out', 'lang-de']);
    for (const lang of ['en', 'de']) {
      const dir = path.join(tmp, `lang-${lang}`);
      for (const f of ['adapter_config.json', 'adapter.safetensors', 'metrics.jsonl', 'summary.json', 'curves.svg']) {
        expect({ f: `lang-${lang}/${f}`, exists: existsSync(path.join(dir, f)) }).toEqual({ f: `lang-${lang}/${f}`, exists: true });
      }
      expect(readJson(path.join(dir, 'adapter_config.json'))).toMatchObject({ name: lang, plugin: 'bottleneck_inv', config: { inv_adapter: 'nice', reduction_factor: 2 } });
      const keys = [...(await readSafetensorsFile(path.join(dir, 'adapter.safetensors'))).tensors.keys()];
      expect(keys).toContain(`bert.invertible_adapters.${lang}.F.0.weight`);
      expect(keys).toContain(`bert.encoder.layer.1.output.adapters.${lang}.adapter_down.0.weight`);
      expect(readMetrics(path.join(dir, 'metrics.jsonl')).map((r) => r['type'])).toEqual(['step', 'step']);
      expect(readJson(path.join(dir, 'summary.json'))).toMatchObject({ language: lang, sentences: lang === 'en' ? 6 : 4, steps: 2, mlmHead: 'fresh, trained with the adapter', lossWindow: 1 });
    }

    // Step 2: the task adapter stacked on the frozen English adapter.
    const task = await ok(['madx-task', '--model', 'tiny-bert', '--lang-adapter', 'lang-en', '--data', 'en-train.conllu', '--eval', 'en-dev.conllu', '--task', 'pos', ...TRAIN, '--out', 'pos']);
    expect(task.out).toMatch(/^accuracy: \d\.\d{4} {2}loss: \d+\.\d{4} {2}\(12 eval words with Stack\(en, pos\); majority-tag baseline \d\.\d{4}\)\n/);
    expect(task.out).toContain("language adapter 'en' unchanged: true");
    const posDir = path.join(tmp, 'pos');
    for (const f of ['adapter_config.json', 'adapter.safetensors', 'head_config.json', 'model_head.safetensors', 'run.json', 'metrics.jsonl', 'summary.json']) {
      expect({ f, exists: existsSync(path.join(posDir, f)) }).toEqual({ f, exists: true });
    }
    expect(readJson(path.join(posDir, 'adapter_config.json'))).toMatchObject({ name: 'pos', plugin: 'bottleneck', config: { reduction_factor: 16 } });
    expect(readJson(path.join(posDir, 'head_config.json'))).toMatchObject({ name: 'upos', model_class: 'BertAdapterModel', config: { head_type: 'tagging', num_labels: 17, layers: 1 } });
    expect(readJson(path.join(posDir, 'run.json'))).toMatchObject({ adapters: [{ name: 'pos', dir: '.' }], heads: [{ name: 'upos', dir: '.' }], maxLength: 16, extras: { madx: { language: 'en' } } });
    expect(existsSync(path.join(posDir, 'madx_task.json'))).toBe(false);
    // Core's eval scores sentence classifiers; on this tagger run it names the command that evaluates it.
    const coreEval = await run(['eval', '--run', 'pos', '--data', 'en-dev.conllu']);
    expect(coreEval.code).not.toBe(0);
    expect(coreEval.err).toMatch(/pos\/run\.json: extras\.madx: .*use adapters madx-eval --task-adapter pos /);
    const taskKeys = [...(await readSafetensorsFile(path.join(posDir, 'adapter.safetensors'))).tensors.keys()];
    expect(taskKeys.length).toBeGreaterThan(0);
    expect(taskKeys.every((k) => k.includes('.adapters.pos.'))).toBe(true);
    expect(readMetrics(path.join(posDir, 'metrics.jsonl')).map((r) => r['type'])).toEqual(['step', 'step', 'eval', 'final']);
    const summary = readJson(path.join(posDir, 'summary.json'));
    expect(summary).toMatchObject({ task: 'pos', head: 'upos', language: 'en', trainSentences: 6, evalSentences: 3, evalWords: 12, steps: 2, languageAdapterUnchanged: true });
    const { accuracy, evalLoss } = summary as { accuracy: number; evalLoss: number };

    // Step 3: madx-eval rebuilds Stack(en, pos) from the files and reproduces the reported accuracy and loss.
    const same = ACCURACY.exec((await ok(['madx-eval', '--model', 'tiny-bert', '--lang-adapter', 'lang-en', '--task-adapter', 'pos', '--data', 'en-dev.conllu'])).out);
    expect(same?.slice(1, 5)).toEqual([accuracy.toFixed(4), expect.any(String), '12', 'Stack(en, pos)']);
    expect(Math.abs(Number(same?.[2]) - evalLoss)).toBeLessThan(1e-3);
    // Zero-shot: the German adapter swapped in; the model comes from run.json when --model is not given.
    const zero = ACCURACY.exec((await ok(['madx-eval', '--lang-adapter', 'lang-de', '--task-adapter', 'pos', '--data', 'de-test.conllu'])).out);
    expect(zero?.slice(3, 5)).toEqual(['16', 'Stack(de, pos)']);
    const kept = ACCURACY.exec((await ok(['madx-eval', '--lang-adapter', 'lang-en', '--task-adapter', 'pos', '--data', 'de-test.conllu'])).out);
    expect(kept?.slice(3, 5)).toEqual(['16', 'Stack(en, pos)']);
    // Swapping the language adapter changes the predictions' loss (different adapter weights under the same task adapter).
    expect(zero?.[2]).not.toBe(kept?.[2]);
    const alone = ACCURACY.exec((await ok(['madx-eval', '--no-lang', '--task-adapter', 'pos', '--data', 'de-test.conllu'])).out);
    expect(alone?.slice(3, 5)).toEqual(['16', 'pos alone']);
    // Reproducible: the same evaluation twice prints the same line.
    expect((await ok(['madx-eval', '--lang-adapter', 'lang-de', '--task-adapter', 'pos', '--data', 'de-test.conllu'])).out).toBe(zero?.[0]);
  });

  test.each([
    [['madx-lang', '--model', 'tiny-bert', '--text', 'en.txt', '--out', 'x'], /missing required option --lang/],
    [['madx-lang', '--model', 'tiny-bert', '--text', 'en.txt', '--lang', 'e n', '--out', 'x'], /--lang 'e n' may use only letters, digits, _ and -/],
    [['madx-lang', '--model', 'tiny-bert', '--text', 'missing.txt', '--lang', 'en', '--out', 'x'], /--text missing\.txt: no such file/],
    [['madx-lang', '--model', 'tiny-bert', '--text', 'en.txt', '--lang', 'en', '--steps', '0', '--out', 'x'], /--steps/],
    [['madx-task', '--model', 'tiny-bert', '--lang-adapter', 'nowhere', '--data', 'en-train.conllu', '--task', 'pos', '--out', 'x'], /--lang-adapter nowhere: no adapter_config\.json there; pass a directory written by madx-lang/],
    [['madx-task', '--model', 'tiny-bert', '--lang-adapter', 'pos', '--data', 'en-train.conllu', '--task', 'pos2', '--out', 'x'], /--lang-adapter pos: not a language adapter/],
    [['madx-task', '--model', 'tiny-bert', '--lang-adapter', 'lang-en', '--data', 'en-train.conllu', '--task', 'en', '--out', 'x'], /--task en: the language adapter in lang-en has that name/],
    [['madx-task', '--model', 'tiny-bert', '--lang-adapter', 'lang-en', '--data', 'en.txt', '--task', 'pos', '--out', 'x'], /--data en\.txt:1: expected 10 tab-separated columns, got 1/],
    [['madx-task', '--model', 'tiny-bert', '--lang-adapter', 'lang-en', '--data', 'bad-tag.conllu', '--task', 'pos', '--out', 'x'], /--data bad-tag\.conllu: unknown UPOS tag 'NOUNISH' \(word 'dog'\)/],
    [['madx-eval', '--lang-adapter', 'lang-de', '--no-lang', '--task-adapter', 'pos', '--data', 'de-test.conllu'], /give --lang-adapter DIR or --no-lang, not both/],
    [['madx-eval', '--task-adapter', 'pos', '--data', 'de-test.conllu'], /missing --lang-adapter DIR .* or --no-lang/],
    [['madx-eval', '--lang-adapter', 'lang-de', '--task-adapter', 'lang-de', '--data', 'de-test.conllu'], /--task-adapter lang-de: no run\.json there; pass a directory written by madx-task/],
  ])('usage error %j → exit 2, one line', async (argv, pattern) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    const lines = r.err.trim().split('\n').filter((l) => /^adapters: /.test(l));
    expect(lines).toHaveLength(1);
    expect(r.err.trim().split('\n').filter((l) => !/^backend:/.test(l))).toEqual(lines);
    expect(lines[0]).toMatch(/^adapters: error: /);
    expect(lines[0]).toMatch(pattern);
  });
});
