import { ConfigError } from '../errors';
import { GraphBuilder } from '../graph/builder';
import type { Graph } from '../graph/graph';
import type { Activation } from '../ops/activation';
import { ACTIVATIONS } from '../ops/activation';
import type { JsonSchema } from '../plugin/schema';
import { validateSchema } from '../plugin/schema';
import type { EncoderConfig } from './config';
import type { ForeignHead, HeadBuildContext, HeadReadContext, HeadRegistry, HeadSpecBase } from './head-def';
import { createHeadRegistry, defineHead, requireSequenceInput } from './head-def';

/**
 * `input` names the graph output a head reads (default `last_hidden_state`, e.g. `kadapter.combined`). `layers`
 * (AdapterHub's): 1 = `classifier`; 2 = `classifier.dense` + `activation` (default tanh) + `classifier.out_proj`.
 * Default 1, except RoBERTa classification (2, its own head's shape).
 */
export type ClassificationHeadSpec = { readonly type: 'classification'; readonly name: string; readonly numLabels: number; readonly pooling?: 'pooler' | 'cls' | 'mean'; readonly dropout?: number; readonly input?: string; readonly layers?: 1 | 2; readonly activation?: Activation };
export type TokenClassificationHeadSpec = { readonly type: 'tokenClassification'; readonly name: string; readonly numLabels: number; readonly dropout?: number; readonly input?: string; readonly layers?: 1 | 2; readonly activation?: Activation };
export type MaskedLMHeadSpec = { readonly type: 'maskedLM'; readonly name: string; readonly input?: string };
/** The heads core-graph registers. */
export type HeadSpec = ClassificationHeadSpec | TokenClassificationHeadSpec | MaskedLMHeadSpec;

/** Prefix of a head's node ids; what follows it is the Hugging Face module name (e.g. `classifier`). */
export const headPrefix = (name: string): string => `heads.${name}`;

const INIT = { kind: 'normal', std: 0.02 } as const;

function encoderConfig(ctx: HeadBuildContext): EncoderConfig {
  if (!ctx.config) throw new ConfigError('graph.meta.config', `'${ctx.spec.type}' heads need an encoder graph built by buildEncoder`);
  return ctx.config;
}

function checkNumLabels(n: unknown): number {
  if (!(typeof n === 'number' && Number.isInteger(n) && n > 0)) throw new ConfigError('head.numLabels', `must be a positive integer, got ${JSON.stringify(n)}`);
  return n;
}

function pool(ctx: HeadBuildContext<ClassificationHeadSpec>, c: EncoderConfig): string {
  const { spec, scope: h, input } = ctx;
  const pooling = spec.pooling ?? (c.architecture === 'bert' && spec.input === undefined ? 'pooler' : 'cls');
  if (pooling !== 'pooler') requireSequenceInput(ctx);
  if (pooling === 'cls') return h.op('token', 'cls', [input], { attrs: { index: 0 } });
  if (pooling === 'mean') return h.op('maskedMean', 'mean', [input, 'inputs.attention_mask']);
  if (spec.input !== undefined && spec.input !== 'last_hidden_state') throw new ConfigError('head.pooling', `'pooler' reads last_hidden_state; use 'cls' or 'mean' for input '${spec.input}'`);
  if (c.architecture !== 'bert') throw new ConfigError('head.pooling', `'pooler' exists only for BERT; use 'cls'`);
  if (!ctx.builder.has('pooler.act')) throw new ConfigError('head.pooling', `the encoder was built without a pooler; use pooling 'cls' or 'mean'`);
  return 'pooler.act';
}

const LABEL_COUNT: JsonSchema = { type: 'integer', minimum: 1, maximum: 1_000_000 };
const DROPOUT: JsonSchema = { type: 'number', minimum: 0, exclusiveMaximum: 1 };
const STRING: JsonSchema = { type: 'string' };
const LAYERS: JsonSchema = { type: 'integer', minimum: 1, maximum: 2 };
const ACTIVATION: JsonSchema = { type: 'string', enum: [...ACTIVATIONS] };
/** Saved specs (head_config.json, our format): before, `pooling: "max"` silently used the pooler. */
const CLASSIFICATION_SCHEMA: JsonSchema = { type: 'object', required: ['type', 'name', 'numLabels'], additionalProperties: false, properties: { type: STRING, name: STRING, numLabels: LABEL_COUNT, pooling: { type: 'string', enum: ['pooler', 'cls', 'mean'] }, dropout: DROPOUT, input: STRING, layers: LAYERS, activation: ACTIVATION } };
const TOKEN_CLASSIFICATION_SCHEMA: JsonSchema = { type: 'object', required: ['type', 'name', 'numLabels'], additionalProperties: false, properties: { type: STRING, name: STRING, numLabels: LABEL_COUNT, dropout: DROPOUT, input: STRING, layers: LAYERS, activation: ACTIVATION } };
const MASKED_LM_SCHEMA: JsonSchema = { type: 'object', required: ['type', 'name'], additionalProperties: false, properties: { type: STRING, name: STRING, input: STRING } };

