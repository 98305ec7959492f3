/** Symbolic dims stay symbolic until run time; every other dim is a fixed size. */
export type SymbolicDim = 'batch' | 'seq';
export type Dim = number | SymbolicDim;
export type DType = 'float32' | 'int32';

export interface TensorType {
  readonly shape: readonly Dim[];
  readonly dtype: DType;
}

/** How a parameter's values are drawn at creation. Fan-in/out come from the shape ([in, out] for kernels). */
export type Init =
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' }
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'normal'; readonly std: number; readonly mean?: number }
  | { readonly kind: 'truncatedNormal'; readonly std: number; readonly bound: number }
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number }
  | { readonly kind: 'kaimingUniform'; readonly a: number }
  | { readonly kind: 'glorotUniform' }
  | { readonly kind: 'identity'; readonly offDiagonal?: number };

/**
 * What a parameter is, used for freezing policies and weight decay:
 * kernels are stored [in, out] (Hugging Face stores nn.Linear weights [out, in]; checkpoint IO transposes).
 */
export type ParamKind = 'kernel' | 'bias' | 'norm' | 'embedding' | 'scalar' | 'other';

export interface ParamSpec {
  /** Stable weight key, `${nodeId}.${local}` for the node that declared it. */
  readonly key: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly init: Init;
  /** Who the parameter belongs to: `base`, `head:NAME`, `adapter:NAME`, `fusion:NAME`, ... Freezing is a predicate over this. */
  readonly owner: string;
  readonly kind: ParamKind;
  /** Transformer layer the parameter lives in, when it lives in one. */
  readonly layer?: number;
}

export type AttrValue = number | string | boolean | null | readonly AttrValue[] | { readonly [k: string]: AttrValue };
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface GraphNode {
  readonly id: string;
  readonly op: string;
  readonly inputs: readonly string[];
  readonly attrs: Attrs;
  /** Local parameter name → weight key. Several nodes may reference one key (tied or shared weights). */
  readonly params: Readonly<Record<string, string>>;
  readonly type: TensorType;
}

export type SiteKind = 'embeddings' | 'attention' | 'ffn' | 'output' | 'encoder.output' | (string & {});

/** The residual add & LayerNorm that close a sublayer span (post-LN transformers). */
export interface SiteResidual {
  readonly add: string;
  readonly norm: string;
}

/**
 * A named span of the graph that placement rules select. `entry` is the span's input,
 * `exit` its output; for sublayers `exit` is the output before the residual add.
 */
export interface Site {
  readonly name: string;
  readonly kind: SiteKind;
  readonly layer?: number;
  readonly entry: string;
  readonly exit: string;
  readonly residual?: SiteResidual;
  /** The Hugging Face module that holds this site's adapters (AdapterHub keys: `${module}.adapters.NAME...`). */
  readonly module?: string;
  /**
   * Selected only by selectors whose `kinds` name this site's kind or whose `names` name the site exactly
   * (fine-grained sites such as one dense layer, kind `linear`), so broad selectors (`layers: [3]`,
   * `glob: 'layer.**'`, suffixes) keep selecting what they always did.
   */
  readonly optIn?: boolean;
}

export interface GraphInput {
  readonly name: string;
  readonly node: string;
}
