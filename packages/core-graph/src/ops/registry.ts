import { GraphError } from '../errors';
import { geluNewOp, geluOp, identityOp, reluOp, sigmoidOp, swishOp, tanhOp } from './activation';
import { attentionOp, softmaxOp } from './attention';
import { denseOp, embeddingOp } from './dense';
import { addOp, mulOp, scaleByParamOp, scaleOp, subOp, sumOp } from './elementwise';
import { dropoutOp, inputOp, matmulOp, switchOp } from './misc';
import { layerNormOp } from './norm';
import type { OpDef } from './op-def';
import { branchInputOp, concatOp, maskedMeanOp, positionsOp, reshapeOp, sliceOp, tokenOp, transposeOp } from './shape';

const builtins: readonly OpDef[] = [
  inputOp, denseOp, embeddingOp, layerNormOp, attentionOp, softmaxOp, dropoutOp, switchOp, matmulOp,
  addOp, subOp, mulOp, sumOp, scaleOp, scaleByParamOp,
  geluOp, geluNewOp, reluOp, swishOp, tanhOp, sigmoidOp, identityOp,
  reshapeOp, transposeOp, concatOp, sliceOp, branchInputOp, tokenOp, maskedMeanOp, positionsOp,
];

const ops = new Map<string, OpDef>(builtins.map((o) => [o.name, o]));

/** The op vocabulary. Plugins may add ops with a new name; built-ins cannot be replaced. */
export const opRegistry = {
  get(name: string, nodeId?: string): OpDef {
    const op = ops.get(name);
    if (!op) {
      const where = nodeId ? `node '${nodeId}': ` : '';
      throw new GraphError(`${where}unknown op '${name}' (known ops: ${[...ops.keys()].sort().join(', ')})`);
    }
    return op;
  },
  has: (name: string): boolean => ops.has(name),
  names: (): string[] => [...ops.keys()].sort(),
  register(op: OpDef): void {
    const existing = ops.get(op.name);
    if (existing && existing !== op) throw new GraphError(`op '${op.name}' is already registered`);
    ops.set(op.name, op);
  },
};
