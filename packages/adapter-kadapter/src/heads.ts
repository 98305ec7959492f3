// K-Adapter's pre-training heads as head plugins (core-graph's defineHead): relation classification over an entity
// pair (factual) and dependency-head prediction (linguistic). Downstream tasks use core-graph's classification and
// token-classification heads, which read any output (`input`). `kadapterHeads` is core's registry plus these two.
import type { ClassificationHeadSpec, Graph, HeadRegistry, HeadSpecBase, TokenClassificationHeadSpec } from '@adapters/core-graph';
import { addHead, ConfigError, coreHeads, defaultRuntime, defineHead, GraphBuilder, requireSequenceInput, withOps } from '@adapters/core-graph';
import { KADAPTER_OPS, markerPoolOp, pairScoresOp } from './ops';

const INIT = { kind: 'normal', std: 0.02 } as const;

/**
 * Factual pre-training (and relation extraction): the representation at the subject and object start markers
 * (token ids in `input_ids`), concatenated, dense 2d → d + tanh, dropout, classifier.
 */
export interface RelationHeadSpec extends HeadSpecBase {
  readonly type: 'relation';
  readonly numLabels: number;
  readonly subjectMarker: number;
  readonly objectMarker: number;
  /** Dropout before the classifier (training only); default 0.1. */
  readonly dropout?: number;
}

/**
 * Linguistic pre-training: for each token i, logits over candidate head positions j,
 * s_ij = ⟨W_d x_i + b_d, W_h x_j + b_h⟩ / √k (padded j masked). Labels: the head's position, -100 ignored.
 */
export interface DependencyHeadSpec extends HeadSpecBase {
  readonly type: 'dependency';
  readonly projectionSize?: number;
  readonly dropout?: number;
}

export type KnowledgeHeadSpec = ClassificationHeadSpec | TokenClassificationHeadSpec | RelationHeadSpec | DependencyHeadSpec;

export const DEFAULT_HEAD_INPUT = 'kadapter.combined';

function dropoutOf(spec: { readonly dropout?: number }): number {
  const dropout = spec.dropout ?? 0.1;
  if (!(dropout >= 0 && dropout < 1)) throw new ConfigError('head.dropout', `must be in [0, 1), got ${dropout}`);
  return dropout;
}

export const relationHead = defineHead<RelationHeadSpec>({
  type: 'relation',
  description: 'K-Adapter relation classification at the subject/object start markers',
  ops: [markerPoolOp],
  build: (ctx) => {
    const { spec, scope: h, input } = ctx;
    requireSequenceInput(ctx);
    if (!(Number.isInteger(spec.numLabels) && spec.numLabels > 0)) throw new ConfigError('head.numLabels', `must be a positive integer, got ${JSON.stringify(spec.numLabels)}`);
    for (const [field, id] of [['subjectMarker', spec.subjectMarker], ['objectMarker', spec.objectMarker]] as const) {
      if (!Number.isInteger(id) || id < 0) throw new ConfigError(`head.${field}`, `must be a token id, got ${JSON.stringify(id)}`);
    }
    if (spec.subjectMarker === spec.objectMarker) throw new ConfigError('head.objectMarker', 'must differ from subjectMarker');
    const dropout = dropoutOf(spec);
    const subj = h.op('kadapterMarkerPool', 'subject', [input, 'inputs.input_ids'], { attrs: { tokenId: spec.subjectMarker } });
    const obj = h.op('kadapterMarkerPool', 'object', [input, 'inputs.input_ids'], { attrs: { tokenId: spec.objectMarker } });
    const pair = h.op('concat', 'pair', [subj, obj], { attrs: { axis: -1 } });
    const dense = h.act('tanh', 'act', h.dense('dense', pair, h.width(input), { init: INIT }));
    return h.dense('out_proj', h.dropout('dropout', dense, dropout), spec.numLabels, { init: INIT });
  },
});

export const dependencyHead = defineHead<DependencyHeadSpec>({
  type: 'dependency',
  description: 'K-Adapter dependency-head prediction (biaffine-free scaled dot product over token pairs)',
  ops: [pairScoresOp],
  build: (ctx) => {
    const { spec, scope: h, input } = ctx;
    requireSequenceInput(ctx);
    const dropout = dropoutOf(spec);
    const width = h.width(input);
    const k = spec.projectionSize ?? Math.min(width, 256);
    if (!Number.isInteger(k) || k < 1) throw new ConfigError('head.projectionSize', `must be a positive integer, got ${JSON.stringify(k)}`);
    const x = h.dropout('dropout', input, dropout);
    const dep = h.dense('dependent', x, k, { init: INIT });
    const head = h.dense('head', x, k, { init: INIT });
    return h.op('kadapterPairScores', 'scores', [dep, head, 'inputs.attention_mask'], { attrs: { scale: 1 / Math.sqrt(k) } });
  },
});

/** The heads a K-Adapter model can use: core-graph's plus relation and dependency. */
export const kadapterHeads: HeadRegistry = coreHeads.with([relationHead, dependencyHead]);

/**
 * Adds a head through `kadapterHeads`, reading `spec.input` (default `kadapter.combined`, the combination's output);
 * logits in output `${name}.logits`, parameters owned by `head:NAME`.
 */
export function addKnowledgeHead(graph: Graph, spec: KnowledgeHeadSpec): Graph {
  return addHead(withKAdapterOps(graph), { ...spec, input: spec.input ?? DEFAULT_HEAD_INPUT }, kadapterHeads);
}

/** The graph with a runtime that has the knowledge heads' ops (graphs the kadapter plugin built already do). */
export function withKAdapterOps(graph: Graph): Graph {
  const base = graph.runtime ?? defaultRuntime;
  const runtime = withOps(base, KADAPTER_OPS);
  return runtime === base ? graph : GraphBuilder.from(graph, runtime).build();
}
