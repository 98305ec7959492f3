import { ConfigError } from '../errors';
import { GraphBuilder } from '../graph/builder';
import type { Graph } from '../graph/graph';
import type { EncoderConfig } from './config';

/** `input` names the graph output a head reads (default `last_hidden_state`, e.g. `kadapter.combined`). */
export type HeadSpec =
  | { readonly type: 'classification'; readonly name: string; readonly numLabels: number; readonly pooling?: 'pooler' | 'cls' | 'mean'; readonly dropout?: number; readonly input?: string }
  | { readonly type: 'tokenClassification'; readonly name: string; readonly numLabels: number; readonly dropout?: number; readonly input?: string }
  | { readonly type: 'maskedLM'; readonly name: string; readonly input?: string };

/** Prefix of a head's node ids; what follows it is the Hugging Face module name (e.g. `classifier`). */
export const headPrefix = (name: string): string => `heads.${name}`;

/**
 * Adds a prediction head reading `last_hidden_state`; its logits become output `${name}.logits`.
 * Head parameters are owned by `head:NAME` so training policies can tell them from the base.
 * A masked-LM head declares the site `heads.NAME.decoder_input` (kind `lm_decoder_input`): entry is the head's
 * input, exit the transform's output that the tied decoder reads.
 */
export function addHead(graph: Graph, spec: HeadSpec): Graph {
  const config = graph.meta['config'] as EncoderConfig | undefined;
  if (!config) throw new ConfigError('graph.meta.config', 'heads need an encoder graph built by buildEncoder');
  if (!/^[A-Za-z0-9_-]+$/.test(spec.name)) throw new ConfigError('head.name', `'${spec.name}' may use only letters, digits, _ and -`);
  if (`${spec.name}.logits` in graph.outputs) throw new ConfigError('head.name', `a head named '${spec.name}' already exists`);
  if (spec.type !== 'maskedLM' && !(Number.isInteger(spec.numLabels) && spec.numLabels > 0)) {
    throw new ConfigError('head.numLabels', `must be a positive integer, got ${JSON.stringify(spec.numLabels)}`);
  }
  const b = GraphBuilder.from(graph);
  const inputName = spec.input ?? 'last_hidden_state';
  const hidden = graph.outputs[inputName];
  if (!hidden) throw new ConfigError('head.input', `the graph has no output '${inputName}' to attach a head to (outputs: ${Object.keys(graph.outputs).join(', ')})`);
  if (spec.type === 'classification' && spec.pooling === 'pooler' && spec.input !== undefined && spec.input !== 'last_hidden_state') {
    throw new ConfigError('head.pooling', `'pooler' reads last_hidden_state; use 'cls' or 'mean' for input '${spec.input}'`);
  }
  const h = b.scope(headPrefix(spec.name), `head:${spec.name}`);
  const init = { kind: 'normal', std: 0.02 } as const;
  const eps = config.layerNormEps;
  let logits: string;
  switch (spec.type) {
    case 'classification': {
      const pooled = pool(b, config, hidden, spec.pooling ?? (config.architecture === 'bert' && spec.input === undefined ? 'pooler' : 'cls'), spec.name);
      const dropout = spec.dropout ?? config.hiddenDropout;
      if (config.architecture === 'roberta') {
        // RoBERTa's head: dense + tanh on <s>, then out_proj.
        const x = h.act('tanh', 'classifier.act', h.dense('classifier.dense', h.dropout('dropout', pooled, dropout), config.hiddenSize, { init }));
        logits = h.dense('classifier.out_proj', h.dropout('classifier.dropout', x, dropout), spec.numLabels, { init });
      } else {
        logits = h.dense('classifier', h.dropout('dropout', pooled, dropout), spec.numLabels, { init });
      }
      break;
    }
    case 'tokenClassification':
      logits = h.dense('classifier', h.dropout('dropout', hidden, spec.dropout ?? config.hiddenDropout), spec.numLabels, { init });
      break;
    case 'maskedLM': {
      const roberta = config.architecture === 'roberta';
      const base = roberta ? 'lm_head' : 'cls.predictions';
      const transform = roberta ? 'lm_head' : 'cls.predictions.transform';
      const t = h.act(roberta ? 'gelu' : config.hiddenAct, `${transform}.act`, h.dense(`${transform}.dense`, hidden, config.hiddenSize, { init }));
      const normed = h.layerNorm(roberta ? `${transform}.layer_norm` : `${transform}.LayerNorm`, t, eps);
      // The transform as a site whose exit is the decoder's input: an adapter spliced there in mode 'after'
      // runs right before the tied output layer (e.g. the inverse of an invertible embedding adapter, MAD-X).
      b.site({ name: `${headPrefix(spec.name)}.decoder_input`, kind: 'lm_decoder_input', entry: hidden, exit: normed });
      // The decoder is tied to the word embeddings: it reads the [vocab, hidden] table transposed.
      logits = h.dense(`${base}.decoder`, normed, config.vocabSize, { weightRef: 'embeddings.word_embeddings.weight', transposeWeight: true });
      break;
    }
  }
  b.output(`${spec.name}.logits`, logits);
  const heads = (graph.meta['heads'] as HeadSpec[] | undefined) ?? [];
  b.setMeta('heads', [...heads, spec]);
  return b.build();
}

function pool(b: GraphBuilder, c: EncoderConfig, hidden: string, pooling: 'pooler' | 'cls' | 'mean', head: string): string {
  const h = b.scope(headPrefix(head), `head:${head}`);
  if (pooling === 'cls') return h.op('token', 'cls', [hidden], { attrs: { index: 0 } });
  if (pooling === 'mean') return h.op('maskedMean', 'mean', [hidden, 'inputs.attention_mask']);
  if (c.architecture !== 'bert') throw new ConfigError('head.pooling', `'pooler' exists only for BERT; use 'cls'`);
  if (!b.has('pooler.act')) throw new ConfigError('head.pooling', `the encoder was built without a pooler; use pooling 'cls' or 'mean'`);
  return 'pooler.act';
}
