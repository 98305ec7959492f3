// Which dense layers a config adapts: AdapterHub's flags (selfattn_lora + attn_matrices, intermediate_lora,
// output_lora, leave_out) or PEFT's target_modules / layers_to_transform, over core-graph's `linear` sites.
import type { Site, SiteSelector } from '@adapters/core-graph';
import type { AttnMatrix, LoraConfig } from './config';

/** The role of a linear site: what follows `layer.{i}.` in its name, or `pooler.dense`. */
export type LinearRole = 'attention.self.query' | 'attention.self.key' | 'attention.self.value' | 'attention.output.dense' | 'intermediate.dense' | 'output.dense';

const ATTN_ROLE: Readonly<Record<AttnMatrix, LinearRole>> = { q: 'attention.self.query', k: 'attention.self.key', v: 'attention.self.value' };

/** A linear site's role, or undefined for a site that is not one of the encoder's dense layers. */
export function roleOf(site: Site): string | undefined {
  if (site.kind !== 'linear') return undefined;
  if (site.layer === undefined) return site.name === 'pooler.dense' ? site.name : undefined;
  const prefix = `layer.${site.layer}.`;
  return site.name.startsWith(prefix) ? site.name.slice(prefix.length) : undefined;
}

/** The roles AdapterHub's flags select (AdapterHub has no LoRA on the attention output projection). */
export function hubRoles(c: LoraConfig): LinearRole[] {
  return [
    ...(c.selfattn_lora ? (['q', 'k', 'v'] as const).filter((m) => c.attn_matrices.includes(m)).map((m) => ATTN_ROLE[m]) : []),
    ...(c.intermediate_lora ? (['intermediate.dense'] as const) : []),
    ...(c.output_lora ? (['output.dense'] as const) : []),
  ];
}

/** PEFT's module-name test: a list entry equals the name or is a dot-bounded suffix; a string must match the whole name. */
export function matchesTarget(target: readonly string[] | string, moduleNames: readonly string[]): boolean {
  if (typeof target === 'string') {
    const re = new RegExp(`^(?:${target})$`);
    return moduleNames.some((m) => re.test(m));
  }
  return moduleNames.some((m) => target.some((t) => m === t || m.endsWith(`.${t}`)));
}

/** Module names a linear site answers to: ours (`encoder.layer.0...`) and with the model prefix (`bert.encoder...`). */
export function moduleNamesOf(site: Site, prefix: string): string[] {
  const module = site.module ?? site.name;
  return prefix ? [module, `${prefix}.${module}`] : [module];
}

/** Whether the config adapts this site (a linear site of the encoder). */
export function isTarget(c: LoraConfig, site: Site, prefix: string): boolean {
  const role = roleOf(site);
  const layer = site.layer;
  if (role === undefined) return false;
  if (layer !== undefined && c.leave_out.includes(layer)) return false;
  if (c.target_modules === null) return (hubRoles(c) as string[]).includes(role);
  // PEFT: a module without a layer index never matches layers_to_transform (the pooler).
  if (c.layers_to_transform !== null && (layer === undefined || !c.layers_to_transform.includes(layer))) return false;
  return matchesTarget(c.target_modules, moduleNamesOf(site, prefix));
}

/** The default placement's selector: the linear sites the config targets. */
export function targetSelector(c: LoraConfig, prefix: string): SiteSelector {
  return { kinds: ['linear'], where: (site) => isTarget(c, site, prefix) };
}
