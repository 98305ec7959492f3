// JSON schemas of the HTTP API: Fastify validates requests with them and /openapi.json is built from them.
import { ADAPTER_NAME_PATTERN } from './errors';

export interface ApiLimits {
  readonly maxBatch: number;
  readonly maxTextChars: number;
  readonly maxAdaptersPerRequest: number;
}

const adapterName = { type: 'string', pattern: ADAPTER_NAME_PATTERN, description: 'an adapter folder name in the adapters directory (no paths)' } as const;

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['reason', 'message'],
      properties: { reason: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

const prediction = {
  type: 'object',
  required: ['label', 'score', 'scores'],
  properties: { label: { type: 'string' }, score: { type: 'number' }, scores: { type: 'object', additionalProperties: { type: 'number' } } },
} as const;

const texts = (limits: ApiLimits) => ({
  type: 'array',
  minItems: 1,
  maxItems: limits.maxBatch,
  items: { type: 'string', minLength: 1, maxLength: limits.maxTextChars },
  description: `texts to classify (at most ${limits.maxBatch}, each at most ${limits.maxTextChars} characters)`,
});

export function predictSchema(limits: ApiLimits) {
  return {
    summary: 'Classify texts with one adapter and its head (requests for different adapters are batched together)',
    body: { type: 'object', additionalProperties: false, required: ['adapter', 'texts'], properties: { adapter: adapterName, texts: texts(limits) } },
    response: {
      200: { type: 'object', required: ['adapter', 'predictions'], properties: { adapter: { type: 'string' }, predictions: { type: 'array', items: prediction } } },
    },
  };
}

export function predictMultiSchema(limits: ApiLimits) {
  return {
    summary: 'Classify texts with several task adapters in one pass (Parallel; layers below the first adapter run once)',
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['adapters', 'texts'],
      properties: {
        adapters: { type: 'array', minItems: 1, maxItems: limits.maxAdaptersPerRequest, uniqueItems: true, items: adapterName },
        texts: texts(limits),
        sharedLayers: { type: 'integer', minimum: 0, description: 'AdapterDrop: bypass the adapters in layers 0..k-1 so they run once for all tasks (exact only for adapters trained with AdapterDrop)' },
      },
    },
    response: {
      200: {
        type: 'object',
        required: ['results'],
        properties: { results: { type: 'array', items: { type: 'object', required: ['adapter', 'predictions'], properties: { adapter: { type: 'string' }, predictions: { type: 'array', items: prediction } } } } },
      },
    },
  };
}

export const adapterParamsSchema = { type: 'object', required: ['name'], properties: { name: adapterName } } as const;

const loadedAdapter = {
  type: 'object',
  properties: {
    name: { type: 'string' }, plugin: { type: 'string' }, mode: { type: 'string' }, sites: { type: 'integer' },
    labels: { type: 'array', items: { type: 'string' } }, bytes: { type: 'integer' },
  },
} as const;

export const adapterListSchema = {
  summary: 'Loaded adapters (most recently used first), the adapters directory, and the memory budget',
  response: {
    200: {
      type: 'object',
      properties: {
        loaded: { type: 'array', items: loadedAdapter },
        available: { type: 'array', items: { type: 'string' } },
        usedBytes: { type: 'integer' },
        budgetBytes: { type: 'integer' },
      },
    },
  },
} as const;

export const loadSchema = { summary: 'Load an adapter by name from the adapters directory', params: adapterParamsSchema, response: { 200: { type: 'object', properties: { loaded: loadedAdapter } } } } as const;
export const unloadSchema = { summary: 'Unload an adapter (refused while requests use it)', params: adapterParamsSchema, response: { 200: { type: 'object', properties: { unloaded: { type: 'string' } } } } } as const;