type TaskHeadSpec = ClassificationHeadSpec | TokenClassificationHeadSpec;

/** AdapterHub's activation names (lower-cased, as its Activation_Function_Class does) that our ops compute. */
const HUB_ACTIVATIONS: Readonly<Record<string, Activation>> = {
  tanh: 'tanh', relu: 'relu', gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', swish: 'swish', silu: 'swish', sigmoid: 'sigmoid', linear: 'identity',
};
const OUR_TO_HUB: Readonly<Record<Activation, string | null>> = { tanh: 'tanh', relu: 'relu', gelu: 'gelu', gelu_new: 'gelu_new', swish: 'silu', sigmoid: 'sigmoid', identity: null };

/** The fields AdapterHub's ClassificationHead / TaggingHead configs have (id2label: accepted by its loader too). */
const HUB_FIELDS: Readonly<Record<'classification' | 'tagging', readonly string[]>> = {
  classification: ['head_type', 'num_labels', 'layers', 'activation_function', 'label2id', 'id2label', 'use_pooler', 'bias', 'dropout_prob'],
  tagging: ['head_type', 'num_labels', 'layers', 'activation_function', 'label2id', 'id2label', 'dropout_prob'],
};

function layersOf(spec: TaskHeadSpec, architecture: string | undefined): 1 | 2 {
  return spec.layers ?? (spec.type === 'classification' && architecture === 'roberta' ? 2 : 1);
}

/**
 * AdapterHub's PredictionHead is an nn.Sequential `[Dropout, Linear, act?] × (layers − 1) + [Dropout, Linear]`
 * (the act module only when activation_function is set): module 1 is our first Linear, the output Linear follows.
 */
function hubModules(layers: 1 | 2, activation: Activation): ReadonlyArray<readonly [string, string]> {
  if (layers === 1) return [['classifier.', '1.']];
  return [['classifier.dense.', '1.'], ['classifier.out_proj.', activation === 'identity' ? '3.' : '4.']];
}

/** The file's key for one of our local keys (after `heads.NAME.`). */
function hubLocalOf(modules: ReadonlyArray<readonly [string, string]>): (local: string) => string {
  return (local) => {
    const m = modules.find(([ours]) => local.startsWith(ours));
    return m ? `${m[1]}${local.slice(m[0].length)}` : local;
  };
}

/**
 * AdapterHub's head config for a spec, or our own spec when AdapterHub cannot express it (masked-mean pooling, a
 * head on another output). Field order and defaults as AdapterHub's ClassificationHead / TaggingHead write them.
 */
function toAdapterHub(spec: TaskHeadSpec, architecture: string | undefined): Record<string, unknown> {
  const layers = layersOf(spec, architecture);
  const activation = OUR_TO_HUB[spec.activation ?? 'tanh'];
  const common = { num_labels: spec.numLabels, layers, activation_function: layers === 1 ? 'tanh' : activation, label2id: null };
  const dropout_prob = spec.dropout ?? null;
  if (spec.input !== undefined && spec.input !== 'last_hidden_state') return { ...spec };
  if (spec.type === 'tokenClassification') return { head_type: 'tagging', ...common, dropout_prob };
  const pooling = spec.pooling ?? (architecture === 'bert' ? 'pooler' : 'cls');
  if (pooling === 'mean') return { ...spec };
  return { head_type: 'classification', ...common, use_pooler: pooling === 'pooler', bias: true, dropout_prob };
}

