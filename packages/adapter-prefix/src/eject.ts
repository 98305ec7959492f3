// Eject (AdapterHub's PrefixTuningGroup.eject): evaluates the reparameterisation MLP once and replaces it by a flat
// prefix holding its output, so inference skips the MLP. The adapter's config becomes flat = true.
import * as tf from '@tensorflow/tfjs';
import type { AdapterCatalog, Graph, GraphNode, ParamSpec, WeightStore } from '@adapters/core-graph';
import { Executor, Graph as GraphClass, PlacementError } from '@adapters/core-graph';
import type { PrefixTuningConfig } from './config';
import { PREFIX_TABLE_OP } from './ops';
import { poolOutput, poolScope } from './plugin';

/** Returns the graph with `name`'s pool flat; the store gets the flat table and loses the MLP's weights. */
export function ejectPrefix(graph: Graph, store: WeightStore, name: string): Graph {
  const catalog = (graph.meta['adapters'] ?? {}) as AdapterCatalog;
  const entry = Object.hasOwn(catalog, name) ? catalog[name] : undefined;
  if (!entry || entry.plugin !== 'prefix_tuning') throw new PlacementError(`ejectPrefix: the graph has no prefix_tuning adapter '${name}'`);
  const config = entry.config as unknown as PrefixTuningConfig;
  if (config.flat) throw new PlacementError(`ejectPrefix: adapter '${name}' is already flat`);
  const mlpOut = poolOutput(name, config);
  const scope = poolScope(name);
  const mlpNodes = new Set([`${scope}.wte`, `${scope}.control_trans.0`, `${scope}.control_trans.1`, mlpOut]);
  const flatId = `${scope}.control_trans`;
  const flatKey = `${flatId}.weight`;
  const outNode = graph.node(mlpOut);
  // The pool reads no input; a one-token batch satisfies the executor's feeds.
  const kv = tf.tidy(() => new Executor(graph, store).forward({ input_ids: [[0]] }, { outputs: [], nodes: [mlpOut] })[mlpOut] as tf.Tensor);
  const mlpKeys = graph.nodes.filter((n) => mlpNodes.has(n.id)).flatMap((n) => Object.values(n.params));
  const template = graph.param(mlpKeys[0] as string);
  // 1-D as AdapterHub's ejected FlatPrefixTuning.control_trans; the node reads it as prefix_length rows.
  const flatSpec: ParamSpec = { ...template, key: flatKey, shape: [kv.size], init: { kind: 'normal', std: 1 }, kind: 'embedding' };
  const nodes: GraphNode[] = [];
  for (const n of graph.nodes) {
    if (n.id === `${scope}.wte`) nodes.push({ id: flatId, op: PREFIX_TABLE_OP, inputs: [], attrs: { rows: config.prefix_length }, params: { weight: flatKey }, type: outNode.type });
    else if (!mlpNodes.has(n.id)) nodes.push(n.inputs.includes(mlpOut) ? { ...n, inputs: n.inputs.map((i) => (i === mlpOut ? flatId : i)) } : n);
  }
  const params = new Map([...graph.params].filter(([k]) => !mlpKeys.includes(k)));
  params.set(flatKey, flatSpec);
  const meta = { ...graph.meta, adapters: { ...catalog, [name]: { ...entry, config: { ...entry.config, flat: true } } } };
  const ejected = new GraphClass({ nodes, params, sites: graph.sites, inputs: graph.inputs, outputs: graph.outputs, splices: graph.splices, meta, ...(graph.runtime ? { runtime: graph.runtime } : {}) });
  store.sync(ejected, 0, (spec) => (spec.key === flatKey ? (kv.dataSync() as Float32Array) : undefined));
  kv.dispose();
  store.remove(mlpKeys);
  return ejected;
}
