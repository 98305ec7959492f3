import type * as tf from '@tensorflow/tfjs';
import { GraphError } from '../errors';
import type { Attrs, Dim, ParamSpec, TensorType } from '../graph/types';

export interface RunContext {
  /** Dropout is active. */
  readonly training: boolean;
  /**
   * No gradient will be taken of this run (Executor.run): ops may use kernels that have no registered gradient,
   * such as fused inference kernels. Absent or false under a gradient tape (Executor.forward).
   */
  readonly gradientFree?: boolean;
  /** Dropout draws a fresh seed from here, so a run is reproducible from its seed. */
  nextSeed(): number;
}

export interface InferArgs {
  readonly nodeId: string;
  readonly inputs: readonly TensorType[];
  readonly inputIds: readonly string[];
  readonly attrs: Attrs;
  readonly params: Readonly<Record<string, ParamSpec>>;
}

/** One operation of the graph vocabulary: how to type it and how to run it on tfjs. */
export interface OpDef {
  readonly name: string;
  /** Number of inputs, or a [min, max] range. */
  readonly arity: number | readonly [number, number];
  /** Parameters the node must declare (local names). */
  readonly params?: readonly string[];
  readonly optionalParams?: readonly string[];
  /**
   * The value is a function of (inputs, attrs, parameter keys) alone: no random draws, no state. Only pure
   * nodes are merged by the `cse` pass. Absent means impure (dropout, switch, input, ops that don't say).
   */
  readonly pure?: boolean;
  inferType(args: InferArgs): TensorType;
  run(inputs: readonly tf.Tensor[], params: Readonly<Record<string, tf.Tensor>>, attrs: Attrs, ctx: RunContext): tf.Tensor;
}

export function defineOp(def: OpDef): OpDef {
  return def;
}

export const showShape = (t: TensorType): string => `[${t.shape.join(', ')}]`;

export function dimsEqual(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Error naming the node, its inputs and their shapes. */
export function shapeError(args: InferArgs, problem: string): GraphError {
  const ins = args.inputIds.map((id, i) => `${id} ${args.inputs[i] ? showShape(args.inputs[i]) : '?'}`).join(', ');
  return new GraphError(`node '${args.nodeId}': ${problem} (inputs: ${ins || 'none'})`);
}

export function input(args: InferArgs, i: number): TensorType {
  const t = args.inputs[i];
  if (!t) throw shapeError(args, `missing input ${i}`);
  return t;
}

export function lastDim(t: TensorType): Dim {
  const d = t.shape[t.shape.length - 1];
  if (d === undefined) throw new GraphError(`expected a tensor of rank >= 1, got a scalar`);
  return d;
}

export function numAttr(attrs: Attrs, name: string, fallback?: number): number {
  const v = attrs[name];
  if (typeof v === 'number') return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new GraphError(`attribute '${name}' must be a number, got ${JSON.stringify(v)}`);
}

export function param(args: InferArgs, name: string): ParamSpec {
  const p = args.params[name];
  if (!p) throw shapeError(args, `missing parameter '${name}'`);
  return p;
}

/** Broadcast two shapes numpy-style; symbolic dims broadcast only against themselves or 1. */
export function broadcastShapes(args: InferArgs, a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw shapeError(args, `shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
  }
  return out;
}
