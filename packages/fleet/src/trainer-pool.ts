// Training runs in child processes, one per concurrency slot, kept across jobs. The trainer is synchronous (it holds
// the event loop for the whole run), so training in the worker process itself would stop BullMQ from renewing the
// job's lock and a healthy long job would be taken for a dead one. A child that dies fails only its job (retried).
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import * as path from 'node:path';

/** What a training child reports back for one job. */
export interface TrainOutcome {
  /** The CLI's exit code: 0 done, 2 usage error (bad config: not worth retrying), 1 other failure. */
  readonly code: number;
  /** The last `adapters: error:` line, when it failed. */
  readonly errorLine?: string;
}

export interface TrainRequest {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly pluginSearchPaths: readonly string[];
}

/** Messages from the child. */
export type ChildMessage = { readonly type: 'ready' } | { readonly type: 'progress'; readonly step: number; readonly total: number } | { readonly type: 'done'; readonly code: number; readonly errorLine?: string };

export interface TrainerPoolOptions {
  /** The child's entry file (default: train-child next to this file, .ts when running from source). */
  readonly entry?: string;
  /** Node options for the children (default: this process's, so a ts-node preload carries over). */
  readonly execArgv?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Children to start right away (loading the trainer takes seconds; the first job need not wait for it). */
  readonly prewarm?: number;
}

interface Slot {
  child: ChildProcess;
  busy: boolean;
}

export class TrainerPool {
  private readonly slots: Slot[] = [];
  private closed = false;

  constructor(private readonly options: TrainerPoolOptions = {}) {
    for (let i = 0; i < (options.prewarm ?? 0); i++) this.spawn();
  }

  private spawn(): Slot {
    const ext = path.extname(__filename);
    const entry = this.options.entry ?? path.join(__dirname, `train-child${ext}`);
    const child = fork(entry, [], { execArgv: [...(this.options.execArgv ?? process.execArgv)], env: this.options.env ?? process.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const slot: Slot = { child, busy: false };
    child.on('exit', () => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
    });
    this.slots.push(slot);
    return slot;
  }

  /** Trains one job in an idle child (spawning one if none is idle); `onProgress(step, total)` as it goes. */
  train(request: TrainRequest, onProgress: (step: number, total: number) => void): Promise<TrainOutcome> {
    if (this.closed) return Promise.reject(new Error('the trainer pool is closed'));
    const slot = this.slots.find((s) => !s.busy && s.child.connected) ?? this.spawn();
    slot.busy = true;
    return new Promise<TrainOutcome>((resolve, reject) => {
      const onMessage = (m: ChildMessage) => {
        if (m.type === 'progress') onProgress(m.step, m.total);
        else if (m.type === 'done') {
          cleanup();
          slot.busy = false;
          resolve({ code: m.code, ...(m.errorLine !== undefined ? { errorLine: m.errorLine } : {}) });
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        cleanup();
        reject(new Error(`the training process died (${signal ?? `exit code ${code}`})`));
      };
      const cleanup = () => {
        slot.child.off('message', onMessage);
        slot.child.off('exit', onExit);
      };
      slot.child.on('message', onMessage);
      slot.child.on('exit', onExit);
      slot.child.send({ type: 'train', ...request });
    });
  }

  /** Stops the children (a running job's child is killed: its job is retried elsewhere). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
            s.child.once('exit', () => resolve());
            if (s.busy) s.child.kill('SIGKILL');
            else s.child.disconnect();
          }),
      ),
    );
  }
}
