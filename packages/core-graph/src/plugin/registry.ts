import { PlacementError } from '../errors';
import type { AdapterPlugin } from './define-adapter';

// The registry is keyed by name; plugins are stored type-erased and re-typed by their own config.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAdapterPlugin = AdapterPlugin<any>;

/** A typed registry of adapter plugins, like a linter's rule map. */
export interface AdapterRegistry {
  get(name: string): AnyAdapterPlugin;
  has(name: string): boolean;
  list(): AnyAdapterPlugin[];
  register(plugin: AnyAdapterPlugin): AdapterRegistry;
}

export function createRegistry(plugins: readonly AnyAdapterPlugin[] = []): AdapterRegistry {
  const map = new Map<string, AnyAdapterPlugin>();
  const registry: AdapterRegistry = {
    get(name) {
      const p = map.get(name);
      if (!p) throw new PlacementError(`unknown adapter plugin '${name}' (installed: ${[...map.keys()].join(', ') || 'none'})`);
      return p;
    },
    has: (name) => map.has(name),
    list: () => [...map.values()],
    register(plugin) {
      const existing = map.get(plugin.name);
      if (existing && existing !== plugin) throw new PlacementError(`adapter plugin '${plugin.name}' is already registered`);
      map.set(plugin.name, plugin);
      return registry;
    },
  };
  for (const p of plugins) registry.register(p);
  return registry;
}
