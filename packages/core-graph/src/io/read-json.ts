import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors';

/** Reads a JSON object from a file; unreadable files, bad JSON and non-objects are ConfigErrors naming the file. */
export async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, `cannot read: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, `is not valid JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(file, 'must be a JSON object');
  return value as Record<string, unknown>;
}
