// Entry point of the `adapters` command: dispatches subcommands and turns errors into one line.
import { readFileSync } from 'fs';
import * as path from 'path';
import { AdapterGraphError, printable } from '@adapters/core-graph';
import type { CommandSpec, OptionSpec, ParsedArgs } from './args';
import { commandHelp, parseArgs, suggest, UsageError } from './args';
import { option } from './option-specs';
import type { CliContext } from './commands';
import { COLUMN_OPTIONS } from './data';
import { trainMultiTaskCommand } from './train-multitask';
import type { CliCommand } from './plugins';
import { discoverPlugins } from './plugins';
import { DOCTOR_SPEC, doctorCommand } from './doctor';
import { FETCH_MODEL_SPEC, fetchModelCommand } from './fetch-model';
import { DEMO_DEFAULTS, demoCommand, evalCommand, inspectCommand, listCommand, predictCommand, trainCommand } from './commands';

const MODEL: OptionSpec = option('model', { help: 'model directory (config.json, model.safetensors, tokenizer) or a known name: all-MiniLM-L6-v2 (alias minilm), multilingual-e5-small (alias me5), fetched once into the cache' });
const COLUMNS: readonly OptionSpec[] = COLUMN_OPTIONS;
const RUN: OptionSpec = option('run', { help: 'a run directory (run.json: model, adapters, composition, heads, labels), written by any training command' });
const ADAPTER_DIR: OptionSpec = { name: 'adapter-dir', type: 'string', metavar: 'DIR', help: "adapter saved by 'adapters train' (its --out dir or the adapter/ inside it)" };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'train',
    brief: 'train an adapter + classification head on a labelled file',
    summary: 'Train an adapter and a classification head on a labelled text file; writes the adapter (AdapterHub layout), metrics.jsonl, curves.svg/png, run.json and summary.json to --out.',
    usage: '--model DIR|NAME --data FILE [--eval FILE] --adapter SPEC --out DIR [options]\n       adapters train --model DIR|NAME --task NAME=TRAIN[,EVAL] [--task ...] --adapter SPEC --out DIR [options]   (multi-task)',
    options: [
      MODEL,
      option('data', { help: 'training examples (.tsv, .csv or .jsonl with a header / keys)' }),
      option('eval'),
      { name: 'adapter', type: 'string', metavar: 'SPEC', help: 'a preset or plugin name with options, e.g. seq_bn or seq_bn:reduction_factor=16,non_linearity=gelu' },
      { name: 'name', type: 'string', metavar: 'NAME', help: 'name of the adapter and its head', defaultText: 'task' },
      { name: 'placement', type: 'string', metavar: 'RULES.json', help: 'where to put the adapter: [{ "select": { "kinds": ["ffn"], "layers": [3,4,5] }, "mode": "wrap" }]', defaultText: "the plugin's placement for the config" },
      { name: 'full-finetune', type: 'boolean', help: 'train the base model too (also saves it to OUT/model)' },
      option('epochs'),
      option('maxSteps'),
      option('batchSize'),
      option('lr', { defaultText: '1e-3; 2e-5 with --full-finetune' }),
      option('maxLength'),
      option('pooling'),
      option('gradientCheckpointing'),
      ...COLUMNS,
      { name: 'train-limit', type: 'int', min: 1, metavar: 'N', help: 'use a seeded sample of N training examples' },
      option('evalEvery', { defaultText: 'about 4 times per run' }),
      { name: 'eval-subset', type: 'int', min: 1, metavar: 'N', help: 'evaluations during training use N eval examples; the final one uses all' },
      { name: 'patience', type: 'int', min: 1, metavar: 'N', help: 'stop after N evaluations without improvement' },
      option('seed', { help: 'random seed, 0..2^32-1 (same seed, data and backend = same weights)' }),
      option('out'),
      option('task', { help: 'multi-task training (instead of --data/--eval/--name): a task NAME=TRAIN[,EVAL]; each task gets its own adapter and head named NAME, saved in OUT/NAME' }),
      option('sampling', { help: 'with --task: how each step picks its task' }),
    ],
    examples: [
      'adapters train --model minilm --data train.tsv --eval dev.tsv --adapter seq_bn --out runs/sst2',
      'adapters train --model minilm --task rte=rte/train.tsv,rte/dev.tsv --task mrpc=mrpc/train.tsv,mrpc/dev.tsv --adapter pals --epochs 3 --out runs/pals',
      'adapters train --model ./my-bert --data train.jsonl --adapter seq_bn:reduction_factor=32 --placement top3.json --out runs/x',
    ],
  },
  {
    name: 'eval',
    brief: 'evaluate a saved adapter + head on a labelled file',
    summary: 'Evaluate a saved adapter and head on a labelled file: accuracy, F1, MCC and loss.',
    usage: '(--run DIR | --adapter-dir DIR) --data FILE [--model DIR|NAME] [options]',
    options: [
      RUN,
      option('task', { metavar: 'NAME', help: 'one task of a multi-task run (train --task, pals-train): its adapter and head, from DIR/NAME' }),
      ADAPTER_DIR,
      MODEL,
      option('data', { help: 'labelled examples (.tsv, .csv or .jsonl)' }),
      ...COLUMNS,
      option('maxLength', { help: 'tokens per example', defaultText: 'as trained' }),
      option('batchSize', { help: 'examples per batch', defaultText: '32' }),
    ],
  },
  {
    name: 'predict',
    brief: 'classify texts with a saved adapter + head',
    summary: 'Classify texts with a saved adapter and head; prints label, probability and text per line.',
    usage: '(--run DIR | --adapter-dir DIR) (--text "..." | --data FILE) [--model DIR|NAME] [options]',
    options: [
      RUN,
      option('task', { metavar: 'NAME', help: 'one task of a multi-task run (train --task, pals-train): its adapter and head, from DIR/NAME' }),
      ADAPTER_DIR,
      MODEL,
      { name: 'text', type: 'string', metavar: 'TEXT', repeat: true, help: 'a text to classify' },
      option('data', { help: 'texts to classify (.tsv, .csv or .jsonl)' }),
      COLUMNS[0] as OptionSpec,
      COLUMNS[1] as OptionSpec,
      { name: 'json', type: 'boolean', help: 'print one JSON object per line with all class probabilities' },
      option('maxLength', { help: 'tokens per example', defaultText: 'as trained' }),
      option('batchSize', { help: 'examples per batch', defaultText: '32' }),
    ],
  },
  {
    name: 'inspect',
    brief: 'show sites, adapter placement and parameter counts',
    summary: "Show the backend, the model's adapter sites, where an adapter goes and the parameter table with % of base.",
    usage: '--model DIR|NAME [--adapter SPEC [--placement RULES.json] | --adapter-dir DIR] [--nodes]',
    options: [
      MODEL,
      { name: 'adapter', type: 'string', metavar: 'SPEC', help: 'place this adapter (fresh weights), e.g. seq_bn:reduction_factor=16' },
      { name: 'name', type: 'string', metavar: 'NAME', help: 'adapter name', defaultText: 'the spec name' },
      { name: 'placement', type: 'string', metavar: 'RULES.json', help: 'placement rules for --adapter' },
      ADAPTER_DIR,
      { name: 'full-finetune', type: 'boolean', help: 'count every parameter as trainable' },
      { name: 'nodes', type: 'boolean', help: 'also print every graph node' },
    ],
  },
  {
    name: 'list',
    brief: 'list installed adapter plugins, presets and modes',
    summary: 'List installed adapter plugin packages (@adapters/adapter-*) with their presets and splice modes.',
    usage: '',
    options: [],
  },
  {
    name: 'demo',
    brief: 'the built-in job: seq_bn sentiment adapter on all-MiniLM-L6-v2',
    summary: `The built-in job: fetch ${DEMO_DEFAULTS.model}, train a ${DEMO_DEFAULTS.adapter} adapter + classification head on ${DEMO_DEFAULTS.trainLimit} shipped sentiment sentences, evaluate on the shipped dev set, save the adapter and plot the curves.`,
    usage: '[--out DIR] [options]',
    options: [
      option('out', { defaultText: `./${DEMO_DEFAULTS.out}` }),
      option('model', { help: 'model', defaultText: DEMO_DEFAULTS.model }),
      { name: 'adapter', type: 'string', metavar: 'SPEC', help: 'adapter spec', defaultText: DEMO_DEFAULTS.adapter },
      { name: 'train-limit', type: 'int', min: 1, metavar: 'N', help: 'training sentences', defaultText: String(DEMO_DEFAULTS.trainLimit) },
      option('epochs', { help: 'passes over them', defaultText: String(DEMO_DEFAULTS.epochs) }),
      option('maxSteps'),
      option('batchSize', { defaultText: String(DEMO_DEFAULTS.batchSize) }),
      option('lr', { help: 'peak learning rate', defaultText: String(DEMO_DEFAULTS.learningRate) }),
      option('seed', { help: 'random seed, 0..2^32-1', defaultText: String(DEMO_DEFAULTS.seed) }),
    ],
  },
  DOCTOR_SPEC,
  FETCH_MODEL_SPEC,
];

