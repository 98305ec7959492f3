// `adapters fleet ...` through the real CLI (plugin discovery, two-word commands, the bare grid argument, help) for
// everything that fails before Redis is contacted: each mistake is one line naming the file or option, exit code 2.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';

let project: string;
beforeAll(() => {
  project = mkdtempSync(path.join(os.tmpdir(), 'fleet-cli-'));
  linkAdapterPackages(project, [path.resolve(__dirname, '..')]);
  writeFileSync(path.join(project, 'grid.yaml'), 'model: m\nmethods: [seq_bn]\ntasks: { t: x.tsv }\nhyper: { epoch: 1 }\n');
  writeFileSync(path.join(project, 'good.yaml'), 'model: m\nmethods: [seq_bn]\ntasks: { t: x.tsv }\n');
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

test('the four subcommands are listed and each has help (`adapters help fleet submit` too)', async () => {
  const list = await runCliIn(project, ['--help']);
  for (const c of ['fleet submit', 'fleet worker', 'fleet status', 'fleet collect']) expect(list.out).toContain(c);
  const help = await runCliIn(project, ['help', 'fleet', 'submit']);
  expect(help.code).toBe(0);
  expect(help.out).toMatch(/usage: adapters fleet submit GRID\.yaml --store/);
  expect((await runCliIn(project, ['fleet', 'worker', '--help'])).out).toMatch(/--concurrency N/);
});

test.each([
  [['fleet', 'submit', 'missing.yaml', '--store', 'runs'], /missing\.yaml: no such file/],
  [['fleet', 'submit', 'grid.yaml'], /missing required option --store/],
  [['fleet', 'submit', 'grid.yaml', '--store', 'runs'], /grid\.yaml: hyper\.epoch: is not a train option/],
  [['fleet', 'submit', 'good.yaml', '--store', 'ftp://x/y'], /use a directory path, file:\/\/DIR or s3:\/\/BUCKET\/PREFIX/],
  [['fleet', 'submit', 'good.yaml', '--store', 's3://bucket/runs'], /an s3:\/\/ store needs AWS_ACCESS_KEY_ID/],
  [['fleet', 'status', '--redis', 'localhost:6379'], /--redis 'localhost:6379' must be a redis:\/\/ or rediss:\/\/ URL/],
  [['fleet', 'launch'], /unknown command 'fleet'/],
])('%j fails with one clear line', async (argv, message) => {
  const run = await runCliIn(project, argv);
  expect(run.code).not.toBe(0);
  expect(run.err.trim().split('\n')).toHaveLength(1);
  expect(run.err).toMatch(message);
});
