// Issue 18 item 7: a fusion run's run.json is validated (core's manifest checks + the fusion's) and its adapter paths
// stay inside the fusion directory.
import * as path from 'node:path';
import { ConfigError, RUN_FORMAT } from '@adapters/core-graph';
import { validateFusionRun } from './cli';

const DIR = path.resolve('/runs/fusion');
const FILE = path.join(DIR, 'run.json');
const valid = {
  format: RUN_FORMAT, model: 'tiny-bert', heads: [{ name: 'h', dir: '.', labels: ['neg', 'pos'] }], maxLength: 16, columns: { text: 'sentence', label: 'label' },
  adapters: [{ name: 'a', dir: 'adapters/a' }, { name: 'b', dir: path.join('adapters', 'b') }], extras: { fusion: { fusion: 'f' } },
};

function configError(value: unknown): ConfigError {
  try {
    validateFusionRun(value, FILE, DIR);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('validateFusionRun', () => {
  it('accepts what fusion-stage2 and fusion-prune write', () => {
    expect(validateFusionRun(valid, FILE, DIR)).toEqual({ model: 'tiny-bert', fusion: 'f', head: 'h', labels: ['neg', 'pos'], maxLength: 16, columns: valid.columns, adapters: valid.adapters });
    expect(validateFusionRun({ ...valid, extras: { fusion: { fusion: 'f', pruned: { topK: null, dropFirst: 1, from: '/x' } } } }, FILE, DIR).pruned?.dropFirst).toBe(1);
  });

  it.each([
    ['../../../x', 'adapters[0].dir'],
    ['/../../etc', 'adapters[0].dir'],
    ['/etc/passwd', 'adapters[0].dir'],
    ['adapters/../../x', 'adapters[0].dir'],
    ['adapters\\..\\..\\x', 'adapters[0].dir'],
    ['.', 'adapters[0].dir'],
    ['', 'adapters[0].dir'],
  ])('adapters[].dir %j is refused (it would be read outside the fusion directory)', (dir, field) => {
    expect(configError({ ...valid, adapters: [{ name: 'a', dir }] }).path).toBe(`${FILE}: ${field}`);
  });

  it.each([
    [{ ...valid, adapters: 5 }, 'adapters'],
    [{ ...valid, adapters: [] }, 'adapters'],
    [{ ...valid, adapters: [{ name: 'a' }] }, 'adapters[0].dir'],
    [{ ...valid, adapters: [{ name: '../a', dir: 'adapters/a' }] }, 'adapters[0].name'],
    [{ ...valid, heads: [{ name: 'h', dir: '.', labels: 'neg,pos' }] }, 'heads[0].labels'],
    [{ ...valid, heads: [] }, 'heads[0].labels'],
    [{ ...valid, extras: { fusion: { fusion: 3 } } }, 'extras.fusion.fusion'],
    [{ ...valid, maxLength: Number.POSITIVE_INFINITY }, 'maxLength'], // what JSON.parse makes of 1e400
    [{ ...valid, columns: { label: 'label' } }, 'columns.text'],
    [JSON.parse(`{"format":"${RUN_FORMAT}","model":"m","heads":[],"maxLength":4,"columns":{"text":"t"},"adapters":[{"name":"a","dir":"d"}],"__proto__":{}}`), '__proto__'],
  ])('%#: a malformed file names the field (before: "run.adapters is not iterable")', (value, field) => {
    expect(configError(value).path).toBe(`${FILE}: ${field}`);
  });
});
