// Generation throughput of a Marian-sized encoder-decoder (opus-mt: d 512, 6 + 6 layers, 8 heads, FFN 2048, vocab
// 58,101; random weights): greedy and beam 4, with the key/value cache, without adapters, with a seq_bn adapter in
// encoder, decoder and cross-attention, and with the NMT recipes' adapters (Bapna & Firat per pair after every layer;
// Philip et al.'s source-language adapter in the encoder + target-language adapter in the decoder). Each row's
// `vsBase` is its tokens/s over the base's in the same run. `npm run generation -w @adapters/bench [-- --reps N]`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import { buildSeq2Seq, generate, parsePair, recipeGraph } from '@adapters/adapter-nmt';
import { adapter, applyPlacements, createRegistry, describeBackend, Executor, selectBackend, WeightStore } from '@adapters/core-graph';

const MARIAN = { family: 'marian', vocabSize: 58101, dModel: 512, encoderLayers: 6, decoderLayers: 6, encoderHeads: 8, decoderHeads: 8, encoderFfn: 2048, decoderFfn: 2048, maxPositions: 512, padTokenId: 58100, eosTokenId: 0, decoderStartTokenId: 58100 } as const;

async function main(): Promise<void> {
  await selectBackend();
  const reps = Number(process.argv[process.argv.indexOf('--reps') + 1] ?? 3) || 3;
  const base = buildSeq2Seq(MARIAN);
  const [bottleneck] = bottleneckPlugins;
  const adapted = applyPlacements(base, [{ adapter: adapter(bottleneck as never, 'a', { config: 'seq_bn', cross_adapter: true }) }], createRegistry(bottleneckPlugins)).graph;
  const pair = recipeGraph(base, 'pair', parsePair('en-de'), 16);
  const language = recipeGraph(base, 'language', parsePair('fr-de'), 16);
  const store = WeightStore.create(adapted, 1);
  store.sync(pair, 1);
  store.sync(language, 1);
  const batch = 4;
  const srcLen = 24;
  const src = Array.from({ length: batch }, (_v, i) => Array.from({ length: srcLen }, (_w, j) => (j === srcLen - 1 ? 0 : 1 + ((i * 131 + j * 17) % 58000))));
  const mask = src.map((r) => r.map(() => 1));
  // The EOS token never ends a hypothesis early (it is not the pad's 0 here): every run decodes maxLength − 1 steps.
  const opts = { maxLength: 33, eosTokenId: 58099 };
  const rows: Record<string, unknown>[] = [];
  for (const numBeams of [1, 4]) {
    let baseRate = 0;
    const variants = [['base', base], ['seq_bn (enc, dec, cross)', adapted], ['pair: bapna_firat after every layer', pair], ['language: src_fr (enc) + tgt_de (dec)', language]] as const;
    for (const [label, graph] of variants) {
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
      const rate = (1000 * tokens) / ms;
      if (graph === base) baseRate = rate;
      const row = { search: numBeams === 1 ? 'greedy' : `beam ${numBeams}`, model: label, batch, tokens, ms: Math.round(ms), tokensPerSecond: +rate.toFixed(1), vsBase: +(rate / baseRate).toFixed(3) };
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
