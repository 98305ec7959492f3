// The four shared GLUE sets, read in their original formats and written as one uniform TSV per split
// (`sentence\tsentence2\tlabel`), with the training set subsampled and the dev set capped as the budget says.
// The subsample depends only on (task, size, seed 0): every method and every run seed sees the same examples,
// so the spread over seeds measures initialisation and batch order, not different data.
import * as fs from 'fs';
import * as path from 'path';
import { mulberry32 } from '@adapters/core-graph';

export type GlueTask = 'sst2' | 'mrpc' | 'rte' | 'cola';
export const GLUE_TASKS: readonly GlueTask[] = ['sst2', 'mrpc', 'rte', 'cola'];

export interface Row {
  readonly text: string;
  readonly pair?: string;
  readonly label: string;
}

const clean = (s: string): string => s.replace(/[\t\r\n]+/g, ' ').trim();

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split('\n').filter((l) => l.trim() !== '');
}

/** Parses one split of a shared GLUE set; throws naming the file and line when a row does not fit. */
export function readGlue(task: GlueTask, file: string): Row[] {
  const all = lines(file);
  const rows: Row[] = [];
  const bad = (i: number, why: string): Error => new Error(`${file}:${i + 1}: ${why}`);
  all.forEach((line, i) => {
    const f = line.split('\t');
    if (task === 'cola') {
      if (f.length < 4) throw bad(i, `expected 4 tab-separated fields (source, label, empty, sentence), got ${f.length}`);
      rows.push({ text: clean(f[3] ?? ''), label: (f[1] ?? '').trim() });
      return;
    }
    if (i === 0) return; // header
    if (task === 'sst2') {
      if (f.length < 2) throw bad(i, 'expected sentence<TAB>label');
      rows.push({ text: clean(f[0] ?? ''), label: (f[1] ?? '').trim() });
    } else if (task === 'mrpc') {
      if (f.length < 5) throw bad(i, 'expected Quality, #1 ID, #2 ID, #1 String, #2 String');
      rows.push({ text: clean(f[3] ?? ''), pair: clean(f[4] ?? ''), label: (f[0] ?? '').trim() });
    } else {
      if (f.length < 4) throw bad(i, 'expected index, sentence1, sentence2, label');
      rows.push({ text: clean(f[1] ?? ''), pair: clean(f[2] ?? ''), label: (f[3] ?? '').trim() });
    }
  });
  return rows;
}


/** The first n rows of a seeded shuffle (all rows, shuffled, when n >= rows.length). */
export function subsample<T>(rows: readonly T[], n: number, seed: number): T[] {
  const out = [...rows];
  const r = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out.slice(0, Math.min(n, out.length));
}

export function toTsv(rows: readonly Row[]): string {
  const paired = rows.some((r) => r.pair !== undefined);
  const head = paired ? 'sentence\tsentence2\tlabel' : 'sentence\tlabel';
  return [head, ...rows.map((r) => (paired ? `${r.text}\t${r.pair ?? ''}\t${r.label}` : `${r.text}\t${r.label}`))].join('\n') + '\n';
}

export interface PreparedTask {
  readonly train: string;
  readonly dev: string;
  readonly trainRows: number;
  readonly devRows: number;
}

/** Writes (once) `<cache>/<task>-<trainSize>-<devCap>/{train,dev}.tsv` from `<datasets>/glue-<task>`. */
export function prepareTask(task: GlueTask, datasets: string, cache: string, trainSize: number, devCap: number): PreparedTask {
  const dir = path.join(cache, `${task}-${trainSize}-${devCap}`);
  const train = path.join(dir, 'train.tsv');
  const dev = path.join(dir, 'dev.tsv');
  const src = path.join(datasets, `glue-${task === 'sst2' ? 'sst2' : task}`);
  if (!fs.existsSync(src)) throw new Error(`${src}: the shared GLUE set is missing (expected ../shared/datasets/glue-${task})`);
  const trainRows = subsample(readGlue(task, path.join(src, 'train.tsv')), trainSize, 0);
  const devRows = subsample(readGlue(task, path.join(src, 'dev.tsv')), devCap, 1);
  if (!fs.existsSync(train) || !fs.existsSync(dev)) {
    fs.mkdirSync(dir, { recursive: true });
    for (const [file, rows] of [[train, trainRows], [dev, devRows]] as const) {
      fs.writeFileSync(`${file}.tmp`, toTsv(rows));
      fs.renameSync(`${file}.tmp`, file);
    }
  }
  return { train, dev, trainRows: trainRows.length, devRows: devRows.length };
}