/** An AdapterHub head config (`head_type` classification / tagging, layers 1 or 2) read as ours. */
function fromAdapterHub(c: Readonly<Record<string, unknown>>, ctx: HeadReadContext, type: 'classification' | 'tagging'): ForeignHead<TaskHeadSpec> | undefined {
  if (c['head_type'] !== type) return undefined;
  const { file } = ctx;
  // AdapterHub passes the config to the head's constructor, which refuses other fields: so do we.
  const fields = HUB_FIELDS[type];
  const extra = Object.keys(c).find((k) => !fields.includes(k));
  if (extra !== undefined) throw new ConfigError(`${file}: config.${extra}`, `is not a field of AdapterHub's ${type} head (fields: ${fields.join(', ')})`);
  const layers = c['layers'];
  if (layers !== 1 && layers !== 2) throw new ConfigError(`${file}: config.layers`, `AdapterHub heads with ${JSON.stringify(layers ?? null)} layers are not supported here, only 1 or 2; load with loadHead: false`);
  let activation: Activation = 'tanh';
  if (layers === 2) {
    const name = c['activation_function'];
    if (name !== null && name !== undefined && name !== '' && typeof name !== 'string') throw new ConfigError(`${file}: config.activation_function`, 'must be a string or null');
    // AdapterHub appends no activation module for a null/empty name (so the output Linear is module 3).
    const found = typeof name === 'string' && name !== '' ? HUB_ACTIVATIONS[name.toLowerCase()] : 'identity';
    if (!found) throw new ConfigError(`${file}: config.activation_function`, `activation ${JSON.stringify(name)} is not supported (supported: ${Object.keys(HUB_ACTIVATIONS).join(', ')}, null)`);
    activation = found;
  }
  if (c['bias'] === false) throw new ConfigError(`${file}: config.bias`, 'heads without an output bias are not supported');
  const numLabels = c['num_labels'];
  validateSchema(LABEL_COUNT, numLabels, `${file}: config.num_labels`);
  if (typeof numLabels !== 'number') throw new ConfigError(`${file}: config.num_labels`, 'must be a number');
  if (c['dropout_prob'] !== undefined && c['dropout_prob'] !== null) validateSchema(DROPOUT, c['dropout_prob'], `${file}: config.dropout_prob`);
  const dropout = typeof c['dropout_prob'] === 'number' ? { dropout: c['dropout_prob'] } : {};
  const shape = { layers, ...(layers === 2 ? { activation } : {}) } as const;
  const spec: TaskHeadSpec = type === 'classification'
    ? { type: 'classification', name: ctx.name, numLabels, pooling: c['use_pooler'] === true ? 'pooler' : 'cls', ...shape, ...dropout }
    : { type: 'tokenClassification', name: ctx.name, numLabels, ...shape, ...dropout };
  return { spec, hubLocal: hubLocalOf(hubModules(layers, activation)) };
}

/** Dropout + classifier (one layer), or dropout + dense + act + dropout + out_proj (two), from `x`. */
function classifierLayers(ctx: HeadBuildContext<TaskHeadSpec>, c: EncoderConfig, x: string): string {
  const { spec, scope: h } = ctx;
  const dropout = spec.dropout ?? c.hiddenDropout;
  if (layersOf(spec, c.architecture) === 1) return h.dense('classifier', h.dropout('dropout', x, dropout), spec.numLabels, { init: INIT });
  const hidden = h.act(spec.activation ?? 'tanh', 'classifier.act', h.dense('classifier.dense', h.dropout('dropout', x, dropout), c.hiddenSize, { init: INIT }));
  return h.dense('classifier.out_proj', h.dropout('classifier.dropout', hidden, dropout), spec.numLabels, { init: INIT });
}

/** Sequence classification: pooled (pooler / first token / masked mean), dropout, classifier (RoBERTa: dense + tanh + out_proj). */
export const classificationHead = defineHead<ClassificationHeadSpec>({
  type: 'classification',
  schema: CLASSIFICATION_SCHEMA,
  description: 'sequence classification (BERT: classifier on the pooler; RoBERTa: dense + tanh + out_proj on <s>; layers 1 or 2)',
  build: (ctx) => {
    const c = encoderConfig(ctx);
    checkNumLabels(ctx.spec.numLabels);
    return classifierLayers(ctx, c, pool(ctx, c));
  },
  toHubConfig: (spec, ctx) => toAdapterHub(spec, ctx?.architecture),
  fromHubConfig: (c, ctx) => fromAdapterHub(c, ctx, 'classification') as ForeignHead<ClassificationHeadSpec> | undefined,
});

/** Token classification (tagging): dropout + classifier on every position. */
export const tokenClassificationHead = defineHead<TokenClassificationHeadSpec>({
  type: 'tokenClassification',
  schema: TOKEN_CLASSIFICATION_SCHEMA,
  description: 'token classification (tagging): dropout + classifier per token (layers 1 or 2)',
  build: (ctx) => {
    const c = encoderConfig(ctx);
    checkNumLabels(ctx.spec.numLabels);
    requireSequenceInput(ctx);
    return classifierLayers(ctx, c, ctx.input);
  },
  toHubConfig: (spec, ctx) => toAdapterHub(spec, ctx?.architecture),
  fromHubConfig: (c, ctx) => fromAdapterHub(c, ctx, 'tagging') as ForeignHead<TokenClassificationHeadSpec> | undefined,
});

