// A small command-line parser: `--name value`, `--name=value`, boolean flags, typed values, and
// one-line usage errors that say what to do. Also parses adapter specs such as
// `seq_bn:reduction_factor=16,non_linearity=gelu`.

/** A mistake in how the command was called: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The subcommand whose `--help` explains the fix. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionType = 'string' | 'int' | 'number' | 'boolean';

export interface OptionSpec {
  readonly name: string;
  readonly type: OptionType;
  readonly help: string;
  /** Placeholder in help, e.g. `DIR`. */
  readonly metavar?: string;
  /** May be given more than once; values are collected in order. */
  readonly repeat?: boolean;
  /** Smallest accepted value for int/number options. */
  readonly min?: number;
  /** Largest accepted value for int options. */
  readonly max?: number;
  /** Shown in help. */
  readonly defaultText?: string;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  /** One line for the command list. */
  readonly brief: string;
  /** Usage line(s) after `adapters NAME`. */
  readonly usage: string;
  readonly options: readonly OptionSpec[];
  readonly examples?: readonly string[];
  /** The option a single bare argument fills (`adapters fleet submit GRID` = `--grid GRID`). */
  readonly positional?: string;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: 'backend', type: 'string', metavar: 'NAME', help: 'force a TensorFlow.js backend: tensorflow-gpu, tensorflow, wasm or cpu (default: the fastest available; also ADAPTERS_BACKEND)' },
  { name: 'verbose', type: 'boolean', help: 'show stack traces on errors' },
  { name: 'help', type: 'boolean', help: 'show this help' },
];

type Value = string | number | boolean;

/** Parsed options of one command, with typed getters. */
export class ParsedArgs {
  constructor(
    readonly command: string,
    private readonly values: ReadonlyMap<string, Value | Value[]>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  string(name: string): string | undefined {
    const v = this.values.get(name);
    return v === undefined ? undefined : String(Array.isArray(v) ? v[v.length - 1] : v);
  }

  strings(name: string): string[] {
    const v = this.values.get(name);
    return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
  }

  requireString(name: string, why = ''): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`missing required option --${name}${why ? ` (${why})` : ''}`, this.command);
    return v;
  }

  number(name: string): number | undefined {
    const v = this.values.get(name);
    if (v === undefined) return undefined;
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    return typeof last === 'number' ? last : undefined;
  }

  flag(name: string): boolean {
    return this.values.get(name) === true;
  }
}

/** Edit distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

/** The closest candidate within a small edit distance, or a prefix match. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = c.startsWith(word) || word.startsWith(c) ? 1 : distance(word, c);
    if (d <= Math.max(2, Math.floor(c.length / 3)) && (!best || d < best.d)) best = { c, d };
  }
  return best?.c;
}

function convert(spec: OptionSpec, raw: string, command: string): Value {
  const bad = (what: string) => new UsageError(`--${spec.name} must be ${what}, got '${raw}'`, command);
  switch (spec.type) {
    case 'string':
      if (raw === '') throw bad('a non-empty value');
      return raw;
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw bad('true or false');
    case 'int': {
      if (!/^[+-]?\d+$/.test(raw)) throw bad('an integer');
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw bad(`an integer of at most ${Number.MAX_SAFE_INTEGER}`);
      if (spec.max !== undefined && n > spec.max) throw bad(`at most ${spec.max}`);
      if (spec.min !== undefined && n < spec.min) throw bad(`at least ${spec.min}`);
      return n;
    }
    case 'number': {
      // Decimal notation only: Number() would also take '0x10', '0b1', ' 1 ' and '' (as 0).
      if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw)) throw bad('a number');
      const n = Number(raw);
      if (!Number.isFinite(n)) throw bad('a finite number');
      if (spec.min !== undefined && n < spec.min) throw bad(`at least ${spec.min}`);
      return n;
    }
  }
}

/** Parses `argv` (the arguments after the subcommand) against the command's options plus COMMON_OPTIONS. */
export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const options = [...spec.options, ...COMMON_OPTIONS];
  const byName = new Map(options.map((o) => [o.name, o]));
  const values = new Map<string, Value | Value[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h') {
      values.set('help', true);
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(`unexpected argument '${arg}' (options start with --)`, spec.name);
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const opt = byName.get(name);
    if (!opt) {
      const hint = suggest(name, options.map((o) => o.name));
      throw new UsageError(`unknown option --${name} for 'adapters ${spec.name}'${hint ? `; did you mean --${hint}?` : ''}`, spec.name);
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (opt.type === 'boolean') raw = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`option --${name} needs a value${opt.metavar ? ` (${opt.metavar})` : ''}`, spec.name);
      raw = next;
      i += 1;
    }
    const value = convert(opt, raw, spec.name);
    if (opt.repeat) {
      const list = values.get(name);
      values.set(name, [...(Array.isArray(list) ? list : []), value]);
    } else {
      values.set(name, value);
    }
  }
  return new ParsedArgs(spec.name, values);
}

