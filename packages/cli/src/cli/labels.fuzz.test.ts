// Fuzz: run manifests (labels.json) with one mutated value or added key each must read back equal, as a valid
// variant, or fail with one clear error (never crash, hang or silently accept garbage). Moved from core-graph's fuzz
// test with the CLI.
import * as fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterGraphError } from '@adapters/core-graph';
import type { Json } from '@adapters/core-graph/testing';
import { jsonMutationArb } from '@adapters/core-graph/testing';
import { readLabelsFile } from './data';

const HANG_MS = 3000;

describe('fuzz: run manifests', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'fuzz-labels-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('run manifests (labels.json)', async () => {
    const tally = new Tally();
    const manifest: Json = { labels: ['neg', 'pos'], adapter: 'ad', head: 'ad', plugin: 'toy', spec: 'toy', model: 'tiny', maxLength: 16, columns: { text: 'sentence', label: 'label' }, placement: { sites: ['layer.0.ffn'], mode: 'wrap' } };
    const dir = join(tmp, 'manifest', 'adapter');
    mkdirSync(dir, { recursive: true });
    for (const c of fc.sample(jsonMutationArb(manifest), { numRuns: 300, seed: 1820 })) {
      writeFileSync(join(dir, 'labels.json'), c.text);
      const started = Date.now();
      try {
        const read = await readLabelsFile(dir);
        const same = JSON.stringify(read) === JSON.stringify(manifest);
        tally.add(Date.now() - started > HANG_MS ? 'hang' : same ? 'same' : c.maybeValid ? 'variant' : 'silent', c.kind);
      } catch (e) {
        tally.add(Date.now() - started > HANG_MS ? 'hang' : e instanceof AdapterGraphError || (e as Error).name === 'UsageError' ? 'clean' : 'crash', `${c.kind}: ${String(e).slice(0, 200)}`);
      }
    }
    expectNoBadOutcomes('run manifests (labels.json)', tally);
  });
});

type Outcome = 'clean' | 'crash' | 'hang' | 'silent' | 'same' | 'variant';

class Tally {
  readonly counts: Record<Outcome, number> = { clean: 0, crash: 0, hang: 0, silent: 0, same: 0, variant: 0 };
  readonly failures: string[] = [];

  add(outcome: Outcome, what: string): void {
    this.counts[outcome] += 1;
    if ((outcome === 'crash' || outcome === 'hang' || outcome === 'silent') && this.failures.length < 5) this.failures.push(`${outcome}: ${what}`);
  }
}

function expectNoBadOutcomes(name: string, tally: Tally): void {
  const c = tally.counts;
  console.log(`${name}: clean error ${c.clean} / crash ${c.crash} / hang ${c.hang} / silent accept ${c.silent} (accepted unchanged ${c.same}, accepted valid variant ${c.variant})`);
  expect({ name, failures: tally.failures, crash: c.crash, hang: c.hang, silent: c.silent }).toEqual({ name, failures: [], crash: 0, hang: 0, silent: 0 });
}
