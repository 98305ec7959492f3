// A grid expanded into jobs with stable ids, and a run published to a shared-directory store (run by pack-check;
// needs no Redis: queueing and workers are `adapters fleet submit|worker`).
import { strict as assert } from 'node:assert';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, parseGrid, trainArgv } from '@adapters/fleet';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fleet-example-'));
  // #region grid
  const grid = parseGrid(
    [
      'name: madx-langs',
      'model: xlm-roberta-base',
      'methods: [seq_bn, "lora:r=8"]',
      'languages: { sw: data/sw.tsv, qu: data/qu.tsv, tr: data/tr.tsv }',
      'seeds: [1, 2]',
      'hyper: { epochs: 1, lr: 0.0005, max-length: 128 }',
    ].join('\n'),
    '/shared/grids/madx.yaml',
  );
  // 2 methods x 3 languages x 2 seeds = 12 jobs; the same grid always gives the same ids (no duplicate jobs)
  const job = grid.jobs.find((j) => j.name === 'sw/seq_bn/s1')!;
  console.log(job.id, trainArgv(job.spec, '/scratch/run').join(' ')); // what a worker runs: adapters train ...

  // A worker publishes a finished run folder in one step; the first attempt of a job to publish wins.
  const store = openStore(join(dir, 'store')); // or s3://bucket/prefix (AWS_* variables)
  const run = join(dir, 'run');
  await mkdir(run);
  await writeFile(join(run, 'summary.json'), JSON.stringify({ accuracy: 0.91 }));
  const first = await store.publish(job.id, run); // { published: true, location: .../runs/<id> }
  const retry = await store.publish(job.id, run); // { published: false }: a retried job never replaces or mixes a run
  // #endregion

  assert.equal(grid.jobs.length, 12);
  assert.equal(parseGrid('name: madx-langs\nmodel: xlm-roberta-base\nmethods: [seq_bn, "lora:r=8"]\nlanguages: { sw: data/sw.tsv, qu: data/qu.tsv, tr: data/tr.tsv }\nseeds: [1, 2]\nhyper: { epochs: 1, lr: 0.0005, max-length: 128 }', '/shared/grids/madx.yaml').jobs.find((j) => j.name === 'sw/seq_bn/s1')!.id, job.id);
  assert.deepEqual([first.published, retry.published], [true, false]);
  assert.equal(JSON.parse((await store.readFile(job.id, 'summary.json'))!.toString()).accuracy, 0.91);
  assert.deepEqual(await store.list(), [job.id]);
  await rm(dir, { recursive: true, force: true });
  console.log('fleet example ok');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
