import type { CommandSpec } from './args';
import { commandHelp, parseAdapterSpec, parseArgs, parseSpecValue, suggest, UsageError } from './args';
import { main } from './main';

const spec: CommandSpec = {
  name: 'train',
  brief: 'train',
  summary: 'Train.',
  usage: '--data FILE',
  options: [
    { name: 'data', type: 'string', metavar: 'FILE', help: 'training data' },
    { name: 'epochs', type: 'int', min: 1, help: 'epochs' },
    { name: 'lr', type: 'number', min: 0, help: 'learning rate' },
    { name: 'full-finetune', type: 'boolean', help: 'train everything' },
    { name: 'text', type: 'string', repeat: true, help: 'a text' },
  ],
};

const usageMessage = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('parseArgs', () => {
  test('--name value, --name=value, flags, typed numbers and repeatable options', () => {
    const a = parseArgs(['--data', 'train.tsv', '--epochs=3', '--lr', '1e-3', '--full-finetune', '--text', 'a', '--text=b, c', '--verbose'], spec);
    expect(a.string('data')).toBe('train.tsv');
    expect(a.number('epochs')).toBe(3);
    expect(a.number('lr')).toBe(0.001);
    expect(a.flag('full-finetune')).toBe(true);
    expect(a.flag('verbose')).toBe(true);
    expect(a.strings('text')).toEqual(['a', 'b, c']);
    expect(a.has('help')).toBe(false);
    expect(parseArgs(['-h'], spec).flag('help')).toBe(true);
    expect(parseArgs(['--full-finetune=false'], spec).flag('full-finetune')).toBe(false);
  });

  test('a value may start with a single dash (negative numbers, "-" texts)', () => {
    expect(parseArgs(['--text', '-great-'], spec).strings('text')).toEqual(['-great-']);
  });

  test('mistakes are UsageErrors that say what to do', () => {
    expect(usageMessage(() => parseArgs(['--epoch', '3'], spec))).toBe("unknown option --epoch for 'adapters train'; did you mean --epochs?");
    expect(usageMessage(() => parseArgs(['--epochs', 'three'], spec))).toBe("--epochs must be an integer, got 'three'");
    expect(usageMessage(() => parseArgs(['--epochs', '0'], spec))).toBe("--epochs must be at least 1, got '0'");
    expect(usageMessage(() => parseArgs(['--lr', 'fast'], spec))).toBe("--lr must be a number, got 'fast'");
    expect(usageMessage(() => parseArgs(['--data'], spec))).toBe('option --data needs a value (FILE)');
    expect(usageMessage(() => parseArgs(['--data', '--epochs', '2'], spec))).toBe('option --data needs a value (FILE)');
    expect(usageMessage(() => parseArgs(['train.tsv'], spec))).toBe("unexpected argument 'train.tsv' (options start with --)");
    expect(usageMessage(() => parseArgs(['--data', 'x'], spec).requireString('out'))).toBe('missing required option --out');
  });

  test('help lists every option with its placeholder and default', () => {
    const help = commandHelp(spec);
    expect(help).toContain('usage: adapters train --data FILE');
    expect(help).toMatch(/--data FILE +training data/);
    expect(help).toMatch(/--text STRING +a text \(repeatable\)/);
    expect(help).toContain('--verbose');
  });

  test('suggest', () => {
    expect(suggest('epoch', ['epochs', 'eval'])).toBe('epochs');
    expect(suggest('zzz', ['epochs', 'eval'])).toBeUndefined();
  });
});

describe('adapter specs', () => {
  test('seq_bn:reduction_factor=16,non_linearity=gelu → typed values', () => {
    expect(parseAdapterSpec('seq_bn:reduction_factor=16,non_linearity=gelu')).toEqual({ name: 'seq_bn', config: { reduction_factor: 16, non_linearity: 'gelu' } });
    expect(parseAdapterSpec('seq_bn')).toEqual({ name: 'seq_bn', config: {} });
  });

  test('numbers, booleans, null, JSON lists and objects, quoted strings', () => {
    const { config } = parseAdapterSpec(`par_bn:scaling=0.5,ln_before=true,ln_after=false,x=null,leave_out=[0, 1],reduction_factor={"default":16,"3":8},s='a,b',e=1e-3,neg=-2`);
    expect(config).toEqual({ scaling: 0.5, ln_before: true, ln_after: false, x: null, leave_out: [0, 1], reduction_factor: { default: 16, '3': 8 }, s: 'a,b', e: 0.001, neg: -2 });
    expect(parseSpecValue('learned')).toBe('learned');
    expect(parseSpecValue('"16"')).toBe('16');
  });

  test('malformed specs are one-line usage errors naming the problem', () => {
    expect(usageMessage(() => parseAdapterSpec('seq_bn:'))).toMatch(/nothing after ':'/);
    expect(usageMessage(() => parseAdapterSpec('seq_bn:reduction_factor'))).toMatch(/'reduction_factor' is not key=value/);
    expect(usageMessage(() => parseAdapterSpec('seq_bn:a=1,a=2'))).toMatch(/'a' is given twice/);
    expect(usageMessage(() => parseAdapterSpec('seq_bn:leave_out=[0,1'))).toMatch(/unclosed bracket/);
    expect(usageMessage(() => parseAdapterSpec('seq_bn:leave_out=[0,,1]'))).toMatch(/leave_out: \[0,,1\] is not valid JSON/);
    expect(usageMessage(() => parseAdapterSpec('seq_bn:x='))).toMatch(/x: empty value/);
    expect(usageMessage(() => parseAdapterSpec(':x=1'))).toMatch(/is not an adapter name/);
  });
});

