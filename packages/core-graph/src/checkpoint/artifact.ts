// One key mapping and one writer/reader for every saved artifact (adapters, language adapters, K-Adapters, fusions,
// heads): a JSON config that starts with the model header + one safetensors file with the tensors under their
// checkpoint (AdapterHub) names. Savers differ only in the file names, the JSON fields and the key hook.
import { ConfigError, GraphError } from '../errors';
import type { Graph } from '../graph/graph';
import type { Site } from '../graph/types';
import type { EncoderConfig } from '../model/config';
import type { CheckpointTensor } from './hf-keys';
import { stageFromCheckpoint } from './hf-keys';

/** Written into `version` so AdapterHub and we can tell who saved a file. */
export const FORMAT_VERSION = 'adapters-ts.0.1.0';

/** One parameter as a key hook sees it. */
export interface CheckpointKeyArgs<C = Readonly<Record<string, unknown>>> {
  /** The parameter's key in the graph. */
  readonly key: string;
  /** The owner's name in the graph (the adapter's, or the fusion's). */
  readonly name: string;
  /** The name the file uses for the owner (the saved name when loading under another name). */
  readonly as: string;
  /** The owner's config. */
  readonly config: C;
  /** The key below the owner's scope: what follows `adapters.NAME.` (or the whole key for a parameter outside one). */
  readonly local: string;
  /** The site whose scope declared the parameter; undefined for model-level parameters. */
  readonly site: Site | undefined;
  /** AdapterHub's module path of the scope, with the model prefix (`bert.encoder.layer.0.output`); undefined outside a scope. */
  readonly module: string | undefined;
  /** The model's checkpoint prefix with its dot (`bert.`), or ''. */
  readonly prefix: string;
}

/**
 * The one key-mapping hook: every full checkpoint key of a parameter (AdapterHub lists a module shared by two
 * parents under both names; savers write each, loaders read the first present and check the copies agree).
 */
export type CheckpointKeys<C = Readonly<Record<string, unknown>>> = (param: CheckpointKeyArgs<C>) => readonly string[];

const prefixOf = (graph: Graph): string => {
  const p = graph.meta['prefix'];
  return typeof p === 'string' && p !== '' ? `${p}.` : '';
};

/**
 * The hook's view of a parameter of owner `name`. Keys `${scope}.adapters.NAME.${local}` (what a Scope names) are
 * split at the marker; `at` gives the site and local key of parameters named otherwise (e.g. a block's records).
 */
export function checkpointKeyArgs<C>(graph: Graph, key: string, owner: { name: string; as?: string; config: C; at?: { site: string; local: string } }): CheckpointKeyArgs<C> {
  const prefix = prefixOf(graph);
  const as = owner.as ?? owner.name;
  const marker = `.adapters.${owner.name}.`;
  const at = owner.at ?? (key.indexOf(marker) > 0 ? { site: key.slice(0, key.indexOf(marker)), local: key.slice(key.indexOf(marker) + marker.length) } : undefined);
  if (!at) return { key, name: owner.name, as, config: owner.config, local: key, site: undefined, module: undefined, prefix };
  const site = graph.sites.get(at.site);
  return { key, name: owner.name, as, config: owner.config, local: at.local, site, module: `${prefix}${site?.module ?? at.site}`, prefix };
}

/**
 * Names in AdapterHub's ModuleDict layout: `${module}.${collection}.${as}.${local}` for each of `locals` (default the
 * local key). What an adapter gets when its plugin declares no hook (`collection` = its `hubCollection`).
 */
export function moduleCheckpointKeys(param: CheckpointKeyArgs<unknown>, options: { collection?: string; locals?: readonly string[] } = {}): string[] {
  if (param.module === undefined) throw new GraphError(`parameter '${param.key}' lies outside any adapter scope and its owner declares no checkpointKeys to name it`);
  const locals = options.locals ?? [param.local];
  if (locals.length === 0) throw new GraphError(`parameter '${param.key}' is mapped to no checkpoint key`);
  return locals.map((l) => `${param.module as string}.${options.collection ?? 'adapters'}.${param.as}.${l}`);
}

/** Every checkpoint key of `key` through `hook`: at least one, all distinct. */
export function checkpointKeysOf<C>(hook: CheckpointKeys<C>, args: CheckpointKeyArgs<C>): string[] {
  const keys = [...hook(args)];
  if (keys.length === 0) throw new GraphError(`parameter '${args.key}' is mapped to no checkpoint key`);
  if (new Set(keys).size !== keys.length) throw new GraphError(`parameter '${args.key}' is mapped to the same checkpoint key twice (${keys.join(', ')})`);
  return keys;
}

const MODEL_CLASS: Readonly<Record<string, string>> = { bert: 'BertAdapterModel', roberta: 'RobertaAdapterModel' };

