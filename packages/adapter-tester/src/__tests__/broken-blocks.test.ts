// runBlockSuite's checks must catch broken composition blocks: each block below breaks one rule of the contract.
import type { AdapterUse, BlockDef } from '@adapters/core-graph';
import { block } from '@adapters/core-graph';
import type { BlockSuiteOptions } from '../index';
import { checkBlockDeterministic, checkBlockShapes, checkBlockTrainsOnlyOwnParams, checkBlockValidatesChildren } from '../index';

const stackLike = (type: string, patch: Partial<BlockDef> = {}): BlockDef => ({
  type,
  allowedChildren: ['adapter'],
  compose: (_ctx, node, state, child) => node.children.reduce((s, c) => child(c, s), state),
  ...patch,
});

function optionsFor(def: BlockDef, extra: Partial<BlockSuiteOptions> = {}): BlockSuiteOptions {
  return { block: def, numRuns: 2, seed: 5, cases: [{ name: 'two', children: 2, tree: (c: readonly AdapterUse[]) => block(def.type, c) }], ...extra };
}

async function failure(check: Promise<void>): Promise<string> {
  try {
    await check;
  } catch (e) {
    const parts: string[] = [];
    for (let x = e as { message?: unknown; cause?: unknown } | undefined; x && typeof x === 'object'; x = x.cause as typeof x) parts.push(String(x.message));
    return parts.join('\n');
  }
  throw new Error('the check passed on a broken block');
}

describe('the block checks reject broken blocks', () => {
  it('a block that adds a parameter under a foreign owner', async () => {
    const def = stackLike('RogueOwner', {
      compose(ctx, node, state, child) {
        const s = node.children.reduce((acc, c) => child(c, acc), state);
        const sc = ctx.blockScope('base');
        return { ...s, hidden: sc.op('scaleByParam', 'gain', [s.hidden], { params: { scale: { shape: [ctx.width], init: { kind: 'ones' }, kind: 'scalar' } } }) };
      },
    });
    expect(await failure(checkBlockTrainsOnlyOwnParams(optionsFor(def)))).toMatch(/owned by 'base'/);
  });

  it('a block whose placement is not deterministic', async () => {
    let calls = 0;
    const def = stackLike('Restless', {
      compose(ctx, node, state, child) {
        const s = node.children.reduce((acc, c) => child(c, acc), state);
        return { ...s, hidden: ctx.blockScope().op('scale', 'nudge', [s.hidden], { attrs: { factor: 1 + (calls++ % 2) * 1e-3 } }) };
      },
    });
    expect(await failure(checkBlockDeterministic(optionsFor(def)))).toMatch(/two placements of the same tree differ/);
  });

  it('a block that makes the outputs non-finite', async () => {
    const def = stackLike('Blowup', {
      compose(ctx, node, state, child) {
        const s = node.children.reduce((acc, c) => child(c, acc), state);
        return { ...s, hidden: ctx.blockScope().op('scale', 'inf', [s.hidden], { attrs: { factor: Number.MAX_VALUE } }) };
      },
    });
    expect(await failure(checkBlockShapes(optionsFor(def)))).toMatch(/non-finite/);
  });

  it('a block that does not validate its options', async () => {
    const def = stackLike('Lax');
    const options = optionsFor(def, { invalid: [{ name: 'weights it ignores', children: 2, tree: (c) => block('Lax', c, { weights: 'many' }) }] });
    expect(await failure(checkBlockValidatesChildren(options))).toMatch(/invalid case 'weights it ignores' was accepted/);
  });
});
