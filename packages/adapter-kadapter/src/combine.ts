// Combining several knowledge adapters (e.g. factual + linguistic) into one task representation,
// as the K-Adapter downstream models do:
//   concat: f_k = W_k[h_last ; o_k] + b_k (2d → d, per adapter), combined = W[f_1 ; … ; f_n] + b (n·d → d; n = 1: f_1)
//   sum:    combined = h_last + Σ_k o_k
//   output: combined = Σ_k out_k, each adapter's own pre-trained projection W_k[h_last ; o_k] + b_k (`${k}.output`,
//           what its pre-training head read): no fresh parameters between the pre-trained features and the task head
// where o_k is adapter k's chain output (`${k}.chain`). The combination's parameters belong to the task
// (owner `combine:NAME`), like the paper's task_dense layers.
import type { Graph, Init } from '@adapters/core-graph';
import { ConfigError, GraphBuilder } from '@adapters/core-graph';

export type CombineMode = 'concat' | 'sum' | 'output';

export interface CombineOptions {
  readonly mode?: CombineMode;
  /** Output `${name}.combined`; nodes under `combine.${name}`; default `kadapter`. */
  readonly name?: string;
  /** Std of the N(0, σ²) init of the concat projections (default 0.02). */
  readonly initRange?: number;
}

export interface CombinedInfo {
  readonly name: string;
  readonly mode: CombineMode;
  readonly adapters: readonly string[];
  readonly output: string;
}

declare module '@adapters/core-graph' {
  interface GraphMetaRegister {
    /** The knowledge-adapter combinations added with combineKnowledgeAdapters, in order. */
    readonly kadapterCombined?: readonly CombinedInfo[];
  }
}

export const combinedOutputName = (name = 'kadapter'): string => `${name}.combined`;

/** The chain output of knowledge adapter `name` (a ConfigError when the graph has none). */
export function chainOutputOf(graph: Graph, name: string, path = 'names'): string {
  const id = graph.outputs[`${name}.chain`];
  if (id === undefined) {
    const known = Object.keys(graph.outputs).filter((o) => o.endsWith('.chain')).map((o) => o.slice(0, -'.chain'.length));
    throw new ConfigError(path, `'${name}' is not a knowledge adapter of this graph (knowledge adapters: ${known.join(', ') || 'none'})`);
  }
  return id;
}

/**
 * Adds a node combining the knowledge adapters `names` with the model's last hidden state and publishes
 * it as output `${name}.combined` ([batch, seq, hidden]). Returns a new graph; the input is not changed.
 */
export function combineKnowledgeAdapters(graph: Graph, names: readonly string[], options: CombineOptions = {}): Graph {
  const mode = options.mode ?? 'concat';
  const name = options.name ?? 'kadapter';
  if (mode !== 'concat' && mode !== 'sum' && mode !== 'output') throw new ConfigError('mode', `must be 'concat', 'sum' or 'output', got ${JSON.stringify(mode)}`);
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new ConfigError('name', `'${name}' may use only letters, digits, _ and -`);
  if (names.length === 0) throw new ConfigError('names', 'needs at least one knowledge adapter');
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ConfigError('names', `'${dup}' is listed twice`);
  const output = combinedOutputName(name);
  if (output in graph.outputs) throw new ConfigError('name', `the graph already has an output '${output}'`);
  const chains = names.map((n, i) => chainOutputOf(graph, n, `names[${i}]`));
  const last = graph.outputs['last_hidden_state'];
  if (last === undefined) throw new ConfigError('graph.outputs', `no 'last_hidden_state' output to combine with`);
  const b = GraphBuilder.from(graph);
  const s = b.scope(`combine.${name}`, `combine:${name}`);
  const width = s.width(last);
  let combined: string;
  if (mode === 'sum') {
    combined = s.op('sum', 'sum', [last, ...chains]);
  } else if (mode === 'output') {
    const outs = names.map((n, i) => {
      const id = graph.outputs[`${n}.output`];
      if (id === undefined) throw new ConfigError(`names[${i}]`, `knowledge adapter '${n}' publishes no '${n}.output'`);
      return id;
    });
    combined = outs.length === 1 ? (outs[0] as string) : s.op('sum', 'sum', outs);
  } else {
    const init: Init = { kind: 'normal', std: options.initRange ?? 0.02 };
    const features = names.map((n, i) => s.dense(`task_dense_${n}`, s.op('concat', `concat_${n}`, [last, chains[i] as string], { attrs: { axis: -1 } }), width, { init }));
    combined = features.length === 1 ? (features[0] as string) : s.dense('task_dense', s.op('concat', 'concat', features, { attrs: { axis: -1 } }), width, { init });
  }
  b.output(output, combined);
  const info: CombinedInfo = { name, mode, adapters: [...names], output };
  const existing = graph.meta.kadapterCombined ?? [];
  b.setMeta('kadapterCombined', [...existing, info]);
  return b.build();
}
