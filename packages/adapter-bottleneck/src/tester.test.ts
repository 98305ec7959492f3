// The shared invariant suite every adapter plugin runs (identity init, what trains, save → load, parameter
// counts, config validation, shapes in every mode).
import { runAdapterSuite } from '@adapters/adapter-tester';
import { bottleneck } from './plugin';

runAdapterSuite({
  plugin: bottleneck,
  cases: [
    // seq_bn reads the span's LayerNorm (original_ln_before), so it only exists in wrap mode.
    { name: 'seq_bn', config: { config: 'seq_bn', reduction_factor: 2 }, modes: ['wrap'] },
    { name: 'double_seq_bn', config: { config: 'double_seq_bn', reduction_factor: 2 }, modes: ['wrap', 'after', 'before'] },
    { name: 'par_bn', config: { config: 'par_bn' }, modes: ['wrap', 'parallel'] },
    { name: 'bapna_firat', config: { config: 'bapna_firat', reduction_factor: 2 }, modes: ['after'] },
    // A zero up-projection makes every mode an exact identity at init.
    // AdapterHub's gate (UniPELT's seq_bn); with a zero up-projection the gated parallel adapter is still an identity.
    { name: 'seq_bn gated', config: { config: 'seq_bn', reduction_factor: 2, use_gating: true }, modes: ['wrap'] },
    { name: 'par_bn gated', config: { config: 'par_bn', use_gating: true }, modes: ['parallel'] },
    { name: 'double_seq_bn (mam init)', config: { config: 'double_seq_bn', reduction_factor: 2, init_weights: 'mam_adapter' }, modes: ['wrap', 'after', 'before'] },
  ],
});
