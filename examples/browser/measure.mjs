// Timings of the example in headless Chromium, per backend: model load (cold: empty Cache API; warm: reload), adapter
// load, first and steady-state prediction latency, adapter switch time. Prints a markdown table.
//   node measure.mjs [--out DIR] [--backends wasm,webgl] [--repeats 10]
// DIR is a built site (node build.mjs setup && node build.mjs bundle). Uses the system Chromium through
// puppeteer-core (tools' dev dependency); WebGL runs on SwiftShader (software) in headless mode.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const puppeteer = createRequire(join(here, '..', '..', 'tools', 'package.json'))('puppeteer-core');
const args = process.argv.slice(2);
const flag = (name, fallback) => { const i = args.indexOf(name); return i < 0 ? fallback : args[i + 1]; };
const site = resolve(flag('--out', join(here, 'dist')));
const backends = flag('--backends', 'wasm,webgl').split(',');
const repeats = Number(flag('--repeats', '10'));
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
const TEXTS = ['a gorgeous, witty and moving film'];

const { url, close } = await serve(site, 0);
const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'] });
const rows = [];
try {
  for (const backend of backends) {
    const context = await browser.createBrowserContext(); // empty Cache API
    const page = await context.newPage();
    const open = async () => {
      await page.goto(`${url}?backend=${backend}`);
      await page.waitForFunction('window.example !== undefined');
      await page.evaluate('window.example.ready');
    };
    await open();
    const cold = await page.evaluate(`window.example.bench(${JSON.stringify(TEXTS)}, ${repeats})`);
    await open(); // files now come from the Cache API
    const warm = await page.evaluate(`window.example.bench(${JSON.stringify(TEXTS)}, ${repeats})`);
    const names = Object.keys(cold).filter((k) => k !== 'backend' && k !== 'modelLoadMs');
    for (const name of names) rows.push({ backend: cold.backend, name, coldModel: cold.modelLoadMs, warmModel: warm.modelLoadMs, ...cold[name], warmLoad: warm[name].loadMs });
    await context.close();
  }
} finally {
  await browser.close();
  await close();
}
const f = (v) => (v === undefined ? '–' : v.toFixed(1));
console.log('| backend | adapter | model load, cold / cached (ms) | adapter load, cold / cached (ms) | first prediction (ms) | steady prediction, median (ms) | switch + predict, median (ms) |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.backend} | ${r.name} | ${f(r.coldModel)} / ${f(r.warmModel)} | ${f(r.loadMs)} / ${f(r.warmLoad)} | ${f(r.firstMs)} | ${f(r.steadyMedianMs)} | ${f(r.switchMedianMs)} |`);
