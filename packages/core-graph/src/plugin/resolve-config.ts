import type { AnyAdapterPlugin } from './registry';
import { validateSchema } from './schema';

/** Merges user input over the plugin's defaults, then checks it against the schema and the plugin's own rules. */
export function resolveConfig(plugin: AnyAdapterPlugin, input: Readonly<Record<string, unknown>>, path: string): Record<string, unknown> {
  validateSchema({ ...plugin.schema, type: 'object' }, input, path);
  const merged = plugin.resolve ? plugin.resolve(input) : { ...(plugin.defaults as Record<string, unknown>), ...input };
  validateSchema(plugin.schema, merged, path);
  plugin.validate?.(merged, path);
  return merged;
}
