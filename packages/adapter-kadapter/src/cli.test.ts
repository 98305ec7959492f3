// End-to-end tests of the kadapter-* commands through core-graph's `adapters` entry point (runCli), in-process:
// a tiny random BERT as a Hugging Face model directory (vocab.txt → WordPiece tokenizer), a tiny FewRel JSON,
// a tiny CoNLL-U file and tiny TSVs; this package is found by plugin discovery (symlinked into a temp dir).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSafetensorsFile } from '@adapters/core-graph';
import { readMetrics } from '@adapters/cli';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';
import { mkdirSync } from 'node:fs';
import { WORDNET_ADJS, WORDNET_NOUNS } from './__tests__/helpers';

const WORDS = ['the', 'movie', 'film', 'was', 'is', 'a', 'very', 'good', 'bad', 'paris', 'france', 'in', 'born', 'capital', 'of', 'he', 'she', 'city', '.'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[unused0]', '[unused1]', '[unused2]', '[unused3]', ...WORDS];
const SMALL = 'kadapter_small:adapter_size=8,adapter_heads=2,adapter_intermediate_size=16,adapter_transformer_layers=1';

function writeTinyModel(dir: string): void {
  writeTinyModelDir(dir, VOCAB, { numLayers: 3 });
}

/** FewRel 1.0 format: {relation: [{tokens, h: [name, id, [[positions]]], t: [...]}]}; 5 relations × 4 instances. */
function writeFewRel(file: string): void {
  const sentences = [['paris', 'is', 'the', 'capital', 'of', 'france'], ['he', 'was', 'born', 'in', 'paris', '.'], ['the', 'movie', 'is', 'a', 'film', '.'], ['she', 'was', 'born', 'in', 'france', '.'], ['the', 'city', 'of', 'paris', 'is', 'very', 'good']];
  const entity = (tokens: string[], i: number) => [tokens[i], `Q${i}`, [[i]]];
  const data: Record<string, unknown[]> = {};
  const pairs: Array<[number, number]> = [[0, 5], [0, 4], [1, 4], [0, 4], [3, 1]];
  ['P1376', 'P19', 'P31', 'P27', 'P131'].forEach((relation, r) => {
    const tokens = sentences[r] as string[];
    const [h, t] = pairs[r] as [number, number];
    data[relation] = Array.from({ length: 4 }, (_v, k) => ({ tokens: k % 2 === 0 ? tokens : [...tokens.slice(0, -1), 'very', tokens[tokens.length - 1] as string], h: entity(tokens, h), t: entity(tokens, t) }));
  });
  writeFileSync(file, JSON.stringify(data));
}

/** Six tiny CoNLL-U sentences (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC). */
function writeConllu(file: string): void {
  const sentence = (words: string[], heads: number[], id: number) =>
    [`# sent_id = s${id}`, `# text = ${words.join(' ')}`, ...words.map((w, i) => [i + 1, w, w, 'X', '_', '_', heads[i], heads[i] === 0 ? 'root' : 'dep', '_', '_'].join('\t')), ''].join('\n');
  const list: Array<[string[], number[]]> = [
    [['the', 'movie', 'was', 'good'], [2, 4, 4, 0]],
    [['the', 'film', 'is', 'bad'], [2, 4, 4, 0]],
    [['he', 'was', 'born', 'in', 'paris'], [3, 3, 0, 5, 3]],
    [['paris', 'is', 'a', 'city'], [4, 4, 4, 0]],
    [['she', 'was', 'very', 'good'], [4, 4, 4, 0]],
    [['the', 'capital', 'of', 'france'], [2, 0, 4, 2]],
  ];
  writeFileSync(file, `${list.map(([w, h], i) => sentence(w, h, i)).join('\n')}\n`);
}

function writeData(file: string, count: number, offset: number): void {
  const rows = ['sentence\tlabel'];
  for (let i = 0; i < count; i++) {
    const positive = (i + offset) % 2 === 0;
    rows.push(`the ${i % 3 === 0 ? 'movie' : 'film'} was ${positive ? 'very good' : 'bad'}\t${positive ? 'pos' : 'neg'}`);
  }
  writeFileSync(file, `${rows.join('\n')}\n`);
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const TRAIN = ['--max-steps', '2', '--batch-size', '4', '--lr', '0.01', '--max-length', '16'];

describe('adapters kadapter-* commands', () => {
  let tmp: string;
  const run = (argv: string[]) => runCliIn(tmp, argv);
  const ok = async (argv: string[]) => {
    const r = await run(argv);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    return r;
  };

  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kadapter-cli-'));
    writeTinyModel(path.join(tmp, 'tiny-bert'));
    writeFewRel(path.join(tmp, 'fewrel.json'));
    writeConllu(path.join(tmp, 'ud.conllu'));
    writeData(path.join(tmp, 'train.tsv'), 12, 0);
    writeData(path.join(tmp, 'dev.tsv'), 6, 1);
    writeFileSync(path.join(tmp, 'rel-bad.tsv'), 'text\tlabel\n<e1>paris</e1> is in <e2>france</e2>\tP1\n<e1>he <e2>was</e2> born</e1>\tP2\n');
    linkAdapterPackages(tmp, [path.resolve(__dirname, '..'), path.resolve(__dirname, '../../adapter-bottleneck')]);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('the commands are discovered and listed in help', async () => {
    const r = await ok(['--help']);
    expect(r.out).toContain('  kadapter-pretrain ');
    expect(r.out).toContain('  kadapter-train ');
    expect(r.out).toContain('  kadapter-eval ');
    expect((await ok(['kadapter-pretrain', '--help'])).out).toContain('usage: adapters kadapter-pretrain --model DIR|NAME --knowledge factual|linguistic --data FILE --out DIR');
  });

  test('pre-train factual and linguistic adapters, then downstream classification with both (and with one, frozen)', async () => {
    const fact = await ok(['kadapter-pretrain', '--model', 'tiny-bert', '--knowledge', 'factual', '--data', 'fewrel.json', '--relations', '3', '--per-relation', '2', '--eval-per-relation', '2', '--adapter-config', SMALL, ...TRAIN, '--out', 'factual']);
    expect(fact.out).toMatch(/^relation accuracy over 3 relations: \d+\.\d% \(chance 33\.3%; 6 eval examples, 2 steps\)\n/);
    const ling = await ok(['kadapter-pretrain', '--model', 'tiny-bert', '--knowledge', 'linguistic', '--data', 'ud.conllu', '--train-sentences', '4', '--eval-sentences', '2', '--adapter-config', SMALL, ...TRAIN, '--out', 'linguistic']);
    expect(ling.out).toMatch(/^dependency-head accuracy \(UAS over word pieces\): \d+\.\d% \(chance \d+\.\d%; 2 eval examples, 2 steps\)\n/);
    for (const [dir, type, head] of [['factual', 'relation', 'factual_rc'], ['linguistic', 'dependency', 'linguistic_dep']] as const) {
      for (const f of ['adapter_config.json', 'adapter.safetensors', 'head_config.json', 'model_head.safetensors', 'metrics.jsonl', 'summary.json']) {
        expect({ f: `${dir}/${f}`, exists: existsSync(path.join(tmp, dir, f)) }).toEqual({ f: `${dir}/${f}`, exists: true });
      }
      expect(readJson(path.join(tmp, dir, 'adapter_config.json'))).toMatchObject({ name: dir, plugin: 'kadapter', config: { architecture: 'kadapter', adapter_size: 8 } });
      expect(readJson(path.join(tmp, dir, 'head_config.json'))).toMatchObject({ config: { type, name: head } });
      expect(readMetrics(path.join(tmp, dir, 'metrics.jsonl')).map((r) => r['type'])).toEqual(['step', 'step', 'eval']);
      const { tensors } = await readSafetensorsFile(path.join(tmp, dir, 'adapter.safetensors'));
      expect([...tensors.keys()].every((k) => k.startsWith(`bert.taps.adapters.${dir}.`))).toBe(true);
    }
    expect(readJson(path.join(tmp, 'factual', 'summary.json'))).toMatchObject({ knowledge: 'factual', adapter: 'factual', head: 'factual_rc', labels: ['P1376', 'P19', 'P31'], trainExamples: 6, evalExamples: 6, steps: 2 });
    expect(readJson(path.join(tmp, 'linguistic', 'summary.json'))).toMatchObject({ knowledge: 'linguistic', trainExamples: 4, evalExamples: 2 });

    // Downstream: both adapters, concat; the adapters fine-tune with the base frozen (the paper's setting).
    const tr = await ok(['kadapter-train', '--model', 'tiny-bert', '--kadapter', 'factual,linguistic', '--combine', 'concat', '--data', 'train.tsv', '--eval', 'dev.tsv', ...TRAIN, '--out', 'task']);
    expect(tr.out).toMatch(/^accuracy: \d\.\d{4} {2}\(6 eval examples; majority-class baseline 0\.5000\)\n/);
    for (const f of ['kadapters/factual/adapter_config.json', 'kadapters/linguistic/adapter.safetensors', 'run.json', 'task.safetensors', 'metrics.jsonl', 'summary.json']) {
      expect({ f, exists: existsSync(path.join(tmp, 'task', f)) }).toEqual({ f, exists: true });
    }
    expect(readJson(path.join(tmp, 'task', 'run.json'))).toMatchObject({
      adapters: [{ name: 'factual', dir: 'kadapters/factual' }, { name: 'linguistic', dir: 'kadapters/linguistic' }],
      extras: { kadapter: { combine: { name: 'kadapter', mode: 'concat' }, head: { type: 'classification', name: 'task', numLabels: 2 }, labels: ['neg', 'pos'], trained: 'adapters+combination+head' } },
    });
    expect(existsSync(path.join(tmp, 'task', 'task_config.json'))).toBe(false);
    // Core's eval cannot rebuild the combination and head in task.safetensors: it names kadapter-eval.
    const coreEval = await run(['eval', '--run', 'task', '--data', 'dev.tsv']);
    expect(coreEval.code).not.toBe(0);
    expect(coreEval.err).toMatch(/task\/run\.json: extras\.kadapter: .*use adapters kadapter-eval --task task --data FILE/);
    const { tensors } = await readSafetensorsFile(path.join(tmp, 'task', 'task.safetensors'));
    expect([...tensors.keys()].some((k) => k.startsWith('heads.task.'))).toBe(true);
    expect([...tensors.keys()].some((k) => k.startsWith('combine.kadapter.'))).toBe(true);
    expect(readJson(path.join(tmp, 'task', 'summary.json'))).toMatchObject({ adapters: ['factual', 'linguistic'], combine: 'concat', freezeAdapters: false, steps: 2, trainExamples: 12, evalExamples: 6 });
    // kadapter-eval rebuilds the task from the saved files and reproduces the final accuracy.
    const { accuracy, evalLoss } = readJson(path.join(tmp, 'task', 'summary.json')) as { accuracy: number; evalLoss: number };
    const evaluated = (await ok(['kadapter-eval', '--task', 'task', '--data', 'dev.tsv'])).out;
    expect(Math.abs(Number(/loss: (\S+)/.exec(evaluated)?.[1]) - evalLoss)).toBeLessThan(1e-3);
    expect(evaluated).toMatch(new RegExp(`^accuracy: ${accuracy.toFixed(4).replace('.', '\\.')} {2}loss: \\d+\\.\\d{4} {2}\\(6 examples; majority-class baseline 0\\.5000\\)\\n$`));

    // One adapter, sum, frozen: the saved adapter is the pre-trained one, byte for byte.
    await ok(['kadapter-train', '--model', 'tiny-bert', '--kadapter', 'factual', '--combine', 'sum', '--freeze-adapters', '--pooling', 'mean', '--data', 'train.tsv', ...TRAIN, '--out', 'task-sum']);
    expect(readFileSync(path.join(tmp, 'task-sum', 'kadapters', 'factual', 'adapter.safetensors')).equals(readFileSync(path.join(tmp, 'factual', 'adapter.safetensors')))).toBe(true);
    expect(readJson(path.join(tmp, 'task-sum', 'summary.json'))).toMatchObject({ combine: 'sum', freezeAdapters: true, accuracy: null });
  });

  test('relation task disjoint from the factual adapter; entity pooling with head alone, seq_bn, K-Adapter + seq_bn with a fine-tuned base; kadapter-eval reproduces each', async () => {
    await ok(['kadapter-pretrain', '--model', 'tiny-bert', '--knowledge', 'factual', '--data', 'fewrel.json', '--relation', 'P1376', '--relation', 'P19', '--per-relation', '2', '--eval-per-relation', '1', '--adapter-config', SMALL, ...TRAIN, '--out', 'fact2']);
    const made = await ok(['kadapter-relation-task', '--data', 'fewrel.json', '--exclude-from', 'fact2', '--train-per-relation', '2', '--test-per-relation', '2', '--seed', '4', '--out', 'rel']);
    expect(made.out).toMatch(/^relations: P131, P27, P31 \(3; excluded 2\)\n/);
    const task = readJson(path.join(tmp, 'rel', 'task.json'));
    expect(task).toMatchObject({ labels: ['P131', 'P27', 'P31'], excluded: ['P1376', 'P19'], train: 6, test: 6, seed: 4 });
    const train = readFileSync(path.join(tmp, 'rel', 'train.tsv'), 'utf8');
    expect(train.split('\n')[0]).toBe('text\tlabel');
    expect(train.split('\n').slice(1, -1).every((l) => /<e1>.+<\/e1>/.test(l) && /<e2>.+<\/e2>/.test(l))).toBe(true);
    // Same seed → the same files.
    await ok(['kadapter-relation-task', '--data', 'fewrel.json', '--exclude', 'P1376', '--exclude', 'P19', '--train-per-relation', '2', '--test-per-relation', '2', '--seed', '4', '--out', 'rel-again']);
    expect(readFileSync(path.join(tmp, 'rel-again', 'test.tsv'), 'utf8')).toBe(readFileSync(path.join(tmp, 'rel', 'test.tsv'), 'utf8'));

    const rel = ['--data', 'rel/train.tsv', '--eval', 'rel/test.tsv', ...TRAIN];
    const runs: Array<[string, string[], Record<string, unknown>]> = [
      // <e1> tags in the data: entity pooling is the default.
      ['rel-head', [], { adapters: [], inLayer: null, finetuneBase: false, pooling: 'entity' }],
      ['rel-seqbn', ['--adapter', 'seq_bn:reduction_factor=4', '--pooling', 'entity'], { adapters: [], inLayer: 'seq_bn:reduction_factor=4' }],
      ['rel-both', ['--kadapter', 'fact2', '--adapter', 'seq_bn:reduction_factor=4', '--finetune-base', '--base-lr', '1e-3', '--head-lr', '2e-2'], { adapters: ['factual'], combine: 'output', finetuneBase: true, baseLr: 1e-3, headLr: 2e-2, lr: 0.01 }],
    ];
    for (const [out, extra, expected] of runs) {
      const r = await ok(['kadapter-train', '--model', 'tiny-bert', ...extra, ...rel, '--out', out]);
      expect(r.out).toMatch(/^accuracy: \d\.\d{4} {2}\(6 eval examples; majority-class baseline 0\.3333\)\n/);
      const summary = readJson(path.join(tmp, out, 'summary.json'));
      expect(summary).toMatchObject({ ...expected, trainExamples: 6, evalExamples: 6, steps: 2 });
      expect(readJson(path.join(tmp, out, 'run.json'))).toMatchObject({ extras: { kadapter: { head: { type: 'relation', name: 'task', numLabels: 3 }, markers: ['[unused0]', '[unused1]', '[unused2]', '[unused3]'] } } });
      const { tensors } = await readSafetensorsFile(path.join(tmp, out, 'task.safetensors'));
      expect({ out, inLayer: [...tensors.keys()].some((k) => k.includes('adapters.task_adapter')), base: tensors.has('embeddings.word_embeddings.weight') })
        .toEqual({ out, inLayer: extra.includes('--adapter'), base: extra.includes('--finetune-base') });
      const evaluated = (await ok(['kadapter-eval', '--task', out, '--data', 'rel/test.tsv'])).out;
      expect({ out, loss: Math.abs(Number(/loss: (\S+)/.exec(evaluated)?.[1]) - (summary['evalLoss'] as number)) < 1e-3 }).toEqual({ out, loss: true });
    }
  });

  test('knowledge-corpus: WordNet excerpt → corpus, probes and counts; the same seed writes the same files', async () => {
    mkdirSync(path.join(tmp, 'wn'), { recursive: true });
    writeFileSync(path.join(tmp, 'wn', 'data.noun'), WORDNET_NOUNS);
    writeFileSync(path.join(tmp, 'wn', 'data.adj'), WORDNET_ADJS);
    writeFileSync(path.join(tmp, 'wn', 'data.verb'), '');
    writeFileSync(path.join(tmp, 'wn', 'data.adv'), '');
    const r = await ok(['knowledge-corpus', '--wordnet', 'wn', '--held-out', '0.2', '--walks', '3', '--seed', '1', '--out', 'kc']);
    expect(r.out).toMatch(/^corpus: \d+ lines from 10 synsets \(.*walk \d\); held out 2 synsets\n/);
    const summary = readJson(path.join(tmp, 'kc', 'corpus.json'));
    expect(summary).toMatchObject({ synsets: 10, seed: 1 });
    expect(summary['heldOutSynsets']).toHaveLength(2);
    const lines = readFileSync(path.join(tmp, 'kc', 'corpus.txt'), 'utf8').trim().split('\n');
    expect(lines.length).toBe(summary['sentences']);
    const probe = readFileSync(path.join(tmp, 'kc', 'probe-seen.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { text: string; answers: string[] });
    expect(probe.every((p) => p.text.includes('[MASK]') && p.answers.length > 0)).toBe(true);
    await ok(['knowledge-corpus', '--wordnet', 'wn', '--held-out', '0.2', '--walks', '3', '--seed', '1', '--out', 'kc2']);
    expect(readFileSync(path.join(tmp, 'kc2', 'corpus.txt'), 'utf8')).toBe(readFileSync(path.join(tmp, 'kc', 'corpus.txt'), 'utf8'));
    const bad = await run(['knowledge-corpus', '--wordnet', 'wn', '--relations', 'hypernym,cousin', '--out', 'kc3']);
    expect([bad.code, /--relations: unknown relation 'cousin'/.test(bad.err)]).toEqual([2, true]);
  });

  test('knowledge-train (adapter, and the head alone) then knowledge-probe: P@1 / P@10 over single-piece answers', async () => {
    writeFileSync(path.join(tmp, 'kcorpus.txt'), ['paris is the capital of france .', 'the film is a movie .', 'he was born in paris .', 'the city of paris is very good .'].join('\n') + '\n');
    writeFileSync(path.join(tmp, 'kprobe.jsonl'), [
      { relation: 'part', text: 'paris is the capital of [MASK] .', answers: ['france'] },
      { relation: 'hypernym', text: 'the film is a [MASK] .', answers: ['movie', 'film'] },
      { relation: 'hypernym', text: 'the film is a [MASK] .', answers: ['zebra crossing'] },
    ].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const common = ['--model', 'tiny-bert', '--corpus', 'kcorpus.txt', '--steps', '2', '--batch-size', '2', '--max-length', '16'];
    const trained = await ok(['knowledge-train', ...common, '--reduction-factor', '4', '--out', 'ka']);
    expect(trained.out).toMatch(/^masked-LM loss: \d+\.\d{4} → \d+\.\d{4} \(mean of the first \/ last 1 steps; 2 steps\)\n/);
    expect(readJson(path.join(tmp, 'ka', 'summary.json'))).toMatchObject({ adapter: 'wordnet', noAdapter: false, steps: 2, sentences: 4, headTrained: true });
    for (const f of ['adapter_config.json', 'adapter.safetensors', 'head_config.json', 'model_head.safetensors']) expect({ f, exists: existsSync(path.join(tmp, 'ka', f)) }).toEqual({ f, exists: true });
    await ok(['knowledge-train', ...common, '--no-adapter', '--out', 'kbase']);
    expect(readJson(path.join(tmp, 'kbase', 'summary.json'))).toMatchObject({ noAdapter: true, adapterParams: 0 });
    for (const dir of ['ka', 'kbase']) {
      const r = await ok(['knowledge-probe', '--run', dir, '--probe', 'kprobe.jsonl']);
      expect(r.out).toMatch(/^P@1 [01]\.\d{4} {2}P@10 [01]\.\d{4} {2}MRR [01]\.\d{4} {2}median rank \d+(\.5)? {2}\(2 items with a single-word-piece answer; 1 skipped\)/);
      const saved = readJson(path.join(tmp, dir, 'probe-kprobe.json'));
      expect(saved).toMatchObject({ items: 2, skipped: 1 });
      expect((saved['mrr'] as number) > 0 && (saved['medianRank'] as number) >= 1).toBe(true);
      expect((saved['pAt1'] as number) <= (saved['pAt10'] as number)).toBe(true);
    }
    const bad = await run(['knowledge-train', ...common, '--no-adapter', '--reduction-factor', '4', '--out', 'kx']);
    expect([bad.code, /--reduction-factor does not apply with --no-adapter/.test(bad.err)]).toEqual([2, true]);
  });

  test('knowledge-train --head-from: the saved head is loaded and stays byte-identical; only the adapter trains', async () => {
    const common = ['--model', 'tiny-bert', '--corpus', 'kcorpus.txt', '--steps', '2', '--batch-size', '2', '--max-length', '16'];
    await ok(['knowledge-train', ...common, '--no-adapter', '--lr', '0.01', '--out', 'khead']);
    const r = await ok(['knowledge-train', ...common, '--head-from', 'khead', '--lr', '0.01', '--out', 'kfrozen']);
    expect(r.err).toMatch(/masked-LM head from khead, frozen/);
    expect(readJson(path.join(tmp, 'kfrozen', 'summary.json'))).toMatchObject({ headTrained: false, headFrom: path.join(tmp, 'khead'), noAdapter: false });
    const head = await readSafetensorsFile(path.join(tmp, 'khead', 'model_head.safetensors'));
    const kept = await readSafetensorsFile(path.join(tmp, 'kfrozen', 'model_head.safetensors'));
    expect([...kept.tensors.keys()].sort()).toEqual([...head.tensors.keys()].sort());
    for (const [k, t] of head.tensors) expect({ k, same: Buffer.from((kept.tensors.get(k) as typeof t).values.buffer).equals(Buffer.from(t.values.buffer)) }).toEqual({ k, same: true });
    // The adapter did train (it moved away from its initial weights, unlike the head).
    const metrics = readMetrics(path.join(tmp, 'kfrozen', 'metrics.jsonl')).filter((m) => m.type === 'step');
    expect(metrics).toHaveLength(2);
    for (const [argv, pattern] of [
      [['--no-adapter', '--head-from', 'khead'], /--head-from keeps the head frozen: with --no-adapter nothing would train/],
      [['--head-from', 'nowhere'], /--head-from nowhere: no head_config\.json there/],
      [['--head-from', 'khead', '--name', 'mlm'], /--name mlm: the head loaded from --head-from has that name/],
    ] as const) {
      const bad = await run(['knowledge-train', ...common, ...argv, '--out', 'kx']);
      expect({ code: bad.code, err: pattern.test(bad.err) ? 'ok' : bad.err }).toEqual({ code: 2, err: 'ok' });
    }
  });

  test('knowledge-task: the task adapter alone, Stack(knowledge, task) and Fuse(knowledge, task), knowledge adapter frozen', async () => {
    const common = ['--model', 'tiny-bert', '--data', 'train.tsv', '--eval', 'dev.tsv', '--steps', '3', '--batch-size', '4', '--lr', '0.01', '--max-length', '16', '--reduction-factor', '4'];
    const runs: Record<string, Record<string, unknown>> = {};
    for (const compose of ['none', 'stack', 'fuse']) {
      const r = await ok(['knowledge-task', ...common, '--compose', compose, ...(compose === 'none' ? [] : ['--knowledge', 'kfrozen']), '--out', `kt-${compose}`]);
      expect(r.out).toMatch(/^accuracy [01]\.\d{4} {2}F1 \S+ {2}MCC \S+ {2}loss \d+\.\d{4} {2}\(6 eval examples; majority 0\.5000\)/);
      runs[compose] = readJson(path.join(tmp, `kt-${compose}`, 'summary.json'));
      expect(readMetrics(path.join(tmp, `kt-${compose}`, 'metrics.jsonl')).filter((m) => m.type === 'step')).toHaveLength(3);
    }
    expect(runs['none']).toMatchObject({ compose: 'none', knowledge: null, trainExamples: 12, evalExamples: 6, steps: 3, knowledgeUnchanged: true });
    expect(runs['stack']).toMatchObject({ compose: 'stack', knowledge: 'wordnet', steps: 3, knowledgeUnchanged: true });
    expect(runs['fuse']).toMatchObject({ compose: 'fuse', knowledge: 'wordnet', steps: 3, knowledgeUnchanged: true });
    // Stack trains exactly what the task adapter alone trains; Fuse adds the fusion layers.
    expect(runs['stack']?.['trainableParams']).toBe(runs['none']?.['trainableParams']);
    expect(runs['fuse']?.['trainableParams'] as number).toBeGreaterThan(runs['none']?.['trainableParams'] as number);
    // The frozen knowledge adapter takes part: Stack's first-step loss differs from the task adapter alone's (same seed, data, init).
    const firstLoss = (c: string) => readMetrics(path.join(tmp, `kt-${c}`, 'metrics.jsonl')).find((m) => m.type === 'step')?.['loss'];
    expect(firstLoss('stack')).not.toBe(firstLoss('none'));
    for (const [argv, pattern] of [
      [['--compose', 'stack'], /missing required option --knowledge .* for --compose stack/],
      [['--compose', 'none', '--knowledge', 'kfrozen'], /--knowledge does not apply with --compose none/],
      [['--compose', 'parallel'], /--compose must be none, stack, fuse; got 'parallel'/],
      [['--compose', 'stack', '--knowledge', 'nowhere'], /--knowledge nowhere: /],
      [['--compose', 'stack', '--knowledge', 'kfrozen', '--name', 'wordnet'], /--name wordnet: the knowledge adapter has that name/],
    ] as const) {
      const bad = await run(['knowledge-task', ...common, ...argv, '--out', 'kt-x']);
      expect({ code: bad.code, err: pattern.test(bad.err) ? 'ok' : bad.err }).toEqual({ code: 2, err: 'ok' });
    }
    expect(existsSync(path.join(tmp, 'kt-x'))).toBe(false);
  });

  test.each([
    [['kadapter-pretrain', '--model', 'tiny-bert', '--knowledge', 'semantic', '--data', 'fewrel.json', '--out', 'x'], /--knowledge must be factual or linguistic, got 'semantic'/],
    [['kadapter-pretrain', '--model', 'tiny-bert', '--knowledge', 'linguistic', '--data', 'ud.conllu', '--relations', '3', '--out', 'x'], /--relations does not apply to --knowledge linguistic/],
    [['kadapter-pretrain', '--model', 'tiny-bert', '--knowledge', 'factual', '--data', 'missing.json', '--out', 'x'], /--data missing\.json: no such file/],
    [['kadapter-pretrain', '--model', 'tiny-bert', '--knowledge', 'factual', '--data', 'fewrel.json', '--adapter-config', 'huge', '--out', 'x'], /--adapter-config huge: 'huge' is not a K-Adapter preset/],
    [['kadapter-pretrain', '--model', 'tiny-bert', '--knowledge', 'factual', '--data', 'fewrel.json', '--adapter-config', 'kadapter_small:adapter_heads=3', '--out', 'x'], /--adapter-config kadapter_small:adapter_heads=3: .*adapter_heads/],
    [['kadapter-pretrain', '--model', 'tiny-bert', '--knowledge', 'factual', '--data', 'fewrel.json', '--per-relation', '10', '--adapter-config', SMALL, '--max-steps', '1', '--out', 'x'], /--per-relation \/ --eval-per-relation: trainPerRelation: relation 'P1376' has 4 instances, 30 requested/],
    [['kadapter-train', '--model', 'tiny-bert', '--combine', 'sum', '--data', 'train.tsv', '--out', 'x'], /--combine applies with --kadapter/],
    [['kadapter-train', '--model', 'tiny-bert', '--base-lr', '1e-5', '--data', 'train.tsv', '--out', 'x'], /--base-lr applies with --finetune-base/],
    [['kadapter-train', '--model', 'tiny-bert', '--pooling', 'max', '--data', 'train.tsv', '--out', 'x'], /--pooling must be cls, mean or entity, got 'max'/],
    [['kadapter-train', '--model', 'tiny-bert', '--pooling', 'entity', '--data', 'train.tsv', '--out', 'x'], /train\.tsv: example 1: no entity tags \(expected one <e1>…<\/e1> and one <e2>…<\/e2>\): "the movie was very good"/],
    [['kadapter-train', '--model', 'tiny-bert', '--pooling', 'entity', '--data', 'rel-bad.tsv', '--out', 'x'], /rel-bad\.tsv: example 2: '<e2>' opens inside the other entity/],
    [['kadapter-train', '--model', 'tiny-bert', '--pooling', 'entity', '--markers', '[unused0],[unused1],[x]', '--data', 'rel-bad.tsv', '--out', 'x'], /--markers must be four comma-separated tokens/],
    [['kadapter-relation-task', '--data', 'fewrel.json', '--exclude', 'P99', '--out', 'x'], /--exclude \/ --exclude-from: exclude: unknown relation\(s\) P99/],
    [['kadapter-relation-task', '--data', 'fewrel.json', '--exclude-from', 'train.tsv', '--out', 'x'], /--exclude-from train\.tsv: no readable summary\.json there/],
    [['kadapter-train', '--model', 'tiny-bert', '--kadapter', 'nowhere', '--data', 'train.tsv', '--out', 'x'], /--kadapter nowhere: no readable adapter_config\.json there/],
    [['kadapter-train', '--model', 'tiny-bert', '--kadapter', 'factual', '--combine', 'avg', '--data', 'train.tsv', '--out', 'x'], /--combine must be concat, sum or output, got 'avg'/],
    [['kadapter-eval', '--task', 'nowhere', '--data', 'dev.tsv'], /--task nowhere: no run\.json there/],
  ])('usage error %j → exit 2, one line', async (argv, pattern) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    const lines = r.err.trim().split('\n').filter((l) => /^adapters: /.test(l));
    expect(lines).toHaveLength(1);
    expect(r.err.trim().split('\n').filter((l) => !/^(backend|kadapter-pretrain):/.test(l))).toEqual(lines);
    expect(lines[0]).toMatch(pattern);
  });
});
