// The fusion attention report as files: markdown table, heat map as SVG (vega-lite) and PNG (resvg). Rendering
// uses @adapters/cli's plotting, so it lives on this package's `./cli` entry and the library needs no renderer.
import { join } from 'node:path';
import { writeFileAtomic } from '@adapters/core-graph';
import { renderVegaLiteSvg, svgToPng } from '@adapters/cli';
import type { FusionAttention } from './introspect';
import { fusionAttentionTable, fusionHeatmapSpec } from './introspect';

/** Renders the heat map to SVG (vega, headless). */
export function fusionHeatmapSvg(a: FusionAttention, options: { title?: string } = {}): Promise<string> {
  return renderVegaLiteSvg(fusionHeatmapSpec(a, options));
}

/** Writes `fusion-attention.md`, `.svg` and `.png` into `dir` (each atomically); returns their paths. */
export async function writeFusionReport(a: FusionAttention, dir: string, options: { title?: string; basename?: string } = {}): Promise<{ table: string; svg: string; png: string }> {
  const base = options.basename ?? 'fusion-attention';
  const files = { table: join(dir, `${base}.md`), svg: join(dir, `${base}.svg`), png: join(dir, `${base}.png`) };
  const svg = await fusionHeatmapSvg(a, options);
  const { png } = await svgToPng(svg);
  await writeFileAtomic(files.table, fusionAttentionTable(a));
  await writeFileAtomic(files.svg, svg);
  await writeFileAtomic(files.png, png);
  return files;
}
