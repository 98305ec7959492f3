// Grids: expansion, stable ids (idempotent submission), merge order of hyper-parameters, one clear error per bad
// field, and the `adapters train` arguments a job becomes.
import fc from 'fast-check';
import { GridError } from './errors';
import { canonicalJson, expandGrid, jobId, MAX_GRID_JOBS, parseGrid, trainArgv } from './grid';

const GRID = `
name: sweep
model: all-MiniLM-L6-v2
methods: [seq_bn, { adapter: "lora:r=8", label: lora8, hyper: { lr: 0.0005 } }]
languages:
  sw: { data: data/sw.tsv, eval: data/sw-dev.tsv, hyper: { epochs: 3 } }
  qu: data/qu.tsv
seeds: [1, 2, 3]
hyper: { epochs: 1, lr: 0.001, max-length: 64 }
`;

describe('grid', () => {
  test('methods x languages x seeds; hyper-parameters merge grid < method < task; paths relative to the grid file', () => {
    const grid = parseGrid(GRID, '/work/grids/sweep.yaml');
    expect(grid.name).toBe('sweep');
    expect(grid.jobs).toHaveLength(12);
    expect(new Set(grid.jobs.map((j) => j.id)).size).toBe(12);
    const sw = grid.jobs.find((j) => j.name === 'sw/lora8/s2')!;
    expect(sw.spec).toMatchObject({ model: 'all-MiniLM-L6-v2', method: 'lora:r=8', task: 'sw', data: '/work/grids/data/sw.tsv', eval: '/work/grids/data/sw-dev.tsv', seed: 2 });
    expect(sw.spec.hyper).toEqual({ epochs: 3, lr: 0.0005, 'max-length': 64 });
    expect(grid.jobs.find((j) => j.name === 'qu/seq_bn/s1')!.spec.hyper).toEqual({ epochs: 1, lr: 0.001, 'max-length': 64 });
    expect(trainArgv(sw.spec, '/tmp/out')).toEqual([
      'train', '--model', 'all-MiniLM-L6-v2', '--data', '/work/grids/data/sw.tsv', '--eval', '/work/grids/data/sw-dev.tsv', '--adapter', 'lora:r=8', '--name', 'sw', '--seed', '2', '--out', '/tmp/out',
      '--epochs', '3', '--lr', '0.0005', '--max-length', '64',
    ]);
  });

  test('the same grid gives the same ids whatever the key order or formatting; any change gives new ids', () => {
    const a = parseGrid(GRID, '/work/grids/sweep.yaml');
    const reordered = parseGrid(`{"seeds":[1,2,3],"hyper":{"max-length":64,"lr":0.001,"epochs":1},"languages":{"sw":{"hyper":{"epochs":3},"eval":"data/sw-dev.tsv","data":"data/sw.tsv"},"qu":"data/qu.tsv"},
      "methods":["seq_bn",{"label":"lora8","hyper":{"lr":0.0005},"adapter":"lora:r=8"}],"model":"all-MiniLM-L6-v2","name":"sweep"}`, '/work/grids/sweep.json');
    expect(reordered.jobs.map((j) => j.id).sort()).toEqual(a.jobs.map((j) => j.id).sort());
    const changed = parseGrid(GRID.replace('lr: 0.001', 'lr: 0.002'), '/work/grids/sweep.yaml');
    expect(changed.jobs.filter((j) => j.spec.hyper['lr'] === 0.002).every((j) => !a.jobs.some((x) => x.id === j.id))).toBe(true);
  });

  test('property: ids are a function of the spec (canonical JSON ignores key order) and differ when a field differs', () => {
    const spec = fc.record({
      fleet: fc.constantFrom('a', 'b'), model: fc.constantFrom('m1', '/x/m2'), method: fc.constantFrom('seq_bn', 'lora:r=8'), methodLabel: fc.constant('x'),
      task: fc.constantFrom('t1', 't2'), data: fc.constant('/d.tsv'), seed: fc.nat(5),
      hyper: fc.dictionary(fc.constantFrom('epochs', 'lr', 'batch-size'), fc.nat(4)),
    });
    fc.assert(fc.property(spec, spec, (s, t) => {
      const shuffled = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(s).reverse())));
      expect(jobId(shuffled)).toBe(jobId(s));
      expect(jobId(s) === jobId(t)).toBe(canonicalJson(s) === canonicalJson(t));
    }));
  });

  test.each([
    ['methods: []', /methods: must be a non-empty list/],
    ['methods: [seq_bn, seq_bn]', /are the same training run/],
    ['hyper: { learning_rate: 0.1 }', /hyper\.learning_rate: is not a train option/],
    ['hyper: { epochs: -1 }', /hyper\.epochs: must be a non-negative integer/],
    ['seeds: [1, 1]', /seeds: lists a seed twice/],
    ['seeds: [1.5]', /seeds: must be a non-negative integer/],
    ['tasks: { "bad name": x.tsv }', /tasks\.bad name: a task name may use only/],
    ['tasks: { t: { data: x.tsv, test: y.tsv } }', /tasks\.t\.test: is not a task field/],
    ['colour: red', /colour: is not a grid field/],
    ['name: "a/b"', /name: must use only letters/],
  ])('bad field %s: one error naming it', (line, message) => {
    const base: Record<string, string> = { model: 'model: m', methods: 'methods: [seq_bn]', tasks: 'tasks: { t: x.tsv }', seeds: 'seeds: [1]' };
    const key = line.split(':')[0] as string;
    const text = Object.entries({ ...base, [key]: line }).map(([, v]) => v).join('\n');
    let error: unknown;
    try {
      parseGrid(text, '/g/grid.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GridError);
    expect((error as GridError).code).toBe('E_FLEET_GRID');
    expect((error as Error).message).toMatch(/^grid\.yaml/);
    expect((error as Error).message).toMatch(message);
  });

  test('bounded: a grid that would flood the queue is refused; broken YAML is one line', () => {
    const seeds = Array.from({ length: 200 }, (_, i) => i);
    const methods = Array.from({ length: 60 }, (_, i) => `seq_bn:reduction_factor=${i + 1}`);
    expect(() => expandGrid({ model: 'm', methods, tasks: { t: 'x.tsv' }, seeds }, '/g/big.yaml')).toThrow(new RegExp(`12000 jobs; at most ${MAX_GRID_JOBS}`));
    expect(() => parseGrid('methods: [seq_bn\nmodel: x', '/g/broken.yaml')).toThrow(/broken\.yaml: not valid YAML/);
  });
});
