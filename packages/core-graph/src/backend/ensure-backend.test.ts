// First use in a fresh process (jest's setup already picks a backend, so each case runs in a child node).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const repo = join(__dirname, '..', '..', '..', '..');

function runFresh(script: string): { out: string; code: number } {
  try {
    const out = execFileSync(process.execPath, ['-r', join(repo, 'scripts', 'register-source.js'), '-e', script], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...process.env, ADAPTERS_BACKEND: 'cpu' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    return { out, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; status?: number };
    return { out: `${e.stdout ?? ''}${e.stderr ?? ''}`, code: e.status ?? -1 };
  }
}

const prelude = `const g = require('@adapters/core-graph');
const graph = g.buildEncoder({ hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, vocabSize: 20, maxPositions: 16 });`;

describe('first use without selectBackend()', () => {
  test('weights before any backend: BackendNotReadyError naming selectBackend(); ensureBackend() then selects one once', () => {
    const { out, code } = runFresh(`${prelude}
(async () => {
  let error;
  try { g.WeightStore.create(graph, 0); } catch (e) { error = { name: e.name, code: e.code, graphError: e instanceof g.AdapterGraphError, message: e.message }; }
  const before = g.backendReady();
  await Promise.all([g.ensureBackend(), g.ensureBackend()]); // concurrent callers share one selection
  const store = g.WeightStore.create(graph, 0);
  const out = new g.Executor(graph, store).run({ input_ids: [[1, 2, 3]] });
  const shape = Object.values(out)[0].shape;
  console.log(JSON.stringify({ error, before, after: g.backendReady(), backend: require('@tensorflow/tfjs').getBackend(), shape }));
})().catch((e) => { console.log('FAILED ' + e.message); process.exit(3); });`);
    expect(code).toBe(0);
    const seen = JSON.parse(out.trim().split('\n').pop()!) as { error: Record<string, unknown> & { message: string } };
    expect(seen).toMatchObject({ before: false, after: true, backend: 'cpu', shape: [1, 3, 8] });
    expect(seen.error).toMatchObject({ name: 'BackendNotReadyError', code: 'E_BACKEND_NOT_READY', graphError: true });
    expect(seen.error.message).toContain('WeightStore.create');
    expect(seen.error.message).toContain('await selectBackend()');
  });

  test('a backend the user set is kept', () => {
    const { out, code } = runFresh(`
const tf = require('@tensorflow/tfjs'); const g = require('@adapters/core-graph');
(async () => { await tf.setBackend('cpu'); await g.ensureBackend({ prefer: 'wasm' }); console.log(tf.getBackend()); })();`);
    expect(code).toBe(0);
    expect(out.trim().split('\n').pop()).toBe('cpu');
  });
});
