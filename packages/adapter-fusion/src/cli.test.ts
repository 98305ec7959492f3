// End-to-end tests of the fusion subcommands through core-graph's `adapters` entry point (runCli), in-process:
// a tiny random BERT written as a Hugging Face model directory, tiny TSV files, and this package found by plugin
// discovery (node_modules/@adapters/adapter-fusion and adapter-bottleneck symlinked into a temp dir).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSafetensorsFile } from '@adapters/core-graph';
import { readMetrics } from '@adapters/cli';
import { failForwardOnce, writeTinyModelDir } from '@adapters/core-graph/testing';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';

const POSITIVE = ['good', 'great', 'fun', 'lovely'];
const NEGATIVE = ['bad', 'awful', 'boring', 'dull'];
const FILLER = ['the', 'movie', 'film', 'was', 'is', 'a', 'very', 'plot'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POSITIVE, ...NEGATIVE, ...FILLER];

function writeTinyModel(dir: string): void {
  writeTinyModelDir(dir, VOCAB);
}

/** label = sentiment word (kind 'senti') or whether 'movie' / 'film' comes first (kind 'topic'). */
function writeData(file: string, count: number, offset: number, kind: 'senti' | 'topic'): void {
  const rows = ['sentence\tlabel'];
  for (let i = 0; i < count; i++) {
    const positive = (i + offset) % 2 === 0;
    const words = positive ? POSITIVE : NEGATIVE;
    const first = kind === 'topic' ? (positive ? 'movie' : 'film') : FILLER[(i * 3 + offset) % FILLER.length];
    rows.push(`${first} ${FILLER[(i + 1) % FILLER.length]} ${words[(i + offset) % words.length]}\t${positive ? 'yes' : 'no'}`);
  }
  writeFileSync(file, `${rows.join('\n')}\n`);
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const TRAIN = ['--max-steps', '2', '--batch-size', '8', '--max-length', '16', '--lr', '0.01', '--seed', '1'];

describe('adapters fusion-* commands', () => {
  let tmp: string;
  const run = (argv: string[]) => runCliIn(tmp, argv);
  const ok = async (argv: string[]) => {
    const r = await run(argv);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    return r;
  };

  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'fusion-cli-'));
    writeTinyModel(path.join(tmp, 'tiny-bert'));
    writeData(path.join(tmp, 'a.tsv'), 16, 0, 'senti');
    writeData(path.join(tmp, 'a-dev.tsv'), 8, 1, 'senti');
    writeData(path.join(tmp, 'b.tsv'), 16, 0, 'topic');
    writeData(path.join(tmp, 'target.tsv'), 16, 1, 'topic');
    writeData(path.join(tmp, 'target-dev.tsv'), 8, 0, 'senti');
    linkAdapterPackages(tmp, ['adapter-fusion', 'adapter-bottleneck'].map((pkg) => path.resolve(__dirname, '..', '..', pkg)));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('the commands are discovered from the installed package and listed in help', async () => {
    const r = await ok(['--help']);
    for (const c of ['fusion-stage1', 'fusion-stage2', 'fusion-inspect', 'fusion-prune']) expect(r.out).toContain(`  ${c} `);
    expect((await ok(['fusion-stage2', '--help'])).out).toContain('usage: adapters fusion-stage2 --model DIR|NAME --adapters DIR1,DIR2,...');
  });

  test('stage 1 (ST-A) → stage 2 → inspect → prune, with files in AdapterHub layout', async () => {
    // Stage 1: one adapter + head per task; the stage-1 adapters work with core's `adapters eval`.
    const s1 = await ok(['fusion-stage1', '--model', 'tiny-bert', '--task', 'a=a.tsv,a-dev.tsv', '--task', 'b=b.tsv', '--adapter', 'seq_bn:reduction_factor=4', ...TRAIN, '--out', 'stage1']);
    expect(s1.out).toMatch(/^a: accuracy \d\.\d{4} {2}F1 \d\.\d{4} {2}\(8 eval examples; 2 steps\) {2}saved: stage1\/a\nb: accuracy n\/a/);
    for (const t of ['a', 'b']) {
      for (const f of ['adapter_config.json', 'adapter.safetensors', 'head_config.json', 'model_head.safetensors', 'run.json', 'metrics.jsonl']) {
        expect({ f: `${t}/${f}`, exists: existsSync(path.join(tmp, 'stage1', t, f)) }).toEqual({ f: `${t}/${f}`, exists: true });
      }
      expect(readMetrics(path.join(tmp, 'stage1', t, 'metrics.jsonl')).filter((r) => r['type'] === 'step')).toHaveLength(2);
    }
    const stage1 = readJson(path.join(tmp, 'stage1', 'stage1.json'));
    expect(stage1).toMatchObject({ variant: 'st-a', plugin: 'bottleneck', adapterSpec: 'seq_bn:reduction_factor=4' });
    expect((stage1['tasks'] as Array<Record<string, unknown>>).map((t) => [t['name'], t['labels'], t['trainExamples'], t['evalExamples']])).toEqual([['a', ['no', 'yes'], 16, 8], ['b', ['no', 'yes'], 16, 0]]);
    expect((await ok(['eval', '--adapter-dir', 'stage1/a', '--data', 'a-dev.tsv'])).out).toMatch(/^accuracy: \d\.\d{4}/);
    expect((await ok(['eval', '--run', 'stage1/a', '--data', 'a-dev.tsv'])).out).toMatch(/^accuracy: \d\.\d{4}/);

    // Stage 2: only the fusion and the target head train.
    const s2 = await ok(['fusion-stage2', '--model', 'tiny-bert', '--adapters', 'stage1/a,stage1/b', '--data', 'target.tsv', '--eval', 'target-dev.tsv', '--name', 'tgt', ...TRAIN, '--out', 'fused']);
    expect(s2.out).toContain("trained: fusion 'a,b'");
    expect(s2.out).toContain('adapters unchanged: true');
    const fused = path.join(tmp, 'fused');
    for (const f of ['adapter_fusion_config.json', 'model_adapter_fusion.safetensors', 'head_config.json', 'model_head.safetensors', 'run.json', 'metrics.jsonl', 'curves.svg', 'curves.png', 'summary.json', 'adapters/a/adapter_config.json', 'adapters/b/adapter.safetensors']) {
      expect({ f, exists: existsSync(path.join(fused, f)) }).toEqual({ f, exists: true });
    }
    const fusionConfig = readJson(path.join(fused, 'adapter_fusion_config.json'));
    expect(fusionConfig).toMatchObject({ name: 'a,b', adapter_names: ['a', 'b'], hidden_size: 16, fusion_layers: { 'layer.0.ffn': ['a', 'b'], 'layer.1.ffn': ['a', 'b'] } });
    const { tensors } = await readSafetensorsFile(path.join(fused, 'model_adapter_fusion.safetensors'));
    expect([...tensors.keys()].sort()).toEqual([0, 1].flatMap((i) => ['key.bias', 'key.weight', 'query.bias', 'query.weight', 'value.weight'].map((l) => `bert.encoder.layer.${i}.output.adapter_fusion_layer.a,b.${l}`)).sort());
    const summary = readJson(path.join(fused, 'summary.json'));
    expect(summary).toMatchObject({ fusion: 'a,b', adapters: ['a', 'b'], head: 'tgt', steps: 2, trainExamples: 16, evalExamples: 8, adaptersUnchanged: true, fusionParams: 2 * (3 * 16 * 16 + 2 * 16) });
    expect(typeof summary['accuracy']).toBe('number');
    expect(readMetrics(path.join(fused, 'metrics.jsonl')).map((r) => r['type'])).toEqual(['step', 'step', 'eval', 'final']);
    expect(readJson(path.join(fused, 'run.json'))).toMatchObject({ adapters: [{ name: 'a', dir: 'adapters/a' }, { name: 'b', dir: 'adapters/b' }], heads: [{ name: 'tgt', dir: '.' }], extras: { fusion: { fusion: 'a,b' } } });
    // Core's `adapters eval --run` serves the fusion run too (this package's run extras handler loads the fusion).
    expect((await ok(['eval', '--run', 'fused', '--data', 'target-dev.tsv'])).out).toContain(`accuracy: ${(summary['accuracy'] as number).toFixed(4)}`);

    // Inspect: per-layer mean attention (rows sum to 1), table + heat map.
    const ins = await ok(['fusion-inspect', '--fusion', 'fused', '--data', 'target-dev.tsv', '--out', 'inspect']);
    expect(ins.out).toContain('| layer | a | b |');
    for (const f of ['fusion-attention.md', 'fusion-attention.svg', 'fusion-attention.png', 'fusion-attention.json']) expect(existsSync(path.join(tmp, 'inspect', f))).toBe(true);
    expect(readFileSync(path.join(tmp, 'inspect', 'fusion-attention.png')).subarray(1, 4).toString()).toBe('PNG');
    const attention = readJson(path.join(tmp, 'inspect', 'fusion-attention.json')) as { layers: Array<{ site: string; mean: number[] }> };
    expect(attention.layers.map((l) => l.site)).toEqual(['layer.0.ffn', 'layer.1.ffn']);
    for (const l of attention.layers) expect(Math.abs((l.mean[0] as number) + (l.mean[1] as number) - 1)).toBeLessThan(1e-5);

    // Prune: top-1 adapter per layer, no fusion in layer 0; the pruned directory loads again.
    const pr = await ok(['fusion-prune', '--fusion', 'fused', '--top-k', '1', '--drop-first', '1', '--data', 'target-dev.tsv', '--out', 'pruned']);
    expect(pr.out).toMatch(/layer\.0\.ffn: \(dropped\)\n {2}layer\.1\.ffn: [ab]\n/);
    expect(pr.out).toMatch(/accuracy: \d\.\d{4} before, \d\.\d{4} after \(8 examples/);
    const prune = readJson(path.join(tmp, 'pruned', 'prune.json'));
    // The fusion reloaded from its files scores what stage 2 reported on the same file.
    expect(prune['accuracyBefore']).toBe(summary['accuracy']);
    expect(prune).toMatchObject({ topK: 1, dropFirst: 1, fusionParamsBefore: 2 * (3 * 16 * 16 + 2 * 16), fusionParamsAfter: 3 * 16 * 16 + 2 * 16 });
    const prunedConfig = readJson(path.join(tmp, 'pruned', 'adapter_fusion_config.json')) as { fusion_layers: Record<string, string[]> };
    expect(Object.keys(prunedConfig.fusion_layers)).toEqual(['layer.1.ffn']);
    expect(prunedConfig.fusion_layers['layer.1.ffn']).toHaveLength(1);
    expect((await ok(['fusion-inspect', '--fusion', 'pruned', '--data', 'target-dev.tsv'])).out).toMatch(/\| layer \| [ab] \|\n\|---\|---:\|\n\| 1 \| 1\.000 \|\n/);
  });

  test('stage 1 MT-A trains the task adapters jointly', async () => {
    const r = await ok(['fusion-stage1', '--model', 'tiny-bert', '--task', 'a=a.tsv,a-dev.tsv', '--task', 'b=b.tsv', '--mta', '--mix', 'alternate', '--adapter', 'seq_bn:reduction_factor=4', ...TRAIN, '--out', 'stage1-mta']);
    expect(r.out).toMatch(/^a: accuracy \d\.\d{4} .*\(8 eval examples; 2 steps\)/);
    expect(readJson(path.join(tmp, 'stage1-mta', 'stage1.json'))).toMatchObject({ variant: 'mt-a', mix: 'alternate' });
    for (const f of ['a/adapter.safetensors', 'b/model_head.safetensors', 'metrics.jsonl']) expect(existsSync(path.join(tmp, 'stage1-mta', f))).toBe(true);
    const steps = readMetrics(path.join(tmp, 'stage1-mta', 'metrics.jsonl')).filter((x) => x['type'] === 'step');
    expect(steps.map((x) => Object.keys(x['losses'] as object))).toEqual([['a'], ['b']]);
  });

  test('stage 1 MT-A: a step that runs out of heap goes on checkpointed and says so; --gradient-checkpointing off ends the run', async () => {
    const mta = ['fusion-stage1', '--model', 'tiny-bert', '--task', 'a=a.tsv', '--task', 'b=b.tsv', '--mta', '--adapter', 'seq_bn:reduction_factor=4', ...TRAIN];
    let undo = failForwardOnce(3); // MT-A's default mix runs a forward per task in every step: the third is step 2's first
    try {
      const r = await ok([...mta, '--out', 'stage1-heap']);
      expect(r.err.split('\n').filter((l) => l.includes('wasm heap'))).toEqual(['step 2 ran out of wasm heap: it and the rest of the run used gradient checkpointing (one more forward per layer, far less activation memory)']);
    } finally {
      undo();
    }
    undo = failForwardOnce(Infinity);
    try {
      const off = await run([...mta, '--gradient-checkpointing', 'off', '--out', 'stage1-off']);
      expect(off.code).not.toBe(0);
      expect(off.err).toMatch(/wasm heap/);
    } finally {
      undo();
    }
  });

  test.each([
    [['fusion-stage1', '--model', 'tiny-bert', '--task', 'oops', '--out', 'x'], 2, /--task oops: expected NAME=TRAIN\[,EVAL\]/],
    [['fusion-stage1', '--model', 'tiny-bert', '--task', 'a=a.tsv', '--mix', 'alternate', '--out', 'x'], 2, /--mix applies to MT-A only/],
    [['fusion-stage1', '--model', 'tiny-bert', '--task', 'a=a.tsv', '--mta', '--mix', 'temperature=0', '--out', 'x'], 2, /--mix must be sum, alternate, proportional, annealed, uniform or temperature=T/],
    [['fusion-stage1', '--model', 'tiny-bert', '--task', 'a=a.tsv', '--adapter', 'nope_bn', '--out', 'x'], 2, /no installed adapter plugin provides 'nope_bn'/],
    [['fusion-stage2', '--model', 'tiny-bert', '--data', 'target.tsv', '--out', 'x'], 2, /missing required option --adapters/],
    [['fusion-stage2', '--model', 'tiny-bert', '--adapters', 'nowhere', '--data', 'target.tsv', '--out', 'x'], 2, /--adapters nowhere: no adapter_config.json there/],
    [['fusion-stage2', '--model', 'tiny-bert', '--adapters', 'a', '--fusion-config', 'dynamic:keys=true', '--data', 'target.tsv', '--out', 'x'], 2, /--fusion-config dynamic:keys=true: .*keys/],
    [['fusion-inspect', '--fusion', 'nowhere', '--data', 'a.tsv'], 2, /--fusion nowhere: no run.json there/],
    [['fusion-prune', '--fusion', 'fused', '--data', 'a.tsv', '--out', 'x'], 2, /give --top-k K and\/or --drop-first N/],
    [['fusion-prune', '--fusion', 'fused', '--top-k', '0', '--data', 'a.tsv', '--out', 'x'], 2, /--top-k must be at least 1/],
  ])('usage error %j → exit %d, one line', async (argv, exit, pattern) => {
    const r = await run(argv);
    expect(r.code).toBe(exit);
    const lines = r.err.trim().split('\n').filter((l) => !l.startsWith('backend:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^adapters: error: /);
    expect(lines[0]).toMatch(pattern);
  });
});