const HANDLERS: Readonly<Record<string, (args: ParsedArgs, ctx: CliContext) => Promise<void> | void>> = {
  // Several --task NAME=TRAIN[,EVAL]: one adapter + head per task, trained jointly (train-multitask.ts).
  train: (args, ctx) => (args.has('task') ? trainMultiTaskCommand(args, ctx) : trainCommand(args, ctx)),
  eval: evalCommand,
  predict: predictCommand,
  inspect: inspectCommand,
  list: listCommand,
  demo: demoCommand,
  doctor: doctorCommand,
  'fetch-model': fetchModelCommand,
};

function version(): string {
  try {
    return String((JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? '?');
  } catch {
    return '?';
  }
}

export function generalHelp(extra: readonly CommandSpec[] = []): string {
  const all = [...COMMANDS, ...extra];
  const width = Math.max(...all.map((c) => c.name.length)) + 2;
  return [
    'usage: adapters <command> [options]',
    '',
    'Train, evaluate and use composable adapters on TensorFlow.js.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.brief}`),
    ...(extra.length > 0 ? ['', 'commands from installed plugin packages:', ...extra.map((c) => `  ${c.name.padEnd(width)}${c.brief}`)] : []),
    '',
    "run 'adapters <command> --help' for its options; --verbose shows stack traces.",
  ].join('\n');
}

/** The longest error line printed: a hostile file must not produce a megabyte of output. */
const MAX_ERROR_LINE = 500;

/** Every error becomes one line (no stack unless --verbose): exit 2 for usage errors, 1 for failures. */
function report(e: unknown, ctx: CliContext, verbose: boolean, command: string | undefined): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const oneLine = printable(err.message.replace(/\s*\n\s*/g, ' ').trim() || err.name, MAX_ERROR_LINE);
  if (err instanceof UsageError) {
    const cmd = err.command ?? command;
    ctx.stderr.write(`adapters: error: ${oneLine} (see 'adapters ${cmd ? `${cmd} ` : ''}--help')\n`);
    if (verbose && err.stack) ctx.stderr.write(`${err.stack}\n`);
    return 2;
  }
  // Our errors (bad input, named field/file) and system errors (ENOENT, EACCES) need no stack trace; anything else is a bug.
  const expected = err instanceof AdapterGraphError || typeof (err as NodeJS.ErrnoException).errno === 'number';
  ctx.stderr.write(`adapters: error: ${oneLine}${!verbose && !expected ? ' (run again with --verbose for the stack trace)' : ''}\n`);
  if (verbose && err.stack) ctx.stderr.write(`${err.stack}\n`);
  return 1;
}

