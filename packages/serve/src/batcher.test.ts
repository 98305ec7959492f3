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
    runMultiSets: (adapters: readonly LoadedAdapter[], sets: ReadonlyArray<readonly string[]>, shared: number) => {
      passes.push([`multi${shared ? `/${shared}` : ''} ${adapters.map((a) => a.name).join(',')}:${sets.map((t) => t.join('+')).join('|')}`]);
      return sets.map((texts) => adapters.map((a) => texts.map((t) => pred(`${a.name}/${t}`))));
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

test('predict-multi requests for the same adapters and sharedLayers share a Parallel pass, each gets its texts back; others wait', async () => {
  const { engine, passes } = recordingEngine();
  const b = new Batcher(engine, { ...options, queueLimit: 10 });
  const [a, c, d] = [fake('a'), fake('c'), fake('d')];
  const all = Promise.all([
    b.predictMulti([a, c], ['1'], 0), b.predict(a, ['2']), b.predictMulti([a, c], ['3', '4'], 0), b.predictMulti([a, c], ['5'], 1),
    b.predictMulti([c, a], ['6'], 0), b.predictMulti([a, d], ['7'], 0), b.predictMulti([a, c], ['8', '9'], 0),
  ]);
  await b.drain();
  const out = await all;
  // [a,c] ×0 takes 1, 3+4 (3 texts; 8+9 would exceed maxBatch 4); the rest keep their order.
  expect(passes).toEqual([['multi a,c:1|3+4'], ['a:2'], ['multi/1 a,c:5'], ['multi c,a:6'], ['multi a,d:7'], ['multi a,c:8+9']]);
  expect(out[2]).toEqual([[pred('a/3'), pred('a/4')], [pred('c/3'), pred('c/4')]]);
  expect(out[0]).toEqual([[pred('a/1')], [pred('c/1')]]);
});
