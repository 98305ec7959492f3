// Training curves as SVG and PNG without a browser: vega-lite compiles a spec, vega renders the SVG
// headlessly (renderer 'none' + toSVG), and resvg rasterises it using a font found on the system.
import { existsSync } from 'fs';
import * as path from 'path';
// vega, vega-lite and resvg (a native addon) load on first use, so importing the library stays cheap
// and works even where resvg's prebuilt binary is missing.
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '@adapters/core-graph';

/** The fields of the trainer's records that the plot reads (TrainRecord and metrics.jsonl lines fit). */
export type CurveRecord =
  | { readonly type: 'step'; readonly step: number; readonly loss: number }
  | { readonly type: 'eval'; readonly step: number; readonly loss: number; readonly accuracy: number; readonly f1: number };

export interface PlotOptions {
  /** Title above the plots. */
  readonly title?: string;
  /** PNG pixels per SVG pixel (default 2). */
  readonly scale?: number;
  /** Width of each panel's plotting area in SVG pixels (default 560). */
  readonly width?: number;
  /** Font files to rasterise text with; default: DejaVu Sans / Liberation Sans / Noto Sans if installed. */
  readonly fontFiles?: readonly string[];
}

export interface CurveFiles {
  readonly svg: string;
  readonly png: string;
  readonly width: number;
  readonly height: number;
}

/** Fonts Debian's fonts-dejavu-core / fonts-liberation / fonts-noto-core put here; the first found is used. */
const FONT_CANDIDATES: ReadonlyArray<{ family: string; file: string }> = [
  { family: 'DejaVu Sans', file: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf' },
  { family: 'Liberation Sans', file: '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf' },
  { family: 'Noto Sans', file: '/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf' },
  { family: 'DejaVu Sans', file: '/System/Library/Fonts/Supplemental/Verdana.ttf' },
];

interface FontChoice {
  readonly files: string[];
  readonly family: string | undefined;
}

function pickFont(files: readonly string[] | undefined): FontChoice {
  if (files !== undefined) return { files: files.filter((f) => existsSync(f)), family: undefined };
  const found = FONT_CANDIDATES.find((c) => existsSync(c.file));
  return found ? { files: [found.file], family: found.family } : { files: [], family: undefined };
}

/** Exponential moving average with bias correction, so the curve starts at the first value. */
function smooth(values: readonly number[], beta = 0.9): number[] {
  let avg = 0;
  return values.map((v, i) => {
    avg = beta * avg + (1 - beta) * v;
    return avg / (1 - beta ** (i + 1));
  });
}

/** The vega-lite spec: training loss per step (raw and smoothed, plus eval loss), and eval accuracy / F1. */
export function curvesSpec(records: readonly CurveRecord[], options: PlotOptions = {}): TopLevelSpec {
  const steps = records.filter((r): r is Extract<CurveRecord, { type: 'step' }> => r.type === 'step' && Number.isFinite(r.loss));
  const evals = records.filter((r): r is Extract<CurveRecord, { type: 'eval' }> => r.type === 'eval');
  if (steps.length === 0 && evals.length === 0) throw new Error('no training records to plot (expected records of type "step" or "eval")');
  const width = options.width ?? 560;
  const smoothed = smooth(steps.map((r) => r.loss));
  const lossRows = [
    ...steps.map((r) => ({ step: r.step, loss: r.loss, series: 'train loss' })),
    ...steps.map((r, i) => ({ step: r.step, loss: smoothed[i] as number, series: 'train loss (smoothed)' })),
    ...evals.filter((r) => Number.isFinite(r.loss)).map((r) => ({ step: r.step, loss: r.loss, series: 'eval loss' })),
  ];
  const metricRows = evals.flatMap((r) => [
    { step: r.step, value: r.accuracy, metric: 'accuracy' },
    { step: r.step, value: r.f1, metric: 'F1' },
  ]);
  const maxStep = Math.max(1, ...steps.map((r) => r.step), ...evals.map((r) => r.step));
  // Both panels share one step axis, so an evaluation lines up with the loss at that step.
  const x = { field: 'step', type: 'quantitative', title: 'step', scale: { domain: [0, maxStep], nice: false } };
  const legend = (orient: string) => ({ orient, labelLimit: 400, symbolType: 'stroke', symbolStrokeWidth: 3 });
  const lossColors = { domain: ['train loss', 'train loss (smoothed)', 'eval loss'], range: ['#9ecae9', '#1f77b4', '#d62728'] };
  const lossPanel = {
    width,
    height: 220,
    title: 'Loss',
    data: { values: lossRows },
    layer: [
      {
        transform: [{ filter: "datum.series !== 'eval loss'" }],
        mark: { type: 'line', strokeWidth: 1.5, clip: true },
        encoding: {
          x,
          y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { zero: false } },
          color: { field: 'series', type: 'nominal', title: null, scale: lossColors, legend: legend('top-right') },
        },
      },
      {
        transform: [{ filter: "datum.series === 'eval loss'" }],
        mark: { type: 'line', point: true, strokeDash: [4, 3], clip: true },
        encoding: {
          x,
          y: { field: 'loss', type: 'quantitative', title: 'loss' },
          color: { field: 'series', type: 'nominal', title: null, scale: lossColors },
        },
      },
    ],
  };
  const metricPanel = {
    width,
    height: 180,
    title: 'Evaluation',
    data: { values: metricRows },
    mark: { type: 'line', point: true },
    encoding: {
      x,
      y: { field: 'value', type: 'quantitative', title: 'accuracy / F1', scale: { domain: [0, 1] } },
      color: { field: 'metric', type: 'nominal', title: null, scale: { domain: ['accuracy', 'F1'], range: ['#2ca02c', '#ff7f0e'] }, legend: legend('bottom-right') },
    },
  };
  const panels = evals.length > 0 ? [lossPanel, metricPanel] : [lossPanel];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    ...(options.title !== undefined ? { title: options.title } : {}),
    background: 'white',
    padding: 12,
    config: { font: 'sans-serif', view: { stroke: '#ddd' } },
    vconcat: panels,
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
}

