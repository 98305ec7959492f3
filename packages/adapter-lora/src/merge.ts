// Merging LoRA / (IA)³ into the base weights for inference with no extra work, and unmerging back.
// Our kernels are [in, out]:  add: W' = W + s·A·B (AdapterHub's W + s·(B·A) in [out, in]);
//                             scale: W' = W ⊙ (α·l) column-wise and b' = b ⊙ (α·l), since y = (x·W + b) ⊙ α·l.
// (AdapterHub 1.3 scales only the weight when merging (IA)³; scaling the bias too keeps merged outputs equal.)
// Unmerging subtracts (divides by) the same float32 tensor, so W comes back to within two roundings:
// |W'' − W| ≤ 2⁻²³·(|W| + |s·A·B|) per element (add), |W'' − W| ≤ 2⁻²³·|W| (scale).
import * as tf from '@tensorflow/tfjs';
import type { AdapterCatalog, GraphNode, Site, SpliceRecord, WeightStore } from '@adapters/core-graph';
import { Graph, PlacementError } from '@adapters/core-graph';
import type { CompositionMode, LoraConfig } from './config';
import { loraScaling } from './config';

/** One adapter merged into one dense layer. */
export interface MergedLayer {
  readonly site: string;
  readonly adapter: string;
  readonly mode: CompositionMode;
  readonly kernel: string;
  readonly bias?: string;
  /** add: lora_A / lora_B weight keys; scale: the (IA)³ vector's key. */
  readonly params: readonly string[];
  readonly scaling: number;
}

export interface MergeResult {
  /** The model without the merged splices: the base model's nodes, reading the merged weights. */
  readonly graph: Graph;
  /** The adapted graph, which `unmergeLora` returns once the weights are restored. */
  readonly original: Graph;
  readonly merged: readonly MergedLayer[];
}

const unmerged = new WeakSet<MergeResult>();

function loraEntries(graph: Graph): Map<string, LoraConfig> {
  const catalog = (graph.meta['adapters'] as AdapterCatalog | undefined) ?? {};
  return new Map(Object.entries(catalog).filter(([, e]) => e.plugin === 'lora').map(([n, e]) => [n, e.config as unknown as LoraConfig]));
}

/** The dense node under a chain of switches (the layer the splices adapt). */
function denseUnder(graph: Graph, switchNode: string): GraphNode {
  let n = graph.node(switchNode);
  while (n.op === 'switch') n = graph.node(n.inputs[1] as string);
  if (n.op !== 'dense' || n.params['weight'] === undefined) throw new PlacementError(`splice '${switchNode}' does not adapt a dense layer`);
  return n;
}

/** Checks every rule that makes a merge exact and undoable, and lists what to merge. */
function plan(graph: Graph, names: readonly string[]): MergedLayer[] {
  const loras = loraEntries(graph);
  for (const n of names) {
    if (!loras.has(n)) throw new PlacementError(`cannot merge '${n}': the graph has no lora adapter of that name (lora adapters: ${[...loras.keys()].join(', ') || 'none'})`);
    if (loras.get(n)?.use_gating) throw new PlacementError(`cannot merge '${n}': a gated LoRA (use_gating) depends on the input, so it has no weight to merge into`);
  }
  const wanted = new Set(names);
  const mine = graph.splices.filter((s) => s.adapters.some((a) => wanted.has(a)));
  if (mine.length === 0) throw new PlacementError(`cannot merge ${names.join(', ')}: no splice in the graph (already merged?)`);
  const out: MergedLayer[] = [];
  for (const s of mine) {
    if (s.adapters.length !== 1) throw new PlacementError(`cannot merge at '${s.site}': the splice composes ${s.composition}; only a single LoRA per splice merges into the weights`);
    const name = s.adapters[0] as string;
    const c = loras.get(name) as LoraConfig;
    const atSite = graph.splices.filter((o) => o.site === s.site);
    for (const o of atSite) {
      const other = o.adapters.length === 1 ? loras.get(o.adapters[0] as string) : undefined;
      if (!other) throw new PlacementError(`cannot merge '${name}' at '${s.site}': the layer also has ${o.composition}, which is not a single LoRA`);
      // add and scale do not commute: with both on one layer the merged weights would depend on the order.
      if (other.composition_mode !== c.composition_mode) throw new PlacementError(`cannot merge '${name}' at '${s.site}': the layer has LoRAs in different compositions (${c.composition_mode}, ${other.composition_mode}), whose merge is ambiguous`);
    }
    const dense = denseUnder(graph, s.switchNode);
    const scope = `${s.site}.adapters.${name}`;
    const params = c.composition_mode === 'add'
      ? [graph.node(`${scope}.lora_A`).params['weight'] as string, graph.node(`${scope}.lora_B`).params['weight'] as string]
      : [graph.node(`${scope}.lora_B`).params['scale'] as string];
    const bias = dense.params['bias'];
    out.push({ site: s.site, adapter: name, mode: c.composition_mode, kernel: dense.params['weight'] as string, ...(bias === undefined ? {} : { bias }), params, scaling: loraScaling(c) });
  }
  return out;
}

