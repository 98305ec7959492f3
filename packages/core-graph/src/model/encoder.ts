import type { Scope } from '../graph/builder';
import { GraphBuilder } from '../graph/builder';
import type { Graph } from '../graph/graph';
import type { Init } from '../graph/types';
import type { EncoderConfig } from './config';
import { encoderConfig } from './config';

const WEIGHT_INIT: Init = { kind: 'normal', std: 0.02 };

/**
 * Builds a BERT/RoBERTa post-LN encoder. Node ids follow Hugging Face module names (without the
 * `bert.`/`roberta.` prefix), so parameter keys map one-to-one onto checkpoint keys.
 * Sites: `embeddings`, `layer.{i}.attention`, `layer.{i}.ffn`, `layer.{i}.output`, `encoder.output`, and one
 * opt-in site of kind `linear` per dense layer (`layer.{i}.attention.self.query|key|value`,
 * `layer.{i}.attention.output.dense`, `layer.{i}.intermediate.dense`, `layer.{i}.output.dense`, `pooler.dense`:
 * entry = the dense layer's input, exit = x·W + b) where LoRA-style adapters change one projection, and one opt-in
 * site of kind `prefix` per layer (`layer.{i}.attention.self`: exit = the attention context) for prefix tuning.
 */
export function buildEncoder(partial: Partial<EncoderConfig> = {}, options: EncoderOptions = {}): Graph {
  return encoderBuilder(partial, options).build();
}

export interface EncoderOptions {
  /** BERT's pooler (dense + tanh on [CLS], output `pooler_output`); default true for BERT, absent for RoBERTa. */
  readonly pooler?: boolean;
}

/** Same as buildEncoder, but returns the builder so heads can be added before freezing. */
export function encoderBuilder(partial: Partial<EncoderConfig> = {}, options: EncoderOptions = {}): GraphBuilder {
  const config = encoderConfig(partial);
  const b = new GraphBuilder({ architecture: config.architecture, prefix: config.architecture, config });
  const ids = b.input('input_ids', ['batch', 'seq'], 'int32');
  const mask = b.input('attention_mask', ['batch', 'seq'], 'float32', 'ones');
  const types = b.input('token_type_ids', ['batch', 'seq'], 'int32', 'zeros');
  const s = (prefix: string) => b.scope(prefix, 'base');

  const emb = s('embeddings');
  const word = emb.op('embedding', 'word_embeddings', [ids], { params: { weight: { shape: [config.vocabSize, config.hiddenSize], init: WEIGHT_INIT, kind: 'embedding' } } });
  const isRoberta = config.architecture === 'roberta';
  const positionIds = emb.op('positions', 'position_ids', isRoberta ? [ids, mask] : [ids], {
    attrs: isRoberta ? { style: 'roberta', offset: config.padTokenId + 1 } : { style: 'absolute', offset: 0 },
  });
  const pos = emb.op('embedding', 'position_embeddings', [positionIds], { params: { weight: { shape: [config.maxPositions, config.hiddenSize], init: WEIGHT_INIT, kind: 'embedding' } } });
  const typ = emb.op('embedding', 'token_type_embeddings', [types], { params: { weight: { shape: [config.typeVocabSize, config.hiddenSize], init: WEIGHT_INIT, kind: 'embedding' } } });
  const summed = emb.op('sum', 'sum', [word, pos, typ]);
  const embNorm = emb.layerNorm('LayerNorm', summed, config.layerNormEps);
  let hidden = emb.dropout('dropout', embNorm, config.hiddenDropout);
  b.site({ name: 'embeddings', kind: 'embeddings', entry: word, exit: hidden, module: 'embeddings' });

  const embeddingsOut = hidden;
  for (let i = 0; i < config.numLayers; i++) hidden = buildLayer(b, config, i, hidden, mask);
  b.site({ name: 'encoder.output', kind: 'encoder.output', entry: embeddingsOut, exit: hidden });
  b.output('last_hidden_state', hidden);
  if (options.pooler ?? config.architecture === 'bert') {
    // Part of the pre-trained base (bert.pooler.dense): evaluated only when a head or caller asks for it.
    const p = b.scope('pooler', 'base');
    const cls = p.op('token', 'cls', [hidden], { attrs: { index: 0 } });
    const dense = p.dense('dense', cls, config.hiddenSize, { init: WEIGHT_INIT });
    b.site({ name: 'pooler.dense', kind: 'linear', entry: cls, exit: dense, module: dense, optIn: true });
    b.output('pooler_output', p.act('tanh', 'act', dense));
  }
  return b;
}

function buildLayer(b: GraphBuilder, c: EncoderConfig, i: number, x: string, mask: string): string {
  const layer = (sub: string): Scope => b.scope(`encoder.layer.${i}.${sub}`, 'base', i);
  // Declaring a site adds no node: graphs that adapt no linear site are unchanged.
  const dense = (sc: Scope, local: string, input: string, out: number) => {
    const id = sc.dense(local, input, out, { init: WEIGHT_INIT });
    const module = id;
    b.site({ name: `layer.${i}.${module.slice(`encoder.layer.${i}.`.length)}`, kind: 'linear', layer: i, entry: input, exit: id, module, optIn: true });
    return id;
  };

  const self = layer('attention.self');
  const q = dense(self, 'query', x, c.hiddenSize);
  const k = dense(self, 'key', x, c.hiddenSize);
  const v = dense(self, 'value', x, c.hiddenSize);
  const context = self.op('attention', 'context', [q, k, v, mask], { attrs: { heads: c.numHeads, dropout: c.attentionDropout } });
  // Opt-in: a plugin placed `after` it rebuilds the attention with extra key/value rows (prefix tuning).
  b.site({ name: `layer.${i}.attention.self`, kind: 'prefix', layer: i, entry: x, exit: context, module: `encoder.layer.${i}.attention.self`, optIn: true });
  const attnOut = layer('attention.output');
  const attnProj = attnOut.dropout('dropout', dense(attnOut, 'dense', context, c.hiddenSize), c.hiddenDropout);
  const attnAdd = attnOut.add('residual', attnProj, x);
  const attnNorm = attnOut.layerNorm('LayerNorm', attnAdd, c.layerNormEps);
  b.site({ name: `layer.${i}.attention`, kind: 'attention', layer: i, entry: x, exit: attnProj, residual: { add: attnAdd, norm: attnNorm }, module: `encoder.layer.${i}.attention.output` });

  const inter = layer('intermediate');
  const act = inter.act(c.hiddenAct, 'act', dense(inter, 'dense', attnNorm, c.intermediateSize));
  const out = layer('output');
  const ffnProj = out.dropout('dropout', dense(out, 'dense', act, c.hiddenSize), c.hiddenDropout);
  const ffnAdd = out.add('residual', ffnProj, attnNorm);
  const ffnNorm = out.layerNorm('LayerNorm', ffnAdd, c.layerNormEps);
  b.site({ name: `layer.${i}.ffn`, kind: 'ffn', layer: i, entry: attnNorm, exit: ffnProj, residual: { add: ffnAdd, norm: ffnNorm }, module: `encoder.layer.${i}.output` });
  b.site({ name: `layer.${i}.output`, kind: 'output', layer: i, entry: x, exit: ffnNorm, module: `encoder.layer.${i}.output` });
  return ffnNorm;
}
