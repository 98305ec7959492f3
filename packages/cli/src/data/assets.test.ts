// The demo's shipped sentiment data: sizes, labels and no dev sentence in train.
import { LabelVocab, readExamples } from '@adapters/core-graph';
import { demoSentimentFiles } from './assets';

describe('vendored demo sentiment data', () => {
  it('reads as balanced positive/negative TSVs with disjoint train and dev', async () => {
    const { train, dev } = demoSentimentFiles();
    const opts = { text: 'sentence', label: 'label' };
    const [tr, dv] = await Promise.all([readExamples(train, opts), readExamples(dev, opts)]);
    expect([tr.length, dv.length]).toEqual([8148, 1000]);
    const vocab = LabelVocab.fromExamples(tr);
    expect(vocab.labels).toEqual(['negative', 'positive']);
    expect(dv.filter((e) => e.label === 'positive')).toHaveLength(500);
    const seen = new Set(tr.map((e) => e.text));
    expect(dv.filter((e) => seen.has(e.text))).toEqual([]);
  });
});