/** `--help` text of a command. */
export function commandHelp(spec: CommandSpec): string {
  const lines = [`usage: adapters ${spec.name} ${spec.usage}`, '', spec.summary, '', 'options:'];
  const all = [...spec.options, ...COMMON_OPTIONS];
  const left = (o: OptionSpec) => `--${o.name}${o.type === 'boolean' ? '' : ` ${o.metavar ?? o.type.toUpperCase()}`}`;
  const width = Math.min(34, Math.max(...all.map((o) => left(o).length)) + 2);
  for (const o of all) {
    const help = `${o.help}${o.defaultText !== undefined ? ` (default: ${o.defaultText})` : ''}${o.repeat ? ' (repeatable)' : ''}`;
    const l = left(o);
    lines.push(l.length + 2 > width ? `  ${l}\n  ${' '.repeat(width)}${help}` : `  ${l.padEnd(width)}${help}`);
  }
  if (spec.examples && spec.examples.length > 0) lines.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Adapter specs: NAME[:key=value,key=value]

export interface AdapterSpec {
  /** A preset (e.g. `seq_bn`) or a plugin name (e.g. `bottleneck`). */
  readonly name: string;
  /** Typed overrides: numbers, booleans, null, JSON arrays/objects, or strings. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** Splits on commas that are not inside brackets, braces or quotes. */
function splitTopLevel(text: string, spec: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote) {
      if (ch === '\\') i += 1;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '{') depth += 1;
    else if (ch === ']' || ch === '}') depth -= 1;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) throw new UsageError(`adapter spec '${spec}': unbalanced '${ch}'`);
  }
  if (quote || depth !== 0) throw new UsageError(`adapter spec '${spec}': unclosed ${quote ? `quote ${quote}` : 'bracket'}`);
  parts.push(text.slice(start));
  return parts;
}

/** A value from an adapter spec: `16` → 16, `0.5` → 0.5, `true` → true, `null` → null, `[1,2]` → [1, 2], `'a,b'` → 'a,b', else the string. */
export function parseSpecValue(raw: string, where = 'value'): unknown {
  const text = raw.trim();
  if (text === '') throw new UsageError(`${where}: empty value`);
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return Number(text);
  if (text.startsWith("'") && text.endsWith("'") && text.length >= 2) return text.slice(1, -1);
  if (text.startsWith('[') || text.startsWith('{') || text.startsWith('"')) {
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new UsageError(`${where}: ${text} is not valid JSON (${(e as Error).message})`);
    }
  }
  return text;
}

/** Parses `seq_bn:reduction_factor=16,non_linearity=gelu` → `{ name: 'seq_bn', config: { reduction_factor: 16, non_linearity: 'gelu' } }`. */
export function parseAdapterSpec(text: string): AdapterSpec {
  const colon = text.indexOf(':');
  const name = (colon < 0 ? text : text.slice(0, colon)).trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new UsageError(`adapter spec '${text}': '${name}' is not an adapter name (expected e.g. seq_bn or seq_bn:reduction_factor=16)`);
  }
  // Built from entries: `config[key] = ...` with key `__proto__` would set the prototype instead of a field.
  const entries: Array<[string, unknown]> = [];
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  if (colon >= 0 && rest.trim() === '') throw new UsageError(`adapter spec '${text}': nothing after ':' (expected key=value pairs)`);
  if (rest.trim() !== '') {
    for (const part of splitTopLevel(rest, text)) {
      const eq = part.indexOf('=');
      if (eq < 0) throw new UsageError(`adapter spec '${text}': '${part.trim()}' is not key=value`);
      const key = part.slice(0, eq).trim();
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new UsageError(`adapter spec '${text}': '${key}' is not a valid option name`);
      if (entries.some(([k]) => k === key)) throw new UsageError(`adapter spec '${text}': '${key}' is given twice`);
      entries.push([key, parseSpecValue(part.slice(eq + 1), `adapter spec '${text}': ${key}`)]);
    }
  }
  return { name, config: Object.fromEntries(entries) };
}
