// `adapters merge`: folds a trained LoRA / (IA)³ adapter (AdapterHub layout, as `adapters train` writes it, or a
// PEFT LoRA folder) into the base model's dense weights and writes a plain Hugging Face model folder, which then
// runs at the base model's speed. Exported as `commands`, found by the CLI's plugin discovery.
import { copyFile, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { createRegistry, Executor, exportToCheckpoint, loadAdapter, loadPretrained, PlacementError, runOfAdapterDir, writeJsonAtomic, writeSafetensorsFile } from '@adapters/core-graph';
import type { CliCommand, CliContext, CommandSpec, ParsedArgs } from '@adapters/cli';
import { backendBanner, option, resolveAdapterDir, resolveModel, UsageError } from '@adapters/cli';
import { mergeLora } from './merge';
import { isPeftDir, loadPeftLora } from './peft';
import { lora } from './plugin';

const info = (ctx: CliContext, line: string) => ctx.stderr.write(`${line}\n`);
const out = (ctx: CliContext, line: string) => ctx.stdout.write(`${line}\n`);

export const MERGE_SPEC: CommandSpec = {
  name: 'merge',
  brief: 'merge a LoRA / (IA)³ adapter into the base weights and save the merged model',
  summary:
    'Loads the model and a LoRA or (IA)³ adapter (an AdapterHub-layout folder such as adapters train writes, or a PEFT LoRA folder with adapter_model.safetensors), ' +
    'adds it into the dense weights (W + (alpha/r)·A·B; (IA)³ scales the columns and bias), checks that the merged model reproduces the adapted one on a probe batch, ' +
    'and writes OUT as a Hugging Face model folder (config.json, model.safetensors, tokenizer files) plus merge.json. Gated adapters cannot be merged.',
  usage: '--model DIR|NAME --adapter-dir DIR --out DIR',
  options: [
    option('model', { help: 'the base model (a directory or a known name)', defaultText: "the model in the adapter's run.json" }),
    { name: 'adapter-dir', type: 'string', metavar: 'DIR', help: 'the adapter folder (AdapterHub layout or PEFT LoRA)' },
    option('out', { help: 'where to write the merged model' }),
  ],
  examples: ['adapters merge --model minilm --adapter-dir runs/lora/adapter --out runs/lora-merged'],
};

async function copyIfPresent(from: string, to: string): Promise<void> {
  await copyFile(from, to).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

/** last_hidden_state of a small probe batch of token ids (the same ids for any vocabulary). */
function probe(graph: Graph, store: WeightStore, vocab: number): Float32Array {
  const ids = [Array.from({ length: 12 }, (_v, i) => (7 * i + 3) % vocab), Array.from({ length: 12 }, (_v, i) => (11 * i + 5) % vocab)];
  const r = new Executor(graph, store).run({ input_ids: ids }, { outputs: ['last_hidden_state'] });
  const v = Float32Array.from((r['last_hidden_state'] as tf.Tensor).dataSync());
  tf.dispose(Object.values(r));
  return v;
}

/** Largest |a − b| / max(1, |b|). */
function maxRelDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / Math.max(1, Math.abs(b[i] as number)));
  return worst;
}

export async function mergeCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  await backendBanner(args, ctx);
  const adapterDir = await resolveAdapterDir(args.requireString('adapter-dir', 'the adapter folder to merge'), ctx.cwd);
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'where to write the merged model'));
  const labels = await runOfAdapterDir(adapterDir).then((r) => (r ? { model: r.manifest.model } : undefined));
  const modelSpec = args.string('model') ?? labels?.model;
  if (modelSpec === undefined) throw new UsageError(`missing required option --model (${adapterDir} has no run.json naming it)`, 'merge');
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const pre = await loadPretrained(model.dir);
  try {
    const peft = await isPeftDir(adapterDir);
    const registry = createRegistry([lora]);
    const loaded = peft ? await loadPeftLora(adapterDir, pre.graph, pre.store) : await loadAdapter(adapterDir, pre.graph, pre.store, registry, { loadHead: false });
    const vocab = (pre.graph.meta['config'] as { vocabSize: number }).vocabSize;
    const before = probe(loaded.graph, pre.store, vocab);
    let result;
    try {
      result = mergeLora(loaded.graph, pre.store, [loaded.name]);
    } catch (e) {
      if (e instanceof PlacementError) throw new UsageError(`${adapterDir}: ${e.message}`, 'merge');
      throw e;
    }
    const worst = maxRelDifference(probe(result.graph, pre.store, vocab), before);
    await mkdir(outDir, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) await copyIfPresent(path.join(model.dir, f), path.join(outDir, f));
    const baseKeys = [...result.graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key);
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
    for (const [k, t] of exportToCheckpoint(result.graph, pre.store, baseKeys)) tensors[k] = { dtype: 'F32', shape: t.shape, values: t.values };
    await writeSafetensorsFile(path.join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
    const layers = result.merged.map((m) => ({ site: m.site, mode: m.mode, scaling: m.scaling }));
    await writeJsonAtomic(path.join(outDir, 'merge.json'), { model: model.name, adapterDir, layout: peft ? 'peft' : 'adapterhub', adapter: loaded.name, layers, probeMaxRelDifference: worst });
    out(ctx, `merged '${loaded.name}' (${peft ? 'PEFT' : 'AdapterHub'} layout) into ${layers.length} dense layers of ${model.name}; merged vs adapted on a probe batch: max rel. difference ${worst.toExponential(2)}`);
    out(ctx, `saved: ${outDir} (Hugging Face model folder; use it as --model)`);
  } finally {
    pre.store.dispose();
  }
}

export const commands: CliCommand[] = [{ spec: MERGE_SPEC, run: mergeCommand }];