/**
 * Masked LM: transform (dense + act + LayerNorm) and a decoder tied to the word embeddings. Declares the site
 * `heads.NAME.decoder_input` (kind `lm_decoder_input`): entry is the head's input, exit the transform's output that
 * the tied decoder reads.
 */
export const maskedLMHead = defineHead<MaskedLMHeadSpec>({
  type: 'maskedLM',
  schema: MASKED_LM_SCHEMA,
  description: 'masked language modelling (transform + decoder tied to the word embeddings)',
  build: (ctx) => {
    const c = encoderConfig(ctx);
    const { spec, scope: h, builder: b } = ctx;
    const roberta = c.architecture === 'roberta';
    const base = roberta ? 'lm_head' : 'cls.predictions';
    const transform = roberta ? 'lm_head' : 'cls.predictions.transform';
    const t = h.act(roberta ? 'gelu' : c.hiddenAct, `${transform}.act`, h.dense(`${transform}.dense`, ctx.input, c.hiddenSize, { init: INIT }));
    const normed = h.layerNorm(roberta ? `${transform}.layer_norm` : `${transform}.LayerNorm`, t, c.layerNormEps);
    // The transform as a site whose exit is the decoder's input: an adapter spliced there in mode 'after'
    // runs right before the tied output layer (e.g. the inverse of an invertible embedding adapter, MAD-X).
    b.site({ name: `${headPrefix(spec.name)}.decoder_input`, kind: 'lm_decoder_input', entry: ctx.input, exit: normed });
    // The decoder is tied to the word embeddings: it reads the [vocab, hidden] table transposed.
    return h.dense(`${base}.decoder`, normed, c.vocabSize, { weightRef: 'embeddings.word_embeddings.weight', transposeWeight: true });
  },
});

/** The heads core-graph defines: classification, token classification, masked LM. */
export const CORE_HEADS = [classificationHead, tokenClassificationHead, maskedLMHead] as const;

/** A registry of the core heads (the default wherever a head registry is taken); `.with([...])` adds plugin heads. */
export const coreHeads: HeadRegistry = createHeadRegistry(CORE_HEADS);

/** A head spec of any registered type (plugin heads add their own fields). */
export type AnyHeadSpec = HeadSpec | (HeadSpecBase & { readonly [field: string]: unknown });

/** The specs of the heads added to a graph (graph meta `heads`), in order. */
export function graphHeads(graph: Graph): AnyHeadSpec[] {
  return [...(graph.meta.heads ?? [])];
}

/** The head types of a graph's runtime (`runtime.heads`; the core heads for a graph built without one). */
export function headsOf(graph: Graph): HeadRegistry {
  return graph.runtime?.heads ?? coreHeads;
}

/**
 * Adds a prediction head of a registered type (`heads`, default the graph's runtime's: `headsOf(graph)`) reading output `spec.input`
 * (default `last_hidden_state`); its logits become output `${name}.logits`. Head parameters are owned by
 * `head:NAME` so training policies can tell them from the base; the spec is kept in graph meta `heads`.
 */
export function addHead(graph: Graph, spec: AnyHeadSpec, heads: HeadRegistry = headsOf(graph)): Graph {
  if (typeof spec.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(spec.name)) throw new ConfigError('head.name', `'${String(spec.name)}' may use only letters, digits, _ and -`);
  if (`${spec.name}.logits` in graph.outputs) throw new ConfigError('head.name', `a head named '${spec.name}' already exists`);
  const def = heads.get(spec.type);
  const inputName = spec.input ?? 'last_hidden_state';
  const input = graph.outputs[inputName];
  if (!input) throw new ConfigError('head.input', `the graph has no output '${inputName}' to attach a head to (outputs: ${Object.keys(graph.outputs).join(', ')})`);
  const b = GraphBuilder.from(graph);
  const scope = b.scope(headPrefix(spec.name), `head:${spec.name}`);
  const logits = def.build({ spec, builder: b, scope, input, inputName, config: graph.meta.config });
  b.output(`${spec.name}.logits`, logits);
  b.setMeta('heads', [...graphHeads(graph), spec]);
  return b.build();
}
