// Training progress for people (a one-line bar on a terminal, plain lines in logs) and for machines
// (metrics.jsonl: one JSON record per line, appended as training goes).
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import * as path from 'path';

/** What the reporter reads from a trainer record (TrainRecord fits). */
export type ProgressRecord =
  | { readonly type: 'step'; readonly step: number; readonly totalSteps: number; readonly loss: number; readonly seconds: number; readonly epoch?: number }
  | { readonly type: 'eval'; readonly step: number; readonly seconds: number; readonly loss: number; readonly accuracy: number; readonly f1: number; readonly count?: number };

/** The part of a writable stream the reporter uses; process.stdout / process.stderr fit. */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  readonly stream: ProgressStream;
  /** Default: the stream's own isTTY. */
  readonly tty?: boolean;
  /** Without a TTY: print a line every N steps (default 10), and always at the first and last step. */
  readonly every?: number;
  /** Loss smoothing factor of the exponential moving average (default 0.9; 0 = raw loss). */
  readonly smoothing?: number;
  /** Prefix for every line, e.g. `train`. */
  readonly label?: string;
}

/** `75s` → `1m15s`; `3725s` → `1h02m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The line a training command prints when checkpointLayers 'auto' turned checkpointing on (`checkpointedFrom`). */
export function checkpointedLine(step: number): string {
  return `step ${step} ran out of wasm heap: it and the rest of the run used gradient checkpointing (one more forward per layer, far less activation memory)`;
}

function formatRate(stepsPerSecond: number): string {
  if (!Number.isFinite(stepsPerSecond) || stepsPerSecond <= 0) return '? steps/s';
  return stepsPerSecond >= 1 ? `${stepsPerSecond.toFixed(2)} steps/s` : `${(1 / stepsPerSecond).toFixed(1)} s/step`;
}

/**
 * Shows training progress. On a TTY: one line rewritten in place with `\r` (bar, step/total, smoothed
 * loss, speed, ETA); evaluations print on their own line above it. Otherwise: a plain line every N
 * steps and at each evaluation, so logs stay readable.
 */
export class ProgressReporter {
  private readonly tty: boolean;
  private readonly every: number;
  private readonly beta: number;
  private readonly prefix: string;
  private avg = 0;
  private count = 0;
  private lastStep: Extract<ProgressRecord, { type: 'step' }> | undefined;
  private barVisible = false;
  private lastWidth = 0;

  constructor(private readonly options: ProgressOptions) {
    this.tty = options.tty ?? options.stream.isTTY === true;
    this.every = Math.max(1, Math.floor(options.every ?? 10));
    this.beta = options.smoothing ?? 0.9;
    if (!(this.beta >= 0 && this.beta < 1)) throw new RangeError(`smoothing must be in [0, 1), got ${this.beta}`);
    this.prefix = options.label !== undefined ? `${options.label} ` : '';
  }

  /** The loss averaged over recent steps (bias-corrected EMA); NaN before the first step. */
  get smoothedLoss(): number {
    return this.count === 0 ? NaN : this.avg / (1 - this.beta ** this.count);
  }

  /** Feed every trainer record here (e.g. from `train({ onRecord })`). */
  onRecord(record: ProgressRecord): void {
    if (record.type === 'step') this.onStep(record);
    else this.onEval(record);
  }

  /** Ends the bar's line so later output starts on a fresh line. */
  finish(): void {
    if (this.tty && this.barVisible) this.options.stream.write('\n');
    this.barVisible = false;
  }

  private onStep(r: Extract<ProgressRecord, { type: 'step' }>): void {
    if (Number.isFinite(r.loss)) {
      this.avg = this.beta * this.avg + (1 - this.beta) * r.loss;
      this.count += 1;
    }
    this.lastStep = r;
    if (this.tty) {
      this.drawBar(r);
    } else if (r.step === 1 || r.step % this.every === 0 || r.step >= r.totalSteps) {
      this.options.stream.write(`${this.prefix}${this.stepText(r)}\n`);
    }
  }

  private onEval(r: Extract<ProgressRecord, { type: 'eval' }>): void {
    const line = `${this.prefix}eval @ step ${r.step}: accuracy ${r.accuracy.toFixed(4)}  F1 ${r.f1.toFixed(4)}  loss ${r.loss.toFixed(4)}${r.count !== undefined ? `  (${r.count} examples)` : ''}`;
    if (this.tty) {
      // Clear the bar, print the eval line, then redraw the bar below it.
      this.options.stream.write(`\r\x1b[K${line}\n`);
      this.barVisible = false;
      if (this.lastStep && this.lastStep.step < this.lastStep.totalSteps) this.drawBar(this.lastStep);
    } else {
      this.options.stream.write(`${line}\n`);
    }
  }

  private stats(r: Extract<ProgressRecord, { type: 'step' }>): { rate: number; eta: number } {
    const rate = r.seconds > 0 ? r.step / r.seconds : NaN;
    return { rate, eta: (r.totalSteps - r.step) / rate };
  }

  private stepText(r: Extract<ProgressRecord, { type: 'step' }>): string {
    const { rate, eta } = this.stats(r);
    const epoch = r.epoch !== undefined ? `epoch ${r.epoch + 1}  ` : '';
    return `step ${r.step}/${r.totalSteps}  ${epoch}loss ${this.smoothedLoss.toFixed(4)}  ${formatRate(rate)}  elapsed ${formatDuration(r.seconds)}  ETA ${formatDuration(eta)}`;
  }

  private drawBar(r: Extract<ProgressRecord, { type: 'step' }>): void {
    const { rate, eta } = this.stats(r);
    const tail = ` ${r.step}/${r.totalSteps}  loss ${this.smoothedLoss.toFixed(4)}  ${formatRate(rate)}  ETA ${formatDuration(eta)}`;
    const reported = this.options.stream.columns;
    const columns = reported !== undefined && reported > 20 ? reported : 80; // a pty may report 0
    const barWidth = Math.max(10, Math.min(40, columns - this.prefix.length - tail.length - 3));
    const filled = Math.round((barWidth * Math.min(r.step, r.totalSteps)) / Math.max(1, r.totalSteps));
    const line = `${this.prefix}[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${tail}`;
    // Pad over leftovers of a longer previous line, but never wrap: a wrapped line breaks `\r`.
    const padded = line.length < this.lastWidth ? line.padEnd(Math.min(this.lastWidth, columns - 1)) : line;
    this.lastWidth = line.length;
    this.options.stream.write(`\r${padded}`);
    this.barVisible = true;
    if (r.step >= r.totalSteps) this.finish();
  }
}

/** Appends one JSON record per line to a metrics file (metrics.jsonl); synchronous, so it is safe in trainer callbacks. */
export class MetricsWriter {
  private constructor(readonly file: string) {}

  /** Opens `file` for appending; `fresh: true` empties it first (a new run). Creates the directory. */
  static open(file: string, options: { fresh?: boolean } = {}): MetricsWriter {
    mkdirSync(path.dirname(file), { recursive: true });
    if (options.fresh) writeFileSync(file, '');
    return new MetricsWriter(file);
  }

  write(record: object): void {
    const line = JSON.stringify(record);
    // One write per record, so a crash leaves whole lines (at most the last one cut).
    appendFileSync(this.file, `${line}\n`);
  }
}

/** Reads metrics.jsonl; a cut-off last line (a crash mid-write) is skipped, any other bad line is an error. */
export function readMetrics(file: string): Array<Record<string, unknown>> {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Array<Record<string, unknown>> = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch (e) {
      if (i === lines.length - 1) return; // no trailing newline: an interrupted write
      throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
  });
  return out;
}
