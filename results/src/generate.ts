// Writes results/README.md (and plots/*.svg) from results/runs/*.json alone: no training, no model. Cells are
// mean ± sample std over the seeds present; a cell with fewer than 3 seeds says how many it has.
import * as fs from 'fs';
import * as path from 'path';
import type * as CliModule from '@adapters/cli';
import { CORE_BUDGET, DROP_LAYERS, DROP_TASK, experiments, FUSION_SOURCES, METHODS } from './experiments';
import type { Budget } from './experiments';
import type { Metrics, RunRecord } from './records';
import { readAllRecords } from './records';
import { PAPER_ROWS, PAPERS_FUSION, PAPERS_DROP } from './papers';

export const TASKS = ['sst2', 'mrpc', 'rte', 'cola'] as const;
export const TASK_LABEL: Record<string, string> = { sst2: 'SST-2', mrpc: 'MRPC', rte: 'RTE', cola: 'CoLA' };
type MetricKey = 'accuracy' | 'f1' | 'mcc';
/** GLUE's metrics: accuracy for SST-2 and RTE, F1 and accuracy for MRPC, Matthews correlation for CoLA. */
export const TASK_METRICS: Record<string, readonly MetricKey[]> = { sst2: ['accuracy'], mrpc: ['f1', 'accuracy'], rte: ['accuracy'], cola: ['mcc'] };
const METRIC_LABEL: Record<MetricKey, string> = { accuracy: 'acc', f1: 'F1', mcc: 'MCC' };

export interface Aggregate {
  readonly mean: number;
  readonly std: number;
  readonly n: number;
}

/** Mean and sample standard deviation (n - 1; 0 for one value). */
export function aggregate(values: readonly number[]): Aggregate | undefined {
  if (values.length === 0) return undefined;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length < 2 ? 0 : Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
  return { mean, std, n: values.length };
}

/** `81.2 ± 1.3` in percent points (MCC ×100 too, as GLUE reports it); `(n=2)` when fewer than 3 seeds. */
export function cell(a: Aggregate | undefined): string {
  if (!a) return '—';
  return `${(100 * a.mean).toFixed(1)} ± ${(100 * a.std).toFixed(1)}${a.n < 3 ? ` (n=${a.n})` : ''}`;
}

const sameBudget = (a: Budget, b: Budget): boolean => (Object.keys(b) as (keyof Budget)[]).every((k) => a[k] === b[k]);
const values = (rs: readonly RunRecord[], key: MetricKey, pick: (r: RunRecord) => Metrics | undefined = (r) => r.metrics): number[] =>
  rs.map((r) => pick(r)?.[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));

export interface Grouped {
  readonly train: Map<string, RunRecord[]>;
  readonly fusion: Map<string, RunRecord[]>;
  readonly drop: Map<string, RunRecord[]>;
  readonly ignored: number;
}

/** Groups the records of the given budget by (task, method); records of other budgets are counted as ignored. */
export function group(records: readonly RunRecord[], budget: Budget = CORE_BUDGET): Grouped {
  const train = new Map<string, RunRecord[]>();
  const fusion = new Map<string, RunRecord[]>();
  const drop = new Map<string, RunRecord[]>();
  let ignored = 0;
  for (const r of records) {
    if (!sameBudget(r.budget, budget)) {
      ignored++;
      continue;
    }
    const key = r.kind === 'drop' ? r.name.replace(/-s\d+$/, '') : `${r.task}/${r.method}`;
    const into = r.kind === 'train' ? train : r.kind === 'fusion' ? fusion : drop;
    into.set(key, [...(into.get(key) ?? []), r]);
  }
  return { train, fusion, drop, ignored };
}

