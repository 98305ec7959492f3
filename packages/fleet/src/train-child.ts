// A training child of the fleet worker (see trainer-pool.ts): receives `adapters train` argument lists over IPC and
// runs them with the normal CLI in this process, one at a time; progress lines go back as messages. It exits when
// the worker goes away (the IPC channel closes), so a killed worker leaves no trainer behind once its step ends.
import { runCli } from '@adapters/cli';
import type { ChildMessage, TrainRequest } from './trainer-pool';

const send = (m: ChildMessage) => {
  if (process.connected) process.send?.(m);
};

function lineSplitter(onLine: (line: string) => void): { write(chunk: string): void } {
  let pending = '';
  return {
    write(chunk: string) {
      pending += chunk;
      let nl: number;
      while ((nl = pending.search(/[\r\n]/)) >= 0) {
        onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    },
  };
}

async function trainOnce(req: TrainRequest): Promise<void> {
  let errorLine: string | undefined;
  const stderr = lineSplitter((line) => {
    const step = /step (\d+)\/(\d+)/.exec(line);
    if (step) send({ type: 'progress', step: Number(step[1]), total: Number(step[2]) });
    if (line.startsWith('adapters: error:')) errorLine = line.slice('adapters: error:'.length).trim();
  });
  const code = await runCli([...req.argv], { stdout: { write: () => true }, stderr: { write: (s: string) => stderr.write(s), isTTY: false }, cwd: req.cwd, env: process.env, pluginSearchPaths: [...req.pluginSearchPaths] });
  send({ type: 'done', code, ...(errorLine !== undefined ? { errorLine } : {}) });
}

let queue = Promise.resolve();
process.on('message', (m: { type?: string } & Partial<TrainRequest>) => {
  if (m.type !== 'train' || m.argv === undefined || m.cwd === undefined || m.pluginSearchPaths === undefined) return;
  const req: TrainRequest = { argv: m.argv, cwd: m.cwd, pluginSearchPaths: m.pluginSearchPaths };
  queue = queue.then(() => trainOnce(req)).catch((e: unknown) => send({ type: 'done', code: 1, errorLine: String((e as Error)?.message ?? e) }));
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
