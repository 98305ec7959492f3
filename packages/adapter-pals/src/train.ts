// Multi-task PALs training (Stickland & Murray 2019) on core-graph's `trainMultiTask`: one shared frozen body, one
// PALs adapter and one classification head per task, tasks drawn per step by the paper's annealed sampling
// (p_i ∝ N_i^α, α = 1 − 0.8·(e − 1)/(E − 1) in epoch e of E). A step trains only the drawn task's PALs and head.
import type { AdapterRegistry, Graph, HeadSpec, MultiTaskRecord, MultiTaskTrainOptions, MultiTaskTrainResult, TrainExample } from '@adapters/core-graph';
import { adapter, addHead, applyPlacements, ConfigError, createRegistry, ownersPolicy, trainMultiTask } from '@adapters/core-graph';
import { pals } from './plugin';

/** One task: PALs adapter `NAME`, head `NAME` (logits `NAME.logits`), and its data. */
export interface PalsTask {
  readonly name: string;
  readonly numLabels: number;
  readonly train: readonly TrainExample[];
  readonly eval?: readonly TrainExample[];
  /** Default: classification with the model's default pooling. */
  readonly head?: HeadSpec;
}

export interface PalsTrainOptions extends Omit<MultiTaskTrainOptions, 'tasks' | 'policy' | 'onRecord'> {
  readonly base: Graph;
  readonly tasks: readonly PalsTask[];
  /** PALs config input for every task (e.g. `{ d_s: 96 }`); default the plugin's defaults. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Default: a registry of `pals` alone. */
  readonly registry?: AdapterRegistry;
  readonly onRecord?: (record: MultiTaskRecord) => void;
}

export interface PalsTrainResult extends MultiTaskTrainResult {
  /** One graph per task (base + the task's PALs + head), all over the shared store. */
  readonly graphs: Readonly<Record<string, Graph>>;
}

export const palsHeadOf = (task: Pick<PalsTask, 'name' | 'numLabels' | 'head'>): HeadSpec => task.head ?? { type: 'classification', name: task.name, numLabels: task.numLabels };

/** `base` + the task's head + its PALs (the plugin's default placement: every layer but leave_out). */
export function palsTaskGraph(base: Graph, task: Pick<PalsTask, 'name' | 'numLabels' | 'head'>, config: Readonly<Record<string, unknown>> = {}, registry: AdapterRegistry = createRegistry([pals])): Graph {
  return applyPlacements(addHead(base, palsHeadOf(task)), [{ adapter: adapter(pals, task.name, config) }], registry).graph;
}

/**
 * Trains every task's PALs and head jointly (base frozen) with `sampling` (default `annealed`) over `epochs`
 * (default 1; the annealing needs E ≥ 2 to move away from proportional). Same seed → same weights.
 */
export function trainPals(o: PalsTrainOptions): PalsTrainResult {
  if (o.tasks.length === 0) throw new ConfigError('tasks', 'no tasks');
  const seed = o.seed ?? 0;
  const graphs: Record<string, Graph> = {};
  const owners: string[] = [];
  for (const task of o.tasks) {
    if (graphs[task.name]) throw new ConfigError('tasks', `task '${task.name}' is listed twice`);
    const graph = palsTaskGraph(o.base, task, o.config, o.registry);
    o.store.sync(graph, seed);
    graphs[task.name] = graph;
    owners.push(`adapter:${task.name}`, `head:${palsHeadOf(task).name}`);
  }
  const { base: _base, registry: _registry, config: _config, tasks, sampling, ...settings } = o;
  const result = trainMultiTask({
    ...settings,
    tasks: tasks.map((t) => ({ name: t.name, graph: graphs[t.name] as Graph, output: `${palsHeadOf(t).name}.logits`, train: t.train, ...(t.eval ? { eval: t.eval } : {}) })),
    policy: ownersPolicy(owners),
    sampling: sampling ?? 'annealed',
  });
  return { ...result, graphs };
}
