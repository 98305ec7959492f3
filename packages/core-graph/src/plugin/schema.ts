import { ConfigError } from '../errors';

/** The subset of JSON Schema that adapter options use. */
export interface JsonSchema {
  readonly type?: 'object' | 'number' | 'integer' | 'string' | 'boolean' | 'array' | 'null';
  readonly enum?: readonly (string | number | boolean | null)[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  /** false: unknown fields are errors (the default for plugin options); a schema: what extra values must be. */
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly anyOf?: readonly JsonSchema[];
  readonly description?: string;
}

/**
 * Names that every JS object answers to (`toString`, `constructor`, `__proto__`, ...): as an adapter, head or field
 * name they would read the prototype's member instead of "absent", so they are refused where names are chosen.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** The subschema for field `k`, only when the schema itself declares it (never an inherited Object.prototype member). */
const propertyOf = (schema: JsonSchema, k: string): JsonSchema | undefined =>
  schema.properties !== undefined && Object.hasOwn(schema.properties, k) ? schema.properties[k] : undefined;

/** A value for a message: non-finite numbers as themselves (JSON would say null), long values cut short. */
function show(v: unknown): string {
  const text = typeof v === 'number' && !Number.isFinite(v) ? String(v) : String(JSON.stringify(v));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function fits(schema: JsonSchema, value: unknown, path: string): string | undefined {
  try {
    validateSchema(schema, value, path);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Validates `value`, throwing a ConfigError whose path names the first bad field (e.g. `config.reduction_factor`). */
export function validateSchema(schema: JsonSchema, value: unknown, path: string): void {
  if (schema.anyOf) {
    const problems = schema.anyOf.map((s) => fits(s, value, path));
    if (problems.every((p) => p !== undefined)) {
      throw new ConfigError(path, `${show(value)} matches none of the allowed forms (${problems.join('; ')})`);
    }
    return;
  }
  if (schema.type !== undefined) {
    const t = typeOf(value);
    const ok = schema.type === 'integer' ? Number.isInteger(value) : schema.type === t;
    if (!ok) throw new ConfigError(path, `must be ${schema.type === 'integer' ? 'an integer' : `a ${schema.type}`}, got ${show(value)}`);
  }
  if (schema.enum !== undefined && !schema.enum.includes(value as never)) {
    throw new ConfigError(path, `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${show(value)}`);
  }
  if (typeof value === 'number') {
    // JSON has no Infinity, but 1e400 parses to it; no option is meaningful at ±Infinity or NaN.
    if (!Number.isFinite(value)) throw new ConfigError(path, `must be a finite number, got ${value}`);
    if (schema.minimum !== undefined && value < schema.minimum) throw new ConfigError(path, `must be >= ${schema.minimum}, got ${value}`);
    if (schema.maximum !== undefined && value > schema.maximum) throw new ConfigError(path, `must be <= ${schema.maximum}, got ${value}`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) throw new ConfigError(path, `must be > ${schema.exclusiveMinimum}, got ${value}`);
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) throw new ConfigError(path, `must be < ${schema.exclusiveMaximum}, got ${value}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) throw new ConfigError(path, `needs at least ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => validateSchema(schema.items as JsonSchema, v, `${path}[${i}]`));
  }
  if (typeOf(value) === 'object' && (schema.properties || schema.additionalProperties !== undefined)) {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!Object.hasOwn(obj, r)) throw new ConfigError(`${path}.${r}`, 'is required');
    for (const [k, v] of Object.entries(obj)) {
      const sub = propertyOf(schema, k);
      if (sub) validateSchema(sub, v, `${path}.${k}`);
      else if (schema.additionalProperties === false || schema.additionalProperties === undefined) {
        const known = Object.keys(schema.properties ?? {}).join(', ');
        throw new ConfigError(`${path}.${k}`, `unknown field (known fields: ${known || 'none'})`);
      } else if (typeof schema.additionalProperties === 'object') validateSchema(schema.additionalProperties, v, `${path}.${k}`);
    }
  }
}