export function defaultContext(): CliContext {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    env: process.env,
    // Plugins installed beside the CLI (the workspace / global install) and in the user's project.
    pluginSearchPaths: [__dirname, process.cwd()],
  };
}

/** Runs `adapters ARGV...`; returns the exit code (0 ok, 1 failure, 2 usage error). Never throws. */
export async function main(argv: readonly string[], context: Partial<CliContext> = {}): Promise<number> {
  const ctx: CliContext = { ...defaultContext(), ...context };
  const verbose = argv.includes('--verbose');
  const [command, ...given] = argv;
  let rest = given;
  // Plugin packages may add subcommands (their `commands` export); built-in names win.
  let pluginCommands: CliCommand[] | undefined;
  const extraCommands = (): CliCommand[] =>
    (pluginCommands ??= discoverPlugins(ctx.pluginSearchPaths).flatMap((p) => p.commands).filter((c) => !COMMANDS.some((b) => b.name === c.spec.name)));
  const allNames = () => [...COMMANDS.map((c) => c.name), ...extraCommands().map((c) => c.spec.name)];
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      const specs = [...COMMANDS, ...extraCommands().map((c) => c.spec)];
      const twoWordTopic = rest.slice(0, 2).join(' ');
      const topic = command !== 'help' ? undefined : specs.some((c) => c.name === twoWordTopic) ? twoWordTopic : rest[0];
      const spec = specs.find((c) => c.name === topic);
      if (topic !== undefined && !spec) throw new UsageError(`unknown command '${topic}' (commands: ${allNames().join(', ')})`);
      (command === undefined ? ctx.stderr : ctx.stdout).write(`${spec ? commandHelp(spec) : generalHelp(extraCommands().map((c) => c.spec))}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === '-V') {
      ctx.stdout.write(`${version()}\n`);
      return 0;
    }
    const builtIn = COMMANDS.find((c) => c.name === command);
    // A plugin command may be two words (`fleet submit`) and take one bare argument (`spec.positional` names its option).
    const twoWords = !builtIn && rest[0] !== undefined && !rest[0].startsWith('-') ? extraCommands().find((c) => c.spec.name === `${command} ${rest[0]}`) : undefined;
    if (twoWords) rest = rest.slice(1);
    const plugin = builtIn ? undefined : (twoWords ?? extraCommands().find((c) => c.spec.name === command));
    const spec = builtIn ?? plugin?.spec;
    if (spec?.positional !== undefined && rest[0] !== undefined && !rest[0].startsWith('-')) rest = [`--${spec.positional}`, ...rest];
    const handler = builtIn ? HANDLERS[command] : plugin ? (a: ParsedArgs, c: CliContext) => plugin.run(a, c) : undefined;
    if (!spec || !handler) {
      const hint = command.startsWith('-') ? undefined : suggest(command, allNames());
      throw new UsageError(`unknown command '${command}'${hint ? `; did you mean '${hint}'?` : ''} (commands: ${allNames().join(', ')})`);
    }
    const args = parseArgs(rest, spec);
    if (args.flag('help')) {
      ctx.stdout.write(`${commandHelp(spec)}\n`);
      return 0;
    }
    await handler(args, ctx);
    return 0;
  } catch (e) {
    return report(e, ctx, verbose, command !== undefined && (COMMANDS.some((c) => c.name === command) || (pluginCommands ?? []).some((c) => c.spec.name === command)) ? command : undefined);
  }
}

/** Called by bin/adapters.js. */
export function run(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`adapters: error: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
