import { GraphError } from '../errors';
import { geluNewOp, geluOp, identityOp, reluOp, sigmoidOp, swishOp, tanhOp } from './activation';
import { attentionOp, softmaxOp } from './attention';
import { denseOp, embeddingOp } from './dense';
import { addOp, mulOp, scaleByParamOp, scaleOp, subOp, sumOp } from './elementwise';
import { addLayerNormOp } from './fused-ops';
import { dropoutOp, inputOp, matmulOp, switchOp } from './misc';
import { layerNormOp } from './norm';
import type { OpDef } from './op-def';
import { branchInputOp, concatOp, maskedMeanOp, positionsOp, reshapeOp, seqMeanOp, sliceOp, tokenOp, transposeOp } from './shape';

/** Core's op vocabulary, including the fused ops its lowerings produce (`addLayerNorm`). */
export const CORE_OPS: readonly OpDef[] = [
  inputOp, denseOp, embeddingOp, layerNormOp, attentionOp, softmaxOp, dropoutOp, switchOp, matmulOp,
  addOp, subOp, mulOp, sumOp, scaleOp, scaleByParamOp,
  geluOp, geluNewOp, reluOp, swishOp, tanhOp, sigmoidOp, identityOp,
  reshapeOp, transposeOp, concatOp, sliceOp, branchInputOp, tokenOp, maskedMeanOp, positionsOp, seqMeanOp,
  addLayerNormOp,
];

/** Read access to an op vocabulary (a runtime's, or the default one). */
export interface OpTable {
  get(name: string, nodeId?: string): OpDef;
  has(name: string): boolean;
  names(): string[];
}

/** An op table that can still grow: each runtime owns one; names are never replaced. */
export interface MutableOpTable extends OpTable {
  register(op: OpDef): void;
}

export function createOpTable(defs: readonly OpDef[] = []): MutableOpTable {
  const ops = new Map<string, OpDef>();
  const table: MutableOpTable = {
    get(name, nodeId) {
      const op = ops.get(name);
      if (!op) {
        const where = nodeId ? `node '${nodeId}': ` : '';
        throw new GraphError(`${where}unknown op '${name}' (known ops: ${[...ops.keys()].sort().join(', ')})`);
      }
      return op;
    },
    has: (name) => ops.has(name),
    names: () => [...ops.keys()].sort(),
    register(op) {
      const existing = ops.get(op.name);
      if (existing && existing !== op) throw new GraphError(`op '${op.name}' is already registered`);
      ops.set(op.name, op);
    },
  };
  for (const op of defs) table.register(op);
  return table;
}

/**
 * The default runtime's op vocabulary (core's ops plus whatever plugins still register at import, the
 * compatibility path). A runtime from `createRuntime` has its own table and never sees these registrations.
 */
export const opRegistry: MutableOpTable = createOpTable(CORE_OPS);
