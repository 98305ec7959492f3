import type { AdapterTree, AnyAdapterPlugin, CompositionBlock, Graph, PlacementRule, TrainPolicy } from '@adapters/core-graph';
import { addHead, adapter, adaptersOnlyPolicy, applyPlacements, createRegistry, fullFineTunePolicy, ownersPolicy, Parallel, Stack, WeightStore } from '@adapters/core-graph';

export interface BuiltMethod {
  readonly graph: Graph;
  readonly policy: TrainPolicy;
  /** Graph output holding the logits trained on. */
  readonly output: string;
}

export interface Method {
  readonly name: string;
  /** Trainable share reported by the method's paper, for the table. */
  readonly paper: string;
  /** `base` is the encoder with the task head; `encoder` the same encoder without it. */
  build(base: Graph, encoder: Graph): BuiltMethod | string;
}

/** Loads an adapter package if it is installed; the bench reports methods whose plugin is missing as n/a. */
function optionalPlugins(pkg: string): AnyAdapterPlugin[] {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(pkg) as { plugins?: AnyAdapterPlugin[] }).plugins ?? [];
  } catch {
    return [];
  }
}

const plugins = ['@adapters/adapter-bottleneck', '@adapters/adapter-compacter', '@adapters/adapter-kadapter', '@adapters/adapter-fusion', '@adapters/adapter-madx', '@adapters/adapter-lora', '@adapters/adapter-prefix', '@adapters/adapter-pals', '@adapters/adapter-unified'].flatMap(optionalPlugins);
export const registry = createRegistry(plugins);

function withRules(base: Graph, rules: PlacementRule[], output = 'task.logits'): BuiltMethod | string {
  for (const r of rules) {
    const plugin = r.adapter.kind === 'adapter' ? r.adapter.plugin : undefined;
    if (typeof plugin === 'string' && !registry.has(plugin)) return `plugin '${plugin}' not installed`;
  }
  return { graph: applyPlacements(base, rules, registry).graph, policy: adaptersOnlyPolicy, output };
}

const bn = (name: string, preset: string, extra: Record<string, unknown> = {}) => adapter('bottleneck', name, { config: preset, ...extra });