/** The fields every artifact config starts with: the base it was trained on (checked on load: `checkBaseModel`). */
export interface ModelHeader {
  readonly hidden_size: number | null;
  readonly model_class: string;
  readonly model_name: unknown;
  readonly model_type: string | null;
}

export function modelHeader(graph: Graph): ModelHeader {
  const model = graph.meta['config'] as EncoderConfig | undefined;
  return {
    hidden_size: model?.hiddenSize ?? null,
    model_class: (model && MODEL_CLASS[model.architecture]) ?? 'BertAdapterModel',
    model_name: graph.meta['modelName'] ?? null,
    model_type: model?.architecture ?? null,
  };
}

/** JSON (2-space indent, final newline, keys sorted as AdapterHub's json.dump) with the `floats` fields of `floatsIn` written `1.0` when integral. */
export function artifactJson(value: Record<string, unknown>, floatsIn?: object, floats: readonly string[] = [], more: ReadonlyArray<readonly [unknown, readonly string[]]> = []): string {
  const targets = new Map<unknown, readonly string[]>([...(floatsIn === undefined ? [] : [[floatsIn, floats] as const]), ...more]);
  const marker = '\u0000float:';
  const sorted = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
  };
  const text = JSON.stringify(sorted(value), function (this: unknown, key: string, v: unknown) {
    const holder = this as Record<string, unknown>;
    if (holder !== null && targets.get(holder)?.includes(key) === true && typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 1e15) return `${marker}${v}`;
    return v;
  }, 2);
  return `${text.replace(/"\\u0000float:(-?\d+)"/g, '$1.0')}\n`;
}

/** What `writeArtifact` writes: the config file (header added), and tensors by graph key with their checkpoint keys. */
export interface Artifact {
  readonly configFile: string;
  /** The config's own fields (`config`, `name`, ...); the model header and `version` are added unless `header: false`. */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly header?: boolean | Partial<Record<keyof ModelHeader, boolean>>;
  /** Fields of `fields.config` written as JSON floats when integral (AdapterHub reads some only as Python floats). */
  readonly floats?: readonly string[];
  /** Further [object inside `fields.config`, float fields] pairs (a union's component configs). */
  readonly moreFloats?: ReadonlyArray<readonly [unknown, readonly string[]]>;
  readonly weightsFile: string;
  /** Graph key → every checkpoint key it is written under. */
  readonly tensors: ReadonlyMap<string, readonly string[]>;
}

/**
 * Reads tensors saved by `writeArtifact` (or AdapterHub) for `keys`: each parameter under the first of its names the
 * file has, with or without the model prefix (AdapterHub files saved from a bare BertModel); copies under two
 * names must agree; a tensor under no expected name is an error. Returns the values in our layout, checked.
 */
export function stageArtifact(graph: Graph, tensors: ReadonlyMap<string, CheckpointTensor>, options: { keys: readonly string[]; namesOf: (key: string) => readonly string[]; source: string; owner: string }): Map<string, { shape: number[]; values: Float32Array }> {
  const prefix = prefixOf(graph);
  const inFile = (name: string): string | undefined => {
    if (tensors.has(name)) return name;
    const bare = prefix && name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
    return bare !== undefined && tensors.has(bare) ? bare : undefined;
  };
  const names = new Map(options.keys.map((k) => [k, options.namesOf(k)]));
  const accepted = new Set<string>();
  for (const [k, candidates] of names) {
    const present = candidates.map(inFile).filter((f): f is string => f !== undefined);
    for (const f of present) accepted.add(f);
    const first = present[0] === undefined ? undefined : tensors.get(present[0]);
    for (const other of present.slice(1)) {
      const t = tensors.get(other);
      const same = first !== undefined && t !== undefined && t.shape.join() === first.shape.join() && Array.from(t.values).every((v, i) => Object.is(v, first.values[i]));
      if (!same) throw new GraphError(`${options.source}: tensors '${present[0] as string}' and '${other}' both hold parameter '${k}' but differ`);
    }
  }
  const keyOf = (k: string): string => {
    const candidates = names.get(k) ?? [];
    for (const c of candidates) {
      const found = inFile(c);
      if (found !== undefined) return found;
    }
    return candidates[0] ?? k;
  };
  const staged = stageFromCheckpoint(graph, (k) => tensors.get(k), { keys: options.keys, source: options.source, keyOf });
  const unexpected = [...tensors.keys()].filter((k) => !accepted.has(k));
  if (unexpected.length > 0) throw new GraphError(`${options.source}: unexpected tensor '${unexpected[0]}' (${options.owner} places no parameter there)`);
  return staged;
}

/** A config object field of a saved artifact (a ConfigError naming `file: field` otherwise). */
export function objectField(saved: Readonly<Record<string, unknown>>, field: string, file: string): Record<string, unknown> {
  const v = saved[field];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${file}: ${field}`, 'must be an object');
  return v as Record<string, unknown>;
}
