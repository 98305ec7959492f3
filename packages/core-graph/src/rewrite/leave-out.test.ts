// Issue 18 items 6 and 11: leave_out must name existing layers; Object.prototype names are refused as adapter names.
import { ConfigError } from '../errors';
import { buildEncoder } from '../model/encoder';
import { defineAdapter } from '../plugin/define-adapter';
import { createRegistry } from '../plugin/registry';
import { applyPlacements } from './apply-placements';
import { adapter } from './composition';

const graph = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 16, maxPositions: 16 });
const plugin = defineAdapter<{ leave_out: number[] }>({
  name: 'skippy',
  description: 'identity with AdapterHub leave_out (tests only)',
  modes: ['after'],
  defaults: { leave_out: [] },
  schema: { type: 'object', properties: { leave_out: { type: 'array', items: { type: 'integer', minimum: 0 } } }, additionalProperties: false },
  build: (ctx) => ({ output: ctx.scope.op('scale', 'id', [ctx.input], { attrs: { factor: 1 } }) }),
});
const registry = createRegistry([plugin]);
const place = (name: string, leaveOut: number[]) => applyPlacements(graph, [{ adapter: adapter(plugin, name, { leave_out: leaveOut }), select: { kinds: ['ffn'] }, mode: 'after' }], registry);

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('leave_out and adapter names', () => {
  it('leave_out beyond the model is refused, naming the field (before: ignored)', () => {
    expect(place('a', [1]).report.length).toBeGreaterThan(0);
    const e = configError(() => place('a', [99]));
    expect(e.path).toBe('a.config.leave_out');
    expect(e.message).toBe('a.config.leave_out: layer 99 does not exist (the model has layers 0..1)');
    expect(e.code).toBe('E_CONFIG_FIELD');
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('adapter name %s is refused as reserved', (name) => {
    const e = configError(() => place(name, []));
    expect(e.path).toBe('rules[0].adapter.name');
    expect(e.message).toMatch(/is reserved \(a JavaScript object member name\)/);
  });
});
