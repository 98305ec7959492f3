// A grid file (YAML or JSON): one model, methods × tasks (or languages) × seeds, shared hyper-parameters. Every
// cell is one training job whose id is a hash of everything that defines it, so submitting the same grid again
// names the same jobs (the queue keeps one job per id: no duplicates).
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { GridError } from './errors';

/** `adapters train` options a grid may set (flag name → value type). */
export const HYPER_OPTIONS: Readonly<Record<string, 'int' | 'number' | 'string' | 'boolean'>> = {
  epochs: 'int',
  'max-steps': 'int',
  'batch-size': 'int',
  lr: 'number',
  'max-length': 'int',
  'train-limit': 'int',
  'eval-every': 'int',
  'eval-subset': 'int',
  patience: 'int',
  pooling: 'string',
  'text-column': 'string',
  'pair-column': 'string',
  'label-column': 'string',
  'full-finetune': 'boolean',
};

export type HyperValue = string | number | boolean;

/** One training job: everything `adapters train` needs, with data paths made absolute. */
export interface FleetJobSpec {
  readonly fleet: string;
  readonly model: string;
  /** Adapter spec as `adapters train --adapter` takes it, e.g. `seq_bn:reduction_factor=8`. */
  readonly method: string;
  /** Short name of the method in tables (default: the spec). */
  readonly methodLabel: string;
  /** Task or language name; also the head's name (`--name`). */
  readonly task: string;
  readonly data: string;
  readonly eval?: string;
  readonly seed: number;
  readonly hyper: Readonly<Record<string, HyperValue>>;
  /** Forces a TensorFlow.js backend on the workers (e.g. `cpu` for bit-exact comparisons across machines). */
  readonly backend?: string;
}

export interface FleetJob {
  /** Stable id: `j` + 20 hex digits of the spec's SHA-256. */
  readonly id: string;
  /** Human-readable: `task/method/s<seed>`. */
  readonly name: string;
  readonly spec: FleetJobSpec;
}

export interface Grid {
  readonly name: string;
  readonly jobs: readonly FleetJob[];
}

/** Most jobs one grid may expand to (a typo such as seeds: 1..100000 must not flood the queue). */
export const MAX_GRID_JOBS = 10_000;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const GRID_KEYS = ['name', 'model', 'methods', 'tasks', 'languages', 'seeds', 'hyper', 'backend'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Canonical JSON (keys sorted at every level): equal specs give equal bytes, hence equal ids. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObj(value)) {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function jobId(spec: FleetJobSpec): string {
  return `j${createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 20)}`;
}

function checkHyper(value: unknown, where: string): Record<string, HyperValue> {
  if (value === undefined) return {};
  if (!isObj(value)) throw new GridError(where, 'must be a mapping of train options, e.g. { epochs: 1, lr: 0.001 }');
  const out: Record<string, HyperValue> = {};
  for (const [key, v] of Object.entries(value)) {
    const type = HYPER_OPTIONS[key];
    if (type === undefined) throw new GridError(`${where}.${key}`, `is not a train option (options: ${Object.keys(HYPER_OPTIONS).join(', ')})`);
    const ok =
      type === 'int' ? Number.isSafeInteger(v) && (v as number) >= 0
      : type === 'number' ? typeof v === 'number' && Number.isFinite(v) && v >= 0
      : type === 'boolean' ? typeof v === 'boolean'
      : typeof v === 'string' && v.length > 0 && v.length <= 200;
    if (!ok) throw new GridError(`${where}.${key}`, `must be ${type === 'int' ? 'a non-negative integer' : type === 'number' ? 'a non-negative number' : type === 'boolean' ? 'true or false' : 'a non-empty string'}, got ${JSON.stringify(v)}`);
    out[key] = v as HyperValue;
  }
  return out;
}

interface Method {
  readonly spec: string;
  readonly label: string;
  readonly hyper: Record<string, HyperValue>;
}

function checkMethods(value: unknown, where: string): Method[] {
  if (!Array.isArray(value) || value.length === 0) throw new GridError(`${where}.methods`, 'must be a non-empty list of adapter specs (e.g. [seq_bn, "lora:r=8"])');
  return value.map((m: unknown, i) => {
    const at = `${where}.methods[${i}]`;
    if (typeof m === 'string') {
      if (m.trim() === '' || m.length > 500) throw new GridError(at, 'must be a non-empty adapter spec');
      return { spec: m, label: m, hyper: {} };
    }
    if (!isObj(m) || typeof m['adapter'] !== 'string' || m['adapter'].trim() === '') throw new GridError(at, 'must be an adapter spec or { adapter: SPEC, label?: NAME, hyper?: {...} }');
    for (const k of Object.keys(m)) if (!['adapter', 'label', 'hyper'].includes(k)) throw new GridError(`${at}.${k}`, 'is not a method field (adapter, label, hyper)');
    const label = m['label'] ?? m['adapter'];
    if (typeof label !== 'string') throw new GridError(`${at}.label`, 'must be a string');
    return { spec: m['adapter'], label, hyper: checkHyper(m['hyper'], `${at}.hyper`) };
  });
}

interface Task {
  readonly name: string;
  readonly data: string;
  readonly eval?: string;
  readonly hyper: Record<string, HyperValue>;
}

function checkTasks(value: unknown, where: string, baseDir: string): Task[] {
  if (!isObj(value) || Object.keys(value).length === 0) throw new GridError(where, 'must map each task (or language) name to { data: FILE, eval?: FILE, hyper?: {...} }');
  return Object.entries(value).map(([name, t]) => {
    const at = `${where}.${name}`;
    if (!NAME.test(name)) throw new GridError(at, 'a task name may use only letters, digits, _ and - (it names the head)');
    const entry = typeof t === 'string' ? { data: t } : t;
    if (!isObj(entry) || typeof entry['data'] !== 'string' || entry['data'] === '') throw new GridError(at, 'must be a training file or { data: FILE, eval?: FILE, hyper?: {...} }');
    for (const k of Object.keys(entry)) if (!['data', 'eval', 'hyper'].includes(k)) throw new GridError(`${at}.${k}`, 'is not a task field (data, eval, hyper)');
    if (entry['eval'] !== undefined && (typeof entry['eval'] !== 'string' || entry['eval'] === '')) throw new GridError(`${at}.eval`, 'must be a file path');
    // Relative paths are relative to the grid file; workers on other machines need them on a shared mount.
    return {
      name,
      data: path.resolve(baseDir, entry['data']),
      ...(typeof entry['eval'] === 'string' ? { eval: path.resolve(baseDir, entry['eval']) } : {}),
      hyper: checkHyper(entry['hyper'], `${at}.hyper`),
    };
  });
}

function checkSeeds(value: unknown, where: string): number[] {
  if (value === undefined) return [42];
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((s) => Number.isSafeInteger(s) && s >= 0 && s < 2 ** 31)) throw new GridError(where, 'must be a non-negative integer or a list of them');
  if (new Set(list).size !== list.length) throw new GridError(where, 'lists a seed twice');
  return list as number[];
}

