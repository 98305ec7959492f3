// The queue's rules with a recording engine in place of the model: who shares a forward pass, in what order, and
// what drain / timeouts / a full queue do.
import { Batcher } from './batcher';
import type { BatchEngine, BatchGroup, Prediction } from './engine';
import type { LoadedAdapter } from './pool';

const fake = (name: string, placement = 'wrap|x'): LoadedAdapter => ({
  name, plugin: 'p', config: {}, mode: 'wrap', sites: ['x'], placementKey: placement, head: { type: 'classification', name, numLabels: 2 }, labels: ['a', 'b'], keys: [], bytes: 0, generation: 1,
});
const pred = (text: string): Prediction => ({ label: text, score: 1, scores: {} });

function recordingEngine() {
  const passes: string[][] = [];
  const engine = {
    runBatch: (groups: readonly BatchGroup[]) => {
      passes.push(groups.map((g) => `${g.adapter.name}:${g.texts.join('+')}`));
      return groups.map((g) => g.texts.map((t) => pred(`${g.adapter.name}/${t}`)));
    },
    runMulti: (adapters: readonly LoadedAdapter[], texts: readonly string[]) => {
      passes.push([`multi ${adapters.map((a) => a.name).join(',')}:${texts.join('+')}`]);
      return adapters.map((a) => texts.map((t) => pred(`${a.name}/${t}`)));
    },
  } as unknown as BatchEngine;
  return { engine, passes };
}

const options = { maxBatch: 4, maxWaitMs: 10_000, queueLimit: 3, timeoutMs: 60_000 };

test('requests for several adapters share a pass (grouped by adapter, sorted); each gets its own rows back; drain runs what waits at once', async () => {
  const { engine, passes } = recordingEngine();
  const b = new Batcher(engine, options);
  const [a, c] = [fake('a'), fake('c')];
  const answers = Promise.all([b.predict(c, ['1']), b.predict(a, ['2', '3']), b.predict(c, ['4'])]);
  const started = Date.now();
  await b.drain();
  expect(Date.now() - started).toBeLessThan(5000); // not the 10 s max wait
  expect(passes).toEqual([['a:2+3', 'c:1+4']]);
  expect((await answers).map((r) => r.map((p) => p.label))).toEqual([['c/1'], ['a/2', 'a/3'], ['c/4']]);
  await expect(b.predict(a, ['5'])).rejects.toThrow(/shutting down/);
});

test('a pass holds at most maxBatch texts of one placement; the rest wait for the next, in order', async () => {
  const { engine, passes } = recordingEngine();
  const b = new Batcher(engine, { ...options, queueLimit: 10 });
  const other = fake('o', 'after|y');
  const all = Promise.all([b.predict(fake('a'), ['1', '2', '3']), b.predict(other, ['4']), b.predict(fake('c'), ['5', '6']), b.predict(fake('d'), ['7'])]);
  await b.drain();
  await all;
  expect(passes).toEqual([['a:1+2+3', 'd:7'], ['o:4'], ['c:5+6']]);
});

test('a full queue refuses at once (503); a request queued past its deadline gets 504 and drain still settles; naive mode runs one request per pass', async () => {
  const { engine, passes } = recordingEngine();
  const b = new Batcher(engine, { ...options, queueLimit: 1, timeoutMs: 20 });
  const first = b.predict(fake('a'), ['1']);
  await expect(b.predict(fake('a'), ['2'])).rejects.toMatchObject({ status: 503, reason: 'overloaded' });
  await expect(first).rejects.toMatchObject({ status: 504, reason: 'timeout' });
  await b.drain();
  expect(passes).toEqual([]);
  const naive = recordingEngine();
  const n = new Batcher(naive.engine, { ...options, batching: false });
  await Promise.all([n.predict(fake('a'), ['1']), n.predict(fake('a'), ['2']), n.predictMulti([fake('a'), fake('c')], ['3'], 0)]);
  expect(naive.passes).toEqual([['a:1'], ['a:2'], ['multi a,c:3']]);
});
