// Save / load a trained UDapter: the generator (language MLP + per-layer generators) and the parser head, not
// per-language adapters; any language's adapter comes from its typology vector at run time.
import * as tf from '@tensorflow/tfjs';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { ConfigError, readSafetensorsFile, writeSafetensorsFile } from '@adapters/core-graph';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { BiaffineWeights } from './biaffine';
import type { UdapterConfig } from './config';
import { UDAPTER_DEFAULTS } from './config';
import type { ParserSpec } from './parser';
import { buildUdapterGraph, UdapterParser } from './parser';

export const UDAPTER_CONFIG_FILE = 'udapter_config.json';
export const UDAPTER_WEIGHTS_FILE = 'udapter.safetensors';
const HEAD_PREFIX = 'parser.';

export interface SavedUdapter {
  readonly spec: ParserSpec;
  /** Languages the generator was trained on (ISO 639-3 typology codes by treebank code). */
  readonly trainedOn: Readonly<Record<string, string>>;
  readonly steps: number;
  /** The base model's folder (what udapter-eval loads when no --model is given). */
  readonly model?: string;
  readonly seed?: number;
}

export async function saveUdapter(dir: string, parser: UdapterParser, meta: Omit<SavedUdapter, 'spec'>): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const key of parser.adapterKeys()) {
    const v = parser.store.get(key);
    tensors[key] = { dtype: 'F32', shape: [...v.shape], values: v.dataSync() as Float32Array };
  }
  for (const [name, v] of Object.entries(parser.head)) tensors[`${HEAD_PREFIX}${name}`] = { dtype: 'F32', shape: [...v.shape], values: v.dataSync() as Float32Array };
  await writeSafetensorsFile(path.join(dir, UDAPTER_WEIGHTS_FILE), tensors);
  const tmp = path.join(dir, `${UDAPTER_CONFIG_FILE}.tmp`);
  await fs.writeFile(tmp, JSON.stringify({ format: 'udapter/1', ...meta, spec: parser.spec }, null, 2));
  await fs.rename(tmp, path.join(dir, UDAPTER_CONFIG_FILE));
}

export async function readUdapterMeta(dir: string): Promise<SavedUdapter> {
  const file = path.join(dir, UDAPTER_CONFIG_FILE);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(file, `cannot read a UDapter config (${(e as Error).message})`);
  }
  if (json['format'] !== 'udapter/1') throw new ConfigError(`${file}: format`, `expected "udapter/1", got ${JSON.stringify(json['format'])}`);
  const spec = json['spec'] as ParserSpec | undefined;
  if (spec === undefined || !Array.isArray(spec.labels) || typeof spec.arc !== 'number' || typeof spec.label !== 'number' || typeof spec.padId !== 'number') throw new ConfigError(`${file}: spec`, 'needs labels, arc, label and padId');
  const model = typeof json['model'] === 'string' ? { model: json['model'] } : {};
  const seed = typeof json['seed'] === 'number' ? { seed: json['seed'] } : {};
  return { spec: { ...spec, config: { ...UDAPTER_DEFAULTS, ...(spec.config as Partial<UdapterConfig>) } }, trainedOn: (json['trainedOn'] ?? {}) as Record<string, string>, steps: Number(json['steps'] ?? 0), ...model, ...seed };
}

/**
 * Builds a parser on `base` from a saved directory. Every tensor is checked (present, right shape) before any
 * is assigned, so a bad file leaves nothing half-loaded.
 */
export async function loadUdapter(dir: string, base: Graph, store: WeightStore): Promise<{ parser: UdapterParser; saved: SavedUdapter }> {
  const saved = await readUdapterMeta(dir);
  const file = path.join(dir, UDAPTER_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(file);
  const graph: Graph = buildUdapterGraph(base, saved.spec.config);
  const parser = new UdapterParser(graph, store, saved.spec);
  try {
    const targets: Array<[tf.Variable, string]> = [
      ...parser.adapterKeys().map((k) => [store.get(k), k] as [tf.Variable, string]),
      ...Object.entries(parser.head as BiaffineWeights).map(([n, v]) => [v, `${HEAD_PREFIX}${n}`] as [tf.Variable, string]),
    ];
    for (const [v, key] of targets) {
      const t = tensors.get(key);
      if (t === undefined) throw new ConfigError(`${file}: ${key}`, 'is missing');
      if (t.shape.join() !== v.shape.join()) throw new ConfigError(`${file}: ${key}`, `has shape [${t.shape.join(', ')}], the model needs [${v.shape.join(', ')}]`);
    }
    for (const [v, key] of targets) {
      const t = tensors.get(key)!;
      tf.tidy(() => v.assign(tf.tensor(t.values as Float32Array, t.shape)));
    }
  } catch (e) {
    store.remove(parser.adapterKeys());
    parser.dispose();
    throw e;
  }
  return { parser, saved };
}
