import type { AnyAdapterPlugin, EncoderConfig, ParamSpec, SiteSelector, SpliceMode, TrainPolicy } from '@adapters/core-graph';
import type fc from 'fast-check';

/** One configuration to put through the suite. */
export interface AdapterCase {
  /** Shown in failure messages; default: the config as JSON. */
  readonly name?: string;
  /** User input for the plugin (what goes into `adapter(plugin, name, config)`), merged over its defaults by core-graph. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Splice modes this config supports; default: every mode under test. */
  readonly modes?: readonly SpliceMode[];
}

/** A config the plugin must reject with a ConfigError naming `path`. */
export interface InvalidConfigCase {
  readonly name?: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** The expected ConfigError path relative to the adapter's config, e.g. `reduction_factor` (→ `sut.config.reduction_factor`). */
  readonly path: string;
  /** Mode to place the adapter with, for errors the plugin raises while building; default: the first mode under test. */
  readonly mode?: SpliceMode;
}

/** The checks the suite runs; pass names to `skip` to leave some out. */
export type CheckName =
  | 'config-validation'
  | 'placement-shapes'
  | 'default-placement'
  | 'param-count'
  | 'identity-at-init'
  | 'tap-base-untouched'
  | 'trains-only-own-params'
  | 'save-load-round-trip';

export const CHECK_NAMES: readonly CheckName[] = [
  'config-validation', 'placement-shapes', 'default-placement', 'param-count', 'identity-at-init', 'tap-base-untouched', 'trains-only-own-params', 'save-load-round-trip',
];

/** Minimal test-runner surface (jest and vitest globals both fit); by default the suite uses the globals. */
export interface TestApi {
  describe(name: string, fn: () => void): void;
  test: {
    (name: string, fn: () => Promise<void> | void, timeout?: number): void;
    skip?: (name: string, fn: () => Promise<void> | void) => void;
  };
}

export interface TrainSettings {
  /** SGD steps (core-graph `train`, AdamW); default 3. */
  readonly steps?: number;
  /** Default 1e-2: large enough that every trainable weight visibly moves. */
  readonly learningRate?: number;
  /** Default 2. */
  readonly batchSize?: number;
}

export interface AdapterSuiteOptions {
  /** The plugin under test. */
  readonly plugin: AnyAdapterPlugin;
  /** Configs to test in every mode (shorthand for `cases` without mode restrictions). Default: `[{}]` (the plugin's defaults) unless `cases` is given. */
  readonly configs?: readonly Readonly<Record<string, unknown>>[];
  /** Configs with names and mode restrictions. */
  readonly cases?: readonly AdapterCase[];
  /** Modes to test; default: every mode the plugin declares. */
  readonly modes?: readonly SpliceMode[];
  /** Sites to place the adapter at, per mode (one selector or several to sample from); default: small built-in choices per mode. */
  readonly select?: Partial<Record<SpliceMode, SiteSelector | readonly SiteSelector[]>>;
  /** Other plugins the registry must know (e.g. ones this plugin composes with). */
  readonly plugins?: readonly AnyAdapterPlugin[];
  /** Random encoder configs; default: core-graph's `smallEncoderConfigArb` (BERT and RoBERTa, 1–2 layers). */
  readonly encoders?: fc.Arbitrary<Partial<EncoderConfig>>;
  /** fast-check runs per property; default 4. */
  readonly numRuns?: number;
  /** fast-check seed, for reproducing a failure (fast-check prints it). */
  readonly seed?: number;
  /** Which parameters train in `trains-only-own-params`; default core-graph's `adapterPolicy` (Houlsby: adapters, LayerNorms, heads). */
  readonly policy?: TrainPolicy;
  readonly train?: TrainSettings;
  /** Whether the adapter named `adapterName` owns a parameter; default `owner === 'adapter:' + adapterName`. */
  readonly ownsParam?: (param: ParamSpec, adapterName: string) => boolean;
  /** Largest allowed |adapted - base| in `identity-at-init`; default 0 (bit-exact). */
  readonly identityTolerance?: number;
  /** Extra configs that must fail validation with a given path. */
  readonly invalidConfigs?: readonly InvalidConfigCase[];
  /** Checks to leave out. */
  readonly skip?: readonly CheckName[];
  /** Test runner to register blocks with; default: the `describe`/`test` globals. */
  readonly testApi?: TestApi;
  /** Per-test timeout in ms passed to the runner; default: the runner's. */
  readonly timeout?: number;
  /**
   * Place the adapter by its own default placement only (rules without `select` / `mode`), for plugins that choose
   * their sites and modes themselves, such as core-graph's ConfigUnion (each component at its own sites). The
   * per-mode checks then run once, under the plugin's first mode as a label, and do not compare sites with selectors.
   */
  readonly defaultPlacementOnly?: boolean;
}

/** The adapter name every check uses. */
export const ADAPTER_NAME = 'sut';

export interface NormalizedCase {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly modes: readonly SpliceMode[];
}

/** The suite's inputs with defaults filled in. */
export interface SuiteContext {
  readonly options: AdapterSuiteOptions;
  readonly plugin: AnyAdapterPlugin;
  readonly modes: readonly SpliceMode[];
  readonly cases: readonly NormalizedCase[];
  readonly numRuns: number;
  readonly ownsParam: (param: ParamSpec) => boolean;
}

export function normalize(options: AdapterSuiteOptions): SuiteContext {
  const { plugin } = options;
  const modes = options.modes ?? plugin.modes;
  for (const m of modes) {
    if (!plugin.modes.includes(m)) throw new Error(`runAdapterSuite: plugin '${plugin.name}' does not declare mode '${m}' (declares: ${plugin.modes.join(', ')})`);
  }
  const explicit: AdapterCase[] = [...(options.configs ?? []).map((config) => ({ config })), ...(options.cases ?? [])];
  const raw = explicit.length > 0 ? explicit : [{ config: {} }];
  const cases = raw.map((c): NormalizedCase => ({
    name: c.name ?? JSON.stringify(c.config),
    config: c.config,
    modes: (c.modes ?? modes).filter((m) => modes.includes(m)),
  }));
  const owns = options.ownsParam ?? ((p: ParamSpec, name: string) => p.owner === `adapter:${name}`);
  return { options, plugin, modes, cases, numRuns: options.numRuns ?? 4, ownsParam: (p) => owns(p, ADAPTER_NAME) };
}
