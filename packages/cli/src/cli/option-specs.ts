// Option specs the training and evaluation commands share (the built-in ones and every plugin's CLI entry), so a
// flag means the same thing, with the same type, bounds and placeholder, in every command. A command changes only
// what differs for it (help text, default) with `option(key, { ... })`.
import { MAX_SEED } from '@adapters/core-graph';
import type { OptionSpec } from './args';

const MODEL_HELP = 'model directory (config.json, model.safetensors, tokenizer) or a known name: all-MiniLM-L6-v2 (alias minilm), multilingual-e5-small (alias me5)';

export const SHARED_OPTIONS = {
  model: { name: 'model', type: 'string', metavar: 'DIR|NAME', help: MODEL_HELP },
  data: { name: 'data', type: 'string', metavar: 'FILE', help: 'training examples (.tsv, .csv or .jsonl)' },
  eval: { name: 'eval', type: 'string', metavar: 'FILE', help: 'evaluation examples, same columns' },
  out: { name: 'out', type: 'string', metavar: 'DIR', help: 'output directory' },
  // Seeds are 32-bit everywhere (core-graph's checkSeed): out-of-range values are a usage error before any work.
  seed: { name: 'seed', type: 'int', min: 0, max: MAX_SEED, metavar: 'N', help: 'random seed', defaultText: '42' },
  lr: { name: 'lr', type: 'number', min: 0, metavar: 'X', help: 'peak learning rate (linear warm-up and decay)', defaultText: '1e-3' },
  epochs: { name: 'epochs', type: 'int', min: 1, metavar: 'N', help: 'passes over the training data', defaultText: '3' },
  steps: { name: 'steps', type: 'int', min: 1, metavar: 'N', help: 'training steps' },
  maxSteps: { name: 'max-steps', type: 'int', min: 1, metavar: 'N', help: 'stop after N steps' },
  evalEvery: { name: 'eval-every', type: 'int', min: 1, metavar: 'N', help: 'evaluate every N steps' },
  batchSize: { name: 'batch-size', type: 'int', min: 1, metavar: 'N', help: 'examples per step', defaultText: '16' },
  maxLength: { name: 'max-length', type: 'int', min: 4, metavar: 'N', help: 'tokens per example, including special tokens', defaultText: '128' },
  pooling: { name: 'pooling', type: 'string', metavar: 'mean|cls|pooler', help: 'how the head reads the sequence', defaultText: 'mean' },
  run: { name: 'run', type: 'string', metavar: 'DIR', help: 'a run directory (run.json), written by a training command' },
  gradientCheckpointing: {
    name: 'gradient-checkpointing', type: 'string', metavar: 'auto|on|off', defaultText: 'auto',
    help: 'recompute each layer in the backward pass instead of keeping its activations (less memory, ~1/3 more compute); auto: from the first step that runs out of wasm heap',
  },
  limit: { name: 'limit', type: 'int', min: 1, metavar: 'N', help: 'use the first N examples' },
  // Multi-task commands (train --task, pals-train, fusion-stage1): `parseTaskArgs` / `parseSampling` in tasks.ts read them.
  task: { name: 'task', type: 'string', repeat: true, metavar: 'NAME=TRAIN[,EVAL]', help: 'a task: its name (letters, digits, _ -), its training file and optionally a dev file (.tsv, .csv, .jsonl)' },
  sampling: { name: 'sampling', type: 'string', metavar: 'annealed|proportional|uniform|round-robin|all|temperature=T', help: 'how each multi-task step picks its task', defaultText: 'annealed' },
} as const satisfies Readonly<Record<string, OptionSpec>>;

export type SharedOptionKey = keyof typeof SHARED_OPTIONS;

/** What a command may change of a shared option: its help and default text, its placeholder and lower bound. */
export type OptionOverrides = Partial<Pick<OptionSpec, 'help' | 'defaultText' | 'metavar' | 'min'>>;

/** A shared option (`SHARED_OPTIONS[key]`) with this command's help, default or placeholder; name and type never change. */
export function option(key: SharedOptionKey, overrides: OptionOverrides = {}): OptionSpec {
  return { ...SHARED_OPTIONS[key], ...overrides };
}