/** Collects what main() writes. */
function streams() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    ctx: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, pluginSearchPaths: [] as string[] },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

describe('main: usage errors', () => {
  test.each([
    [['train', '--epoch', '3'], "adapters: error: unknown option --epoch for 'adapters train'; did you mean --epochs? (see 'adapters train --help')"],
    [['trian'], "adapters: error: unknown command 'trian'; did you mean 'train'? (commands: train, eval, predict, inspect, list, demo, doctor, fetch-model) (see 'adapters --help')"],
    [['train', '--data', 'x.tsv'], "adapters: error: missing required option --adapter (e.g. --adapter seq_bn) (see 'adapters train --help')"],
    [['train', '--adapter', 'seq_bn:x', '--model', 'm', '--data', 'd', '--out', 'o'], "adapters: error: adapter spec 'seq_bn:x': 'x' is not key=value (see 'adapters train --help')"],
    [['predict', '--adapter-dir', 'x'], "adapters: error: give --text \"...\" (repeatable) or --data FILE (see 'adapters predict --help')"],
    [['eval', '--batch-size', '-1'], "adapters: error: --batch-size must be at least 1, got '-1' (see 'adapters eval --help')"],
  ])('%j → exit 2 and one line', async (argv, line) => {
    const s = streams();
    expect(await main(argv, s.ctx)).toBe(2);
    expect(s.err()).toBe(`${line}\n`);
    expect(s.out()).toBe('');
  });

  test('--verbose adds the stack trace', async () => {
    const s = streams();
    expect(await main(['train', '--epoch', '3', '--verbose'], s.ctx)).toBe(2);
    expect(s.err().split('\n')[0]).toMatch(/^adapters: error: unknown option --epoch/);
    expect(s.err()).toMatch(/\n\s+at /);
  });

  test('no command: general help on stderr, exit 2; --help: exit 0 on stdout', async () => {
    const s = streams();
    expect(await main([], s.ctx)).toBe(2);
    expect(s.err()).toContain('usage: adapters <command>');
    const h = streams();
    expect(await main(['train', '--help'], h.ctx)).toBe(0);
    expect(h.out()).toContain('--adapter SPEC');
    const g = streams();
    expect(await main(['help', 'demo'], g.ctx)).toBe(0);
    expect(g.out()).toContain('usage: adapters demo');
  });

  test('a failure (not a usage error) is one line and exit 1', async () => {
    const s = streams();
    expect(await main(['inspect', '--model', '/nonexistent/model-dir', '--backend', 'cpu'], { ...s.ctx, cwd: '/' })).toBe(2);
    expect(s.err()).toMatch(/^backend: cpu.*\nadapters: error: --model '\/nonexistent\/model-dir' is neither a directory nor a known model \(known: all-MiniLM-L6-v2, multilingual-e5-small, minilm, me5\) \(see 'adapters inspect --help'\)\n$/);
    const b = streams();
    expect(await main(['list', '--backend', 'nope'], b.ctx)).toBe(0); // list needs no backend
    const c = streams();
    expect(await main(['inspect', '--model', 'x', '--backend', 'nope'], c.ctx)).toBe(1);
    expect(c.err()).toMatch(/^adapters: error: unknown backend 'nope' \(from prefer: 'nope'\); valid names: .*\n$/);
  });
});

describe('strict values (issue 18 items 6, 10, 11)', () => {
  const seeded: CommandSpec = { ...spec, options: [...spec.options, { name: 'seed', type: 'int', min: 0, max: 2 ** 32 - 1, help: 'seed' }] };

  test('numbers are decimal only: hex, binary, blanks and Infinity are refused', () => {
    for (const raw of ['0x10', '0b1', '0o7', ' 1', '1 ', '', 'Infinity', '1e400', '1_000']) {
      expect(usageMessage(() => parseArgs(['--lr', raw], spec))).toMatch(/^--lr must be a (finite )?number, got/);
    }
    expect(parseArgs(['--lr', '1e-3'], spec).number('lr')).toBe(0.001);
    expect(parseArgs(['--lr', '.5'], spec).number('lr')).toBe(0.5);
    expect(usageMessage(() => parseArgs(['--epochs', ' 2'], spec))).toBe("--epochs must be an integer, got ' 2'");
    expect(usageMessage(() => parseArgs(['--epochs', '99999999999999999999'], spec))).toMatch(/must be an integer of at most 9007199254740991/);
  });

  test('seeds beyond 32 bits are refused, not silently truncated (1 and 2^32+1 used to give the same run)', () => {
    expect(parseArgs(['--seed', String(2 ** 32 - 1)], seeded).number('seed')).toBe(2 ** 32 - 1);
    expect(usageMessage(() => parseArgs(['--seed', String(2 ** 32 + 1)], seeded))).toBe(`--seed must be at most ${2 ** 32 - 1}, got '${2 ** 32 + 1}'`);
    expect(usageMessage(() => parseArgs(['--seed', '-1'], seeded))).toBe("--seed must be at least 0, got '-1'");
  });

  test('adapter specs: Object.prototype names are plain fields, never the prototype', () => {
    const s = parseAdapterSpec('seq_bn:toString=1,__proto__=2,constructor=3');
    expect(Object.keys(s.config)).toEqual(['toString', '__proto__', 'constructor']);
    expect(Object.getPrototypeOf(s.config)).toBe(Object.prototype);
    expect(s.config['toString']).toBe(1);
    expect(usageMessage(() => parseAdapterSpec('seq_bn:toString=1,toString=2'))).toMatch(/'toString' is given twice/);
    expect(parseAdapterSpec('seq_bn:reduction_factor=1e400').config['reduction_factor']).toBe(Infinity); // the schema refuses it
  });
});
