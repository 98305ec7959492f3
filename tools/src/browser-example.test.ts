// The browser example (examples/browser) in a real browser: Debian's Chromium driven headless by puppeteer-core (no
// browser download). A tiny random BERT and two adapters trained by the example's setup stand in for MiniLM, so this
// runs in about a minute; the page runs the same code whatever the model. Checks: the page loads with no console
// errors, its class probabilities equal Node's (AdapterModel from the same files on disk) within 1e-4 for every
// adapter, switching adapters changes them, and the worker trains. Screenshot: artifacts/browser-example.png (or
// $ARTIFACTS_DIR). Skips, saying why, only when no Chromium is installed (CHROMIUM_PATH overrides the path).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { REPO_ROOT } from './workspace';

const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => p !== undefined && p !== '' && existsSync(p));
if (CHROMIUM === undefined) console.log('SKIPPED the browser example test: no Chromium at $CHROMIUM_PATH, /usr/bin/chromium or /usr/bin/chromium-browser (.ci/run installs Debian\'s chromium)');
const maybe = CHROMIUM === undefined ? describe.skip : describe;

const EXAMPLE = join(REPO_ROOT, 'examples', 'browser');
const ARTIFACTS = process.env['ARTIFACTS_DIR'] ?? join(REPO_ROOT, 'artifacts');
const TEXTS = ['a gorgeous, witty and moving film', 'a dull, tedious mess', 'the plot is thin but the acting is great', 'not funny at all'];
/** Float32 on both sides, same ops; wasm vs Node's cpu kernels differ in summation order only. */
const TOLERANCE = 1e-4;

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

function staticServer(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end('not found'),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address() as { port: number };
    resolve({ server, url: `http://127.0.0.1:${address.port}/` });
  }));
}

const node = (args: readonly string[]): string => execFileSync(process.execPath, [join(EXAMPLE, 'build.mjs'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 8 * 60_000 });

maybe('the browser example in headless Chromium', () => {
  let site = '';
  let browser: Browser;
  let page: Page;
  let server: Server;
  let url = '';
  const problems: string[] = [];

  beforeAll(async () => {
    site = mkdtempSync(join(tmpdir(), 'browser-example-'));
    node(['setup', '--tiny', '--steps', '10', '--out', site]);
    node(['bundle', '--out', site]);
    ({ server, url } = await staticServer(site));
    browser = await puppeteer.launch({ executablePath: CHROMIUM!, headless: true, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'] });
    page = await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
    await page.goto(`${url}?backend=wasm`);
    await page.waitForFunction('window.example !== undefined');
    await page.evaluate('window.example.ready');
  }, 10 * 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    if (site) rmSync(site, { recursive: true, force: true });
  });

  test('predictions equal Node\'s within 1e-4 for every adapter; switching adapters changes them', async () => {
    const adapters = (await page.evaluate('window.example.adapters()')) as Array<{ name: string; adapterParams: number; headParams: number }>;
    expect(adapters.map((a) => a.name)).toEqual(['sentiment', 'intensity']);
    for (const a of adapters) expect(a.adapterParams).toBeGreaterThan(0);
    expect(await page.evaluate('window.example.backend()')).toBe('wasm');
    const inBrowser: Record<string, number[][]> = {};
    for (const a of adapters) inBrowser[a.name] = (await page.evaluate(`window.example.classify(${JSON.stringify(a.name)}, ${JSON.stringify(TEXTS)})`)) as number[][];
    const inNode = JSON.parse(node(['node-predict', '--out', site, '--texts', JSON.stringify(TEXTS)]).trim().split('\n').pop()!) as Record<string, number[][]>;
    let worst = 0;
    for (const a of adapters) {
      expect(inBrowser[a.name]).toHaveLength(TEXTS.length);
      inBrowser[a.name]!.forEach((row, i) => row.forEach((p, j) => { worst = Math.max(worst, Math.abs(p - inNode[a.name]![i]![j]!)); }));
    }
    console.log(`browser vs Node: largest probability difference ${worst.toExponential(2)} over ${adapters.length} adapters × ${TEXTS.length} texts`);
    expect(worst).toBeLessThan(TOLERANCE);
    const [first, second] = adapters.map((a) => inBrowser[a.name]!.flat());
    expect(Math.max(...first!.map((p, i) => Math.abs(p - second![i]!)))).toBeGreaterThan(1e-3);
  });

  test('the worker trains a new adapter with a finite loss per step; no console errors; screenshot saved', async () => {
    const losses = (await page.evaluate('window.example.train(4)')) as number[];
    expect(losses).toHaveLength(4);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    await page.evaluate(`window.example.select('intensity', ${JSON.stringify(TEXTS[0])})`);
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'browser-example.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    expect(problems).toEqual([]);
  });
});
