// Mid-stage checkpoints of nmt-train: one safetensors file next to the run directory (OUT.checkpoint.safetensors)
// holding the trainable weights, AdamW's moments and step, the step records and the settings it was written with.
// Written atomically (temp file, fsync, rename), so a kill at any moment leaves the previous checkpoint or the new one.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AdamWState, SlotValues } from '@adapters/core-graph';
import { ConfigError, encodeSafetensors, readSafetensorsFile } from '@adapters/core-graph';
import type { StepRecord, TranslationCheckpoint } from './loop';

export const CHECKPOINT_FORMAT = 'adapters-ts.nmt-checkpoint/1';

/** Where nmt-train keeps the checkpoint of a run that will be written to `outDir`. */
export const checkpointFile = (outDir: string): string => `${outDir}.checkpoint.safetensors`;

/** Settings a checkpoint is only valid for (recipe, data, sizes, schedule): JSON values, compared one by one. */
export type CheckpointSettings = Readonly<Record<string, unknown>>;

const WEIGHT = 'weights/';
const MOMENT_M = 'adam_m/';
const MOMENT_V = 'adam_v/';

/** Writes the checkpoint atomically (synchronously: the training loop calls it between steps). */
export function writeTranslationCheckpoint(file: string, checkpoint: TranslationCheckpoint, settings: CheckpointSettings): void {
  const { snapshot, records } = checkpoint;
  const optimizer = snapshot.optimizer;
  if (!optimizer) throw new ConfigError('checkpoint', 'needs the optimizer state');
  const tensors: Record<string, { dtype: 'F32' | 'I32'; shape: number[]; values: Float32Array | Int32Array }> = {};
  for (const [key, values] of snapshot.weights) tensors[WEIGHT + key] = { dtype: values instanceof Int32Array ? 'I32' : 'F32', shape: [values.length], values };
  const slot = (prefix: string, slots: ReadonlyMap<string, SlotValues>) => {
    for (const [key, s] of slots) tensors[prefix + key] = { dtype: 'F32', shape: [...s.shape], values: s.values };
  };
  slot(MOMENT_M, optimizer.m);
  slot(MOMENT_V, optimizer.v);
  const metadata = {
    format: CHECKPOINT_FORMAT,
    step: String(snapshot.step),
    optimizer_step: String(optimizer.step),
    settings: JSON.stringify(settings),
    records: JSON.stringify(records),
  };
  writeFileAtomicSync(file, encodeSafetensors(tensors, metadata));
}

/**
 * Reads a checkpoint written with the same settings; undefined when there is none. A checkpoint written with other
 * settings is an error naming the first one that differs (delete the file to start over).
 */
export async function readTranslationCheckpoint(file: string, settings: CheckpointSettings): Promise<TranslationCheckpoint | undefined> {
  if (!(await stat(file).then((s) => s.isFile(), () => false))) return undefined;
  const { tensors, metadata } = await readSafetensorsFile(file);
  const meta = (key: string): string => {
    const v = metadata[key];
    if (v === undefined) throw new ConfigError(`${file}: __metadata__.${key}`, 'is missing: not an nmt-train checkpoint');
    return v;
  };
  if (meta('format') !== CHECKPOINT_FORMAT) throw new ConfigError(`${file}: __metadata__.format`, `is '${meta('format')}', expected '${CHECKPOINT_FORMAT}'`);
  const saved = parseJson(meta('settings'), `${file}: __metadata__.settings`) as Record<string, unknown>;
  for (const key of new Set([...Object.keys(settings), ...Object.keys(saved)])) {
    const was = JSON.stringify(saved[key]);
    const now = JSON.stringify(settings[key]);
    if (was !== now) throw new ConfigError(`${file}: settings.${key}`, `was ${was ?? 'unset'} but this run has ${now ?? 'unset'}: delete the checkpoint to start over, or rerun with the same options`);
  }
  const records = parseJson(meta('records'), `${file}: __metadata__.records`) as StepRecord[];
  const step = Number(meta('step'));
  const optimizerStep = Number(meta('optimizer_step'));
  if (!Array.isArray(records) || !Number.isInteger(step) || step !== records.length) throw new ConfigError(`${file}: __metadata__.step`, `is ${meta('step')} but the file records ${Array.isArray(records) ? records.length : 'no'} steps`);
  const weights = new Map<string, Float32Array | Int32Array>();
  const m = new Map<string, SlotValues>();
  const v = new Map<string, SlotValues>();
  for (const [name, t] of tensors) {
    if (!(t.values instanceof Float32Array || (t.values instanceof Int32Array && name.startsWith(WEIGHT)))) throw new ConfigError(`${file}: ${name}`, `has dtype ${t.dtype}; checkpoints hold F32 (and I32 weights)`);
    const values = t.values;
    if (name.startsWith(WEIGHT)) weights.set(name.slice(WEIGHT.length), values);
    else if (name.startsWith(MOMENT_M)) m.set(name.slice(MOMENT_M.length), { shape: [...t.shape], values: values as Float32Array });
    else if (name.startsWith(MOMENT_V)) v.set(name.slice(MOMENT_V.length), { shape: [...t.shape], values: values as Float32Array });
    else throw new ConfigError(`${file}: ${name}`, `is not a checkpoint tensor (expected ${WEIGHT}, ${MOMENT_M} or ${MOMENT_V} names)`);
  }
  const optimizer: AdamWState = { step: optimizerStep, m, v };
  return { snapshot: { step, weights, optimizer }, records };
}

/** Removes the checkpoint once its run is saved, and any temp file a kill mid-write left next to it. */
export function removeTranslationCheckpoint(file: string): void {
  rmSync(file, { force: true });
  const prefix = `.${basename(file)}.`;
  for (const name of readdirSync(dirname(file))) if (name.startsWith(prefix) && name.endsWith('.tmp')) rmSync(join(dirname(file), name), { force: true });
}

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(field, `is not JSON (${(e as Error).message})`);
  }
}

function writeFileAtomicSync(file: string, bytes: Uint8Array): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dirFd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