export const METHODS: readonly Method[] = [
  { name: 'full fine-tuning', paper: '100%', build: (base) => ({ graph: base, policy: fullFineTunePolicy, output: 'task.logits' }) },
  { name: 'Houlsby (double_seq_bn)', paper: '0.5–8% (Houlsby et al.)', build: (base) => withRules(base, [{ adapter: bn('a', 'double_seq_bn') }]) },
  { name: 'Pfeiffer (seq_bn)', paper: '~0.9% at rf 16 (Pfeiffer et al.)', build: (base) => withRules(base, [{ adapter: bn('a', 'seq_bn') }]) },
  { name: 'parallel (par_bn)', paper: '~0.5–7% (He et al.)', build: (base) => withRules(base, [{ adapter: bn('a', 'par_bn') }]) },
  { name: 'Compacter++ (H built once: kron)', paper: '0.047% of T5-base', build: (base) => withRules(base, [{ adapter: adapter('compacter', 'a', { config: 'compacter++', phm_strategy: 'kron' }) }]) },
  { name: 'Compacter++ (through the factors)', paper: '0.047% of T5-base', build: (base) => withRules(base, [{ adapter: adapter('compacter', 'a', { config: 'compacter++', phm_strategy: 'factors' }) }]) },
  {
    name: 'K-Adapter (3 taps)',
    paper: '~13% (RoBERTa-large, 3 taps)',
    build: (_base, encoder) => {
      // kadapter_small: the paper's 768-wide adapter layers do not fit the wasm heap next to MiniLM training.
      // The knowledge adapter sits beside the frozen model; the task head reads its combined output.
      const built = withRules(encoder, [{ adapter: adapter('kadapter', 'a', { config: 'kadapter_small' }) }]);
      if (typeof built === 'string') return built;
      return { ...built, graph: addHead(built.graph, { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls', input: 'a.output' }) };
    },
  },
  {
    name: 'MAD-X stack (lang rf2 → task rf16)',
    paper: '~8.3% lang + 0.5% task',
    build: (base) => withRules(base, [{ adapter: Stack(bn('lang', 'seq_bn', { reduction_factor: 2 }), bn('task', 'seq_bn', { reduction_factor: 16 })) }]),
  },
  { name: 'AdapterFusion of 8 (stage 2)', paper: 'fusion layers only', build: (base) => fusionOf(base, 8) },
  { name: 'LoRA (q, v; r 8, alpha 16)', paper: '~0.1–0.3% (Hu et al.)', build: (base) => withRules(base, [{ adapter: adapter('lora', 'a', { r: 8, alpha: 16 }) }]) },
  { name: 'LoRA merged (inference; training = head only)', paper: 'no inference cost (Hu et al.)', build: (base) => loraMerged(base) },
  { name: '(IA)³ (k, v, intermediate)', paper: '0.01% of T0 (Liu et al.)', build: (base) => withRules(base, [{ adapter: adapter('lora', 'a', { config: 'ia3' }) }]) },
  { name: 'prefix tuning (prefix 30, MLP 512)', paper: '0.1% stored, MLP trained (Li & Liang)', build: (base) => withRules(base, [{ adapter: adapter('prefix_tuning', 'a') }]) },
  { name: 'prefix tuning ejected (flat, inference)', paper: '0.1% (Li & Liang)', build: (base) => prefixEjected(base) },
  { name: 'PALs (d_s 204·hidden/768, 12 heads)', paper: '~1.6%/task: 1.13× base for 8 tasks (Stickland & Murray)', build: (base) => withRules(base, [{ adapter: adapter('pals', 'a') }]) },
  { name: 'MAM (prefix 30, MLP 800 + par_bn rf 2)', paper: '6.7% of BART-large (He et al.)', build: (base) => unionOf(base, 'mam', ['prefix_tuning', 'bottleneck']) },
  { name: 'UniPELT (gated prefix 10 + seq_bn rf 16 + LoRA r 8)', paper: 'not quoted here (Mao et al. gate three methods)', build: (base) => unionOf(base, 'unipelt', ['prefix_tuning', 'bottleneck', 'lora']) },
];

/** A ConfigUnion preset (core-graph's union, adapter-unified's presets); its component plugins must be installed too. */
function unionOf(base: Graph, preset: string, components: readonly string[]): BuiltMethod | string {
  const missing = ['union', ...components].filter((p) => !registry.has(p));
  if (missing.length > 0) return `plugin(s) ${missing.join(', ')} not installed`;
  return withRules(base, [{ adapter: adapter('union', 'a', { config: preset }) }]);
}

type EjectFn = (graph: Graph, store: WeightStore, name: string) => Graph;
/** Prefix tuning with its MLP evaluated once into a flat prefix (AdapterHub's eject): what inference runs. */
function prefixEjected(base: Graph): BuiltMethod | string {
  const built = withRules(base, [{ adapter: adapter('prefix_tuning', 'a') }]);
  if (typeof built === 'string') return built;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ejectPrefix } = require('@adapters/adapter-prefix') as { ejectPrefix: EjectFn };
  const store = WeightStore.create(built.graph, 1);
  const flat = ejectPrefix(built.graph, store, 'a');
  store.dispose();
  return { ...built, graph: flat };
}

type MergeFn = (graph: Graph, store: WeightStore) => { graph: Graph };
/** LoRA (q, v; r 8, alpha 16) merged into the weights: the graph is the base graph, the LoRA weights stay in the store. */
function loraMerged(base: Graph): BuiltMethod | string {
  const built = withRules(base, [{ adapter: adapter('lora', 'a', { r: 8, alpha: 16 }) }]);
  if (typeof built === 'string') return built;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { mergeLora } = require('@adapters/adapter-lora') as { mergeLora: MergeFn };
  const store = WeightStore.create(built.graph, 1);
  const merged = mergeLora(built.graph, store).graph;
  store.dispose();
  return { ...built, graph: merged };
}

type FuseFn = (children: readonly AdapterTree[], options?: { name?: string }) => CompositionBlock;
function optionalFuse(): FuseFn | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('@adapters/adapter-fusion') as { fuse?: FuseFn }).fuse;
  } catch {
    return undefined;
  }
}

/** Fusion of `n` seq_bn adapters (AdapterFusion stage 2: only the fusion layers and the head train). */
export function fusionOf(base: Graph, n: number): BuiltMethod | string {
  const fuse = optionalFuse();
  if (!fuse) return `plugin '@adapters/adapter-fusion' not installed`;
  const children = Array.from({ length: n }, (_v, i) => bn(`src${i}`, 'seq_bn'));
  const graph = applyPlacements(base, [{ adapter: fuse(children, { name: 'f' }) }], registry).graph;
  return { graph, policy: ownersPolicy(['fusion:f', 'head:task']), output: 'task.logits' };
}

/** Parallel composition of `n` seq_bn task adapters (multi-task inference on one input). */
export function parallelTasks(base: Graph, n: number): Graph {
  const children = Array.from({ length: n }, (_v, i) => bn(`task${i}`, 'seq_bn'));
  return applyPlacements(base, [{ adapter: Parallel(...children) }], registry).graph;
}
