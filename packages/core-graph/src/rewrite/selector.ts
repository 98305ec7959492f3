import { PlacementError } from '../errors';
import type { Graph } from '../graph/graph';
import type { Site, SiteKind } from '../graph/types';

/**
 * Which sites a rule targets, with PEFT's matching semantics. Every criterion given must hold;
 * `exclude` removes matches. Strings in `names` match exactly, or as a dot-bounded suffix when `suffix: true`.
 */
export interface SiteSelector {
  /** Exact site names (or dot-bounded suffixes with `suffix: true`, e.g. `ffn` matches `layer.3.ffn`). */
  readonly names?: string | readonly string[];
  readonly suffix?: boolean;
  /** Glob over dot-separated segments: `*` is one segment, `**` any number (e.g. `layer.*.ffn`). */
  readonly glob?: string;
  /** Regular expression that must match the whole site name. */
  readonly regex?: string | RegExp;
  readonly kinds?: readonly SiteKind[];
  /** Layer indices; negative counts from the end (-1 = last layer). */
  readonly layers?: readonly number[];
  /** Any test a user needs; gets the site and the number of layers. */
  readonly where?: (site: Site, numLayers: number) => boolean;
  readonly exclude?: SiteSelector;
}

export function numLayersOf(graph: Graph): number {
  let n = 0;
  for (const s of graph.sites.values()) if (s.layer !== undefined) n = Math.max(n, s.layer + 1);
  return n;
}

/** Glob over dot-separated segments: `**` spans any number of segments, `*` inside a segment any characters. */
function globMatch(pattern: readonly string[], name: readonly string[]): boolean {
  const [head, ...rest] = pattern;
  if (head === undefined) return name.length === 0;
  if (head === '**') return name.some((_s, k) => globMatch(rest, name.slice(k))) || globMatch(rest, []);
  const seg = name[0];
  if (seg === undefined) return false;
  const re = new RegExp(`^${head.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*')}$`);
  return re.test(seg) && globMatch(rest, name.slice(1));
}

function matches(site: Site, sel: SiteSelector, numLayers: number): boolean {
  if (sel.names !== undefined) {
    const names = typeof sel.names === 'string' ? [sel.names] : sel.names;
    const ok = names.some((n) => site.name === n || (sel.suffix === true && site.name.endsWith(`.${n}`)));
    if (!ok) return false;
  }
  if (sel.glob !== undefined && !globMatch(sel.glob.split('.'), site.name.split('.'))) return false;
  if (sel.regex !== undefined) {
    // RegExp objects get the same whole-name semantics as strings (and lose g/y, whose lastIndex makes test() stateful).
    const re = typeof sel.regex === 'string' ? new RegExp(`^(?:${sel.regex})$`) : new RegExp(`^(?:${sel.regex.source})$`, sel.regex.flags.replace(/[gy]/g, ''));
    if (!re.test(site.name)) return false;
  }
  if (sel.kinds !== undefined && !sel.kinds.includes(site.kind)) return false;
  if (sel.layers !== undefined) {
    if (site.layer === undefined) return false;
    const wanted = sel.layers.map((l) => (l < 0 ? l + numLayers : l));
    if (!wanted.includes(site.layer)) return false;
  }
  if (sel.where !== undefined && !sel.where(site, numLayers)) return false;
  if (sel.exclude !== undefined && matches(site, sel.exclude, numLayers)) return false;
  return true;
}

/** Describes a selector for error messages and reports. */
export function describeSelector(sel: SiteSelector): string {
  const parts: string[] = [];
  if (sel.names !== undefined) parts.push(`${sel.suffix ? 'suffix' : 'names'}=${JSON.stringify(sel.names)}`);
  if (sel.glob !== undefined) parts.push(`glob=${sel.glob}`);
  if (sel.regex !== undefined) parts.push(`regex=${String(sel.regex)}`);
  if (sel.kinds !== undefined) parts.push(`kinds=${sel.kinds.join('|')}`);
  if (sel.layers !== undefined) parts.push(`layers=[${sel.layers.join(', ')}]`);
  if (sel.where !== undefined) parts.push('where=<predicate>');
  if (sel.exclude !== undefined) parts.push(`exclude(${describeSelector(sel.exclude)})`);
  return parts.join(' ') || '<everything>';
}

/** An opt-in site is selectable when the selector names its kind, or the site itself by its exact name. */
function namesOptIn(site: Site, sel: SiteSelector): boolean {
  if ((sel.kinds ?? []).includes(site.kind)) return true;
  const names = sel.names === undefined ? [] : typeof sel.names === 'string' ? [sel.names] : sel.names;
  return sel.suffix !== true && names.includes(site.name);
}

/** Sites matched by the selector, in graph order (opt-in sites only when named: see `namesOptIn`). A selector that matches nothing is an error. */
export function selectSites(graph: Graph, sel: SiteSelector): Site[] {
  if (sel.regex !== undefined && typeof sel.regex === 'string') {
    try {
      new RegExp(sel.regex);
    } catch (e) {
      throw new PlacementError(`selector regex '${sel.regex}' is invalid: ${(e as Error).message}`);
    }
  }
  const numLayers = numLayersOf(graph);
  const found = [...graph.sites.values()].filter((s) => (!s.optIn || namesOptIn(s, sel)) && matches(s, sel, numLayers));
  if (found.length === 0) throw new PlacementError(`selector ${describeSelector(sel)} matches no site`);
  return found;
}