/**
 * Expands a parsed grid into jobs. `file` names the grid in errors and anchors relative data paths.
 * Hyper-parameters merge grid < method < task (the more specific wins).
 */
export function expandGrid(value: unknown, file: string): Grid {
  const where = path.basename(file);
  if (!isObj(value)) throw new GridError(where, 'must be a mapping with model, methods, tasks (or languages) and seeds');
  for (const k of Object.keys(value)) if (!GRID_KEYS.includes(k)) throw new GridError(`${where}: ${k}`, `is not a grid field (fields: ${GRID_KEYS.join(', ')})`);
  const name = value['name'] ?? path.basename(file).replace(/\.(ya?ml|json)$/i, '');
  if (typeof name !== 'string' || !NAME.test(name)) throw new GridError(`${where}: name`, 'must use only letters, digits, _ and - (1-64 characters)');
  const model = value['model'];
  if (typeof model !== 'string' || model === '') throw new GridError(`${where}: model`, 'must be a model directory or a known model name');
  if (value['tasks'] !== undefined && value['languages'] !== undefined) throw new GridError(where, 'give tasks or languages, not both');
  const tasksKey = value['languages'] !== undefined ? 'languages' : 'tasks';
  const baseDir = path.dirname(path.resolve(file));
  const methods = checkMethods(value['methods'], where);
  const tasks = checkTasks(value[tasksKey], `${where}: ${tasksKey}`, baseDir);
  const seeds = checkSeeds(value['seeds'], `${where}: seeds`);
  const hyper = checkHyper(value['hyper'], `${where}: hyper`);
  const backend = value['backend'];
  if (backend !== undefined && typeof backend !== 'string') throw new GridError(`${where}: backend`, 'must be a backend name (cpu, wasm, tensorflow)');
  const total = methods.length * tasks.length * seeds.length;
  if (total > MAX_GRID_JOBS) throw new GridError(where, `expands to ${total} jobs; at most ${MAX_GRID_JOBS} per grid`);
  // A model directory given relative to the grid is made absolute; a name (no slash) stays a name.
  const modelRef = model.includes('/') || model.startsWith('.') ? path.resolve(baseDir, model) : model;
  const jobs: FleetJob[] = [];
  const seen = new Map<string, string>();
  for (const task of tasks) {
    for (const method of methods) {
      for (const seed of seeds) {
        const spec: FleetJobSpec = {
          fleet: name, model: modelRef, method: method.spec, methodLabel: method.label, task: task.name, data: task.data,
          ...(task.eval !== undefined ? { eval: task.eval } : {}),
          seed, hyper: { ...hyper, ...method.hyper, ...task.hyper },
          ...(typeof backend === 'string' ? { backend } : {}),
        };
        const id = jobId(spec);
        const jobName = `${task.name}/${method.label}/s${seed}`;
        if (seen.has(id)) throw new GridError(where, `jobs ${seen.get(id)} and ${jobName} are the same training run (a method listed twice?)`);
        seen.set(id, jobName);
        jobs.push({ id, name: jobName, spec });
      }
    }
  }
  return { name, jobs };
}

/** Parses grid text (YAML; JSON is YAML too). */
export function parseGrid(text: string, file: string): Grid {
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new GridError(path.basename(file), `not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  return expandGrid(value, file);
}

/** The `adapters train` arguments of a job, writing its run to `out`. */
export function trainArgv(spec: FleetJobSpec, out: string): string[] {
  const argv = ['train', '--model', spec.model, '--data', spec.data, ...(spec.eval !== undefined ? ['--eval', spec.eval] : []), '--adapter', spec.method, '--name', spec.task, '--seed', String(spec.seed), '--out', out];
  for (const key of Object.keys(spec.hyper).sort()) {
    const v = spec.hyper[key] as HyperValue;
    if (typeof v === 'boolean') {
      if (v) argv.push(`--${key}`);
    } else argv.push(`--${key}`, String(v));
  }
  if (spec.backend !== undefined) argv.push('--backend', spec.backend);
  return argv;
}
