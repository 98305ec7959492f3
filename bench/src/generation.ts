// Generation throughput of a Marian-sized encoder-decoder (opus-mt: d 512, 6 + 6 layers, 8 heads, FFN 2048, vocab
// 58,101; random weights): greedy and beam 4, with the key/value cache, without adapters and with a seq_bn adapter in
// encoder, decoder and cross-attention. `npm run generation -w @adapters/bench [-- --reps N]`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import { buildSeq2Seq, generate } from '@adapters/adapter-nmt';
import { adapter, applyPlacements, createRegistry, describeBackend, Executor, selectBackend, WeightStore } from '@adapters/core-graph';

const MARIAN = { family: 'marian', vocabSize: 58101, dModel: 512, encoderLayers: 6, decoderLayers: 6, encoderHeads: 8, decoderHeads: 8, encoderFfn: 2048, decoderFfn: 2048, maxPositions: 512, padTokenId: 58100, eosTokenId: 0, decoderStartTokenId: 58100 } as const;

async function main(): Promise<void> {
  await selectBackend();
  const reps = Number(process.argv[process.argv.indexOf('--reps') + 1] ?? 3) || 3;
  const base = buildSeq2Seq(MARIAN);
  const [bottleneck] = bottleneckPlugins;
  const adapted = applyPlacements(base, [{ adapter: adapter(bottleneck as never, 'a', { config: 'seq_bn', cross_adapter: true }) }], createRegistry(bottleneckPlugins)).graph;
  const store = WeightStore.create(adapted, 1);
  const batch = 4;
  const srcLen = 24;
  const src = Array.from({ length: batch }, (_v, i) => Array.from({ length: srcLen }, (_w, j) => (j === srcLen - 1 ? 0 : 1 + ((i * 131 + j * 17) % 58000))));
  const mask = src.map((r) => r.map(() => 1));
  // The EOS token never ends a hypothesis early (it is not the pad's 0 here): every run decodes maxLength − 1 steps.
  const opts = { maxLength: 33, eosTokenId: 58099 };
  const rows: Record<string, unknown>[] = [];
  for (const numBeams of [1, 4]) {
    for (const [label, graph] of [['base', base], ['seq_bn (enc, dec, cross)', adapted]] as const) {
      const exec = new Executor(graph, store);
      const times: number[] = [];
      let tokens = 0;
      for (let r = 0; r <= reps; r++) {
        const t0 = process.hrtime.bigint();
        const out = generate(exec, src, mask, { ...opts, numBeams });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        tokens = out.reduce((a, row) => a + row.length - 1, 0);
        if (r > 0) times.push(ms); // the first run warms up kernels and caches
      }
      times.sort((a, b) => a - b);
      const ms = times[Math.floor(times.length / 2)] as number;
      const row = { search: numBeams === 1 ? 'greedy' : `beam ${numBeams}`, model: label, batch, tokens, ms: Math.round(ms), tokensPerSecond: +((1000 * tokens) / ms).toFixed(1) };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  store.dispose();
  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(dir, `generation-${stamp}.json`), `${JSON.stringify({ backend: describeBackend(), model: MARIAN, srcLen, maxLength: opts.maxLength, reps, rows }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