function mainTable(g: Grouped): string[] {
  const head = ['Method', 'trainable % of base', ...TASKS.map((t) => `${TASK_LABEL[t]} (${TASK_METRICS[t]?.map((k) => METRIC_LABEL[k]).join(' / ')})`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const baselineRow: string[] = ['majority class (dev)', '0'];
  for (const m of METHODS) {
    const row = [m.label];
    const pcts = TASKS.flatMap((t) => (g.train.get(`${t}/${m.id}`) ?? []).map((r) => r.trainablePercentOfBase ?? NaN)).filter(Number.isFinite);
    if (pcts.length === 0 && TASKS.every((t) => !g.train.has(`${t}/${m.id}`))) continue;
    row.push(pcts.length ? `${Math.min(...pcts).toFixed(2)}` : '—');
    for (const t of TASKS) {
      const rs = g.train.get(`${t}/${m.id}`) ?? [];
      row.push((TASK_METRICS[t] ?? []).map((k) => cell(aggregate(values(rs, k)))).join(' / '));
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  for (const t of TASKS) {
    const any = [...g.train.entries()].find(([k]) => k.startsWith(`${t}/`))?.[1][0];
    const p = any?.metrics.majorityBaseline;
    if (typeof p !== 'number') {
      baselineRow.push('—');
      continue;
    }
    // Majority class: accuracy p, MCC 0; MRPC's majority is the positive class (paraphrase), F1 = 2p / (1 + p).
    baselineRow.push((TASK_METRICS[t] ?? []).map((k) => (k === 'accuracy' ? (100 * p).toFixed(1) : k === 'mcc' ? '0.0' : ((200 * p) / (1 + p)).toFixed(1))).join(' / '));
  }
  lines.push(`| ${baselineRow.join(' | ')} |`);
  return lines;
}

function paperTable(): string[] {
  const lines = ['| Method | paper, model, split | trainable % | SST-2 | MRPC | RTE | CoLA |', '|---|---|---|---|---|---|---|'];
  for (const p of PAPER_ROWS) lines.push(`| ${p.method} | ${p.source} | ${p.trainable} | ${p.sst2} | ${p.mrpc} | ${p.rte} | ${p.cola} |`);
  return lines;
}

function fusionTable(g: Grouped): string[] {
  if (g.fusion.size === 0) return ['No fusion run has finished yet.'];
  const lines = ['| Target (metric) | single ST-A adapter (Pfeiffer row) | AdapterFusion | Δ (fusion − single) | paper |', '|---|---|---|---|---|'];
  for (const [key, rs] of [...g.fusion.entries()].sort()) {
    const task = key.split('/')[0] as string;
    const single = g.train.get(`${task}/pfeiffer`) ?? [];
    for (const k of TASK_METRICS[task] ?? []) {
      const f = aggregate(values(rs, k));
      const s = aggregate(values(single, k));
      // Paired by seed: the fusion of seed s fuses the adapters trained with seed s.
      const deltas = rs.flatMap((r) => {
        const partner = single.find((x) => x.seed === r.seed);
        const a = r.metrics[k];
        const b = partner?.metrics[k];
        return typeof a === 'number' && typeof b === 'number' ? [a - b] : [];
      });
      lines.push(`| ${TASK_LABEL[task]} (${METRIC_LABEL[k]}) | ${cell(s)} | ${cell(f)} | ${cell(aggregate(deltas))} | ${PAPERS_FUSION[task] ?? '—'} |`);
    }
  }
  return lines;
}

function dropTable(g: Grouped): string[] {
  if (g.drop.size === 0) return ['No AdapterDrop run has finished yet.'];
  const lines = ['| adapters dropped from the lowest n layers | specialised (trained with n) | robust (one model, n drawn per step) |', '|---|---|---|'];
  const pfeiffer = g.train.get(`${DROP_TASK}/pfeiffer`) ?? [];
  const robust = g.drop.get(`${DROP_TASK}-drop-robust`) ?? [];
  for (const n of DROP_LAYERS) {
    const spec = n === 0 ? aggregate(values(pfeiffer, 'accuracy')) : aggregate(values(g.drop.get(`${DROP_TASK}-drop-spec${n}`) ?? [], 'accuracy'));
    const rob = aggregate(values(robust, 'accuracy', (r) => r.byDroppedLayers?.[String(n)]));
    lines.push(`| ${n}${n === 0 ? ' (Pfeiffer row)' : ''} | ${cell(spec)} | ${cell(rob)} |`);
  }
  return lines;
}

const shortLabel = (label: string): string => label.split(' (')[0] ?? label;

/** Vega-Lite: one panel per task, a bar per method (mean over seeds) with a ±1 std rule. */
export function glueSpec(g: Grouped): object {
  const data: Record<string, unknown>[] = [];
  for (const m of METHODS) {
    for (const t of TASKS) {
      const k = (TASK_METRICS[t] ?? ['accuracy'])[0] as MetricKey;
      const a = aggregate(values(g.train.get(`${t}/${m.id}`) ?? [], k));
      if (a) data.push({ task: `${TASK_LABEL[t]} (${METRIC_LABEL[k]})`, method: shortLabel(m.label), mean: 100 * a.mean, lo: 100 * (a.mean - a.std), hi: 100 * (a.mean + a.std) });
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    data: { values: data },
    facet: { column: { field: 'task', type: 'nominal', title: null, sort: TASKS.map((t) => `${TASK_LABEL[t]} (${METRIC_LABEL[(TASK_METRICS[t] ?? ['accuracy'])[0] as MetricKey]})`) } },
    spec: {
      width: 150, height: 200,
      layer: [
        { mark: 'bar', encoding: { x: { field: 'method', type: 'nominal', title: null, sort: METHODS.map((m) => shortLabel(m.label)) }, y: { field: 'mean', type: 'quantitative', title: 'dev score (×100), mean ± std over seeds' }, color: { field: 'method', type: 'nominal', legend: null } } },
        { mark: { type: 'rule', color: 'black' }, encoding: { x: { field: 'method', type: 'nominal', sort: METHODS.map((m) => shortLabel(m.label)) }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export function dropSpec(g: Grouped): object {
  const data: Record<string, unknown>[] = [];
  const pfeiffer = g.train.get(`${DROP_TASK}/pfeiffer`) ?? [];
  for (const n of DROP_LAYERS) {
    const spec = n === 0 ? aggregate(values(pfeiffer, 'accuracy')) : aggregate(values(g.drop.get(`${DROP_TASK}-drop-spec${n}`) ?? [], 'accuracy'));
    const rob = aggregate(values(g.drop.get(`${DROP_TASK}-drop-robust`) ?? [], 'accuracy', (r) => r.byDroppedLayers?.[String(n)]));
    if (spec) data.push({ n, training: 'specialised', accuracy: 100 * spec.mean });
    if (rob) data.push({ n, training: 'robust', accuracy: 100 * rob.mean });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 360, height: 220, data: { values: data },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'n', type: 'quantitative', title: `adapters dropped from the lowest n layers (${TASK_LABEL[DROP_TASK]})`, scale: { domain: [0, Math.max(...DROP_LAYERS)] } },
      y: { field: 'accuracy', type: 'quantitative', title: 'dev accuracy (%)', scale: { zero: false } },
      color: { field: 'training', type: 'nominal' },
    },
  };
}

function commandsSection(records: readonly RunRecord[]): string[] {
  const lines = ['<details><summary>Every run\'s command (from its JSON)</summary>', '', '```'];
  for (const r of [...records].sort((a, b) => a.name.localeCompare(b.name))) lines.push(`# ${r.name}`, r.command);
  lines.push('```', '', '</details>');
  return lines;
}

export interface GenerateOptions {
  /** Render the vega plots to SVG (off in unit tests that only check the markdown). */
  readonly plots?: boolean;
  /** Hand-written reading of the numbers, included verbatim (results/reading.md). */
  readonly reading?: string;
}

export function readmeMarkdown(records: readonly RunRecord[], options: GenerateOptions = {}): string {
  const g = group(records);
  const used = records.filter((r) => sameBudget(r.budget, CORE_BUDGET));
  const b = CORE_BUDGET;
  const machine = used[0]?.machine ?? 'n/a';
  const backend = used.length ? 'wasm backend with the OpenBLAS kernels (backend-native), 1 OpenBLAS thread' : '';
  const lr = METHODS.map((m) => `${m.label.split(' (')[0]} ${m.lr}`).join(', ');
  const out = [
    '# Reproducing the seed\'s claims (generated)',
    '',
    '<!-- Generated by `npm run reproduce -- --generate` from results/runs/*.json. Do not edit by hand; edit results/reading.md or the generator. -->',
    '',
    `${used.length} finished runs of the ${experiments().length} in the experiment table (results/src/experiments.ts; \`npm run reproduce -- --list\` shows which)${g.ignored ? ` (${g.ignored} record(s) of another budget ignored)` : ''}. Re-run: \`npm run reproduce\` (resumable: finished runs are skipped; a killed run is redone), `,
    '`npm run reproduce -- --list` (state of every run), `npm run reproduce -- --only NAME|PREFIX*` (one run or a group), `npm run reproduce -- --jobs 2` (two workers sharing the table),',
    '`npm run reproduce -- --generate` (this file from the JSON only). Run the grid under `nice -n 10 env OPENBLAS_NUM_THREADS=1`.',
    '',
    '## Setup',
    '',
    `- Model: all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters) from the CLI model cache; mean pooling, a new classification head per task.`,
    `- Data: the shared GLUE sets (../shared/datasets/glue-*). Budget per run: **${b.trainSize} training examples** (one fixed seeded subsample per task, the same for every method and seed), **${b.epochs} epoch(s)** (${b.epochs * Math.ceil(b.trainSize / b.batchSize)} steps), batch ${b.batchSize}, **max length ${b.maxLength}** tokens, dev set capped at **${b.devCap}** examples (a fixed seeded subsample when larger: SST-2 872 → ${b.devCap}, CoLA 1,043 → ${b.devCap}; MRPC 408 and RTE 277 whole). The dev score is the final model's (evaluated once, at the end: no checkpoint selection on dev).`,
    `- Seeds: 1, 2, 3 (head and adapter initialisation, batch order, dropout). Learning rates (one per method, no sweep): ${lr}; AdamW with the trainer's defaults (linear decay, warm-up, clipping). Fusion: lr 5e-4, same budget. AdapterDrop: seq_bn, lr 1e-3.`,
    `- Metrics as GLUE reports them: accuracy (SST-2, RTE), F1 of the positive class and accuracy (MRPC), Matthews correlation (CoLA); ×100, mean ± sample std over seeds.`,
    `- Machine: ${machine}. ${backend}. Absolute times are not comparable across runs (the machine was shared, load 10-30).`,
    '',
    '## GLUE dev, methods × tasks',
    '',
    ...mainTable(g),
    '',
    'Full fine-tuning trains the base together with a seq_bn adapter (the CLI always places one; it starts as the identity and adds 0.5%), hence 100.5%. Trainable % counts adapter + head.',
    '',
    '![GLUE dev scores](plots/glue.svg)',
    '',
    '### The papers\' corresponding figures',
    '',
    ...paperTable(),
    '',
    '## AdapterFusion (ST-A adapters of SST-2, MRPC, CoLA and the target\'s own, fused for the target)',
    '',
    `Stage 1 = the Pfeiffer runs above (seed s); stage 2 trains only the fusion layers and a new head on the target's ${b.trainSize}-example subsample (Pfeiffer et al. 2021 fuse all their adapters, including the target's). Sources: ${FUSION_SOURCES.map((t) => TASK_LABEL[t]).join(', ')} + target.`,
    '',
    ...fusionTable(g),
    '',
    `## AdapterDrop (${TASK_LABEL[DROP_TASK]}, seq_bn)`,
    '',
    'Specialised: one adapter per n, trained and evaluated with the adapters of the lowest n layers dropped. Robust: one adapter trained with n drawn per step from 0..5, evaluated at every n. ' + PAPERS_DROP,
    '',
    ...dropTable(g),
    '',
    '![AdapterDrop](plots/adapterdrop.svg)',
    '',
  ];
  if (options.reading) out.push('## Reading', '', options.reading.trim(), '');
  out.push('## Commands', '', 'Each train row is `adapters train` (`node packages/cli/bin/adapters.js`) on the budgeted files the runner writes to results/.data/ (`npm run reproduce` prepares them); fusion rows are `adapters fusion-stage2` over the seed\'s Pfeiffer adapters; AdapterDrop rows run results/src/drop.ts (the CLI has no AdapterDrop training flag).', '', ...commandsSection(used), '');
  return out.join('\n');
}

export async function generateReadme(runsDir: string, outDir: string, options: GenerateOptions = { plots: true }): Promise<void> {
  const records = readAllRecords(runsDir);
  const readingFile = path.join(outDir, 'reading.md');
  const reading = options.reading ?? (fs.existsSync(readingFile) ? fs.readFileSync(readingFile, 'utf8') : undefined);
  const md = readmeMarkdown(records, { ...options, ...(reading !== undefined ? { reading } : {}) });
  if (options.plots !== false) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { renderVegaLiteSvg } = require('@adapters/cli') as typeof CliModule;
    const g = group(records);
    fs.mkdirSync(path.join(outDir, 'plots'), { recursive: true });
    fs.writeFileSync(path.join(outDir, 'plots', 'glue.svg'), await renderVegaLiteSvg(glueSpec(g)));
    fs.writeFileSync(path.join(outDir, 'plots', 'adapterdrop.svg'), await renderVegaLiteSvg(dropSpec(g)));
  }
  const file = path.join(outDir, 'README.md');
  fs.writeFileSync(`${file}.${process.pid}.tmp`, md);
  fs.renameSync(`${file}.${process.pid}.tmp`, file);
}
