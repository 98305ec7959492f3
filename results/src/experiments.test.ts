import { CORE_BUDGET, experiments, METHODS, SEEDS, select, trainName } from './experiments';
import { GLUE_TASKS } from './data';

describe('the experiment table', () => {
  const all = experiments();

  test('names are unique and safe as file names', () => {
    const names = all.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[a-z0-9-]+$/);
  });

  test('holds the core grid: 4 GLUE tasks × 5 core methods × 3 seeds, all with the core budget', () => {
    const core = METHODS.filter((m) => m.core).map((m) => m.id);
    expect(core).toEqual(['full', 'houlsby', 'pfeiffer', 'lora', 'prefix']);
    for (const task of GLUE_TASKS) for (const method of core) for (const seed of SEEDS) {
      const e = all.find((x) => x.name === trainName(task, method, seed));
      expect(e).toMatchObject({ kind: 'train', task, method, seed, budget: CORE_BUDGET });
    }
    expect(SEEDS).toHaveLength(3);
  });

  test('every fusion needs the Pfeiffer runs of its seed, which come earlier in the table', () => {
    const fusions = all.filter((e) => e.kind === 'fusion');
    expect(fusions.map((f) => f.task).sort()).toEqual(['mrpc', 'mrpc', 'mrpc', 'rte', 'rte', 'rte']);
    for (const f of fusions) {
      if (f.kind !== 'fusion') continue;
      expect(f.sources).toEqual(expect.arrayContaining(['sst2', 'mrpc', 'cola', f.task]));
      for (const need of f.needs) {
        const i = all.findIndex((e) => e.name === need);
        expect(i).toBeGreaterThanOrEqual(0);
        expect(i).toBeLessThan(all.indexOf(f));
        expect(need).toMatch(new RegExp(`-pfeiffer-s${f.seed}$`));
      }
    }
  });

  test('AdapterDrop rows: robust and specialised n = 1..5 for each seed', () => {
    const drops = all.filter((e) => e.kind === 'drop');
    expect(drops).toHaveLength(3 * 6);
    expect(drops.filter((d) => d.kind === 'drop' && d.mode === 'specialized').map((d) => (d.kind === 'drop' ? d.n : -1)).sort()).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]);
  });

  test('--only selects exact names, substrings and prefixes, and refuses a pattern that matches nothing', () => {
    expect(select(all, 'sst2-full-s1').map((e) => e.name)).toEqual(['sst2-full-s1']);
    expect(select(all, 'rte-lora-*').map((e) => e.name)).toEqual(['rte-lora-s1', 'rte-lora-s2', 'rte-lora-s3']);
    expect(select(all, 'fusion').every((e) => e.kind === 'fusion')).toBe(true);
    expect(select(all, undefined)).toHaveLength(all.length);
    expect(() => select(all, 'nope')).toThrow(/--only nope: no experiment matches/);
  });
});
