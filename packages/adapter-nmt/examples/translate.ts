// A tiny random Marian-style model: beam search with the key/value cache, scored with sacreBLEU-compatible BLEU and
// chrF (run by pack-check). With a real model, `loadSeq2Seq(dir)` reads a Hugging Face folder instead.
import { strict as assert } from 'node:assert';
import { Executor, selectBackend, WeightStore } from '@adapters/core-graph';
import { buildSeq2Seq, corpusBleu, corpusChrf, generate } from '@adapters/adapter-nmt';

async function main(): Promise<void> {
  await selectBackend();
  // #region translate
  const graph = buildSeq2Seq({ family: 'marian', vocabSize: 64, dModel: 16, encoderLayers: 2, decoderLayers: 2, padTokenId: 63, eosTokenId: 0, decoderStartTokenId: 63 });
  const store = WeightStore.create(graph, 7);
  const ids = generate(new Executor(graph, store), [[5, 9, 12, 0], [7, 3, 0, 63]], [[1, 1, 1, 1], [1, 1, 1, 0]], {
    maxLength: 10,
    numBeams: 4,
    lengthPenalty: 1.0,
  });
  const bleu = corpusBleu(['The cat sat on the mat.'], [['The cat sat on a mat.']]);
  const chrf = corpusChrf(['The cat sat on the mat.'], [['The cat sat on a mat.']]);
  // #endregion

  assert.equal(ids.length, 2);
  assert.ok(ids.every((row) => row[0] === 63 && row.length <= 10));
  assert.ok(bleu.score > 0 && bleu.score < 100 && chrf > 0 && chrf < 100);
  store.dispose();
  console.log(`beam search: ${ids.map((r) => r.join(' ')).join(' | ')}; BLEU ${bleu.score.toFixed(2)}, chrF ${chrf.toFixed(2)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