/** add: s·A·B [in, out]; scale: α·l [1, out]. The same float32 tensor for merge and unmerge. */
function delta(store: WeightStore, m: MergedLayer): tf.Tensor {
  return tf.tidy(() => {
    if (m.mode === 'add') return tf.mul(tf.matMul(store.get(m.params[0] as string), store.get(m.params[1] as string)), tf.scalar(m.scaling));
    return tf.mul(store.get(m.params[0] as string), tf.scalar(m.scaling));
  });
}

function update(store: WeightStore, key: string, f: (w: tf.Tensor) => tf.Tensor): void {
  const next = tf.tidy(() => f(store.get(key)));
  store.assign(key, next);
  next.dispose();
}

/** The graph with the given splices bypassed for good and the nodes only they used dropped (parameters stay). */
function withoutSplices(graph: Graph, removed: ReadonlySet<string>, meta: Record<string, unknown>): Graph {
  const bypass = new Map([...removed].map((id) => [id, graph.node(id).inputs[1] as string]));
  const resolve = (id: string): string => {
    let cur = id;
    while (bypass.has(cur)) cur = bypass.get(cur) as string;
    return cur;
  };
  const rewired = graph.nodes.filter((n) => !bypass.has(n.id)).map((n) => (n.inputs.some((i) => bypass.has(i)) ? { ...n, inputs: n.inputs.map(resolve) } : n));
  const outputs = Object.fromEntries(Object.entries(graph.outputs).map(([k, id]) => [k, resolve(id)]));
  const byId = new Map(rewired.map((n) => [n.id, n]));
  const live = new Set<string>();
  const stack = [...Object.values(outputs), ...graph.inputs.map((i) => i.node)];
  const sites = new Map<string, Site>([...graph.sites].map(([k, s]) => [k, { ...s, entry: resolve(s.entry), exit: resolve(s.exit) }]));
  for (const s of sites.values()) stack.push(...[s.entry, s.exit, s.residual?.add, s.residual?.norm].filter((x): x is string => x !== undefined));
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...(byId.get(id)?.inputs ?? []));
  }
  const splices: SpliceRecord[] = graph.splices.filter((s) => !removed.has(s.switchNode));
  return new Graph({ nodes: rewired.filter((n) => live.has(n.id)), params: graph.params, sites, inputs: graph.inputs, outputs, splices, meta, ...(graph.runtime ? { runtime: graph.runtime } : {}) });
}

/**
 * Merges LoRA / (IA)³ adapters (default: every lora adapter in the graph) into the dense weights in `store` and
 * returns the model without their splices. Refused, with the store unchanged: gated adapters, splices that compose
 * several adapters (Stack, Parallel, BatchSplit, ...), layers carrying other adapters or LoRAs in both compositions,
 * and (IA)³ vectors with a zero or non-finite entry (the merge could not be undone). Training the merged model
 * would train the merged weights; unmerge first.
 */
export function mergeLora(graph: Graph, store: WeightStore, adapters?: readonly string[]): MergeResult {
  const names = adapters ?? [...loraEntries(graph).keys()].filter((n) => graph.splices.some((s) => s.adapters.includes(n)));
  if (names.length === 0) throw new PlacementError('cannot merge: the graph has no lora adapter');
  const merged = plan(graph, names);
  const deltas = merged.map((m) => delta(store, m));
  try {
    merged.forEach((m, i) => {
      if (m.mode !== 'scale') return;
      const values = (deltas[i] as tf.Tensor).dataSync();
      const bad = values.findIndex((v) => v === 0 || !Number.isFinite(v));
      if (bad >= 0) throw new PlacementError(`cannot merge '${m.adapter}' at '${m.site}': its scale has ${values[bad]} at ${bad}, so the merge could not be undone`);
    });
    merged.forEach((m, i) => {
      const d = deltas[i] as tf.Tensor;
      if (m.mode === 'add') update(store, m.kernel, (w) => tf.add(w, d));
      else {
        update(store, m.kernel, (w) => tf.mul(w, d));
        if (m.bias !== undefined) update(store, m.bias, (b) => tf.mul(b, tf.reshape(d, [-1])));
      }
    });
  } finally {
    for (const d of deltas) d.dispose();
  }
  const removed = new Set(graph.splices.filter((s) => merged.some((m) => m.site === s.site && s.adapters[0] === m.adapter)).map((s) => s.switchNode));
  const meta = { ...graph.meta, loraMerged: [...new Set(merged.map((m) => m.adapter))] };
  return { graph: withoutSplices(graph, removed, meta), original: graph, merged };
}

/** Undoes `mergeLora` on `store` (in reverse order) and returns the adapted graph. A result unmerges once. */
export function unmergeLora(result: MergeResult, store: WeightStore): Graph {
  if (unmerged.has(result)) throw new PlacementError(`these adapters (${[...new Set(result.merged.map((m) => m.adapter))].join(', ')}) are already unmerged`);
  for (const m of [...result.merged].reverse()) {
    const d = delta(store, m);
    try {
      if (m.mode === 'add') update(store, m.kernel, (w) => tf.sub(w, d));
      else {
        update(store, m.kernel, (w) => tf.div(w, d));
        if (m.bias !== undefined) update(store, m.bias, (b) => tf.div(b, tf.reshape(d, [-1])));
      }
    } finally {
      d.dispose();
    }
  }
  unmerged.add(result);
  return result.original;
}
