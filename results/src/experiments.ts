// The experiments, as data: every run the reproduction makes is one row of this table (task, method, seed,
// budget). The runner turns a row into a command; the generator groups finished rows into the README table.
import type { GlueTask } from './data';
import { GLUE_TASKS } from './data';

/** The compute budget of one run (stated in the README; the same for every method of a grid). */
export interface Budget {
  /** Training examples: a fixed seeded subsample of the task's training set. */
  readonly trainSize: number;
  /** Dev examples evaluated (a fixed seeded subsample when the dev set is larger). */
  readonly devCap: number;
  readonly epochs: number;
  readonly maxLength: number;
  readonly batchSize: number;
}

// Sized for 2 cores shared by 8 people: ~1.5 min per adapter run, ~5 min per full fine-tuning run at 1 thread under load (2 workers).
export const CORE_BUDGET: Budget = { trainSize: 800, devCap: 500, epochs: 1, maxLength: 64, batchSize: 16 };
export const SEEDS: readonly number[] = [1, 2, 3];

export interface Method {
  readonly id: string;
  readonly label: string;
  /** `adapters train --adapter` spec. */
  readonly spec: string;
  readonly fullFinetune?: boolean;
  readonly lr: number;
  /** The grid runs core methods first; the optional ones when time allows. */
  readonly core: boolean;
  /** Only these tasks (default: all four). */
  readonly tasks?: readonly GlueTask[];
}

export const METHODS: readonly Method[] = [
  // Full fine-tuning trains the base and a seq_bn adapter together (the CLI always places an adapter); the
  // adapter adds 0.5% of the base and starts as the identity.
  { id: 'full', label: 'Full fine-tuning', spec: 'seq_bn', fullFinetune: true, lr: 1e-4, core: true },
  { id: 'houlsby', label: 'Houlsby (double_seq_bn, rf 16)', spec: 'double_seq_bn', lr: 1e-3, core: true },
  { id: 'pfeiffer', label: 'Pfeiffer (seq_bn, rf 16)', spec: 'seq_bn', lr: 1e-3, core: true },
  { id: 'lora', label: 'LoRA (q, v; r 8, α 8)', spec: 'lora', lr: 1e-3, core: true },
  { id: 'prefix', label: 'Prefix tuning (30, MLP 512)', spec: 'prefix_tuning', lr: 1e-3, core: true },
  { id: 'compacter', label: 'Compacter++', spec: 'compacter++', lr: 1e-3, core: false },
  { id: 'parallel', label: 'Parallel (par_bn, rf 2)', spec: 'par_bn', lr: 1e-3, core: false },
  // Issue 20's check: MAM beside seq_bn, LoRA and prefix tuning on SST-2 and RTE with the same budget.
  { id: 'mam', label: 'MAM (prefix 30, MLP 800 + par_bn rf 2)', spec: 'mam', lr: 1e-3, core: false, tasks: ['sst2', 'rte'] },
];

/** A single-task training run with `adapters train`. */
export interface TrainExperiment {
  readonly kind: 'train';
  readonly name: string;
  readonly task: GlueTask;
  readonly method: string;
  readonly seed: number;
  readonly budget: Budget;
}

/** AdapterFusion stage 2 over the seed's Pfeiffer (ST-A) adapters of `sources`, trained on `task`. */
export interface FusionExperiment {
  readonly kind: 'fusion';
  readonly name: string;
  readonly task: GlueTask;
  readonly sources: readonly GlueTask[];
  readonly seed: number;
  readonly lr: number;
  readonly budget: Budget;
  /** Experiments whose outputs this one reads (the ST-A adapters). */
  readonly needs: readonly string[];
}

/** AdapterDrop: a seq_bn adapter trained with the lowest n layers' adapters dropped, evaluated at each n. */
export interface DropExperiment {
  readonly kind: 'drop';
  readonly name: string;
  readonly task: GlueTask;
  readonly mode: 'specialized' | 'robust';
  /** specialized: the n trained (and evaluated) with; robust: undefined (n drawn per step from 0..L-1). */
  readonly n?: number;
  readonly seed: number;
  readonly lr: number;
  readonly budget: Budget;
}

export type Experiment = TrainExperiment | FusionExperiment | DropExperiment;

export const trainName = (task: string, method: string, seed: number): string => `${task}-${method}-s${seed}`;

export const FUSION_SOURCES: readonly GlueTask[] = ['sst2', 'mrpc', 'cola'];
export const FUSION_TARGETS: readonly GlueTask[] = ['rte', 'mrpc'];
export const DROP_TASK: GlueTask = 'sst2';
export const DROP_LAYERS: readonly number[] = [0, 1, 2, 3, 4, 5];

/**
 * The whole reproduction, in the order the runner works through it: per seed, the core grid, then that seed's
 * fusions and AdapterDrop runs (so a partial run still fills every section), then the optional methods.
 */
export function experiments(): Experiment[] {
  const out: Experiment[] = [];
  const grid = (core: boolean, seed: number): void => {
    for (const m of METHODS.filter((x) => x.core === core)) {
      for (const task of m.tasks ?? GLUE_TASKS) out.push({ kind: 'train', name: trainName(task, m.id, seed), task, method: m.id, seed, budget: CORE_BUDGET });
    }
  };
  for (const seed of SEEDS) {
    grid(true, seed);
    for (const task of FUSION_TARGETS) {
      // As in Pfeiffer et al. (2021), the fusion also holds the target task's own adapter.
      const sources = [...new Set([...FUSION_SOURCES, task])];
      out.push({ kind: 'fusion', name: `${task}-fusion-s${seed}`, task, sources, seed, lr: 5e-4, budget: CORE_BUDGET, needs: sources.map((s) => trainName(s, 'pfeiffer', seed)) });
    }
    out.push({ kind: 'drop', name: `${DROP_TASK}-drop-robust-s${seed}`, task: DROP_TASK, mode: 'robust', seed, lr: 1e-3, budget: CORE_BUDGET });
    for (const n of DROP_LAYERS.filter((k) => k > 0)) {
      out.push({ kind: 'drop', name: `${DROP_TASK}-drop-spec${n}-s${seed}`, task: DROP_TASK, mode: 'specialized', n, seed, lr: 1e-3, budget: CORE_BUDGET });
    }
  }
  for (const seed of SEEDS) grid(false, seed);
  return out;
}

export function methodById(id: string): Method {
  const m = METHODS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown method '${id}' (methods: ${METHODS.map((x) => x.id).join(', ')})`);
  return m;
}

/** Experiments matching `--only`: exact names, or a prefix ending in `*`, comma-separated. */
export function select(all: readonly Experiment[], only: string | undefined): Experiment[] {
  if (only === undefined) return [...all];
  const pats = only.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const hit = (name: string): boolean => pats.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p || name.includes(p)));
  const chosen = all.filter((e) => hit(e.name));
  if (chosen.length === 0) throw new Error(`--only ${only}: no experiment matches (see --list)`);
  return chosen;
}
