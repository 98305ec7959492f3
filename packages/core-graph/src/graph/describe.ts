import type { ParamSpec } from './types';
import type { Graph } from './graph';

export interface OwnerCount {
  readonly owner: string;
  readonly params: number;
  readonly trainable: number;
  /** Share of the base model's parameter count, in percent. */
  readonly percentOfBase: number;
}

export interface ParameterSummary {
  readonly total: number;
  readonly base: number;
  readonly trainable: number;
  readonly trainablePercentOfBase: number;
  readonly owners: readonly OwnerCount[];
}

const sizeOf = (p: ParamSpec): number => p.shape.reduce((a, b) => a * b, 1);

/** Parameter counts per owner and as % of the base model; `trainable` decides what counts as trainable. */
export function parameterSummary(graph: Graph, trainable: (p: ParamSpec) => boolean = (p) => p.owner !== 'base'): ParameterSummary {
  const owners = new Map<string, { params: number; trainable: number }>();
  for (const p of graph.params.values()) {
    const o = owners.get(p.owner) ?? { params: 0, trainable: 0 };
    o.params += sizeOf(p);
    if (trainable(p)) o.trainable += sizeOf(p);
    owners.set(p.owner, o);
  }
  const base = owners.get('base')?.params ?? 0;
  const pct = (n: number) => (base === 0 ? 0 : (100 * n) / base);
  const list = [...owners].map(([owner, o]) => ({ owner, ...o, percentOfBase: pct(o.params) }));
  const total = list.reduce((n, o) => n + o.params, 0);
  const train = list.reduce((n, o) => n + o.trainable, 0);
  return { total, base, trainable: train, trainablePercentOfBase: pct(train), owners: list };
}

const shapeText = (shape: readonly unknown[]): string => `[${shape.join(', ')}]`;

function attrText(attrs: Record<string, unknown>): string {
  const entries = Object.entries(attrs);
  return entries.length === 0 ? '' : ` {${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}

/** A printable IR: inputs, nodes with types, sites, splices and a parameter table. */
export function describeGraph(graph: Graph, options: { nodes?: boolean; trainable?: (p: ParamSpec) => boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`graph (${graph.nodes.length} nodes, ${graph.params.size} parameters, ${graph.sites.size} sites)`);
  lines.push(`inputs: ${graph.inputs.map((i) => `${i.name} ${shapeText(graph.node(i.node).type.shape)}`).join(', ')}`);
  lines.push(`outputs: ${Object.entries(graph.outputs).map(([n, id]) => `${n} = ${id} ${shapeText(graph.node(id).type.shape)}`).join(', ')}`);
  if (options.nodes !== false) {
    lines.push('', 'nodes:');
    for (const n of graph.nodes) {
      const params = Object.entries(n.params).map(([l, k]) => `${l}=${k === `${n.id}.${l}` ? shapeText(graph.param(k).shape) : `&${k}`}`);
      const p = params.length ? ` params(${params.join(', ')})` : '';
      lines.push(`  %${n.id} = ${n.op}(${n.inputs.map((i) => `%${i}`).join(', ')})${attrText(n.attrs)}${p} : ${shapeText(n.type.shape)} ${n.type.dtype}`);
    }
  }
  lines.push('', 'sites:');
  for (const s of graph.sites.values()) {
    const res = s.residual ? ` (residual ${s.residual.add} → ${s.residual.norm})` : '';
    lines.push(`  ${s.name} [${s.kind}${s.layer === undefined ? '' : `, layer ${s.layer}`}]: ${s.entry} → ${s.exit}${res}`);
  }
  if (graph.splices.length > 0) {
    lines.push('', 'adapters:');
    for (const s of graph.splices) lines.push(`  ${s.site}: ${s.mode} ${s.composition}`);
  }
  const summary = parameterSummary(graph, options.trainable);
  lines.push('', 'parameters:', `  ${'owner'.padEnd(28)} ${'params'.padStart(12)} ${'trainable'.padStart(12)} ${'% of base'.padStart(10)}`);
  for (const o of summary.owners) {
    lines.push(`  ${o.owner.padEnd(28)} ${String(o.params).padStart(12)} ${String(o.trainable).padStart(12)} ${o.percentOfBase.toFixed(3).padStart(10)}`);
  }
  lines.push(`  ${'total'.padEnd(28)} ${String(summary.total).padStart(12)} ${String(summary.trainable).padStart(12)} ${summary.trainablePercentOfBase.toFixed(3).padStart(10)}`);
  return lines.join('\n');
}
