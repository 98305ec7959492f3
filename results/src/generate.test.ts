import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CORE_BUDGET } from './experiments';
import { fixtureRecord } from './fixtures';
import { aggregate, cell, dropSpec, generateReadme, glueSpec, group, readmeMarkdown } from './generate';
import type { RunRecord } from './records';
import { writeRecord } from './records';

/** Three seeds of Pfeiffer on SST-2 (80, 82, 84) and MRPC, two of LoRA on SST-2, fusion and AdapterDrop rows. */
function fixtures(): RunRecord[] {
  const r: RunRecord[] = [];
  [0.8, 0.82, 0.84].forEach((acc, i) => r.push(fixtureRecord({ name: `sst2-pfeiffer-s${i + 1}` }, { accuracy: acc, majorityBaseline: 0.5 })));
  [0.7, 0.72, 0.74].forEach((acc, i) => r.push(fixtureRecord({ name: `mrpc-pfeiffer-s${i + 1}` }, { accuracy: acc, f1: acc + 0.1, majorityBaseline: 0.68 })));
  [0.9, 0.7].forEach((acc, i) => r.push(fixtureRecord({ name: `sst2-lora-s${i + 1}`, trainablePercentOfBase: 0.33 }, { accuracy: acc })));
  [0.75, 0.75, 0.78].forEach((acc, i) => r.push(fixtureRecord({ name: `mrpc-fusion-s${i + 1}`, kind: 'fusion', method: 'fusion' }, { accuracy: acc, f1: acc + 0.1 })));
  r.push(fixtureRecord({ name: 'sst2-drop-spec2-s1', kind: 'drop', method: 'drop-specialized' }, { accuracy: 0.79 }));
  r.push(fixtureRecord({ name: 'sst2-drop-robust-s1', kind: 'drop', method: 'drop-robust', byDroppedLayers: { '0': { accuracy: 0.78, f1: 0, mcc: 0, majorityBaseline: 0.5 }, '5': { accuracy: 0.6, f1: 0, mcc: 0, majorityBaseline: 0.5 } } }));
  r.push(fixtureRecord({ name: 'sst2-full-s1', budget: { ...CORE_BUDGET, trainSize: 5 } }, { accuracy: 0.99 })); // another budget
  return r;
}

describe('aggregate and cell', () => {
  test('mean and sample std (n - 1), against a hand computation', () => {
    const a = aggregate([0.8, 0.82, 0.84]);
    expect(a?.mean).toBeCloseTo(0.82, 12);
    expect(a?.std).toBeCloseTo(0.02, 12); // sqrt((0.0004 + 0 + 0.0004) / 2)
    expect(aggregate([0.5])).toEqual({ mean: 0.5, std: 0, n: 1 });
    expect(aggregate([])).toBeUndefined();
    expect(cell(a)).toBe('82.0 ± 2.0');
    expect(cell(aggregate([0.9, 0.7]))).toBe('80.0 ± 14.1 (n=2)');
    expect(cell(undefined)).toBe('—');
  });
});

describe('README from fixture JSON', () => {
  const md = readmeMarkdown(fixtures(), { reading: 'READING TEXT' });

  test('methods × tasks cells: mean ± std, MRPC as F1 / acc, fewer seeds marked, other budgets ignored', () => {
    const row = (label: string): string => (md.split('### The papers')[0] ?? '').split('\n').find((l) => l.startsWith(`| ${label}`)) ?? '';
    expect(row('Pfeiffer')).toContain('| 82.0 ± 2.0 |');
    expect(row('Pfeiffer')).toContain('| 82.0 ± 2.0 / 72.0 ± 2.0 |'); // MRPC F1 / acc
    expect(row('LoRA')).toContain('80.0 ± 14.1 (n=2)');
    expect(row('LoRA')).toContain('| 0.33 |');
    expect(row('Full fine-tuning')).toBe(''); // its only record has another budget
    expect(md).toContain('(1 record(s) of another budget ignored)');
    expect(row('majority class')).toContain('| 50.0 |'); // SST-2 majority accuracy
    expect(row('majority class')).toContain(`| ${((200 * 0.68) / 1.68).toFixed(1)} / 68.0 |`);
  });

  test('fusion row: paired by seed against the single adapter', () => {
    const line = md.split('\n').find((l) => l.startsWith('| MRPC (acc)')) ?? '';
    // fusion 75, 75, 78 vs single 70, 72, 74 → deltas 5, 3, 4
    expect(line).toContain('| 72.0 ± 2.0 | 76.0 ± 1.7 | 4.0 ± 1.0 |');
  });

  test('AdapterDrop rows and the hand-written reading', () => {
    expect(md).toContain('| 0 (Pfeiffer row) | 82.0 ± 2.0 | 78.0 ± 0.0 (n=1) |');
    expect(md).toContain('| 2 | 79.0 ± 0.0 (n=1) | — |');
    expect(md).toContain('| 5 | — | 60.0 ± 0.0 (n=1) |');
    expect(md).toContain('## Reading\n\nREADING TEXT');
    expect(md).toContain('adapters train # sst2-pfeiffer-s1');
  });

  test('with no records every section says so instead of printing an empty table', () => {
    const empty = readmeMarkdown([]);
    expect(empty).toContain('0 finished runs of the');
    expect(empty).toContain('No fusion run has finished yet.');
    expect(empty).toContain('No AdapterDrop run has finished yet.');
  });

  test('the same JSON gives the same README (regenerable without retraining)', () => {
    expect(readmeMarkdown(fixtures(), { reading: 'READING TEXT' })).toBe(md);
  });

  test('plot specs hold one point per (method, task) and per (n, training)', () => {
    const g = group(fixtures());
    const glue = glueSpec(g) as { data: { values: { method: string; task: string; mean: number }[] } };
    expect(glue.data.values).toHaveLength(3); // Pfeiffer SST-2, Pfeiffer MRPC, LoRA SST-2
    expect(glue.data.values.find((v) => v.task.startsWith('MRPC'))?.mean).toBeCloseTo(82, 9); // MRPC plots F1
    const drop = dropSpec(g) as { data: { values: unknown[] } };
    expect(drop.data.values).toHaveLength(4); // spec n=0 (Pfeiffer), spec n=2, robust n=0 and n=5
  });

  test('generateReadme reads a runs directory (skipping a half-written file) and renders the SVG plots', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'results-gen-'));
    const runs = path.join(dir, 'runs');
    for (const r of fixtures()) writeRecord(runs, r);
    fs.writeFileSync(path.join(runs, 'rte-lora-s1.json'), '{"name": "rte-lora-s1", "metr');
    fs.writeFileSync(path.join(dir, 'reading.md'), 'READING TEXT\n');
    await generateReadme(runs, dir);
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe(md);
    for (const f of ['glue.svg', 'adapterdrop.svg']) expect(fs.readFileSync(path.join(dir, 'plots', f), 'utf8')).toMatch(/^<svg/);
  }, 60000);
});
