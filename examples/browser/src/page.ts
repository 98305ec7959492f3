// The page: one frozen base model, adapters switched per prediction, a worker that trains a new adapter with a live
// loss plot. `?backend=wasm|webgl|cpu` (default wasm), `?cache=0` turns off the Cache API, `?bench=1` measures.
// `window.example` is what the browser test and the measurements read.
import { BACKENDS, type BackendName, type Base, classify, loadBase, loadTask, siteIndex, startBackend, type Task } from './lib';

const params = new URLSearchParams(location.search);
const backendName = (params.get('backend') ?? 'wasm') as BackendName;
const useCache = params.get('cache') !== '0';
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const now = (): number => performance.now();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Timing { load: number; first?: number; steady?: number; switchTo?: number }

const state = {
  backend: '', modelLoadMs: 0, tasks: new Map<string, Task>(), timings: new Map<string, Timing>(), base: undefined as Base | undefined,
};

function setStatus(text: string): void {
  $('status').textContent = text;
}

function renderInfo(): void {
  const rows = [...state.tasks.values()].map((t) => {
    const tm = state.timings.get(t.name)!;
    const ms = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(1));
    return `<tr><td>${t.name}</td><td>${t.labels.join(' / ')}</td><td>${t.adapterParams.toLocaleString('en')}</td><td>${t.headParams.toLocaleString('en')}</td><td>${ms(tm.load)}</td><td>${ms(tm.first)}</td><td>${ms(tm.steady)}</td></tr>`;
  });
  $('backend').textContent = state.backend;
  $('model-load').textContent = `${state.modelLoadMs.toFixed(0)} ms`;
  $('adapters').innerHTML = rows.join('');
}

function predict(name: string, texts: readonly string[]): number[][] {
  const task = state.tasks.get(name);
  if (!task || !state.base) throw new Error(`no adapter '${name}' (loaded: ${[...state.tasks.keys()].join(', ')})`);
  const t0 = now();
  const probs = classify(task, state.base, texts);
  const ms = now() - t0;
  const tm = state.timings.get(name)!;
  if (tm.first === undefined) tm.first = ms;
  else tm.steady = tm.steady === undefined ? ms : 0.8 * tm.steady + 0.2 * ms;
  $('latency').textContent = `${ms.toFixed(1)} ms`;
  return probs;
}

function showPrediction(): void {
  const name = $<HTMLSelectElement>('adapter').value;
  const text = $<HTMLTextAreaElement>('text').value;
  if (!text.trim()) return;
  const probs = predict(name, [text])[0]!;
  const labels = state.tasks.get(name)!.labels;
  $('result').innerHTML = labels.map((l, i) => `<div class="bar"><span>${l}</span><meter min="0" max="1" value="${probs[i]}"></meter><span>${probs[i]!.toFixed(4)}</span></div>`).join('');
  renderInfo();
}

/** Loss curve as an SVG polyline (no plotting library). */
function plotLoss(losses: readonly number[], total: number): void {
  const w = 360, h = 160, pad = 24;
  const max = Math.max(...losses);
  const min = Math.min(...losses);
  const span = Math.max(max - min, 1e-6);
  const pts = losses.map((l, i) => `${(pad + (i / Math.max(1, total - 1)) * (w - 2 * pad)).toFixed(1)},${(h - pad - ((l - min) / span) * (h - 2 * pad)).toFixed(1)}`).join(' ');
  $('loss-plot').innerHTML = `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="training loss">
    <line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#888"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#888"/>
    <text x="${pad}" y="${pad - 6}" font-size="11">loss ${min.toFixed(3)} – ${max.toFixed(3)}</text><text x="${w - pad}" y="${h - 6}" font-size="11" text-anchor="end">step ${losses.length}/${total}</text>
    <polyline fill="none" stroke="#c33" stroke-width="2" points="${pts}"/></svg>`;
}

