// Issue 16: one run manifest (run.json) replaces the four run files; no package's source writes or reads them any
// more. Only core-graph's run-manifest.ts names them (to call them obsolete), the CLI (packages/cli) reads an older run's
// labels.json (cheap backward compatibility), and run-dir.ts still recognises them as an earlier run's markers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
// pals_run.json: PALs' own run file before run.json.
const OLD = ['labels.json', 'fusion_run.json', 'task_config.json', 'madx_task.json', 'pals_run.json'];
const ALLOWED = new Set(['packages/core-graph/src/checkpoint/run-manifest.ts', 'packages/cli/src/cli/data.ts', 'packages/core-graph/src/io/run-dir.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) return e === 'node_modules' || e === 'dist' ? [] : sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

test('no package source names an obsolete run file (labels.json, fusion_run.json, task_config.json, madx_task.json, pals_run.json)', () => {
  const found: string[] = [];
  for (const pkg of readdirSync(join(ROOT, 'packages'))) {
    const src = join(ROOT, 'packages', pkg, 'src');
    if (!statSync(join(ROOT, 'packages', pkg)).isDirectory()) continue;
    let files: string[];
    try {
      files = sources(src);
    } catch {
      continue;
    }
    for (const f of files) {
      const rel = relative(ROOT, f).split('\\').join('/');
      if (ALLOWED.has(rel)) continue;
      const text = readFileSync(f, 'utf8');
      for (const old of OLD) if (text.includes(old)) found.push(`${rel}: ${old}`);
    }
  }
  expect(found).toEqual([]);
});
