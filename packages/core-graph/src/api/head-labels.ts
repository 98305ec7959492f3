// Label names of a saved head, read from head_config.json's `config.label2id` (AdapterHub's field, name → id, which
// saveHead writes), so a reload predicts names instead of indices.
import { join } from 'node:path';
import { HEAD_CONFIG_FILE } from '../checkpoint/adapterhub';
import { ConfigError } from '../errors';
import { readJsonObject } from '../io/read-json';

/** Label names by id from head_config.json's `config.label2id`; undefined when the file has none. */
export async function readHeadLabels(dir: string): Promise<string[] | undefined> {
  const file = join(dir, HEAD_CONFIG_FILE);
  const saved = await readJsonObject(file);
  const config = saved['config'] as Record<string, unknown> | undefined;
  const map = config?.['label2id'];
  if (map === undefined || map === null) return undefined;
  if (typeof map !== 'object' || Array.isArray(map)) throw new ConfigError(`${file}: config.label2id`, 'must be an object of label → id');
  const entries = Object.entries(map as Record<string, unknown>);
  const labels: string[] = [];
  for (const [label, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= entries.length || labels[id] !== undefined) {
      throw new ConfigError(`${file}: config.label2id.${label}`, `ids must be distinct integers in [0, ${entries.length - 1}], got ${JSON.stringify(id)}`);
    }
    labels[id] = label;
  }
  return labels;
}
