// The downstream model kadapter-train trains and kadapter-eval rebuilds: the base, optionally an in-layer adapter
// (e.g. seq_bn) inside its layers, optionally K-Adapters tapping those layers and their combination, and a task head
// (CLS / mean / entity-start pooling). Which of its parameters train, and at which rate, is `downstreamPolicy`.
import type { AnyAdapterPlugin, Graph, ParamSpec, TrainPolicy, WeightStore } from '@adapters/core-graph';
import { adapter, applyPlacements, createRegistry, isStateParam } from '@adapters/core-graph';
import type { CombineMode } from './combine';
import type { KnowledgeHeadSpec } from './heads';
import { addKnowledgeHead } from './heads';
import { kadapter } from './plugin';
import { attachKnowledgeAdapters } from './recipes';

export interface InLayerAdapter {
  readonly plugin: AnyAdapterPlugin;
  readonly name: string;
  /** The plugin's config input. */
  readonly config: Readonly<Record<string, unknown>>;
}

export interface TaskGraphOptions {
  readonly graph: Graph;
  readonly store: WeightStore;
  /** Folders written by kadapter-pretrain (none: the head reads the model's last hidden state). */
  readonly kadapters: readonly string[];
  readonly mode: CombineMode;
  readonly head: KnowledgeHeadSpec;
  /** An adapter placed at its plugin's default sites before the K-Adapters tap the layers. */
  readonly inLayer?: InLayerAdapter;
  readonly combineName?: string;
  readonly seed?: number;
}

export interface TaskGraph {
  readonly graph: Graph;
  /** K-Adapter names as loaded. */
  readonly kadapters: readonly string[];
  readonly output: string;
  /** Owners of the task's own parameters: head, combination (with K-Adapters), in-layer adapter. */
  readonly taskOwners: readonly string[];
}

export async function buildTaskGraph(o: TaskGraphOptions): Promise<TaskGraph> {
  let graph = o.graph;
  const taskOwners = [`head:${o.head.name}`];
  if (o.inLayer) {
    graph = applyPlacements(graph, [{ adapter: adapter(o.inLayer.plugin, o.inLayer.name, o.inLayer.config) }], createRegistry([o.inLayer.plugin, kadapter])).graph;
    taskOwners.push(`adapter:${o.inLayer.name}`);
  }
  if (o.kadapters.length === 0) {
    graph = addKnowledgeHead(graph, { ...o.head, input: o.head.input ?? 'last_hidden_state' } as KnowledgeHeadSpec);
    o.store.sync(graph, o.seed ?? 0);
    return { graph, kadapters: [], output: `${o.head.name}.logits`, taskOwners };
  }
  const combineName = o.combineName ?? 'kadapter';
  const attached = await attachKnowledgeAdapters({ graph, store: o.store, adapters: o.kadapters, mode: o.mode, head: o.head, combineName, ...(o.seed === undefined ? {} : { seed: o.seed }) });
  taskOwners.push(`combine:${combineName}`);
  return { graph: attached.graph, kadapters: attached.adapters, output: attached.output, taskOwners };
}

export interface DownstreamPolicyOptions {
  /** Keep the K-Adapters as pre-trained. */
  readonly freezeKAdapters?: boolean;
  /** Fine-tune the base model too (K-Adapter's downstream setting in the paper). */
  readonly finetuneBase?: boolean;
  /** Learning rates: adapters (`lr`), head and combination (`headLr`, default lr), base (`baseLr`, default lr). */
  readonly lr: number;
  readonly headLr?: number;
  readonly baseLr?: number;
}

/**
 * What trains (K-Adapters unless frozen, the in-layer adapter, combination and head; the base only with
 * `finetuneBase`) and each parameter's multiplier of `lr` for `train({ learningRate: lr, lrScale })`.
 */
export function downstreamPolicy(task: TaskGraph, o: DownstreamPolicyOptions): { policy: TrainPolicy; lrScale: (p: ParamSpec) => number } {
  const owners = new Set(task.taskOwners);
  const kadapterOwners = new Set(task.kadapters.map((n) => `adapter:${n}`));
  const headOwners = new Set(task.taskOwners.filter((w) => w.startsWith('head:') || w.startsWith('combine:')));
  const policy: TrainPolicy = (p) => {
    if (isStateParam(p)) return false;
    if (p.owner === 'base') return o.finetuneBase === true;
    if (kadapterOwners.has(p.owner)) return o.freezeKAdapters !== true;
    return owners.has(p.owner);
  };
  const lrScale = (p: ParamSpec): number => {
    if (o.lr === 0) return 0;
    if (p.owner === 'base') return (o.baseLr ?? o.lr) / o.lr;
    if (headOwners.has(p.owner)) return (o.headLr ?? o.lr) / o.lr;
    return 1;
  };
  return { policy, lrScale };
}
