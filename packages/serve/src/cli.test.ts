// `adapters serve` end to end: the command parses its options, serves on an ephemeral port, answers as the CLI's own
// `predict` does for the same saved adapter, and stops cleanly when told to.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from '@adapters/cli';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';
import { SERVE_SPEC, serveCommand } from './cli';
import type { Prediction } from './engine';
import { post, texts, writeFixture } from './__tests__/fixture';

test('adapters serve answers like adapters predict, then stops on its signal', async () => {
  const fx = await writeFixture(2);
  const project = mkdtempSync(join(tmpdir(), 'serve-cli-'));
  linkAdapterPackages(project, [resolve(__dirname, '../../adapter-bottleneck')]);
  const inputs = texts(4, 5);

  const cli = await runCliIn(project, ['predict', '--model', fx.modelDir, '--adapter-dir', join(fx.adaptersDir, 'a1'), '--json', ...inputs.flatMap((t) => ['--text', t])]);
  expect({ code: cli.code, err: cli.code === 0 ? '' : cli.err }).toEqual({ code: 0, err: '' });
  const expected = cli.out.trim().split('\n').map((line) => Object.values((JSON.parse(line) as { probabilities: Record<string, number> }).probabilities));

  const out: string[] = [];
  const err: string[] = [];
  const ctx = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, cwd: project, env: {}, pluginSearchPaths: [project] };
  const stop = new AbortController();
  const running = serveCommand(parseArgs(['--model', fx.modelDir, '--adapters', fx.adaptersDir, '--port', '0', '--preload', 'a1', '--max-wait-ms', '1'], SERVE_SPEC), ctx, { signal: stop.signal });
  let url: string | undefined;
  for (let i = 0; i < 2000 && url === undefined; i++) {
    url = /on (http:\/\/\S+)/.exec(out.join(''))?.[1];
    if (url === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  expect(url).toBeDefined();
  const r = await post(`${url!}/v1/predict`, { adapter: 'a1', texts: inputs });
  expect(r.status).toBe(200);
  const got = (r.json['predictions'] as Prediction[]).map((p) => Object.values(p.scores));
  // Same weights and tokens; padding differs (the CLI pads its batch the same way here, the tolerance is for BLAS order).
  got.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - expected[i]![j]!)).toBeLessThan(1e-5)));
  expect((r.json['predictions'] as Prediction[])[0]!.scores).toHaveProperty('maybe'); // label names from head_config.json
  stop.abort();
  await running;
  expect(err.join('')).toMatch(/shutting down: answering accepted requests\nstopped\n$/);
});
