import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ProgressRecord, ProgressStream } from './progress';
import { formatDuration, MetricsWriter, ProgressReporter, readMetrics } from './progress';

class FakeStream implements ProgressStream {
  chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 100,
  ) {}
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

/** 20 steps at 2 s/step, with an evaluation after step 10 and 20. */
function run(reporter: ProgressReporter): void {
  for (let step = 1; step <= 20; step++) {
    reporter.onRecord({ type: 'step', step, totalSteps: 20, epoch: 0, loss: 1, seconds: 2 * step });
    if (step % 10 === 0) reporter.onRecord({ type: 'eval', step, seconds: 2 * step + 1, loss: 0.5, accuracy: 0.75, f1: 0.7, count: 8 });
  }
  reporter.finish();
}

describe('ProgressReporter', () => {
  test('TTY: one line rewritten with \\r: bar, step/total, smoothed loss, speed and ETA; evals on their own lines', () => {
    const out = new FakeStream(true);
    run(new ProgressReporter({ stream: out }));
    const steps = out.chunks.filter((c) => c.startsWith('\r[') || c.startsWith('\r'));
    expect(steps.length).toBeGreaterThanOrEqual(20);
    const fifth = out.chunks.find((c) => c.includes(' 5/20'));
    expect(fifth).toMatch(/^\r\[#+\.+\] 5\/20 {2}loss 1\.0000 {2}2\.0 s\/step {2}ETA 30s$/);
    expect(fifth).not.toContain('\n');
    expect(out.text).toContain('\r\x1b[Keval @ step 10: accuracy 0.7500  F1 0.7000  loss 0.5000  (8 examples)\n');
    // The last bar is full and the output ends on a fresh line.
    expect(out.text).toMatch(/\[#+\] 20\/20 .*ETA 0s\n/);
    expect(out.text.endsWith('\n')).toBe(true);
    // Lines never exceed the terminal width.
    for (const c of out.chunks) for (const line of c.split('\n')) expect(line.replace('\r', '').replace('\x1b[K', '').length).toBeLessThanOrEqual(100);
  });

  test('no TTY: plain lines at step 1, every N steps and at each eval; no \\r', () => {
    const out = new FakeStream(false);
    run(new ProgressReporter({ stream: out, every: 5, label: 'train' }));
    expect(out.text).not.toContain('\r');
    const lines = out.text.trim().split('\n');
    expect(lines).toEqual([
      'train step 1/20  epoch 1  loss 1.0000  2.0 s/step  elapsed 2s  ETA 38s',
      'train step 5/20  epoch 1  loss 1.0000  2.0 s/step  elapsed 10s  ETA 30s',
      'train step 10/20  epoch 1  loss 1.0000  2.0 s/step  elapsed 20s  ETA 20s',
      'train eval @ step 10: accuracy 0.7500  F1 0.7000  loss 0.5000  (8 examples)',
      'train step 15/20  epoch 1  loss 1.0000  2.0 s/step  elapsed 30s  ETA 10s',
      'train step 20/20  epoch 1  loss 1.0000  2.0 s/step  elapsed 40s  ETA 0s',
      'train eval @ step 20: accuracy 0.7500  F1 0.7000  loss 0.5000  (8 examples)',
    ]);
  });

  test('the loss is smoothed (bias-corrected EMA) and speeds above 1 step/s show as steps/s', () => {
    const out = new FakeStream(false);
    const r = new ProgressReporter({ stream: out, every: 1, smoothing: 0.5 });
    const recs: ProgressRecord[] = [
      { type: 'step', step: 1, totalSteps: 4, loss: 4, seconds: 0.25 },
      { type: 'step', step: 2, totalSteps: 4, loss: 0, seconds: 0.5 },
    ];
    recs.forEach((x) => r.onRecord(x));
    // EMA: 0.5*4 = 2 → /(1-0.5) = 4; then 0.5*2 + 0 = 1 → /(1-0.25) = 1.3333
    expect(r.smoothedLoss).toBeCloseTo(4 / 3, 6);
    expect(out.text).toContain('step 2/4  loss 1.3333  4.00 steps/s  elapsed 1s  ETA 1s');
  });

  test('a terminal that reports 0 columns gets an 80-column bar', () => {
    const out = new FakeStream(true, 0);
    new ProgressReporter({ stream: out }).onRecord({ type: 'step', step: 1, totalSteps: 4, loss: 1, seconds: 1 });
    const bar = /^\r\[(#+)(\.+)\] 1\/4 /.exec(out.text);
    expect(bar).not.toBeNull();
    const width = (bar?.[1]?.length ?? 0) + (bar?.[2]?.length ?? 0);
    expect(width).toBeGreaterThan(30);
    expect(out.text.replace('\r', '').length).toBeLessThan(80);
  });

  test('formatDuration', () => {
    expect([formatDuration(0), formatDuration(59.4), formatDuration(75), formatDuration(3725), formatDuration(NaN)]).toEqual(['0s', '59s', '1m15s', '1h02m', '?']);
  });
});

describe('MetricsWriter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'metrics-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('one JSON record per line, appended; fresh empties the file', () => {
    const file = path.join(dir, 'sub', 'metrics.jsonl');
    const w = MetricsWriter.open(file, { fresh: true });
    w.write({ type: 'step', step: 1, loss: 0.5 });
    MetricsWriter.open(file).write({ type: 'eval', step: 1, accuracy: 1 });
    expect(readFileSync(file, 'utf8')).toBe('{"type":"step","step":1,"loss":0.5}\n{"type":"eval","step":1,"accuracy":1}\n');
    expect(readMetrics(file)).toEqual([{ type: 'step', step: 1, loss: 0.5 }, { type: 'eval', step: 1, accuracy: 1 }]);
    MetricsWriter.open(file, { fresh: true }).write({ type: 'step', step: 9 });
    expect(readMetrics(file)).toEqual([{ type: 'step', step: 9 }]);
  });

  test('readMetrics skips a cut-off last line but rejects a bad line in the middle', () => {
    const file = path.join(dir, 'metrics.jsonl');
    writeFileSync(file, '{"step":1}\n{"step":2}\n{"ste');
    expect(readMetrics(file)).toEqual([{ step: 1 }, { step: 2 }]);
    writeFileSync(file, '{"step":1}\n{"ste\n{"step":3}\n');
    expect(() => readMetrics(file)).toThrow(/metrics\.jsonl:2: invalid JSON/);
  });
});
