// `npm run reproduce -- [--list] [--only NAME[,NAME|PREFIX*]] [--core] [--generate]`: runs the experiments
// not yet finished (resumable: finished runs are skipped, a killed run is redone), then regenerates
// results/README.md from results/runs/*.json. --generate only regenerates; --list prints the table and state;
// --jobs N runs N worker processes that share the table through lock files.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { experiments, select } from './experiments';
import type * as ExecuteModule from './execute';
import { generateReadme } from './generate';
import { isDone } from './records';
import type { RunnerPaths } from './runner';
import { prepareData, runAll } from './runner';

/** ../shared/datasets from the repository root, or from a parent (a git worktree sits deeper); $GLUE_DATASETS wins. */
function findDatasets(root: string): string {
  const given = process.env['GLUE_DATASETS'];
  if (given !== undefined && given !== '') return path.resolve(given);
  for (let dir = root; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, '..', 'shared', 'datasets');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return path.join(root, '..', 'shared', 'datasets');
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const root = path.resolve(__dirname, '..', '..');
  const paths: RunnerPaths = { root, runsDir: path.join(root, 'results', 'runs'), datasets: findDatasets(root) };
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const all = experiments();
  let list = select(all, value('--only'));
  if (argv.includes('--core')) list = list.filter((e) => e.kind !== 'train' || ['full', 'houlsby', 'pfeiffer', 'lora', 'prefix'].includes(e.method));
  if (argv.includes('--list')) {
    for (const e of list) process.stdout.write(`${isDone(paths.runsDir, e) ? 'done ' : 'todo '} ${e.name}\n`);
    process.stdout.write(`${list.filter((e) => isDone(paths.runsDir, e)).length}/${list.length} done\n`);
    return 0;
  }
  if (!argv.includes('--generate')) {
    const log = (line: string): void => void process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
    prepareData(list, paths);
    const jobs = Number(value('--jobs') ?? '1');
    if (jobs > 1) {
      // Workers share the table through lock files; this process only waits for them.
      const rest = argv.filter((a, i) => a !== '--jobs' && argv[i - 1] !== '--jobs');
      const codes = await Promise.all(Array.from({ length: jobs }, (_v, w) => new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [...process.execArgv, __filename, ...rest, '--worker'], { stdio: ['ignore', 'pipe', 'inherit'] });
        child.stdout.on('data', (b: Buffer) => process.stdout.write(b.toString().replace(/^\[/gm, `[w${w} `)));
        child.on('close', (code) => resolve(code ?? 1));
      })));
      log(`workers finished with codes ${codes.join(', ')}`);
    } else {
      // Loaded here so --list, --generate and the parent of --jobs need no tensor backend.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { executeReal } = require('./execute') as typeof ExecuteModule;
      const s = await runAll(list, paths, executeReal, log);
      log(`ran ${s.ran.length}, already done ${s.skipped.length}, failed ${s.failed.length}${s.failed.length ? ` (${s.failed.join(', ')})` : ''}, waiting/claimed elsewhere ${s.blocked.length}`);
    }
  }
  // Workers leave the README to the parent that started them.
  if (!argv.includes('--worker')) await generateReadme(paths.runsDir, path.join(root, 'results'));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`reproduce: error: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
