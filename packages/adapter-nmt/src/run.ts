import * as tf from '@tensorflow/tfjs';
import type { Executor, RunOptions } from '@adapters/core-graph';
import { checkpointedForward } from '@adapters/core-graph';
import type { Seq2SeqConfig } from './config';
import { crossKeyNode, crossValueNode, ENCODER_OUTPUT_NODE, pastKeyInput, pastValueInput, presentKeyOutput, presentValueOutput } from './model';

/** One decoder layer's self-attention cache: keys and values of every position decoded so far, [batch, past, dModel]. */
export interface LayerCache {
  readonly key: tf.Tensor3D;
  readonly value: tf.Tensor3D;
}

/** What stays fixed while decoding one batch: the encoder's output and each layer's cross-attention keys/values. */
export interface EncoderState {
  readonly attentionMask: tf.Tensor2D;
  readonly encoderOutput: tf.Tensor3D;
  readonly crossKeys: readonly tf.Tensor3D[];
  readonly crossValues: readonly tf.Tensor3D[];
}

export interface Seq2SeqInputs {
  readonly inputIds: tf.Tensor2D;
  readonly attentionMask: tf.Tensor2D;
  readonly decoderInputIds: tf.Tensor2D;
}

const inputNode = (name: string): string => `inputs.${name}`;

/** The graph's config (recorded in meta by the builder). */
export function configOf(executor: Executor): Seq2SeqConfig {
  const c = executor.graph.meta.seq2seq;
  if (!c) throw new TypeError('not an encoder-decoder graph (build it with buildSeq2Seq)');
  return c;
}

/** Empty caches [batch, 0, dModel] per decoder layer: a run with them is the uncached forward pass. */
function emptyCaches(config: Seq2SeqConfig, batch: number): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (let i = 0; i < config.decoderLayers; i++) {
    out.set(inputNode(pastKeyInput(i)), tf.zeros([batch, 0, config.dModel]));
    out.set(inputNode(pastValueInput(i)), tf.zeros([batch, 0, config.dModel]));
  }
  return out;
}

/**
 * Teacher-forced forward pass (training, evaluation, parity): the whole encoder and decoder, no cache.
 * Returns the requested outputs (default `logits`). Use inside a tidy or gradient function (it calls `forward`).
 * `checkpoint`: run it under core-graph's gradient checkpointing (each encoder and decoder layer but the first
 * recomputed in the backward pass), the predicate saying which parameters take gradients.
 */
export function seq2seqForward(executor: Executor, inputs: Seq2SeqInputs, options: RunOptions = {}, checkpoint?: (key: string) => boolean): Record<string, tf.Tensor> {
  const config = configOf(executor);
  const batch = inputs.decoderInputIds.shape[0];
  const constants = new Map<string, tf.Tensor>([...(options.constants ?? []), ...emptyCaches(config, batch)]);
  constants.set(inputNode('input_ids'), inputs.inputIds);
  constants.set(inputNode('attention_mask'), inputs.attentionMask);
  const feeds = { decoder_input_ids: inputs.decoderInputIds };
  const run = { outputs: ['logits'], ...options, constants };
  return checkpoint ? checkpointedForward(executor, feeds, run, checkpoint) : executor.forward(feeds, run);
}

/** Runs the encoder once and computes each decoder layer's cross-attention keys and values (cached for every step). */
export function encode(executor: Executor, inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, options: RunOptions = {}): EncoderState {
  const config = configOf(executor);
  return tf.tidy(() => {
    // Every input needs a value; the decoder's are never read for these outputs.
    const constants = emptyCaches(config, inputIds.shape[0]);
    constants.set(inputNode('decoder_input_ids'), tf.zeros([inputIds.shape[0], 1], 'int32'));
    constants.set(inputNode('input_ids'), inputIds);
    constants.set(inputNode('attention_mask'), attentionMask);
    const nodes = Array.from({ length: config.decoderLayers }, (_v, i) => [crossKeyNode(i), crossValueNode(i)]).flat();
    const out = executor.forward({}, { ...options, constants, outputs: ['encoder_last_hidden_state'], nodes });
    return {
      attentionMask: tf.clone(attentionMask),
      encoderOutput: out['encoder_last_hidden_state'] as tf.Tensor3D,
      crossKeys: Array.from({ length: config.decoderLayers }, (_v, i) => out[crossKeyNode(i)] as tf.Tensor3D),
      crossValues: Array.from({ length: config.decoderLayers }, (_v, i) => out[crossValueNode(i)] as tf.Tensor3D),
    };
  });
}

export function disposeEncoderState(state: EncoderState): void {
  tf.dispose([state.attentionMask, state.encoderOutput, ...state.crossKeys, ...state.crossValues]);
}

/**
 * One decoding step: logits of the new tokens [batch, t, vocab] given the encoder state and the self-attention
 * cache of the tokens before them (undefined: none), and the extended cache. The caller owns (and disposes) both.
 */
export function decodeStep(executor: Executor, state: EncoderState, decoderInputIds: tf.Tensor2D, cache: readonly LayerCache[] | undefined, options: RunOptions = {}): { logits: tf.Tensor3D; cache: LayerCache[] } {
  const config = configOf(executor);
  return tf.tidy(() => {
    const batch = decoderInputIds.shape[0];
    const constants = cache ? new Map<string, tf.Tensor>() : emptyCaches(config, batch);
    cache?.forEach((c, i) => {
      constants.set(inputNode(pastKeyInput(i)), c.key);
      constants.set(inputNode(pastValueInput(i)), c.value);
    });
    constants.set(inputNode('attention_mask'), state.attentionMask);
    // Never read (the encoder's output is given), but every input needs a value.
    constants.set(inputNode('input_ids'), tf.zeros([batch, 1], 'int32'));
    constants.set(ENCODER_OUTPUT_NODE, state.encoderOutput);
    state.crossKeys.forEach((k, i) => constants.set(crossKeyNode(i), k));
    state.crossValues.forEach((v, i) => constants.set(crossValueNode(i), v));
    const presents = Array.from({ length: config.decoderLayers }, (_v, i) => [presentKeyOutput(i), presentValueOutput(i)]).flat();
    const out = executor.forward({ decoder_input_ids: decoderInputIds }, { ...options, constants, outputs: ['logits', ...presents] });
    return {
      logits: out['logits'] as tf.Tensor3D,
      cache: Array.from({ length: config.decoderLayers }, (_v, i) => ({ key: out[presentKeyOutput(i)] as tf.Tensor3D, value: out[presentValueOutput(i)] as tf.Tensor3D })),
    };
  });
}
