// The adapter-tester conformance suite on `lora` (LoRA, composition_mode add, splice mode parallel) and on (IA)³
// (scale, splice mode after), nothing skipped: on the attention projections and on the non-square FFN layers
// (paramCount gets each site's in and out widths).
import type { SiteSelector } from '@adapters/core-graph';
import { runAdapterSuite } from '@adapters/adapter-tester';
import { lora } from '../plugin';

const SQUARE: readonly SiteSelector[] = [
  { kinds: ['linear'], names: ['attention.self.query', 'attention.self.value'], suffix: true },
  { kinds: ['linear'], names: ['attention.self.key', 'attention.output.dense'], suffix: true, layers: [0] },
  { kinds: ['linear'], names: ['intermediate.dense', 'output.dense'], suffix: true, layers: [0] },
];

runAdapterSuite({
  plugin: lora,
  modes: ['parallel'],
  select: { parallel: SQUARE },
  numRuns: 3,
  seed: 20,
  cases: [
    { name: 'LoRA defaults (r 8, alpha 8, q and v)', config: {} },
    { name: 'r 2, alpha 16, dropout 0.1', config: { r: 2, alpha: 16, dropout: 0.1 } },
    { name: 'bert init with gating', config: { r: 3, init_weights: 'bert', use_gating: true } },
  ],
  invalidConfigs: [
    { name: 'r 0', config: { r: 0 }, path: 'r' },
    { name: 'scale with r 2', config: { composition_mode: 'scale', r: 2 }, path: 'r', mode: 'after' },
    { name: 'dropout 1', config: { dropout: 1 }, path: 'dropout' },
    { name: 'attn matrix w', config: { attn_matrices: ['q', 'w'] }, path: 'attn_matrices' },
    { name: 'bad regex', config: { target_modules: '(query' }, path: 'target_modules' },
    { name: 'add placed after', config: {}, path: 'composition_mode', mode: 'after' },
  ],
  skip: [],
});

runAdapterSuite({
  plugin: lora,
  modes: ['after'],
  select: { after: SQUARE },
  numRuns: 3,
  seed: 21,
  cases: [
    { name: '(IA)3 defaults (k, v, intermediate)', config: { config: 'ia3' } },
    { name: '(IA)3 alpha 2, bert init, gating', config: { config: 'ia3', alpha: 2, init_weights: 'bert', use_gating: true } },
  ],
  invalidConfigs: [
    { name: 'ia3 with dropout', config: { config: 'ia3', dropout: 0.1 }, path: 'dropout' },
    { name: 'scale placed parallel', config: { config: 'ia3' }, path: 'composition_mode', mode: 'parallel' },
  ],
  skip: [],
});
