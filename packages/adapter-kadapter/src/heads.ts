// Prediction heads that read any graph output (core-graph's addHead reads only `last_hidden_state`):
// sequence and token classification for downstream tasks, plus the two K-Adapter pre-training heads,
// relation classification over an entity pair (factual) and dependency-head prediction (linguistic).
import type { Graph, Init } from '@adapters/core-graph';
import { ConfigError, GraphBuilder, headPrefix } from '@adapters/core-graph';
import { registerKAdapterOps } from './ops';

interface HeadBase {
  readonly name: string;
  /** Graph output the head reads ([batch, seq, hidden]); default `kadapter.combined`. */
  readonly input?: string;
  /** Dropout before the classifier (training only); default 0.1. */
  readonly dropout?: number;
}

export type KnowledgeHeadSpec =
  | (HeadBase & { readonly type: 'classification'; readonly numLabels: number; readonly pooling?: 'cls' | 'mean' })
  | (HeadBase & { readonly type: 'tokenClassification'; readonly numLabels: number })
  /**
   * Factual pre-training (and relation extraction): the representation at the subject and object start
   * markers (token ids in `input_ids`), concatenated, dense 2d → d + tanh, dropout, classifier.
   */
  | (HeadBase & { readonly type: 'relation'; readonly numLabels: number; readonly subjectMarker: number; readonly objectMarker: number })
  /**
   * Linguistic pre-training: for each token i, logits over candidate head positions j,
   * s_ij = ⟨W_d x_i + b_d, W_h x_j + b_h⟩ / √k (padded j masked). Labels: the head's position, -100 ignored.
   */
  | (HeadBase & { readonly type: 'dependency'; readonly projectionSize?: number });

export const DEFAULT_HEAD_INPUT = 'kadapter.combined';

/** Heads added by addKnowledgeHead, kept in graph meta `kadapterHeads` for saving and inspection. */
export function knowledgeHeads(graph: Graph): KnowledgeHeadSpec[] {
  return [...((graph.meta['kadapterHeads'] as KnowledgeHeadSpec[] | undefined) ?? [])];
}

/**
 * Adds a head reading output `spec.input`; its logits become output `${name}.logits`. Parameters are owned by
 * `head:NAME`, nodes live under `heads.NAME`, as with core-graph's addHead.
 */
export function addKnowledgeHead(graph: Graph, spec: KnowledgeHeadSpec): Graph {
  registerKAdapterOps();
  if (!/^[A-Za-z0-9_-]+$/.test(spec.name)) throw new ConfigError('head.name', `'${spec.name}' may use only letters, digits, _ and -`);
  if (`${spec.name}.logits` in graph.outputs) throw new ConfigError('head.name', `a head named '${spec.name}' already exists`);
  if (spec.type !== 'dependency' && !(Number.isInteger(spec.numLabels) && spec.numLabels > 0)) {
    throw new ConfigError('head.numLabels', `must be a positive integer, got ${JSON.stringify(spec.numLabels)}`);
  }
  const inputName = spec.input ?? DEFAULT_HEAD_INPUT;
  const hidden = graph.outputs[inputName];
  if (hidden === undefined) throw new ConfigError('head.input', `the graph has no output '${inputName}' (outputs: ${Object.keys(graph.outputs).join(', ')})`);
  const dropout = spec.dropout ?? 0.1;
  if (!(dropout >= 0 && dropout < 1)) throw new ConfigError('head.dropout', `must be in [0, 1), got ${dropout}`);
  const b = GraphBuilder.from(graph);
  const h = b.scope(headPrefix(spec.name), `head:${spec.name}`);
  if (h.typeOf(hidden).shape.length !== 3) throw new ConfigError('head.input', `output '${inputName}' must be [batch, seq, hidden]`);
  const width = h.width(hidden);
  const init: Init = { kind: 'normal', std: 0.02 };
  let logits: string;
  switch (spec.type) {
    case 'classification': {
      const pooled = (spec.pooling ?? 'cls') === 'cls' ? h.op('token', 'cls', [hidden], { attrs: { index: 0 } }) : h.op('maskedMean', 'mean', [hidden, 'inputs.attention_mask']);
      logits = h.dense('classifier', h.dropout('dropout', pooled, dropout), spec.numLabels, { init });
      break;
    }
    case 'tokenClassification':
      logits = h.dense('classifier', h.dropout('dropout', hidden, dropout), spec.numLabels, { init });
      break;
    case 'relation': {
      for (const [field, id] of [['subjectMarker', spec.subjectMarker], ['objectMarker', spec.objectMarker]] as const) {
        if (!Number.isInteger(id) || id < 0) throw new ConfigError(`head.${field}`, `must be a token id, got ${JSON.stringify(id)}`);
      }
      if (spec.subjectMarker === spec.objectMarker) throw new ConfigError('head.objectMarker', 'must differ from subjectMarker');
      const subj = h.op('kadapterMarkerPool', 'subject', [hidden, 'inputs.input_ids'], { attrs: { tokenId: spec.subjectMarker } });
      const obj = h.op('kadapterMarkerPool', 'object', [hidden, 'inputs.input_ids'], { attrs: { tokenId: spec.objectMarker } });
      const pair = h.op('concat', 'pair', [subj, obj], { attrs: { axis: -1 } });
      const dense = h.act('tanh', 'act', h.dense('dense', pair, width, { init }));
      logits = h.dense('out_proj', h.dropout('dropout', dense, dropout), spec.numLabels, { init });
      break;
    }
    case 'dependency': {
      const k = spec.projectionSize ?? Math.min(width, 256);
      if (!Number.isInteger(k) || k < 1) throw new ConfigError('head.projectionSize', `must be a positive integer, got ${JSON.stringify(k)}`);
      const x = h.dropout('dropout', hidden, dropout);
      const dep = h.dense('dependent', x, k, { init });
      const head = h.dense('head', x, k, { init });
      logits = h.op('kadapterPairScores', 'scores', [dep, head, 'inputs.attention_mask'], { attrs: { scale: 1 / Math.sqrt(k) } });
      break;
    }
  }
  b.output(`${spec.name}.logits`, logits);
  b.setMeta('kadapterHeads', [...knowledgeHeads(graph), spec]);
  return b.build();
}
