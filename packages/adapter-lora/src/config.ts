// LoRA and (IA)³ configs: AdapterHub's LoRAConfig / IA3Config field names and defaults (adapters 1.3), plus PEFT's
// `target_modules`, `layers_to_transform` and `use_rslora` for choosing layers the way PEFT's LoraConfig does.
import type { JsonSchema } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';

/** AdapterHub's names for the self-attention projections. */
export type AttnMatrix = 'q' | 'k' | 'v';
/** `add`: y = x·W + b + s·dropout(x)·A·B (LoRA); `scale`: y = (x·W + b) ⊙ (α·l) ((IA)³). */
export type CompositionMode = 'add' | 'scale';
/** `lora`: A Kaiming-uniform(a = √5), B = 0; `bert`: A, B ~ N(0, 0.02²); `ia3`: all ones. */
export type LoraInit = 'lora' | 'bert' | 'ia3';
export type LoraPresetName = 'lora' | 'ia3';

export interface LoraConfig {
  /** Preset the defaults came from (`lora` = LoRAConfig, `ia3` = IA3Config); not an AdapterHub field. */
  readonly config: LoraPresetName;
  /** Adapt the self-attention projections listed in `attn_matrices`. */
  readonly selfattn_lora: boolean;
  /** Adapt the FFN's first dense layer (`intermediate.dense`). */
  readonly intermediate_lora: boolean;
  /** Adapt the FFN's second dense layer (`output.dense`). */
  readonly output_lora: boolean;
  /** Layers (0-based) that get no module. */
  readonly leave_out: readonly number[];
  readonly r: number;
  readonly alpha: number;
  readonly dropout: number;
  readonly attn_matrices: readonly AttnMatrix[];
  readonly composition_mode: CompositionMode;
  readonly init_weights: LoraInit;
  /** AdapterHub's gate: g = mean over positions of sigmoid(x·W_g + b_g) replaces the scaling (UniPELT); not mergeable. */
  readonly use_gating: boolean;
  /**
   * PEFT's target_modules: a list of module names matched as the whole name or a dot-bounded suffix
   * (`query`, `value`, `dense`, `attention.output.dense`), or one regular expression that must match the whole
   * module name (`encoder.layer.0.attention.self.query`, also tried with the model prefix `bert.`). When set, it
   * replaces `selfattn_lora` / `attn_matrices` / `intermediate_lora` / `output_lora`.
   */
  readonly target_modules: readonly string[] | string | null;
  /** PEFT's layers_to_transform (list targets only, as PEFT): only these layers; combines with `leave_out`. */
  readonly layers_to_transform: readonly number[] | null;
  /** PEFT's rank-stabilised scaling alpha/√r instead of alpha/r. */
  readonly use_rslora: boolean;
}

const LORA: LoraConfig = {
  config: 'lora',
  selfattn_lora: true,
  intermediate_lora: false,
  output_lora: false,
  leave_out: [],
  r: 8,
  alpha: 8,
  dropout: 0,
  attn_matrices: ['q', 'v'],
  composition_mode: 'add',
  init_weights: 'lora',
  use_gating: false,
  target_modules: null,
  layers_to_transform: null,
  use_rslora: false,
};

/** AdapterHub's LoRAConfig and IA3Config defaults. */
export const LORA_PRESETS: Readonly<Record<LoraPresetName, LoraConfig>> = {
  lora: LORA,
  ia3: { ...LORA, config: 'ia3', intermediate_lora: true, r: 1, alpha: 1, attn_matrices: ['k', 'v'], composition_mode: 'scale', init_weights: 'ia3' },
};
export const LORA_PRESET_NAMES: readonly LoraPresetName[] = ['lora', 'ia3'];
export const LORA_DEFAULTS: LoraConfig = LORA;

const intList = { type: 'array', items: { type: 'integer', minimum: 0 } } as const;

export const LORA_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    config: { type: 'string', enum: [...LORA_PRESET_NAMES], description: 'preset: lora (LoRAConfig) or ia3 (IA3Config)' },
    selfattn_lora: { type: 'boolean' },
    intermediate_lora: { type: 'boolean' },
    output_lora: { type: 'boolean' },
    leave_out: intList,
    r: { type: 'integer', minimum: 1, maximum: 4096 },
    alpha: { type: 'number', exclusiveMinimum: 0 },
    dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    attn_matrices: { type: 'array', items: { type: 'string', enum: ['q', 'k', 'v'] } },
    composition_mode: { type: 'string', enum: ['add', 'scale'] },
    init_weights: { type: 'string', enum: ['lora', 'bert', 'ia3'] },
    use_gating: { type: 'boolean' },
    target_modules: { anyOf: [{ type: 'null' }, { type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    layers_to_transform: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 0 }, intList] },
    use_rslora: { type: 'boolean' },
  },
  additionalProperties: false,
};

/** Merges input over its preset (default `lora`); PEFT's single-integer layers_to_transform becomes a list. */
export function resolveLora(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const preset = (input['config'] ?? 'lora') as string;
  const base = LORA_PRESETS[preset as LoraPresetName];
  if (!base) throw new ConfigError('config', `unknown preset '${preset}' (presets: ${LORA_PRESET_NAMES.join(', ')})`);
  const layers = input['layers_to_transform'];
  return { ...base, ...input, ...(typeof layers === 'number' ? { layers_to_transform: [layers] } : {}) };
}

/** Checks the schema cannot express: AdapterHub's own constraints on `scale`, and usable target_modules. */
export function validateLora(c: LoraConfig, path: string): void {
  if (c.composition_mode === 'scale' && c.r !== 1) throw new ConfigError(`${path}.r`, `composition_mode 'scale' ((IA)³) needs r = 1, got ${c.r}`);
  if (c.composition_mode === 'scale' && c.dropout > 0) throw new ConfigError(`${path}.dropout`, `composition_mode 'scale' ((IA)³) does not support dropout`);
  if (c.composition_mode === 'scale' && c.use_rslora) throw new ConfigError(`${path}.use_rslora`, `composition_mode 'scale' has no alpha/r scaling to stabilise`);
  if (new Set(c.attn_matrices).size !== c.attn_matrices.length) throw new ConfigError(`${path}.attn_matrices`, 'lists a matrix twice');
  const t = c.target_modules;
  if (typeof t === 'string') {
    try {
      new RegExp(t);
    } catch (e) {
      throw new ConfigError(`${path}.target_modules`, `'${t}' is not a valid regular expression: ${(e as Error).message}`);
    }
    if (c.layers_to_transform !== null) throw new ConfigError(`${path}.layers_to_transform`, 'needs target_modules as a list (PEFT ignores it for a regular expression)');
  } else if (t !== null && t.length === 0) {
    throw new ConfigError(`${path}.target_modules`, 'is empty: name at least one module (e.g. ["query", "value"])');
  }
  if (c.layers_to_transform !== null && t === null) throw new ConfigError(`${path}.layers_to_transform`, 'needs target_modules (use leave_out with the AdapterHub fields)');
}

/** s in y = x·W + b + s·x·A·B: alpha/r (AdapterHub, PEFT), alpha/√r (rsLoRA); (IA)³: alpha. */
export function loraScaling(c: LoraConfig): number {
  if (c.composition_mode === 'scale') return c.alpha;
  return c.use_rslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}
