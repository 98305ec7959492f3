// The JSON-schema subset that validates adapter configs: errors are ConfigErrors naming the bad field.
import { ConfigError } from '../errors';
import type { JsonSchema } from './schema';
import { validateSchema } from './schema';

/** The ConfigError validateSchema throws (or undefined when the value is valid). */
function problem(schema: JsonSchema, value: unknown, path = 'a.config'): ConfigError | undefined {
  try {
    validateSchema(schema, value, path);
    return undefined;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e;
  }
}

const schema: JsonSchema = {
  type: 'object',
  properties: {
    size: { type: 'integer', minimum: 1, maximum: 64 },
    rate: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    act: { type: 'string', enum: ['relu', 'gelu'] },
    flag: { type: 'boolean' },
    layers: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 },
    nested: { type: 'object', properties: { k: { type: 'integer' } }, required: ['k'], additionalProperties: false },
    either: { anyOf: [{ type: 'integer' }, { type: 'string', enum: ['auto'] }] },
    maybe: { type: 'null' },
  },
  additionalProperties: false,
};

describe('validateSchema', () => {
  it('accepts a valid value', () => {
    expect(problem(schema, { size: 4, rate: 0.5, act: 'relu', flag: true, layers: [0, 3], nested: { k: 1 }, either: 'auto', maybe: null })).toBeUndefined();
    expect(problem(schema, {})).toBeUndefined();
  });

  it.each([
    [{ size: 1.5 }, 'a.config.size', /must be an integer/],
    [{ size: '4' }, 'a.config.size', /must be an integer, got "4"/],
    [{ size: 0 }, 'a.config.size', /must be >= 1, got 0/],
    [{ size: 65 }, 'a.config.size', /must be <= 64/],
    [{ rate: 0 }, 'a.config.rate', /must be > 0/],
    [{ rate: 1 }, 'a.config.rate', /must be < 1/],
    [{ act: 'swish' }, 'a.config.act', /must be one of "relu", "gelu"/],
    [{ flag: 1 }, 'a.config.flag', /must be a boolean/],
    [{ layers: [] }, 'a.config.layers', /at least 1 items/],
    [{ layers: [0, -1] }, 'a.config.layers[1]', /must be >= 0/],
    [{ layers: 'all' }, 'a.config.layers', /must be a array/],
    [{ nested: {} }, 'a.config.nested.k', /is required/],
    [{ nested: { k: 1, z: 2 } }, 'a.config.nested.z', /unknown field \(known fields: k\)/],
    [{ either: 'manual' }, 'a.config.either', /matches none of the allowed forms/],
    [{ maybe: 0 }, 'a.config.maybe', /must be a null/],
    [{ bogus: 1 }, 'a.config.bogus', /unknown field \(known fields: size, rate, act/],
    [[], 'a.config', /must be a object/],
    [null, 'a.config', /must be a object/],
  ])('%j is rejected at %s', (value, path, message) => {
    const e = problem(schema, value);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e?.path).toBe(path);
    expect(e?.message).toMatch(message);
    expect(e?.message.startsWith(`${path}: `)).toBe(true);
  });

  it('additionalProperties: a schema validates extra values; undefined means unknown fields are errors', () => {
    const map: JsonSchema = { type: 'object', additionalProperties: { type: 'number' } };
    expect(problem(map, { x: 1, y: 2 })).toBeUndefined();
    expect(problem(map, { x: 'no' })?.path).toBe('a.config.x');
    expect(problem({ type: 'object', properties: {} }, { x: 1 })?.path).toBe('a.config.x');
    expect(problem({ type: 'object', additionalProperties: true }, { x: 1 })).toBeUndefined();
  });

  it('anyOf reports every alternative that failed', () => {
    expect(problem({ anyOf: [{ type: 'integer' }, { type: 'boolean' }] }, 'x')?.message).toMatch(/must be an integer.*; .*must be a boolean/);
  });
});

describe('own properties only; finite numbers (issue 18 items 6, 11)', () => {
  test.each(['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'])('%s is an unknown field, at every level', (name) => {
    const top = problem(schema, JSON.parse(`{"${name}": 1}`));
    expect(top?.path).toBe(`a.config.${name}`);
    expect(top?.message).toMatch(/unknown field \(known fields: size, rate/);
    const nested = problem(schema, JSON.parse(`{"nested": {"k": 1, "${name}": 1}}`));
    expect(nested?.path).toBe(`a.config.nested.${name}`);
  });

  test('required fields must be own properties', () => {
    const withRequired = JSON.parse('{"type": "object", "properties": {"toString": {"type": "integer"}}, "required": ["toString"], "additionalProperties": false}') as JsonSchema;
    expect(problem(withRequired, {})?.path).toBe('a.config.toString');
    expect(problem(withRequired, { toString: 2 })).toBeUndefined();
  });

  test('1e400 (Infinity after JSON.parse) and NaN are refused even without bounds', () => {
    const open: JsonSchema = { type: 'object', properties: { reduction_factor: { type: 'number' }, n: { type: 'integer' } }, additionalProperties: false };
    expect(problem(open, JSON.parse('{"reduction_factor": 1e400}'))?.message).toBe('a.config.reduction_factor: must be a finite number, got Infinity');
    expect(problem(open, { reduction_factor: Number.NaN })?.message).toMatch(/must be a finite number, got NaN/);
    expect(problem(open, { n: -Infinity })?.path).toBe('a.config.n');
    const either: JsonSchema = { anyOf: [{ type: 'number' }, { type: 'string' }] };
    expect(problem(either, Infinity)).toBeDefined();
  });
});

describe('defineAdapter refuses a broken plugin with PluginDefinitionError', () => {
  test('bad name, no modes, unknown mode, no build', async () => {
    const { defineAdapter } = await import('./define-adapter');
    const { PluginDefinitionError } = await import('../errors');
    const ok = { name: 'p', description: '', modes: ['after'] as const, defaults: {}, schema: {}, build: () => ({ output: 'x' }) };
    for (const [bad, message] of [
      [{ name: 'Bad Name' }, /the name must be lower-case/],
      [{ modes: [] }, /declares no splice modes/],
      [{ modes: ['sideways'] }, /unknown splice mode 'sideways'/],
      [{ build: undefined }, /has no build function/],
    ] as const) {
      expect(() => defineAdapter({ ...ok, ...bad } as never)).toThrow(PluginDefinitionError);
      expect(() => defineAdapter({ ...ok, ...bad } as never)).toThrow(message);
    }
    expect(() => defineAdapter({ ...ok, modes: ['after'] })).not.toThrow();
  });
});