/** Renders a vega-lite spec to an SVG string (no browser, no canvas); vega and vega-lite load on first use. */
export async function renderVegaLiteSvg(spec: object): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(spec as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders the curves to an SVG string (no browser, no canvas). */
export function renderCurvesSvg(records: readonly CurveRecord[], options: PlotOptions = {}): Promise<string> {
  return renderVegaLiteSvg(curvesSpec(records, options));
}

/** Rasterises an SVG to PNG with resvg; text needs a font, so a system font file is loaded when present. */
export async function svgToPng(svg: string, options: Pick<PlotOptions, 'scale' | 'fontFiles'> = {}): Promise<{ png: Buffer; width: number; height: number }> {
  const { Resvg } = await import('@resvg/resvg-js');
  const font = pickFont(options.fontFiles);
  const scale = options.scale ?? 2;
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: {
      // Scanning system fonts is the fallback when none of the known files exists (text may then be missing).
      loadSystemFonts: font.files.length === 0,
      fontFiles: font.files,
      ...(font.family !== undefined ? { defaultFontFamily: font.family, sansSerifFamily: font.family } : {}),
    },
  });
  const image = resvg.render();
  return { png: image.asPng(), width: image.width, height: image.height };
}

/** Writes `curves.svg` and `curves.png` into `outDir` (each atomically) from trainer / metrics.jsonl records. */
export async function writeTrainingCurves(records: readonly CurveRecord[], outDir: string, options: PlotOptions = {}): Promise<CurveFiles> {
  const svg = await renderCurvesSvg(records, options);
  const { png, width, height } = await svgToPng(svg, options);
  const files = { svg: path.join(outDir, 'curves.svg'), png: path.join(outDir, 'curves.png') };
  await writeFileAtomic(files.svg, svg);
  await writeFileAtomic(files.png, png);
  return { ...files, width, height };
}
