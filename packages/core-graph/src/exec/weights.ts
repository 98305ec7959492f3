import * as tf from '@tensorflow/tfjs';
import { requireBackend } from '../backend/ensure-backend';
import { GraphError } from '../errors';
import type { Graph } from '../graph/graph';
import type { ParamSpec } from '../graph/types';
import { initialValues } from './init';

/**
 * The model's weights, one tf.Variable per parameter key. Graphs are immutable and weightless;
 * a store holds the values for whichever graph it was synced with.
 */
export class WeightStore {
  private readonly vars = new Map<string, tf.Variable>();

  /** Creates a store holding freshly initialised values for every parameter of `graph`. */
  static create(graph: Graph, seed = 0): WeightStore {
    requireBackend('WeightStore.create');
    const store = new WeightStore();
    store.sync(graph, seed);
    return store;
  }

  /**
   * Adds initial values for parameters the graph has and the store lacks (e.g. after adding an adapter),
   * checking the shapes of those it has. `provided` may supply values (e.g. from a checkpoint) instead of
   * the parameter's init. Returns the keys it created.
   */
  sync(graph: Graph, seed = 0, provided?: (spec: ParamSpec) => Float32Array | tf.Tensor | undefined): string[] {
    const created: string[] = [];
    for (const spec of graph.params.values()) {
      const v = this.vars.get(spec.key);
      if (v) {
        assertShape(spec, v.shape);
        continue;
      }
      const values = provided?.(spec) ?? initialValues(spec, seed);
      // The variable shares the initial tensor's data (ref-counted); dispose our handle or it outlives the store.
      // A provided tensor (e.g. over a mapped file) is taken over the same way.
      if (values instanceof tf.Tensor && values.shape.join() !== spec.shape.join()) {
        values.dispose();
        assertShape(spec, values.shape);
      }
      const initial = values instanceof tf.Tensor ? values : tf.tensor(values, [...spec.shape], spec.dtype);
      this.vars.set(spec.key, tf.variable(initial, false, uniqueVarName(spec.key)));
      initial.dispose();
      created.push(spec.key);
    }
    return created;
  }

  has(key: string): boolean {
    return this.vars.has(key);
  }

  get(key: string): tf.Variable {
    const v = this.vars.get(key);
    if (!v) throw new GraphError(`no weight '${key}' in the store`);
    return v;
  }

  keys(): string[] {
    return [...this.vars.keys()];
  }

  /** Overwrites a weight; the new value must have the same shape. The caller keeps ownership of `value`. */
  assign(key: string, value: tf.Tensor): void {
    const v = this.get(key);
    if (v.shape.join() !== value.shape.join()) {
      throw new GraphError(`weight '${key}': expected shape [${v.shape.join(', ')}], got [${value.shape.join(', ')}]`);
    }
    if (value.dtype === v.dtype) {
      v.assign(value);
      return;
    }
    // The variable shares the cast tensor's data (ref-counted), so dropping our handle frees nothing it needs.
    const cast = tf.cast(value, v.dtype);
    v.assign(cast);
    cast.dispose();
  }

  /**
   * Marks each weight trainable or frozen by the policy (tfjs computes gradients only for trainable
   * variables) and returns the trainable keys in graph order.
   */
  applyPolicy(graph: Graph, policy: (p: ParamSpec) => boolean): string[] {
    const trainable: string[] = [];
    for (const spec of graph.params.values()) {
      const v = this.get(spec.key);
      v.trainable = policy(spec);
      if (v.trainable) trainable.push(spec.key);
    }
    return trainable;
  }

  /** Removes weights whose keys match; used when adapters are deleted or pruned. */
  remove(keys: Iterable<string>): void {
    for (const k of keys) {
      this.vars.get(k)?.dispose();
      this.vars.delete(k);
    }
  }

  /** Copies every value out of the backend (for bit-exact comparisons and saving). */
  snapshot(keys: Iterable<string> = this.vars.keys()): Map<string, Float32Array | Int32Array> {
    const out = new Map<string, Float32Array | Int32Array>();
    for (const k of keys) out.set(k, this.get(k).dataSync() as Float32Array | Int32Array);
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

function assertShape(spec: ParamSpec, shape: readonly number[]): void {
  if (spec.shape.join() !== shape.join()) {
    throw new GraphError(`weight '${spec.key}': graph declares [${spec.shape.join(', ')}], store holds [${shape.join(', ')}]`);
  }
}

let varCounter = 0;
/** tfjs variable names are global; suffix a counter so two stores can hold the same key. */
function uniqueVarName(key: string): string {
  varCounter += 1;
  return `${key}#${varCounter}`;
}
