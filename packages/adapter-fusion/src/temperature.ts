// A `temperature: true` fusion's softmax temperature T lives in the weight store (key fusionTemperatureKey(name),
// a non-trained scalar), so it belongs to one model and is saved with the fusion.
import * as tf from '@tensorflow/tfjs';
import type { WeightStore } from '@adapters/core-graph';
import { ConfigError, GraphError } from '@adapters/core-graph';
import { fusionTemperatureKey } from './plugin';

/** The current T of fusion `name` in `store`. */
export function fusionTemperature(store: WeightStore, name: string): number {
  const key = fusionTemperatureKey(name);
  if (!store.has(key)) throw new GraphError(`the store has no temperature for fusion '${name}' ('${key}'): is it configured with temperature: true?`);
  return store.get(key).dataSync()[0] as number;
}

/** Sets T of fusion `name` (a positive, finite number). */
export function setFusionTemperature(store: WeightStore, name: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) throw new ConfigError(`fusion '${name}'.temperature`, `must be a positive number, got ${value}`);
  const key = fusionTemperatureKey(name);
  if (!store.has(key)) throw new GraphError(`the store has no temperature for fusion '${name}' ('${key}'): is it configured with temperature: true?`);
  const t = tf.scalar(value, 'float32');
  store.assign(key, t);
  t.dispose();
}