function trainInWorker(steps: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.js', location.href));
    const losses: number[] = [];
    $('train-status').textContent = 'loading the model in the worker…';
    worker.onmessage = (e: MessageEvent) => {
      const m = e.data as { type: string; step?: number; loss?: number; message?: string; ms?: number; params?: number };
      if (m.type === 'step') {
        losses.push(m.loss!);
        plotLoss(losses, steps);
        $('train-status').textContent = `step ${m.step}/${steps}, loss ${m.loss!.toFixed(4)}`;
      } else if (m.type === 'done') {
        $('train-status').textContent = `trained ${losses.length} steps of a new adapter (${m.params!.toLocaleString('en')} parameters) in ${(m.ms! / 1000).toFixed(1)} s`;
        worker.terminate();
        resolve(losses);
      } else if (m.type === 'error') {
        $('train-status').textContent = `error: ${m.message}`;
        worker.terminate();
        reject(new Error(m.message));
      }
    };
    worker.postMessage({ backend: backendName === 'webgl' ? 'cpu' : backendName, steps, root: new URL('./', location.href).href, cache: useCache });
  });
}

/** Load, first and steady-state latency per adapter, and switch time (other adapter → this one, one prediction). */
function bench(texts: readonly string[], repeats = 10): Record<string, unknown> {
  const names = [...state.tasks.keys()];
  const out: Record<string, unknown> = { backend: state.backend, modelLoadMs: state.modelLoadMs };
  for (const name of names) {
    const steady: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = now();
      predict(name, texts);
      steady.push(now() - t0);
    }
    const other = names.find((n) => n !== name) ?? name;
    const switches: number[] = [];
    for (let i = 0; i < repeats; i++) {
      predict(other, texts);
      const t0 = now();
      predict(name, texts);
      switches.push(now() - t0);
    }
    out[name] = { loadMs: state.timings.get(name)!.load, firstMs: state.timings.get(name)!.first, steadyMedianMs: median(steady), switchMedianMs: median(switches) };
  }
  return out;
}

async function main(): Promise<void> {
  const root = new URL('./', location.href).href;
  setStatus(`starting ${backendName}…`);
  state.backend = await startBackend(backendName, root);
  setStatus('loading the model…');
  let t0 = now();
  const index = await siteIndex(root);
  state.base = await loadBase(root, index, useCache);
  state.modelLoadMs = now() - t0;
  for (const { name } of index.adapters) {
    t0 = now();
    state.tasks.set(name, await loadTask(root, state.base, index, name, useCache));
    state.timings.set(name, { load: now() - t0 });
  }
  const select = $<HTMLSelectElement>('adapter');
  select.innerHTML = [...state.tasks.keys()].map((n) => `<option>${n}</option>`).join('');
  select.onchange = showPrediction;
  $<HTMLTextAreaElement>('text').oninput = showPrediction;
  $<HTMLButtonElement>('train').onclick = () => void trainInWorker(Number($<HTMLInputElement>('steps').value)).catch(() => undefined);
  $('backends').innerHTML = BACKENDS.map((b) => `<a href="?backend=${b}">${b}</a>`).join(' · ');
  showPrediction();
  renderInfo();
  setStatus('ready');
}

const ready = main();
ready.catch((err: unknown) => setStatus(`error: ${(err as Error).message}`));
(window as unknown as { example: unknown }).example = {
  ready: ready.then(() => true),
  backend: () => state.backend,
  adapters: () => [...state.tasks.values()].map((t) => ({ name: t.name, labels: t.labels, adapterParams: t.adapterParams, headParams: t.headParams })),
  classify: (name: string, texts: string[]) => predict(name, texts),
  select: (name: string, text: string) => {
    $<HTMLSelectElement>('adapter').value = name;
    $<HTMLTextAreaElement>('text').value = text;
    showPrediction();
  },
  train: (steps: number) => trainInWorker(steps),
  bench,
};
