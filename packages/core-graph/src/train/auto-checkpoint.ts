import { ConfigError } from '../errors';
import type { StepOptions } from './create-trainer';

/** A loop's `checkpointLayers` setting: true always, false never, 'auto' from the first step that runs out of wasm heap. */
export type CheckpointLayers = boolean | 'auto';

/** Whether a run's steps checkpoint their layers, for loops on createTrainer (train, trainMultiTask, plugin loops). */
export interface CheckpointSwitch {
  /** Whether the step being computed (or recomputed) checkpoints its layers: read it inside the loss function. */
  readonly on: boolean;
  /** With 'auto': the step (1-based) that ran out of heap and was recomputed with checkpointing; undefined otherwise. */
  readonly from: number | undefined;
  /** Pass to `trainer.step`: with 'auto', the first out-of-heap step says yes to one retry and turns `on` for good. */
  readonly stepOptions: Pick<StepOptions, 'onHeapExhausted'>;
}

/**
 * The state behind `checkpointLayers` (default 'auto') for one run; `stepsTaken` is the run's trainer's `steps`
 * (call it before creating the trainer: a bad setting is a ConfigError then). Nothing is updated when the heap
 * error comes (the optimizer runs after the gradients), so the retried step equals an uninterrupted checkpointed one.
 * `possible` false (graphs without layer sites, see `canCheckpoint`): 'auto' lets the error through, as a retry
 * would compute the same.
 */
export function checkpointSwitch(checkpointLayers: CheckpointLayers | undefined, stepsTaken: () => number, possible = true): CheckpointSwitch {
  const setting = checkpointLayers ?? 'auto';
  if (setting !== true && setting !== false && setting !== 'auto') throw new ConfigError('checkpointLayers', `must be true, false or 'auto', got ${JSON.stringify(setting)}`);
  let from: number | undefined;
  const on = () => setting === true || from !== undefined;
  return {
    get on() {
      return on();
    },
    get from() {
      return from;
    },
    stepOptions: {
      onHeapExhausted: () => {
        if (on() || setting === false || !possible) return false;
        from = stepsTaken() + 1;
        return true;
      },
    },
  };
}
