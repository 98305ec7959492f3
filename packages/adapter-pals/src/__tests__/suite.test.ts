// The adapter-tester conformance suite on `pals`, nothing skipped: identity at init (V^D = 0), only the adapter's
// tensors train, save → load exact (our key names), parameter count with the shared V^E / V^D counted once,
// config validation and shapes at every layer's ffn site (mode parallel).
import { runAdapterSuite } from '@adapters/adapter-tester';
import { pals } from '../plugin';

runAdapterSuite({
  plugin: pals,
  modes: ['parallel'],
  select: { parallel: [{ kinds: ['ffn'] }, { kinds: ['ffn'], layers: [0] }, { kinds: ['ffn'], layers: [-1] }] },
  numRuns: 3,
  seed: 7,
  cases: [
    { name: 'defaults (d_s scaled from the width, 12 heads, V^D = 0)', config: {} },
    { name: 'd_s 8, 2 heads, no dropout', config: { d_s: 8, heads: 2, attention_dropout: 0 } },
    { name: 'bert init (not an identity)', config: { d_s: 6, heads: 3, init_weights: 'bert' } },
  ],
  invalidConfigs: [
    { name: 'd_s not divisible by heads', config: { d_s: 10, heads: 4 }, path: 'd_s' },
    { name: 'heads 0', config: { heads: 0 }, path: 'heads' },
    { name: 'dropout 1', config: { attention_dropout: 1 }, path: 'attention_dropout' },
    { name: 'unknown init', config: { init_weights: 'lora' }, path: 'init_weights' },
    { name: 'leave_out twice', config: { leave_out: [0, 0] }, path: 'leave_out' },
  ],
  skip: [],
});
