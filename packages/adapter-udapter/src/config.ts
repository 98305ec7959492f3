// UDapter config (Üstün et al. 2020): bottleneck adapters after every layer whose weights a contextual parameter
// generator (CPG) computes from a language embedding, itself an MLP over the language's URIEL typology vector.
// No AdapterHub config exists for UDapter, so the field names are ours.
import type { JsonSchema } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';

export interface UdapterConfig {
  /** Bottleneck width = max(1, floor(hidden / reduction_factor)). */
  readonly reduction_factor: number;
  /** Length of the typology vector fed as the graph input `language` (lang2vec's URIEL predictions: 289). */
  readonly typology_dim: number;
  /** Hidden width of the language MLP (typology → hidden → language embedding). */
  readonly language_hidden: number;
  /** Width of the language embedding the generator reads (paper: 32). */
  readonly language_dim: number;
  /** true: weights generated from the language embedding (UDapter); false: one plain adapter shared by all languages (the baseline). */
  readonly generate: boolean;
  /** Layers (0-based) without an adapter. */
  readonly leave_out: readonly number[];
}

/** URIEL feature_predictions: 103 syntax + 28 phonology + 158 inventory features. */
export const URIEL_DIM = 289;

export const UDAPTER_DEFAULTS: UdapterConfig = { reduction_factor: 12, typology_dim: URIEL_DIM, language_hidden: 64, language_dim: 32, generate: true, leave_out: [] };

export const UDAPTER_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    reduction_factor: { type: 'number', exclusiveMinimum: 0, description: 'hidden size / bottleneck width' },
    typology_dim: { type: 'integer', minimum: 1, maximum: 100000 },
    language_hidden: { type: 'integer', minimum: 1, maximum: 65536 },
    language_dim: { type: 'integer', minimum: 1, maximum: 65536 },
    generate: { type: 'boolean' },
    leave_out: { type: 'array', items: { type: 'integer', minimum: 0 } },
  },
  additionalProperties: false,
};

export function validateUdapter(c: UdapterConfig, path: string): void {
  if (!Number.isFinite(c.reduction_factor) || c.reduction_factor <= 0) throw new ConfigError(`${path}.reduction_factor`, `must be > 0, got ${c.reduction_factor}`);
}

/** The bottleneck width at a site of the given hidden width. */
export const udapterWidth = (c: UdapterConfig, width: number): number => Math.max(1, Math.floor(width / c.reduction_factor));

/** Parameters per adapted layer: the generator's four slices (or a plain adapter's weights). */
export function udapterLayerParams(c: UdapterConfig, d: number): number {
  const m = udapterWidth(c, d);
  const plain = d * m + m + m * d + d;
  return c.generate ? c.language_dim * plain : plain;
}

/** The language MLP, shared by all layers. */
export const udapterSharedParams = (c: UdapterConfig): number => (c.generate ? c.typology_dim * c.language_hidden + c.language_hidden + c.language_hidden * c.language_dim + c.language_dim : 0);
