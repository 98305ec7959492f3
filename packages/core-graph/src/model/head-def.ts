import { ConfigError } from '../errors';
import type { GraphBuilder, Scope } from '../graph/builder';
import type { OpDef } from '../ops/op-def';
import type { JsonSchema } from '../plugin/schema';
import type { EncoderConfig } from './config';

/** What every head spec has: a type (its HeadDef), a name (`NAME.logits`, owner `head:NAME`) and the output it reads. */
export interface HeadSpecBase {
  readonly type: string;
  readonly name: string;
  /** The graph output the head reads (default `last_hidden_state`). */
  readonly input?: string;
}

export interface HeadBuildContext<S extends HeadSpecBase = HeadSpecBase> {
  readonly spec: S;
  readonly builder: GraphBuilder;
  /** Names nodes `heads.NAME.…` and owns parameters as `head:NAME`. */
  readonly scope: Scope;
  /** Node id of the output the head reads, and that output's name. */
  readonly input: string;
  readonly inputName: string;
  /** The encoder's config (graph meta `config`), when the graph was built by buildEncoder. */
  readonly config: EncoderConfig | undefined;
}

/** A head config in another library's format (AdapterHub's `head_type`), read by a head that understands it. */
export interface ForeignHead<S extends HeadSpecBase = HeadSpecBase> {
  readonly spec: S;
  /** The file's name for one of our local parameter keys (after `heads.NAME.`); default: the same. */
  readonly hubLocal?: (local: string) => string;
}

export interface HeadReadContext {
  /** The head's saved name. */
  readonly name: string;
  /** The model's architecture (`bert`, `roberta`) when known. */
  readonly architecture: string | undefined;
  /** The config file, for error messages. */
  readonly file: string;
}

export interface HeadDef<S extends HeadSpecBase = HeadSpecBase> {
  readonly type: S['type'];
  readonly description: string;
  /** Adds the head's nodes and returns the node holding its logits (published as `NAME.logits`). */
  build(ctx: HeadBuildContext<S>): string;
  /** Ops `build` emits beyond core's: a runtime with the head (its package's `heads`) has them. */
  readonly ops?: readonly OpDef[];
  /**
   * JSON schema of the spec as saved in `head_config.json` (our format): unknown fields, wrong types and ranges are
   * ConfigErrors naming the field when a saved head is read. `label2id` (label names) is always allowed.
   */
  readonly schema?: JsonSchema;
  /**
   * `head_config.json`'s `config` for a spec (default: the spec itself, which `type` identifies on reading). A config
   * with `head_type` is foreign (AdapterHub's): the saved keys are then named by this def's `fromHubConfig` of it.
   */
  toHubConfig?(spec: S, ctx?: HeadReadContext): Record<string, unknown>;
  /** Reads a foreign head config this head understands (e.g. AdapterHub's); undefined when it is not one. */
  fromHubConfig?(config: Readonly<Record<string, unknown>>, ctx: HeadReadContext): ForeignHead<S> | undefined;
}

/** Checks that the head's input is a sequence ([batch, seq, hidden]); a ConfigError naming `head.input` otherwise. */
export function requireSequenceInput(ctx: HeadBuildContext): void {
  if (ctx.scope.typeOf(ctx.input).shape.length !== 3) throw new ConfigError('head.input', `output '${ctx.inputName}' must be [batch, seq, hidden]`);
}

// Heads of any spec type live in one registry; a def only ever sees its own specs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHeadDef = HeadDef<any>;

/** Checks and returns a head definition (a plain object; register it with createHeadRegistry). */
export function defineHead<S extends HeadSpecBase>(def: HeadDef<S>): HeadDef<S> {
  if (typeof def.type !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(def.type)) throw new ConfigError('head.type', `a head type must be an identifier, got ${JSON.stringify(def.type)}`);
  if (typeof def.build !== 'function') throw new ConfigError(`heads.${def.type}.build`, 'must be a function');
  return def;
}

/**
 * The head types a model may use: a runtime's (`runtime.heads`, from its packages' `heads`), which is what addHead,
 * saveAdapter/loadAdapter and the head file functions use for a graph unless given one.
 */
export interface HeadRegistry {
  has(type: string): boolean;
  /** The definition of `type`; a ConfigError naming `head.type` and the known types otherwise. */
  get(type: string): AnyHeadDef;
  list(): readonly AnyHeadDef[];
  /** A new registry with these heads added (the receiver is unchanged). */
  with(defs: readonly AnyHeadDef[]): HeadRegistry;
}

/** An immutable registry of head definitions; a type registered twice is an error. */
export function createHeadRegistry(defs: readonly AnyHeadDef[]): HeadRegistry {
  const byType = new Map<string, AnyHeadDef>();
  for (const d of defs) {
    if (byType.has(d.type)) throw new ConfigError('head.type', `head type '${d.type}' is registered twice`);
    byType.set(d.type, d);
  }
  const registry: HeadRegistry = {
    has: (type) => byType.has(type),
    get: (type) => {
      const d = byType.get(type);
      if (!d) throw new ConfigError('head.type', `unknown head type ${JSON.stringify(type)} (known: ${[...byType.keys()].join(', ')})`);
      return d;
    },
    list: () => [...byType.values()],
    with: (more) => createHeadRegistry([...byType.values(), ...more]),
  };
  return registry;
}
