import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CurveRecord } from './plot';
import { curvesSpec, renderCurvesSvg, writeTrainingCurves } from './plot';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function records(): CurveRecord[] {
  const out: CurveRecord[] = [];
  for (let step = 1; step <= 40; step++) {
    out.push({ type: 'step', step, loss: 0.7 * Math.exp(-step / 20) + 0.05 * Math.sin(step) + 0.2 });
    if (step % 10 === 0) out.push({ type: 'eval', step, loss: 0.6 - step / 100, accuracy: 0.5 + step / 100, f1: 0.45 + step / 100 });
  }
  return out;
}

/** Width and height from the PNG's IHDR chunk. */
const pngSize = (png: Buffer) => ({ width: png.readUInt32BE(16), height: png.readUInt32BE(20) });
const svgWidth = (svg: string) => Number(/<svg[^>]*\swidth="(\d+(?:\.\d+)?)"/.exec(svg)?.[1]);

describe('training curves', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'curves-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('the SVG has line paths and axis titles for both panels', async () => {
    const svg = await renderCurvesSvg(records());
    expect(svg.startsWith('<svg')).toBe(true);
    expect((svg.match(/<path/g) ?? []).length).toBeGreaterThan(4);
    for (const title of ['step', 'loss', 'accuracy / F1', 'Loss', 'Evaluation', 'train loss (smoothed)']) expect(svg.includes(`>${title}<`) ? title : `missing ${title}`).toBe(title);
  });

  test('writes curves.svg and curves.png; the PNG is twice the SVG width by default, and no temp files are left', async () => {
    const files = await writeTrainingCurves(records(), dir, { title: 'toy run' });
    const svg = readFileSync(files.svg, 'utf8');
    const png = readFileSync(files.png);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const width = svgWidth(svg);
    expect(width).toBeGreaterThan(500);
    expect(pngSize(png).width).toBe(Math.round(2 * width));
    expect(files.width).toBe(pngSize(png).width);
    expect(readdirSync(dir).sort()).toEqual(['curves.png', 'curves.svg']);
  });

  test('scale 1 renders at the SVG size', async () => {
    const files = await writeTrainingCurves(records(), dir, { scale: 1 });
    expect(pngSize(readFileSync(files.png)).width).toBe(Math.round(svgWidth(readFileSync(files.svg, 'utf8'))));
  });

  test('only step records: a single loss panel; no records: a clear error', async () => {
    const spec = curvesSpec(records().filter((r) => r.type === 'step')) as { vconcat: unknown[] };
    expect(spec.vconcat).toHaveLength(1);
    const svg = await renderCurvesSvg(records().filter((r) => r.type === 'step'));
    expect(svg).not.toContain('>Evaluation<');
    expect(() => curvesSpec([])).toThrow(/no training records/);
  });
});
