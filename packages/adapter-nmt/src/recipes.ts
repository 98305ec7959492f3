import type { Graph, PlacementRule, TrainPolicy } from '@adapters/core-graph';
import { adapter, adaptersOnlyPolicy, applyPlacements, ConfigError, createRegistry, fullFineTunePolicy } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';

/**
 * The NMT recipes: a base trained from scratch (`base`), full fine-tuning of it (`full`), and on the frozen base one
 * adapter per language pair (`pair`, Bapna & Firat 2019), one per source language in the encoder and one per target
 * language in the decoder composed at run time (`language`, Philip et al. 2020) or one per domain (`domain`).
 */
export type NmtRecipe = 'base' | 'full' | 'pair' | 'language' | 'domain';
export const NMT_RECIPES: readonly NmtRecipe[] = ['base', 'full', 'pair', 'language', 'domain'];

/** A translation direction, e.g. { src: 'en', tgt: 'fr' }. */
export interface LanguagePair {
  readonly src: string;
  readonly tgt: string;
}

const LANG_RE = /^[a-z]{2,3}$/;

export function parsePair(text: string, field = 'pair'): LanguagePair {
  const m = /^([a-z]{2,3})-([a-z]{2,3})$/.exec(text);
  if (!m || m[1] === m[2]) throw new ConfigError(field, `expected SRC-TGT with two different language codes (2–3 lowercase letters), e.g. en-fr; got ${JSON.stringify(text)}`);
  return { src: m[1] as string, tgt: m[2] as string };
}

export const pairName = (p: LanguagePair): string => `${p.src}-${p.tgt}`;
/** The source-side tag that tells a multilingual base which language to produce (Johnson et al. 2017). */
export const targetTag = (lang: string): string => `<2${lang}>`;

/** Adapter names: one per pair, per encoder-side language, per decoder-side language, per domain. */
export const pairAdapterName = (p: LanguagePair): string => `pair_${p.src}_${p.tgt}`;
export const sourceAdapterName = (lang: string): string => `src_${checkLang(lang)}`;
export const targetAdapterName = (lang: string): string => `tgt_${checkLang(lang)}`;
export const domainAdapterName = (domain: string): string => {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(domain)) throw new ConfigError('domain', `names use letters, digits and _ (1–64), got ${JSON.stringify(domain)}`);
  return `domain_${domain}`;
};

function checkLang(lang: string): string {
  if (!LANG_RE.test(lang)) throw new ConfigError('language', `expected a 2–3 letter lowercase code, got ${JSON.stringify(lang)}`);
  return lang;
}

/** Bapna & Firat's adapter: after every layer, z + W_up·relu(W_down·LN_new(z)), its LayerNorm fresh (γ = 1, β = 0). */
export function bapnaFiratAdapter(name: string, reductionFactor: number) {
  return adapter(bottleneck, name, { config: 'bapna_firat', reduction_factor: reductionFactor });
}

const ENCODER_LAYERS = { kinds: ['output'] as const, glob: 'encoder.layers.*.output' };
const DECODER_LAYERS = { kinds: ['output'] as const, glob: 'decoder.layers.*.output' };

/** Per-pair or per-domain: one adapter after every encoder and decoder layer. */
export const wholeModelRule = (name: string, reductionFactor: number): PlacementRule => ({ adapter: bapnaFiratAdapter(name, reductionFactor) });

/** Philip et al.: the source language's adapter after every encoder layer, the target language's after every decoder layer. */
export function languageRules(pair: LanguagePair, reductionFactor: number): PlacementRule[] {
  return [
    { adapter: bapnaFiratAdapter(sourceAdapterName(pair.src), reductionFactor), select: ENCODER_LAYERS },
    { adapter: bapnaFiratAdapter(targetAdapterName(pair.tgt), reductionFactor), select: DECODER_LAYERS },
  ];
}

/** The adapters a recipe uses for one pair (none for base and full). */
export function recipeAdapters(recipe: NmtRecipe, pair: LanguagePair, domain?: string): string[] {
  switch (recipe) {
    case 'pair': return [pairAdapterName(pair)];
    case 'language': return [sourceAdapterName(pair.src), targetAdapterName(pair.tgt)];
    case 'domain': return [domainAdapterName(requireDomain(domain))];
    default: return [];
  }
}

const requireDomain = (domain: string | undefined): string => {
  if (domain === undefined) throw new ConfigError('domain', 'the domain recipe needs a domain name');
  return domain;
};

export function recipeRules(recipe: NmtRecipe, pair: LanguagePair, reductionFactor: number, domain?: string): PlacementRule[] {
  switch (recipe) {
    case 'pair': return [wholeModelRule(pairAdapterName(pair), reductionFactor)];
    case 'language': return languageRules(pair, reductionFactor);
    case 'domain': return [wholeModelRule(domainAdapterName(requireDomain(domain)), reductionFactor)];
    default: return [];
  }
}

/** What trains: everything for base and full, only the adapters (their LayerNorms included) otherwise. */
export const recipePolicy = (recipe: NmtRecipe): TrainPolicy => (recipe === 'base' || recipe === 'full' ? fullFineTunePolicy : adaptersOnlyPolicy);

/** The bottleneck plugin's registry (what the recipes place and what their files load with). */
export const nmtAdapterRegistry = () => createRegistry([bottleneck]);

/** The base graph with a recipe's adapters for one pair (the base itself for base and full). */
export function recipeGraph(base: Graph, recipe: NmtRecipe, pair: LanguagePair, reductionFactor: number, domain?: string): Graph {
  const rules = recipeRules(recipe, pair, reductionFactor, domain);
  return rules.length === 0 ? base : applyPlacements(base, rules, nmtAdapterRegistry()).graph;
}
