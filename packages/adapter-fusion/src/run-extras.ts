// A fusion run's part of core's run manifest: run.json lists the fused adapters and the target head like any run, and
// `extras.fusion` names the fusion; loading it is this handler (the fusion's files lie in the run directory).
import type { RunExtraHandler } from '@adapters/core-graph';
import { loadFusion } from './hub';

/** Core's `loadRun` extras handlers of this package: `fusion` loads the saved fusion over the run's adapters. */
export const runExtras: Readonly<Record<string, RunExtraHandler>> = {
  fusion: async (ctx) => (await loadFusion(ctx.dir, ctx.headed, ctx.store, ctx.registry, { graphs: ctx.adapterGraphs })).graph,
};
